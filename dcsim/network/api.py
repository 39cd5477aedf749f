"""The network commands as library calls: time a collective on a named fabric, list the presets.

`dcsim collective` and `dcsim topology list` are one call each into this module; the CLI only
renders what comes back. Defaults live here (and in `collective_time`), not in the CLI.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcsim.errors import InputError
from dcsim.network.collectives import CollectiveResult, collective_time, parse_size
from dcsim.network.topology import Fabric, list_presets, load_topology

DEFAULT_TOPOLOGY = "leaf_spine_small"  # bundled 2-tier preset: small enough to solve instantly
DEFAULT_SIZE = (
    "1GiB"  # nccl-tests convention; parse_size(DEFAULT_SIZE) == collective_time's default
)
_DEFAULTS = {k: v.default for k, v in inspect.signature(collective_time).parameters.items()}
PRESET_COLUMNS = ("kind", "n_hosts", "n_switches", "bisection_bw_GBps", "oversubscription")


@dataclass
class CollectiveRun:
    """One timed collective and the fabric it ran on (the CLI draws the heat map from both)."""

    fabric: Fabric
    result: CollectiveResult
    size: str  # the size as the user wrote it, for titles

    def as_dict(self) -> dict[str, Any]:
        return {"topology": self.fabric.name, **self.result.as_dict()}


def run_collective(
    topology: str = DEFAULT_TOPOLOGY,
    collective: str = _DEFAULTS["collective"],
    algorithm: str = _DEFAULTS["algorithm"],
    size: str = DEFAULT_SIZE,
    routing: str = _DEFAULTS["routing"],
    seed: int = _DEFAULTS["seed"],
    ranks: int = 0,
    shuffle: bool = False,
    hardware: str | None = None,
) -> CollectiveRun:
    """Time one collective over the first `ranks` hosts (0: all), or a seeded random set.

    `seed` is both the ECMP hash seed and the rank-shuffle seed, so a run is reproducible.
    `hardware` (a profile name) builds the fabric with that accelerator's NICs and
    scale-up domain (topologies that leave host_link_gbps to the hardware).
    """
    fab = load_topology(topology, hardware)
    n = ranks or fab.n_hosts
    if not 2 <= n <= fab.n_hosts:
        raise InputError(f"--ranks must be in 2..{fab.n_hosts} (got {ranks})", field="ranks")
    order = np.random.default_rng(seed).permutation(fab.n_hosts)[:n] if shuffle else np.arange(n)
    res = collective_time(
        fab,
        collective=collective,
        algorithm=algorithm,
        size_bytes=parse_size(size),
        routing=routing,
        seed=seed,
        ranks=order,
    )
    return CollectiveRun(fab, res, size)


def preset_summaries() -> list[dict[str, Any]]:
    """One row per bundled topology: file name and its size/bandwidth headline numbers."""
    out = []
    for p in list_presets():
        s = load_topology(p).summary()
        out.append({"file": p.name, **{k: s[k] for k in PRESET_COLUMNS}})
    return out
