"""Other tenants' long-lived flows that share a fabric with the flows being timed.

A shared AI datacenter fabric carries, next to one job's collectives, bulk transfers of
other tenants (checkpoint and dataset shards, KV-cache and model loads) that outlive any
one collective step. The process here (an assumption, declared, not fitted to a trace):

- arrivals are Poisson at rate `mean_flows / mean_lifetime_s` (flows/s);
- each flow moves `host link rate x lifetime` bytes, lifetime ~ Exp(mean_lifetime_s): its
  "nominal lifetime" is how long it would last alone at its NIC's line rate; under sharing
  it lasts longer, and Little's law gives `mean_flows` concurrent flows only when alone;
- they run between other tenants' servers under two different ToRs: a uniform random
  (src, dst) host-slot pair on different ToRs, pinned to one path by per-flow ECMP hashing
  (RFC 2992, the fabric's default for tenants that do not choose), occupying only the
  switch-to-switch links of that path. The timed job owns its NICs (one per accelerator,
  as on a rail-optimised GPU cluster); tenants share the uplinks and spines, which is where
  routing decisions act;
- the start state is the M/M/inf stationary one at nominal rates: Poisson(mean_flows) flows
  with Exp(mean_lifetime_s) residual lifetimes (memoryless).

Flows progress only through `dcsim.network.flows.run_flows` (max-min fair sharing with
whatever else runs), so how a collective is routed decides how far each background flow
gets, and that state carries into the next step. Arrivals are drawn in order from their
own generator, so the arrival sample path does not depend on the decisions taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dcsim.errors import InputError
from dcsim.network.patterns import tor_of_hosts
from dcsim.network.routing import route_columns

if TYPE_CHECKING:  # scipy.sparse (~0.1 s to import) only where a matrix is built
    import scipy.sparse as sp


class BackgroundTraffic:
    """Active background subflows: link incidence `A` (links x flows; kept as CSC arrays
    `indptr`, `indices`, `data`, sorted links per flow) and bytes `remaining`."""

    def __init__(self, fabric, mean_flows: float, mean_lifetime_s: float, seed: int = 0):
        if mean_flows < 0:
            raise InputError(f"need mean_flows >= 0 (got {mean_flows})", field="background_flows")
        if not mean_lifetime_s > 0:
            raise InputError(
                f"need mean_lifetime_s > 0 (got {mean_lifetime_s})", field="background_lifetime"
            )
        self.fabric = fabric
        self.mean_flows = float(mean_flows)
        self.mean_lifetime_s = float(mean_lifetime_s)
        self.rate_hz = self.mean_flows / self.mean_lifetime_s
        self.line_Bps = fabric.host_link_Bps()
        self._tor = tor_of_hosts(fabric)
        if self._tor.max() < 1:
            raise InputError("background traffic needs >= 2 ToRs", field="topology")
        self._switch = ~fabric.host_link_mask
        self._rng = np.random.default_rng(seed)
        self._hash_seed = int(self._rng.integers(0, 2**31 - 1))
        self._batches = 0
        self.indptr = np.zeros(1, dtype=np.int64)
        self.indices = np.zeros(0, dtype=np.int64)
        self.data = np.zeros(0)
        self.remaining = np.zeros(0)
        self.ids = np.zeros(0, dtype=np.int64)  # admission order of each active subflow
        self.admitted = 0  # flows admitted so far (the initial ones included)
        n0 = int(self._rng.poisson(self.mean_flows)) if self.mean_flows > 0 else 0
        self._add(n0)
        self._next_s = self._gap()

    def _gap(self) -> float:
        return float(self._rng.exponential(1.0 / self.rate_hz)) if self.rate_hz > 0 else np.inf

    def _add(self, n: int) -> None:
        if n <= 0:
            return
        rng = self._rng
        nh = self.fabric.n_hosts
        src = rng.integers(0, nh, n)
        dst = rng.integers(0, nh, n)
        same = self._tor[src] == self._tor[dst]
        while same.any():  # redraw until the pair crosses the fabric (rejection: uniform)
            dst[same] = rng.integers(0, nh, int(same.sum()))
            same = self._tor[src] == self._tor[dst]
        size = rng.exponential(self.mean_lifetime_s, n) * self.line_Bps
        r = route_columns(self.fabric, src, dst, size, "ecmp", seed=self._hash_seed + self._batches)
        self._batches += 1
        keep = self._switch[r.indices]  # the tenants' own NICs are not ours
        kept = np.zeros(len(keep) + 1, dtype=np.int64)  # entries kept before each position
        np.cumsum(keep, out=kept[1:])
        self.indptr = np.concatenate([self.indptr, kept[r.indptr[1:]] + self.indptr[-1]])
        self.indices = np.concatenate([self.indices, r.indices[keep]])
        self.data = np.concatenate([self.data, r.data[keep]])
        self.remaining = np.concatenate([self.remaining, r.size])
        self.ids = np.concatenate([self.ids, self.admitted + r.parent])
        self.admitted += n

    def admit(self, t_s: float) -> None:
        """Add the flows that arrived up to time t_s (admitted at the next step boundary)."""
        n = 0
        while self._next_s <= t_s:
            n += 1
            self._next_s += self._gap()
        self._add(n)

    def update(self, remaining: np.ndarray) -> None:
        """Take the bytes left after a run (`run_flows(..., until=...)`); drop finished flows."""
        remaining = np.asarray(remaining, dtype=float)
        if remaining.shape != self.remaining.shape:
            raise ValueError("remaining must have one entry per active background flow")
        keep = remaining > 0
        if keep.all():  # none finished: only the bytes change
            self.remaining = remaining.copy()
            return
        n = self.indptr[1:] - self.indptr[:-1]
        on = np.repeat(keep, n)
        self.indptr = np.zeros(np.count_nonzero(keep) + 1, dtype=np.int64)
        np.cumsum(n[keep], out=self.indptr[1:])
        self.indices = self.indices[on]
        self.data = self.data[on]
        self.remaining = remaining[keep]
        self.ids = self.ids[keep]

    @property
    def n_active(self) -> int:
        return int(self.remaining.size)

    @property
    def A(self) -> sp.csc_matrix:
        """Link incidence, links x active flows."""
        import scipy.sparse as sp

        return sp.csc_matrix(
            (self.data, self.indices, self.indptr), shape=(self.fabric.n_links, self.n_active)
        )

    def link_flows(self) -> np.ndarray:
        """Background flows crossing each link (sprayed shares count by their weight)."""
        return np.bincount(self.indices, weights=self.data, minlength=self.fabric.n_links)
