"""SN40L RDU memory tiers for Composition-of-Experts serving (Prabhakar et al., MICRO 2024).

A SambaNova SN40L socket has three memory tiers: 520 MiB on-chip SRAM (PMUs), 64 GB HBM and
1.5 TB DDR (``dcsim/data/hardware/sn40l.yaml``). For a Composition of Experts (CoE) all expert
weights stay resident in DDR; the experts in use are copied into HBM and served from there, so
switching to another expert costs its bytes over the DDR -> HBM path. A DGX has only HBM and
host DRAM: to host as many experts without switching it must keep them all in HBM (footprint),
and a switch copies the expert from host DRAM over PCIe.

Headline claims reproduced (paper abstract, arXiv 2405.07518): the 8-socket SN40L node reduces
machine footprint by up to 19x and speeds up model switching by 15x to 31x against DGX H100 /
DGX A100. ``reproduce_sn40l`` computes both from capacities and bandwidths; the assumptions
are in the constants below and in docs/models.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dcsim.hardware import HardwareProfile, get_profile
from dcsim.inference import RooflineCost, ServingConfig, get_llm

# "Models are loaded from DDR to high bandwidth memory at over 1 TB/s in a single SN40L Node
# containing 8 RDUs" (R. Prabhakar, SN40L talk abstract, IISc CSA seminar 2024). A lower bound.
SN40L_NODE_DDR_TO_HBM_BPS = 1.0e12
SN40L_SOCKETS_PER_NODE = 8  # SN40L paper: the node has 8 RDU sockets
# DGX host -> GPU copy of an expert: one PCIe x16 link at line rate, per direction (PCI-SIG:
# Gen5 32 GT/s x16 ~ 64 GB/s, Gen4 ~ 32 GB/s). One link, not eight: the paper's ratio of its two
# speed-ups (31 / 15 ~ 2.07) is the Gen5 / Gen4 ratio, and its magnitudes match one link per
# switch; eight links copying in parallel would give 8x smaller speed-ups (see docs/models.md).
DGX_HOST_LINK_BPS = {"H100-SXM": 64e9, "A100-80G": 32e9}
# Samba-CoE: 150 experts and a trillion parameters; experts are Llama-2-7B-class (SN40L paper).
SAMBA_COE_EXPERTS = 150
SAMBA_COE_EXPERT_MODEL = "llama2-7b"
PAPER = {
    "footprint_reduction_max": 19.0,
    "switch_speedup_vs_dgx_h100": 15.0,
    "switch_speedup_vs_dgx_a100": 31.0,
}
TOLERANCE = 0.25  # stated tolerance of the reproduction (relative)


@dataclass(frozen=True)
class MemoryTiers:
    """Capacity (bytes) and bandwidth (bytes/s) of one node's tiers."""

    name: str
    sram_bytes: float
    hbm_bytes: float
    hbm_Bps: float
    ddr_bytes: float
    ddr_to_hbm_Bps: float  # 0 when the weights come from the host instead (DGX)

    @classmethod
    def sn40l_node(cls, profile: HardwareProfile | None = None) -> MemoryTiers:
        p = profile or get_profile("SN40L")
        n = SN40L_SOCKETS_PER_NODE
        mem = p.memory
        sram = (mem.sram_mib.value if mem.sram_mib is not None else 0.0) * 2**20
        ddr = (mem.ddr_gb.value if mem.ddr_gb is not None else 0.0) * 1e9
        return cls(
            "SN40L node",
            n * sram,
            n * mem.hbm_gb.value * 1e9,
            n * p.hbm_bytes_per_s,
            n * ddr,
            SN40L_NODE_DDR_TO_HBM_BPS,
        )

    @classmethod
    def dgx(cls, hardware: str) -> MemoryTiers:
        p = get_profile(hardware)
        n = p.server.accelerators
        return cls(
            f"DGX {hardware}", 0.0, n * p.memory.hbm_gb.value * 1e9, n * p.hbm_bytes_per_s, 0.0, 0.0
        )


