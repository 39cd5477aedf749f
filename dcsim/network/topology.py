"""Fabric topologies: YAML configs -> link arrays compiled once.

A *host* is one accelerator's NIC (one NIC per accelerator, as in DGX H100).
Every physical full-duplex cable becomes two directed links; link arrays hold
capacity (bytes/s), latency (s) and a name. Equal-cost (shortest hop count)
paths between hosts are enumerated on demand on the switch core (dcsim.network.paths)
and cached, so a 100k-host fabric compiles in ~0.1 s and a collective only pays for
the host pairs it uses.

Topologies (sources in each builder's docstring):
  leaf_spine      2-tier Clos (Al-Fares et al. SIGCOMM 2008; Meta RoCE, SIGCOMM 2024)
  fat_tree        3-tier k-ary fat-tree (Al-Fares et al. 2008)
  rail_optimized  NVIDIA DGX SuperPOD rail-optimized leaf-spine (DGX H100 SuperPOD RA)
  nvlink_switch   NVLink/NVSwitch scale-up domain (DGX H100: 8 GPUs, 450 GB/s/dir each)
  ub_clos         Huawei CloudMatrix384 Unified-Bus Clos (arXiv 2506.12708)
  full_mesh       point-to-point mesh (AMD MI300X Infinity Fabric: 7 x 64 GB/s per GPU)

Units: scale-out link speeds are Gb/s (line rate, as on a NIC datasheet);
scale-up link speeds are GB/s per direction (as on accelerator datasheets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field, TypeAdapter, ValidationError, model_validator

from dcsim.errors import InputError
from dcsim.network.paths import HopGraph
from dcsim.resources import bundled_dir, find_bundled, list_bundled
from dcsim.schema import StrictModel, format_validation_error, read_yaml

if TYPE_CHECKING:  # networkx costs ~0.1 s to import; only graph() (inspection) needs it
    import networkx as nx

GBPS = 1e9 / 8.0  # bytes/s per Gb/s
GBYTES = 1e9  # bytes/s per GB/s
MAX_PATHS = 4096  # cap on equal-cost paths kept per host pair
_DIST_ENTRIES = 4_000_000  # distance entries (int32) per batch of path targets
_WALK_PAIRS = 1024  # node pairs walked together


# ---------------------------------------------------------------- config models
class FailureConfig(StrictModel):
    """Failed cables, by name ("leaf0-spine1", either order) or a random fraction of
    switch-to-switch cables (seeded). Failed cables carry nothing in both directions."""

    links: list[str] = Field(default_factory=list)
    fraction: float = Field(0.0, ge=0.0, lt=1.0)
    seed: int = Field(0, ge=0)


class _Common(StrictModel):
    name: str = ""
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    hop_latency_us: float = Field(
        0.5, ge=0, le=1e6, description="latency per link traversal (switch + propagation), us"
    )
    endpoint_latency_us: float = Field(
        0.0, ge=0, le=1e6, description="per-message NIC/software latency added once per step, us"
    )
    efficiency: float = Field(
        1.0, gt=0, le=1, description="achievable share of line rate (e.g. 0.97: 48.5 GB/s on 400G)"
    )
    failures: FailureConfig | None = None


class NVLinkSwitchConfig(_Common):
    """Star of GPUs around one logical NVSwitch plane (per-GPU bandwidth aggregated)."""

    kind: Literal["nvlink_switch"]
    gpus: int = Field(gt=1, le=4096)
    link_gBps: float = Field(
        gt=0, description="per-GPU bandwidth to the switch, GB/s per direction"
    )


class UBClosConfig(_Common):
    """Two-level Unified-Bus Clos: NPUs -> in-node L1 switches (one per plane) -> L2 switches."""

    kind: Literal["ub_clos"]
    nodes: int = Field(gt=0, le=4096)
    npus_per_node: int = Field(gt=0, le=64)
    planes: int = Field(
        gt=0, le=64, description="L1 switches per node; each NPU links to every plane"
    )
    l2_per_plane: int = Field(gt=0, le=256)
    npu_link_gBps: float = Field(gt=0, description="per NPU-to-L1 link, GB/s per direction")
    l1_l2_link_gBps: float | None = Field(
        None, gt=0, description="per L1-to-L2 link; default makes L1 non-blocking"
    )


class FullMeshConfig(_Common):
    """Every accelerator cabled directly to every other (no switch)."""

    kind: Literal["full_mesh"]
    gpus: int = Field(gt=1, le=512)
    link_gBps: float = Field(gt=0, description="per peer link, GB/s per direction")


ScaleUpConfig = Annotated[
    NVLinkSwitchConfig | UBClosConfig | FullMeshConfig, Field(discriminator="kind")
]


class _ScaleOut(_Common):
    scale_up: ScaleUpConfig | None = Field(
        None,
        description="scale-up domain around each group of consecutive hosts; default: the "
        "accelerator's (hardware profile) when the fabric is built for one",
    )
    override_reason: str = Field(
        "",
        max_length=500,
        description="why host_link_gbps / scale_up differ from the accelerator's own NIC and "
        "scale-up domain (required when they do)",
    )

    @property
    def nic_given(self) -> bool:
        return getattr(self, "host_link_gbps", None) is not None


def _uplink_speed(down_gbps: float, n_up: int, given: float | None, ratio: float | None) -> float:
    """Uplink speed from an explicit value or an oversubscription ratio (down:up)."""
    if given is not None:
        if ratio is not None:
            derived = down_gbps / (n_up * given)
            if abs(derived - ratio) > 0.01 * ratio:
                raise ValueError(
                    f"spine_link_gbps={given:g} gives oversubscription {derived:.3g}, "
                    f"not {ratio:g}; give only one of the two"
                )
        return given
    return down_gbps / (n_up * (ratio or 1.0))


_NIC_HELP = (
    "host (NIC) line rate, Gb/s; default: the accelerator's NIC from its hardware profile. "
    "Giving it for a simulation whose hardware differs needs override_reason"
)


class LeafSpineConfig(_ScaleOut):
    """2-tier leaf-spine: every leaf cabled once to every spine."""

    kind: Literal["leaf_spine"]
    leaves: int = Field(gt=0, le=4096)
    spines: int = Field(gt=0, le=1024)
    hosts_per_leaf: int = Field(gt=0, le=1024)
    host_link_gbps: float | None = Field(None, gt=0, le=1e5, description=_NIC_HELP)
    spine_link_gbps: float | None = Field(None, gt=0, le=1e6)
    oversubscription: float | None = Field(None, gt=0, le=1000, description="leaf down:up ratio")

    @model_validator(mode="after")
    def _speeds(self) -> LeafSpineConfig:
        if self.host_link_gbps is not None:
            _ = self.uplink_gbps  # raises on inconsistent speeds / oversubscription
        return self

    @property
    def uplink_gbps(self) -> float:
        assert self.host_link_gbps is not None, "bind the fabric to an accelerator first"
        return _uplink_speed(
            self.hosts_per_leaf * self.host_link_gbps,
            self.spines,
            self.spine_link_gbps,
            self.oversubscription,
        )


class FatTreeConfig(_ScaleOut):
    """3-tier k-ary fat-tree: k pods of k/2 edge + k/2 aggregation switches, (k/2)^2 cores."""

    kind: Literal["fat_tree"]
    k: int = Field(gt=1, le=128)
    host_link_gbps: float | None = Field(None, gt=0, le=1e5, description=_NIC_HELP)
    fabric_link_gbps: float | None = Field(
        None, gt=0, le=1e6, description="default: host_link_gbps"
    )
    hosts_per_edge: int | None = Field(
        None, gt=0, le=1024, description="default k/2 (non-blocking)"
    )

    @model_validator(mode="after")
    def _even(self) -> FatTreeConfig:
        if self.k % 2:
            raise ValueError(f"k must be even (got {self.k})")
        return self


class RailOptimizedConfig(_ScaleOut):
    """Rail-optimized leaf-spine: GPU r of every server in a group goes to rail leaf r."""

    kind: Literal["rail_optimized"]
    servers: int = Field(gt=0, le=65536)
    gpus_per_server: int = Field(gt=0, le=64, description="rails")
    servers_per_leaf: int = Field(gt=0, le=1024, description="servers in one scalable unit")
    spines: int = Field(gt=0, le=1024)
    host_link_gbps: float | None = Field(None, gt=0, le=1e5, description=_NIC_HELP)
    spine_link_gbps: float | None = Field(None, gt=0, le=1e6)
    oversubscription: float | None = Field(None, gt=0, le=1000)

    @model_validator(mode="after")
    def _groups(self) -> RailOptimizedConfig:
        if self.servers % self.servers_per_leaf:
            raise ValueError(
                f"servers ({self.servers}) must be a multiple of servers_per_leaf ({self.servers_per_leaf})"
            )
        if self.host_link_gbps is not None:
            _ = self.uplink_gbps  # raises on inconsistent speeds / oversubscription
        return self

    @property
    def uplink_gbps(self) -> float:
        assert self.host_link_gbps is not None, "bind the fabric to an accelerator first"
        return _uplink_speed(
            self.servers_per_leaf * self.host_link_gbps,
            self.spines,
            self.spine_link_gbps,
            self.oversubscription,
        )


TopologyConfig = Annotated[
    LeafSpineConfig
    | FatTreeConfig
    | RailOptimizedConfig
    | NVLinkSwitchConfig
    | UBClosConfig
    | FullMeshConfig,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(TopologyConfig)
KINDS = ("leaf_spine", "fat_tree", "rail_optimized", "nvlink_switch", "ub_clos", "full_mesh")


def parse_topology(data: Any, file: str | None = None) -> Any:
    """Validate a mapping into the TopologyConfig union; InputError names file and field."""
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping with a 'kind' field, got {type(data).__name__}", file=file
        )
    if "kind" not in data:
        raise InputError(
            f"missing field; expected one of: {', '.join(KINDS)}", file=file, field="kind"
        )
    if data["kind"] not in KINDS:
        raise InputError(
            f"unknown topology kind {data['kind']!r}; expected one of: {', '.join(KINDS)}",
            file=file,
            field="kind",
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        path, msg = format_validation_error(exc)
        # drop the union tag pydantic puts first ("leaf_spine.leaves" -> "leaves")
        parts = path.split(".")
        if parts and parts[0] == data["kind"]:
            path = ".".join(parts[1:]) or "<root>"
        raise InputError(msg, file=file, field=path) from None


# ---------------------------------------------------------------- builders
@dataclass
class _Spec:
    """What a builder produces: node names and tiers, cables (u[i], v[i], Bps[i]), metrics.

    Arrays, not lists of tuples: a 100k-host fabric has ~300k cables."""

    names: list[str]
    tiers: np.ndarray
    u: np.ndarray
    v: np.ndarray
    bps: np.ndarray
    n_hosts: int
    bisection_Bps: float
    oversubscription: float


def _nodes(*groups: tuple[list[str], int]) -> tuple[list[str], np.ndarray]:
    """Names and tiers of consecutive node groups (names, tier)."""
    names = [n for g, _ in groups for n in g]
    return names, np.repeat([t for _, t in groups], [len(g) for g, _ in groups]).astype(np.int64)


def _cables(
    *groups: tuple[np.ndarray, np.ndarray, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated cable groups (u, v, Bps): end arrays and one speed per group."""
    u = np.concatenate([np.ravel(g[0]) for g in groups]).astype(np.int64)
    v = np.concatenate([np.ravel(g[1]) for g in groups]).astype(np.int64)
    b = np.concatenate([np.full(np.size(g[0]), float(g[2])) for g in groups])
    return u, v, b


