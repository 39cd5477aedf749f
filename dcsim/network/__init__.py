"""Flow-level network fabric: topologies, routing, max-min fair flows, collectives."""

from __future__ import annotations

from dcsim.network.collectives import (
    ALGORITHMS,
    COLLECTIVES,
    SUPPORTED,
    CollectiveResult,
    alpha_beta_ring_allreduce,
    build_phases,
    bus_factor,
    collective_time,
)
from dcsim.network.flows import max_min_rates, run_flows
from dcsim.network.routing import bipartite_edge_colouring, parse_routing, route
from dcsim.network.topology import Fabric, TopologyConfig, load_topology, parse_topology

__all__ = [
    "ALGORITHMS",
    "COLLECTIVES",
    "SUPPORTED",
    "CollectiveResult",
    "Fabric",
    "TopologyConfig",
    "alpha_beta_ring_allreduce",
    "bipartite_edge_colouring",
    "build_phases",
    "bus_factor",
    "collective_time",
    "load_topology",
    "max_min_rates",
    "parse_routing",
    "parse_topology",
    "route",
    "run_flows",
]