def experts_held(tiers: MemoryTiers, expert_bytes: float) -> int:
    """Experts one node keeps resident: in DDR if it has one (served from HBM on demand), else
    all in HBM (a DGX must, to avoid switching from host memory)."""
    cap = tiers.ddr_bytes if tiers.ddr_bytes > 0 else tiers.hbm_bytes
    return int(cap // expert_bytes)


def nodes_for(tiers: MemoryTiers, n_experts: int, expert_bytes: float) -> int:
    return math.ceil(n_experts / max(1, experts_held(tiers, expert_bytes)))


def switch_time_s(tiers: MemoryTiers, expert_bytes: float, host_link_Bps: float = 0.0) -> float:
    """Time to bring one expert into HBM: DDR -> HBM on the RDU node, host -> HBM on a DGX."""
    bw = tiers.ddr_to_hbm_Bps or host_link_Bps
    if bw <= 0:
        raise ValueError(f"{tiers.name}: no path to load an expert into HBM")
    return expert_bytes / bw


@dataclass(frozen=True)
class ReproRow:
    metric: str
    paper: float
    ours: float
    detail: str

    @property
    def rel_error(self) -> float:
        return self.ours / self.paper - 1.0

    @property
    def within_tolerance(self) -> bool:
        return abs(self.rel_error) <= TOLERANCE


@dataclass(frozen=True)
class SN40LReport:
    rows: list[ReproRow]
    expert_gb: float
    samba_coe_nodes: dict[str, int]  # nodes to hold the 150-expert Samba-CoE without switching

    def as_dict(self) -> dict:
        return {
            "expert_gb": self.expert_gb,
            "samba_coe_nodes": self.samba_coe_nodes,
            "tolerance": TOLERANCE,
            "rows": [
                r.__dict__ | {"rel_error": r.rel_error, "within_tolerance": r.within_tolerance}
                for r in self.rows
            ],
        }


def reproduce_sn40l(expert_model: str = SAMBA_COE_EXPERT_MODEL) -> SN40LReport:
    """`dcsim reproduce sn40l`: footprint and model-switching comparisons of the SN40L paper."""
    expert = get_llm(expert_model).weight_bytes  # BF16
    rdu = MemoryTiers.sn40l_node()
    dgx = {hw: MemoryTiers.dgx(hw) for hw in DGX_HOST_LINK_BPS}
    # footprint: the most experts one SN40L node holds, and the DGX nodes holding them in HBM
    n_max = experts_held(rdu, expert)
    rows = []
    for hw, tiers in dgx.items():
        ratio = nodes_for(tiers, n_max, expert) / nodes_for(rdu, n_max, expert)
        rows.append(
            ReproRow(
                f"footprint reduction vs DGX {hw}",
                PAPER["footprint_reduction_max"],
                float(ratio),
                f"{n_max} experts of {expert / 1e9:.1f} GB: 1 SN40L node (DDR) vs "
                f"{nodes_for(tiers, n_max, expert)} DGX (HBM, {experts_held(tiers, expert)} each)",
            )
        )
    t_rdu = switch_time_s(rdu, expert)
    for hw, key in (("H100-SXM", "h100"), ("A100-80G", "a100")):
        t_dgx = switch_time_s(dgx[hw], expert, DGX_HOST_LINK_BPS[hw])
        n_links = get_profile(hw).server.accelerators
        rows.append(
            ReproRow(
                f"model switching speed-up vs DGX {hw}",
                PAPER[f"switch_speedup_vs_dgx_{key}"],
                t_dgx / t_rdu,
                f"{t_rdu * 1e3:.1f} ms DDR->HBM at {rdu.ddr_to_hbm_Bps / 1e12:.1f} TB/s vs "
                f"{t_dgx * 1e3:.0f} ms host->HBM at {DGX_HOST_LINK_BPS[hw] / 1e9:.0f} GB/s (one x16 "
                f"link; all {n_links} links in parallel: {t_dgx / n_links / t_rdu:.1f}x)",
            )
        )
    coe_nodes = {rdu.name: nodes_for(rdu, SAMBA_COE_EXPERTS, expert)} | {
        t.name: nodes_for(t, SAMBA_COE_EXPERTS, expert) for t in dgx.values()
    }
    return SN40LReport(rows, expert / 1e9, coe_nodes)


class CoEServer:
    """Serve a stream of (expert, prompt, output) requests on one SN40L node.

    Expert weights live in DDR; up to ``hbm_slots`` experts are cached in HBM (LRU). A miss
    first copies the expert DDR -> HBM (``switch_time_s``), then the request runs from HBM at
    the calibrated serving cost (``RooflineCost`` on the SN40L profile, TP over the 8 sockets).
    """

    def __init__(self, expert_model: str = SAMBA_COE_EXPERT_MODEL, kv_reserve: float = 0.5):
        self.tiers = MemoryTiers.sn40l_node()
        self.llm = get_llm(expert_model)
        self.cost = RooflineCost(
            get_profile("SN40L"), self.llm, ServingConfig(tp=SN40L_SOCKETS_PER_NODE)
        )
        # HBM left for cached experts after reserving a share for KV cache and activations
        self.hbm_slots = max(
            1, int(self.tiers.hbm_bytes * (1 - kv_reserve) // self.llm.weight_bytes)
        )
        self.switch_s = switch_time_s(self.tiers, self.llm.weight_bytes)
        self._lru: list[int] = []
        self.misses = 0

    def serve(self, requests: list[tuple[int, int, int]]) -> float:
        """Total time (s) of the requests one after another, switching included."""
        total = 0.0
        for expert, prompt, output in requests:
            if expert in self._lru:
                self._lru.remove(expert)
            else:
                self.misses += 1
                total += self.switch_s
                if len(self._lru) >= self.hbm_slots:
                    self._lru.pop(0)
            self._lru.append(expert)
            total += self.cost.batch_latency(1, prompt, output)[1]
        return total