def _full_bipartite(a0: int, na: int, b0: int, nb: int) -> tuple[np.ndarray, np.ndarray]:
    """Every node a0.. cabled to every node b0.., in (a, b) row-major order."""
    return np.repeat(np.arange(a0, a0 + na), nb), np.tile(np.arange(b0, b0 + nb), na)


def _nic(c: Any) -> float:
    """Host link speed of a bound scale-out config (bind_accelerator sets it)."""
    if c.host_link_gbps is None:
        raise InputError(
            "host_link_gbps unset: build the fabric with load_topology (it takes the NIC "
            "from the accelerator's hardware profile)",
            field="host_link_gbps",
        )
    return float(c.host_link_gbps)


def _build_leaf_spine(c: LeafSpineConfig) -> _Spec:
    """2-tier Clos. Bisection: min(host side, spine side) across a half/half leaf cut."""
    L, S, h = c.leaves, c.spines, c.hosts_per_leaf
    nh = L * h
    names, tiers = _nodes(
        ([f"h{i}" for i in range(nh)], 0),
        ([f"leaf{i}" for i in range(L)], 1),
        ([f"spine{j}" for j in range(S)], 2),
    )
    bh, bs = _nic(c) * GBPS * c.efficiency, c.uplink_gbps * GBPS * c.efficiency
    host = np.arange(nh)
    cab = _cables((host, nh + host // h, bh), (*_full_bipartite(nh, L, nh + L, S), bs))
    bis = min(nh * bh, L * S * bs) / 2.0 if L > 1 else 0.0
    return _Spec(names, tiers, *cab, nh, bis, h * _nic(c) / (S * c.uplink_gbps))


def _build_fat_tree(c: FatTreeConfig) -> _Spec:
    """k-ary fat-tree (Al-Fares, Loukissas, Vahdat, SIGCOMM 2008): k^3/4 hosts at k/2 per edge."""
    k, half = c.k, c.k // 2
    hpe = c.hosts_per_edge or half
    bh = _nic(c) * GBPS * c.efficiency
    bf = (c.fabric_link_gbps or _nic(c)) * GBPS * c.efficiency
    nh = k * half * hpe
    names, tiers = _nodes(
        ([f"h{i}" for i in range(nh)], 0),
        ([f"edge{p}_{e}" for p in range(k) for e in range(half)], 1),
        ([f"agg{p}_{a}" for p in range(k) for a in range(half)], 2),
        ([f"core{i}" for i in range(half * half)], 3),
    )
    edge0, agg0 = nh, nh + k * half
    core0 = agg0 + k * half
    # per pod p: edge e - agg a for (e, a), then agg a - core (a, j) for (a, j)
    p, x, y = np.meshgrid(np.arange(k), np.arange(half), np.arange(half), indexing="ij")
    pu = np.stack([edge0 + p * half + x, agg0 + p * half + x], axis=1)
    pv = np.stack([agg0 + p * half + y, core0 + x * half + y], axis=1)
    host = np.arange(nh)
    cab = _cables((host, edge0 + host // hpe, bh), (pu, pv, bf))
    over = hpe * _nic(c) / (half * (c.fabric_link_gbps or _nic(c)))
    bis = min(nh * bh, k * half * half * bf) / 2.0
    return _Spec(names, tiers, *cab, nh, bis, over)


def _build_rail(c: RailOptimizedConfig) -> _Spec:
    """DGX SuperPOD style: host = server*G + rail; leaf (group, rail); every leaf to every spine."""
    G, spl, S = c.gpus_per_server, c.servers_per_leaf, c.spines
    groups = c.servers // spl
    nh = c.servers * G
    L = groups * G
    names, tiers = _nodes(
        ([f"h{i}" for i in range(nh)], 0),
        ([f"leaf{g}_r{r}" for g in range(groups) for r in range(G)], 1),
        ([f"spine{j}" for j in range(S)], 2),
    )
    bh, bs = _nic(c) * GBPS * c.efficiency, c.uplink_gbps * GBPS * c.efficiency
    host = np.arange(nh)
    leaf_of = (host // G) // spl * G + host % G
    cab = _cables((host, nh + leaf_of, bh), (*_full_bipartite(nh, L, nh + L, S), bs))
    bis = min(nh * bh, L * S * bs) / 2.0
    return _Spec(names, tiers, *cab, nh, bis, spl * _nic(c) / (S * c.uplink_gbps))


def _build_nvlink(c: NVLinkSwitchConfig) -> _Spec:
    """NVSwitch domain as one logical switch: per-GPU link = datasheet NVLink bandwidth."""
    n = c.gpus
    b = c.link_gBps * GBYTES * c.efficiency
    names, tiers = _nodes(([f"h{i}" for i in range(n)], 0), (["nvswitch"], 1))
    cab = _cables((np.arange(n), np.full(n, n), b))
    return _Spec(names, tiers, *cab, n, n // 2 * b, 1.0)


def _build_ub_clos(c: UBClosConfig) -> _Spec:
    """CloudMatrix384 UB plane (Zuo et al., arXiv 2506.12708): each NPU has one link to each of
    the node's L1 switches (7 x 56 GB/s = 392 GB/s); L1 of plane p goes to all L2 of plane p."""
    N, m, P, M = c.nodes, c.npus_per_node, c.planes, c.l2_per_plane
    nh = N * m
    b1 = c.npu_link_gBps * GBYTES * c.efficiency
    l12_gBps = c.l1_l2_link_gBps or m * c.npu_link_gBps / M
    b2 = l12_gBps * GBYTES * c.efficiency
    names, tiers = _nodes(
        ([f"h{i}" for i in range(nh)], 0),
        ([f"l1_n{n}_p{p}" for n in range(N) for p in range(P)], 1),
        ([f"l2_p{p}_{j}" for p in range(P) for j in range(M)], 2),
    )
    l10 = nh
    l20 = l10 + N * P
    npu, plane = _full_bipartite(0, nh, 0, P)
    groups = [(npu, l10 + (npu // m) * P + plane, b1)]
    if N > 1:  # (node n, plane p, L2 j) row-major
        n, p, j = np.meshgrid(np.arange(N), np.arange(P), np.arange(M), indexing="ij")
        groups.append((l10 + n * P + p, l20 + p * M + j, b2))
    over = m * c.npu_link_gBps / (M * l12_gBps)
    bis = min(nh * P * b1, N * P * M * b2) / 2.0 if N > 1 else nh // 2 * P * b1
    return _Spec(names, tiers, *_cables(*groups), nh, bis, over)


def _build_full_mesh(c: FullMeshConfig) -> _Spec:
    """Direct GPU-GPU links (AMD MI300X platform: 7 Infinity Fabric links x 64 GB/s per GPU)."""
    n = c.gpus
    b = c.link_gBps * GBYTES * c.efficiency
    names, tiers = _nodes(([f"h{i}" for i in range(n)], 0))
    cab = _cables((*np.triu_indices(n, 1), b))
    return _Spec(names, tiers, *cab, n, (n // 2) * (n - n // 2) * b, 1.0)


_BUILDERS: dict[str, Callable[[Any], _Spec]] = {
    "leaf_spine": _build_leaf_spine,
    "fat_tree": _build_fat_tree,
    "rail_optimized": _build_rail,
    "nvlink_switch": _build_nvlink,
    "ub_clos": _build_ub_clos,
    "full_mesh": _build_full_mesh,
}


# ---------------------------------------------------------------- the compiled fabric
@dataclass
class Fabric:
    """A fabric compiled to arrays. Links are directed; index l has src/dst node, capacity
    (bytes/s), latency (s) and name "u->v". Host i is node ``host_nodes[i]``."""

    name: str
    kind: str
    config: Any
    node_names: list[str]
    node_tier: np.ndarray
    host_nodes: np.ndarray
    link_src: np.ndarray
    link_dst: np.ndarray
    link_cap: np.ndarray
    link_lat: np.ndarray
    failed: list[str]
    bisection_bw_Bps: float
    oversubscription: float
    scale_up: Fabric | None = None
    endpoint_latency_s: float = 0.0
    nic_note: str = ""  # where the host link speed came from (accelerator or topology file)
    _paths: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.node_names)
        self.n_nodes = n
        self.host_link_mask = np.isin(self.link_src, self.host_nodes) | np.isin(
            self.link_dst, self.host_nodes
        )
        # single-homed hosts: one out-link (their NIC); paths are cached per switch pair and
        # the NIC links put around them (Fabric.paths, routing)
        hn = self.host_nodes
        self.host_single = np.bincount(self.link_src, minlength=n)[hn] == 1
        single = hn[self.host_single]
        pendant = np.zeros(n, dtype=bool)
        pendant[single] = True
        up = np.flatnonzero(pendant[self.link_src])  # one out-link and one in-link each
        down = np.flatnonzero(pendant[self.link_dst])
        self.host_up = np.full(len(hn), -1, dtype=np.int64)
        self.host_down = np.full(len(hn), -1, dtype=np.int64)
        self.host_up[np.searchsorted(hn, self.link_src[up])] = up
        self.host_down[np.searchsorted(hn, self.link_dst[down])] = down
        self.host_key = hn.copy()
        self.host_key[self.host_single] = self.link_dst[self.host_up[self.host_single]]
        # the switch core: every node but the single-homed hosts (a pendant node is never an
        # intermediate hop, so shortest paths between core nodes are those of the full graph)
        self._core = HopGraph(self.link_src, self.link_dst, np.flatnonzero(~pendant), n)

    @cached_property
    def _full(self) -> HopGraph:
        """Every node: for pairs with a single-homed host at an end, and the diameter."""
        return HopGraph(self.link_src, self.link_dst, np.arange(self.n_nodes), self.n_nodes)

    # ------------------------------------------------------------ sizes
    @property
    def n_hosts(self) -> int:
        return len(self.host_nodes)

    @property
    def n_switches(self) -> int:
        return int(np.sum(self.node_tier > 0))

    @property
    def n_links(self) -> int:
        """Directed links (two per cable)."""
        return len(self.link_src)

    @property
    def domain_size(self) -> int:
        """Hosts per scale-up domain (1 if none is attached)."""
        return self.scale_up.n_hosts if self.scale_up is not None else 1

    def host_link_Bps(self) -> float:
        """Slowest host injection bandwidth (NIC, or sum of scale-up ports per accelerator)."""
        hn = self.host_nodes
        mask = np.isin(self.link_src, hn)
        tot = np.bincount(
            np.searchsorted(hn, self.link_src[mask]), weights=self.link_cap[mask], minlength=len(hn)
        )
        return float(tot.min())

    def switch_ports(self) -> tuple[np.ndarray, np.ndarray]:
        """Per switch: number of live ports and mean port speed in Gb/s (for switch power)."""
        sw = np.flatnonzero(self.node_tier > 0)
        ports = np.bincount(self.link_src, minlength=self.n_nodes)[sw]
        speed = np.bincount(self.link_src, weights=self.link_cap, minlength=self.n_nodes)[sw]
        return ports, np.where(ports > 0, speed / np.maximum(ports, 1) / GBPS, 0.0)

    def summary(self) -> dict[str, Any]:
        """Sizes, bandwidths and failures as plain JSON-friendly values."""
        tiers = {int(t): int(np.sum(self.node_tier == t)) for t in np.unique(self.node_tier)}
        out = {
            "name": self.name,
            "kind": self.kind,
            "n_hosts": self.n_hosts,
            "n_switches": self.n_switches,
            "n_links": self.n_links,
            "n_cables": self.n_links // 2,
            "nodes_per_tier": tiers,
            "host_bw_GBps": self.host_link_Bps() / 1e9,
            "bisection_bw_GBps": self.bisection_bw_Bps / 1e9,
            "bisection_bw_Tbps": self.bisection_bw_Bps * 8 / 1e12,
            "oversubscription": self.oversubscription,
            "hop_latency_us": float(self.config.hop_latency_us),
            "diameter_hops": self.diameter_hops(),
            "failed_links": list(self.failed),
        }
        if self.nic_note:
            out["nic"] = self.nic_note
        if self.scale_up is not None:
            out["scale_up"] = self.scale_up.summary()
        return out

    def diameter_hops(self) -> int:
        """Longest shortest path between hosts, in links (from a few sample hosts).

        Distances are on the full graph: the switch-core graph used for path enumeration
        has no links into single-homed hosts, so every host but the target looked
        unreachable there (the old "diameter 0 links")."""
        if self.n_hosts < 2:
            return 0
        sample = np.unique(np.linspace(0, self.n_hosts - 1, min(self.n_hosts, 4)).astype(int))
        d = self._full.distances(self.host_nodes[sample])[:, self.host_nodes]
        return int(d.max(initial=0))

    def graph(self) -> nx.DiGraph:
        """The live directed graph (for inspection; the solvers use the arrays)."""
        import networkx as nx

        g = nx.DiGraph()
        for i, name in enumerate(self.node_names):
            g.add_node(i, name=name, tier=int(self.node_tier[i]))
        for k in range(self.n_links):
            g.add_edge(
                int(self.link_src[k]),
                int(self.link_dst[k]),
                link=k,
                capacity=float(self.link_cap[k]),
            )
        return g

    # ------------------------------------------------------------ paths
    def _node_paths(self, s: int, t: int) -> np.ndarray:
        """All shortest paths s -> t as an int array (P, hops) of link ids, in a fixed order
        (next hops by node index), cached. P is capped at MAX_PATHS."""
        got = self._paths.get((s, t))
        if got is None:
            self.ensure_paths(np.array([s]), np.array([t]))
            got = self._paths[(s, t)]
        return got

    def ensure_paths(self, s: np.ndarray, t: np.ndarray) -> None:
        """Enumerate and cache the paths of many node pairs at once (dcsim.network.paths):
        one BFS per new target on the switch core, then one vectorized walk per hop count
        for all pairs. A pair with a single-homed host at an end uses the full graph."""
        n = self.n_nodes
        code = np.unique(np.asarray(s, dtype=np.int64) * n + np.asarray(t, dtype=np.int64))
        code = np.array(
            [c for c in code.tolist() if (c // n, c % n) not in self._paths], dtype=np.int64
        )
        if not len(code):
            return
        s, t = code // n, code % n
        core = (self._core.index[s] >= 0) & (self._core.index[t] >= 0)
        for g, sel in ((self._core, core), (self._full, ~core)):
            if sel.any():
                self._enumerate(g, s[sel], t[sel])

    def _enumerate(self, g: HopGraph, s: np.ndarray, t: np.ndarray) -> None:
        """Paths of node pairs (s, t), all nodes of g, into the cache; targets in chunks
        of at most _DIST_ENTRIES / m distance rows (memory stays bounded on huge cores)."""
        targets = np.unique(t)
        per = max(1, _DIST_ENTRIES // g.m)
        if len(targets) > per:
            for i in range(0, len(targets), per):
                m = np.isin(t, targets[i : i + per])
                self._enumerate(g, s[m], t[m])
            return
        sc, tc = g.index[s], g.index[t]
        d, _, row, dist = g.hops(sc, tc)
        if np.any(d < 0):
            bad = np.flatnonzero(d < 0)
            i = bad[np.lexsort((s[bad], t[bad]))[0]]
            raise InputError(
                f"no path from {self.node_names[s[i]]} to {self.node_names[t[i]]} (too many "
                "failed links?)",
                field="failures",
            )
        for hops in np.unique(d).tolist():
            same = np.flatnonzero(d == hops)
            # bounded temporaries: paths multiply with hops (fat-tree: 37 within a pod, 1,369
            # between pods), so longer pairs go in smaller batches
            batch = max(16, _WALK_PAIRS >> max(0, hops - 2))
            for i in range(0, len(same), batch):
                idx = same[i : i + batch]
                owner, links = g.walk(sc[idx], tc[idx], row[idx], dist, hops, MAX_PATHS)
                links.setflags(write=False)
                bounds = np.searchsorted(owner, np.arange(len(idx) + 1))
                for k, (a, b) in enumerate(zip(s[idx].tolist(), t[idx].tolist(), strict=True)):
                    self._paths[(a, b)] = links[bounds[k] : bounds[k + 1]]

    def paths(self, src_host: int, dst_host: int) -> np.ndarray:
        """Equal-cost paths between two hosts: int array (P, hops) of link ids."""
        a, b = int(src_host), int(dst_host)
        if self.host_single[a] and self.host_single[b]:
            mid = self._node_paths(int(self.host_key[a]), int(self.host_key[b]))
            P = mid.shape[0]
            return np.concatenate(
                [np.full((P, 1), self.host_up[a]), mid, np.full((P, 1), self.host_down[b])], axis=1
            )
        return self._node_paths(int(self.host_nodes[a]), int(self.host_nodes[b]))

    def n_paths(self, src_host: int, dst_host: int) -> int:
        """Number of equal-cost paths between two hosts: `len(paths(...))` without adding
        the NIC links to every path."""
        a, b = int(src_host), int(dst_host)
        node = self.host_key if self.host_single[a] and self.host_single[b] else self.host_nodes
        return len(self._node_paths(int(node[a]), int(node[b])))

    @cached_property
    def link_names(self) -> list[str]:
        """Directed link names "u->v" (built on first use: 100k hosts make ~300k links)."""
        n = self.node_names
        return [f"{n[a]}->{n[b]}" for a, b in zip(self.link_src, self.link_dst, strict=True)]

    def link_id(self, name: str) -> int:
        """Index of a directed link 'u->v'."""
        try:
            return self.link_names.index(name)
        except ValueError:
            raise InputError(f"no link named {name!r}", field="link") from None


def component_labels(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Connected component of each of n nodes joined by undirected edges (u, v), numbered
    in order of each part's lowest node, as scipy.sparse.csgraph.connected_components
    numbers them (tested equal), without its ~0.2 s import: union-find by hooking each
    root onto the smaller root across an edge, then pointer jumping (Shiloach & Vishkin,
    J. Algorithms 3, 1982). A part's root ends as its lowest node."""
    parent = np.arange(n)
    u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
    while True:
        pu, pv = parent[u], parent[v]
        if np.array_equal(pu, pv):
            break
        np.minimum.at(parent, np.maximum(pu, pv), np.minimum(pu, pv))
        while True:  # every node straight to its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return np.unique(parent, return_inverse=True)[1]


def _check_connected(
    names: list[str], tiers: np.ndarray, u: np.ndarray, v: np.ndarray, failures: Any
) -> None:
    """Every host must still reach every other host over the surviving cables: a fabric the
    failures cut in two is refused when it is built (`topology show` included), naming the
    failures field, not found later by the router as a bare `field 'failures'`."""
    label = component_labels(len(names), u, v)
    hosts = np.flatnonzero(tiers == 0)
    main = int(np.argmax(np.bincount(label[hosts])))  # the largest connected part
    cut = hosts[label[hosts] != main]
    if len(cut):
        reach = hosts[label[hosts] == main][0]
        raise InputError(
            f"the failed cables disconnect the fabric: {names[int(cut[0])]} cannot reach "
            f"{names[int(reach)]} ({len(cut)} of {len(hosts)} hosts cut off); fail fewer "
            "cables",
            field="failures.links" if failures.links else "failures.fraction",
        )


def _compile(cfg: Any) -> Fabric:
    spec = _BUILDERS[cfg.kind](cfg)
    names, tiers = spec.names, spec.tiers
    u, v, bps = spec.u, spec.v, spec.bps
    switch = (tiers[u] > 0) & (tiers[v] > 0)
    failed: list[str] = []
    if cfg.failures is not None:
        dead: set[int] = set()
        if cfg.failures.links:
            lookup = {}
            for ci, (a, b) in enumerate(zip(u.tolist(), v.tolist(), strict=True)):
                lookup[f"{names[a]}-{names[b]}"] = ci
                lookup[f"{names[b]}-{names[a]}"] = ci
            for j, lname in enumerate(cfg.failures.links):
                key = lname.replace("->", "-").replace(" ", "")
                if key not in lookup:
                    raise InputError(
                        f"no cable named {lname!r}; cables are named like "
                        f"'{names[u[-1]]}-{names[v[-1]]}'",
                        field=f"failures.links.{j}",
                    )
                dead.add(lookup[key])
        if cfg.failures.fraction > 0:
            sw = np.flatnonzero(switch)
            if not len(sw):
                sw = np.arange(len(u))
            rng = np.random.default_rng(cfg.failures.seed)
            k = int(round(cfg.failures.fraction * len(sw)))
            dead.update(int(x) for x in rng.choice(sw, size=k, replace=False))
        failed = sorted(f"{names[u[c]]}-{names[v[c]]}" for c in dead)
        live = np.ones(len(u), dtype=bool)
        live[list(dead)] = False
        _check_connected(names, tiers, u[live], v[live], cfg.failures)
    else:
        live = np.ones(len(u), dtype=bool)
    src = np.concatenate([u[live], v[live]])
    dst = np.concatenate([v[live], u[live]])
    cap = bps[live]
    lat = np.full(len(src), cfg.hop_latency_us * 1e-6)
    # with failures: scale by the surviving share of switch-to-switch capacity (a bound
    # that is exact when cables fail uniformly across the cut); sums in cable order
    bis = spec.bisection_Bps
    sw_all = sum(bps[switch].tolist())
    if failed and sw_all > 0:
        bis *= sum(bps[switch & live].tolist()) / sw_all
    fab = Fabric(
        name=cfg.name or cfg.kind,
        kind=cfg.kind,
        config=cfg,
        node_names=names,
        node_tier=tiers,
        host_nodes=np.flatnonzero(tiers == 0).astype(np.int64),
        link_src=src,
        link_dst=dst,
        link_cap=np.concatenate([cap, cap]),
        link_lat=lat,
        failed=failed,
        bisection_bw_Bps=float(bis),
        oversubscription=float(spec.oversubscription),
        endpoint_latency_s=cfg.endpoint_latency_us * 1e-6,
    )
    su = getattr(cfg, "scale_up", None)
    if su is not None:
        fab.scale_up = _compile(su)
        if fab.n_hosts % fab.scale_up.n_hosts:
            raise InputError(
                f"{fab.n_hosts} hosts do not split into scale-up domains of {fab.scale_up.n_hosts}",
                field="scale_up",
            )
    return fab


TOPOLOGY_DIR = bundled_dir("topologies")


def resolve_topology_path(name: str | Path) -> Path:
    """A path as given if it exists, else a bundled preset by name ('leaf_spine_small')."""
    p = Path(name)
    if p.is_file():
        return p
    return find_bundled("topologies", p.name) or p


def list_presets() -> list[Path]:
    """Bundled topology YAML files."""
    return list_bundled("topologies")


SCALE_OUT_KINDS = ("leaf_spine", "fat_tree", "rail_optimized")


def _scale_out_hosts(cfg: Any) -> int:
    """Hosts of a scale-out config, from its structure alone."""
    if cfg.kind == "leaf_spine":
        return int(cfg.leaves * cfg.hosts_per_leaf)
    if cfg.kind == "fat_tree":
        return int(cfg.k * (cfg.k // 2) * (cfg.hosts_per_edge or cfg.k // 2))
    return int(cfg.servers * cfg.gpus_per_server)


def bind_accelerator(cfg: Any, accel: Any = None, file: str | None = None) -> tuple[Any, str]:
    """The config with host links (and scale-up domain) set from an accelerator.

    A scale-out topology that leaves ``host_link_gbps`` out takes the accelerator's NIC
    (``accel``, else the default profile) and, with it, the accelerator's scale-up
    domain. A topology that states ``host_link_gbps`` or ``scale_up`` keeps them when no
    accelerator is given; with one, values that differ from the hardware are refused
    unless ``override_reason`` says why. Scale-up kinds (nvlink_switch, ub_clos,
    full_mesh) are their own network and are returned unchanged.
    Returns (config, note) where note says where the NIC speed came from."""
    from dcsim.network.accelerator import (
        DEFAULT_ACCELERATOR,
        AcceleratorNetwork,
        accelerator_network,
    )

    if cfg.kind not in SCALE_OUT_KINDS:
        return cfg, ""
    if accel is None:
        if cfg.nic_given:
            return cfg, "host_link_gbps from the topology file"
        accel = accelerator_network(DEFAULT_ACCELERATOR)
        default = True
    else:
        if isinstance(accel, str):
            accel = accelerator_network(accel)
        default = False
    assert isinstance(accel, AcceleratorNetwork)
    data = cfg.model_dump(exclude_none=True)
    nic = accel.host_link_gbps
    who = f"{accel.name}{' (default hardware)' if default else ''}"
    if cfg.nic_given and abs(cfg.host_link_gbps - nic) > 1e-9 * nic:
        if not cfg.override_reason:
            raise InputError(
                f"topology states host_link_gbps={cfg.host_link_gbps:g} but {accel.name}'s NIC is "
                f"{nic:g} Gb/s per accelerator; remove host_link_gbps to use the hardware's NIC, "
                "or say why in override_reason",
                file=file,
                field="host_link_gbps",
            )
        note = f"host_link_gbps {cfg.host_link_gbps:g} overrides {who}: {cfg.override_reason}"
    else:
        data["host_link_gbps"] = nic
        note = f"{who} NIC {accel.nic_gbps:g} Gb/s x {accel.nics_per_server} per {accel.accelerators_per_server} accelerators"
    want = accel.scale_up_config(_scale_out_hosts(cfg))
    if cfg.scale_up is not None:
        given = cfg.scale_up
        same = (
            want is not None
            and given.kind == want["kind"]
            and given.gpus == want["gpus"]
            and abs(given.link_gBps * given.efficiency - want["link_gBps"] * want["efficiency"])
            <= 1e-3 * want["link_gBps"]
        )
        if not same and not cfg.override_reason:
            raise InputError(
                f"topology states a scale_up domain that differs from {accel.name}'s "
                f"({accel.scaleup_domain} x {accel.scaleup_gBps:g} GB/s {accel.scaleup_technology}); "
                "remove scale_up to use the hardware's, or say why in override_reason",
                file=file,
                field="scale_up",
            )
    elif want is not None:
        data["scale_up"] = want
    return parse_topology(data, file=file), note


def _refuse_other_kind(data: object, file: str) -> None:
    """A scenario, task, sweep or hardware file given as a fabric: say what it is.

    Only files that clearly are another kind are refused here (a topology without `kind`
    still gets the schema's "field 'kind': missing field").
    """
    from dcsim.validate import guess_kind, refuse_wrong_kind

    if isinstance(data, dict):
        kind = guess_kind(data)
        if kind not in ("topology", "scenario") or "cluster" in data:
            refuse_wrong_kind(data, file, "topology")


def load_topology(source: str | Path | dict[str, Any] | Any, accelerator: Any = None) -> Fabric:
    """Build a Fabric from a YAML path, a mapping, or a validated TopologyConfig.

    ``accelerator`` (an AcceleratorNetwork or a hardware profile name) sets the NIC speed
    and the scale-up domain of scale-out fabrics (see bind_accelerator). Bad input raises
    InputError naming the file and the field path.
    """
    file = None
    if isinstance(source, (str, Path)):
        name = source
        source = resolve_topology_path(source)
        if not Path(source).is_file():
            presets = ", ".join(p.stem for p in list_presets())
            raise InputError(
                f"topology '{name}' not found: expected a YAML path or a bundled preset "
                f"({presets})",
                field="topology",
            )
        file = str(source)
        data = read_yaml(source)
        _refuse_other_kind(data, file)
        cfg = parse_topology(data, file=file)
    elif isinstance(source, dict):
        cfg = parse_topology(source)
    elif hasattr(source, "kind") and source.kind in _BUILDERS:
        cfg = source
    else:
        raise InputError(f"expected a topology YAML path or mapping, got {type(source).__name__}")
    try:
        cfg, note = bind_accelerator(cfg, accelerator, file)
        fab = _compile(cfg)
        fab.nic_note = note
        return fab
    except InputError as exc:
        if exc.file is None and file is not None:
            exc.file = file
            exc.args = (exc.render(),)
        raise
