"""Flow-level network fabric: topologies, routing, max-min fair flows, collectives."""

from __future__ import annotations

from dcsim.network.accelerator import AcceleratorNetwork, accelerator_network
from dcsim.network.collectives import (
    ALGORITHMS,
    COLLECTIVES,
    SUPPORTED,
    CollectiveResult,
    alpha_beta_hierarchical_allreduce,
    alpha_beta_multichannel_ring_allreduce,
    alpha_beta_ring_allreduce,
    build_phases,
    bus_factor,
    collective_time,
    data_parallel_groups,
    dp_allreduce,
    parse_size,
    routing_tie_reason,
)
from dcsim.network.flows import max_min_rates, run_flows
from dcsim.network.routing import bipartite_edge_colouring, parse_routing, route
from dcsim.network.topology import (
    Fabric,
    TopologyConfig,
    bind_accelerator,
    list_presets,
    load_topology,
    parse_topology,
    resolve_topology_path,
)

__all__ = [
    "ALGORITHMS",
    "COLLECTIVES",
    "SUPPORTED",
    "CollectiveResult",
    "Fabric",
    "TopologyConfig",
    "alpha_beta_ring_allreduce",
    "alpha_beta_hierarchical_allreduce",
    "alpha_beta_multichannel_ring_allreduce",
    "bipartite_edge_colouring",
    "build_phases",
    "bus_factor",
    "collective_time",
    "load_topology",
    "AcceleratorNetwork",
    "accelerator_network",
    "data_parallel_groups",
    "dp_allreduce",
    "routing_tie_reason",
    "bind_accelerator",
    "max_min_rates",
    "list_presets",
    "parse_routing",
    "parse_size",
    "resolve_topology_path",
    "parse_topology",
    "route",
    "run_flows",
]
