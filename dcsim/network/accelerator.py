"""What an accelerator brings to the fabric: its NICs and its scale-up domain.

The hardware profile (dcsim/data/hardware/*.yaml) is the one source of the NIC line
rate, NICs per server, scale-up bandwidth and scale-up domain size. A scale-out topology
file gives structure (tiers, leaves, spines, oversubscription); binding it to an
accelerator sets the host links to the accelerator's NIC and attaches its scale-up
domain, so a hardware sweep changes the network with the chip.

The scale-up domain is modelled as one logical switch with each accelerator's
aggregate per-direction bandwidth (NVSwitch; the UB Clos of CloudMatrix384; for the
Infinity Fabric / HCCS meshes this assumes collectives spread over all peer links, as
RCCL's and HCCL's multi-ring/multi-channel schedules do).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_ACCELERATOR = "H100-SXM"  # used when a topology file leaves the NIC to the hardware

# Scale-up latencies (approximate): NVSwitch traversal ~0.25 us; NCCL's NVLink LL
# hardware latency ~0.6 us (src/graph/tuning.cc) as the per-step endpoint term.
SCALEUP_HOP_LATENCY_US = 0.25
SCALEUP_ENDPOINT_LATENCY_US = 0.6


@dataclass(frozen=True)
class AcceleratorNetwork:
    """NIC and scale-up facts of one accelerator, in the units of topology files."""

    name: str
    nic_gbps: float  # line rate of one scale-out NIC, Gb/s
    nics_per_server: int
    accelerators_per_server: int
    nic_source: str
    scaleup_gBps: float  # per accelerator, per direction, line rate
    scaleup_efficiency: float  # achievable share (effective / line rate), 1 if no figure
    scaleup_domain: int
    scaleup_technology: str
    scaleup_source: str

    @property
    def host_link_gbps(self) -> float:
        """Scale-out bandwidth per accelerator (one fabric host per accelerator)."""
        return self.nic_gbps * self.nics_per_server / self.accelerators_per_server

    @classmethod
    def from_profile(
        cls, profile: Any, accelerators_per_server: int | None = None
    ) -> AcceleratorNetwork:
        ic = profile.interconnect
        per_server = int(accelerators_per_server or profile.server.accelerators)
        nics = (
            ic.nics_per_server.value
            if ic.nics_per_server is not None
            else profile.server.accelerators
        )
        # NICs scale with the server (a 1-card box of an 8-card design keeps 1 NIC per card)
        nics_here = max(1, round(nics * per_server / profile.server.accelerators))
        domain = int(ic.scaleup_domain.value)
        if per_server < profile.server.accelerators:  # a cut-down box (e.g. one PCIe card)
            domain = min(domain, per_server)  # has no NVSwitch/UB beyond its own cards
        eff = 1.0
        if ic.scaleup_effective_gBps is not None and ic.scaleup_gBps_per_dir.value > 0:
            eff = min(1.0, ic.scaleup_effective_gBps.value / ic.scaleup_gBps_per_dir.value)
        return cls(
            name=profile.name,
            nic_gbps=float(ic.nic_gbps.value),
            nics_per_server=int(nics_here),
            accelerators_per_server=per_server,
            nic_source=ic.nic_gbps.source,
            scaleup_gBps=float(ic.scaleup_gBps_per_dir.value),
            scaleup_efficiency=float(eff),
            scaleup_domain=domain,
            scaleup_technology=ic.scaleup_technology,
            scaleup_source=ic.scaleup_gBps_per_dir.source,
        )

    def scale_up_config(self, n_hosts: int) -> dict[str, Any] | None:
        """Topology mapping of the scale-up domain for a fabric of n_hosts (None if 1 per domain).

        The domain must tile the hosts: a 384-NPU UB domain on a 256-host fabric becomes
        gcd(384, 256) = 128 (reported in the facts)."""
        d = self.domain_for(n_hosts)
        if d < 2:
            return None
        return {
            "kind": "nvlink_switch",
            "name": f"{self.name} scale-up ({self.scaleup_technology})",
            "gpus": d,
            "link_gBps": self.scaleup_gBps,
            "efficiency": self.scaleup_efficiency,
            "hop_latency_us": SCALEUP_HOP_LATENCY_US,
            "endpoint_latency_us": SCALEUP_ENDPOINT_LATENCY_US,
            "sources": [self.scaleup_source],
        }

    def domain_for(self, n_hosts: int) -> int:
        d = self.scaleup_domain
        return d if n_hosts % d == 0 else math.gcd(d, n_hosts)

    def facts(self, n_hosts: int | None = None) -> dict[str, Any]:
        """Plain values for summaries: what NIC and scale-up domain a run used."""
        out = asdict(self)
        out["host_link_gbps"] = self.host_link_gbps
        out["scaleup_effective_gBps"] = self.scaleup_gBps * self.scaleup_efficiency
        if n_hosts is not None:
            out["scaleup_domain_used"] = self.domain_for(n_hosts)
        return out


def accelerator_network(
    name: str, accelerators_per_server: int | None = None
) -> AcceleratorNetwork:
    """The AcceleratorNetwork of a bundled hardware profile by name."""
    from dcsim.hardware import get_profile

    return AcceleratorNetwork.from_profile(get_profile(name), accelerators_per_server)
