"""Heat maps of per-link utilization (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _host_grid(fabric, util_host: np.ndarray) -> tuple[np.ndarray, str, str]:
    """Host values as one row per ToR when hosts share ToRs evenly, else a near-square grid."""
    _, grp, cnt = np.unique(fabric.host_key, return_inverse=True, return_counts=True)
    if len(cnt) > 1 and cnt[0] > 1 and np.all(cnt == cnt[0]):
        order = np.argsort(grp, kind="stable")
        return util_host[order].reshape(len(cnt), cnt[0]), "host within ToR", "ToR"
    w = int(np.ceil(np.sqrt(len(util_host))))
    out = np.full(w * w, np.nan)
    out[: len(util_host)] = util_host
    return out.reshape(-1, w)[: -(-len(util_host) // w)], f"host mod {w}", f"host // {w}"


def link_heatmap(fabric, link_util: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Write a PNG: host NIC egress, switch up-links and down-links, coloured by utilization."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    util = np.asarray(link_util, dtype=float)
    tier = fabric.node_tier
    s, d = fabric.link_src, fabric.link_dst
    hosts = fabric.host_nodes
    h_index = np.full(fabric.n_nodes, -1)
    h_index[hosts] = np.arange(len(hosts))
    egress = np.zeros(len(hosts))
    from_host = tier[s] == 0
    np.maximum.at(egress, h_index[s[from_host]], util[from_host])
    ingress = np.zeros(len(hosts))
    to_host = tier[d] == 0
    np.maximum.at(ingress, h_index[d[to_host]], util[to_host])

    core = (tier[s] > 0) & (tier[d] > 0)
    if core.any():
        lower = np.unique(np.where(tier[s] < tier[d], s, d)[core])
        upper = np.unique(np.where(tier[s] < tier[d], d, s)[core])
        names = (
            [fabric.node_names[n] for n in lower],
            [fabric.node_names[n] for n in upper],
        )
        li = {n: i for i, n in enumerate(lower)}
        ui = {n: i for i, n in enumerate(upper)}
        up = np.full((len(lower), len(upper)), np.nan)
        down = np.full((len(lower), len(upper)), np.nan)
        for k in np.flatnonzero(core):
            if tier[s[k]] < tier[d[k]]:
                up[li[s[k]], ui[d[k]]] = util[k]
            else:
                down[li[d[k]], ui[s[k]]] = util[k]
        panels = [
            ("host NIC egress", *_host_grid(fabric, egress)),
            ("host NIC ingress", *_host_grid(fabric, ingress)),
            ("up-links (lower -> upper switch)", up, "upper-tier switch", "lower-tier switch"),
            ("down-links (upper -> lower switch)", down, "upper-tier switch", "lower-tier switch"),
        ]
    else:  # switchless mesh or single switch: host x host or host strips
        mat = np.full((len(hosts), len(hosts)), np.nan)
        hh = (tier[s] == 0) & (tier[d] == 0)
        mat[h_index[s[hh]], h_index[d[hh]]] = util[hh]
        panels = [
            ("host port egress", *_host_grid(fabric, egress)),
            ("host port ingress", *_host_grid(fabric, ingress)),
        ]
        if hh.any():
            panels.append(("host -> host links", mat, "dst host", "src host"))
    vmax = max(1.0, float(np.nanmax(util)) if util.size else 1.0)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.4), squeeze=False)
    fig.subplots_adjust(wspace=0.45)
    im = None
    for ax, (name, mat, xlabel, ylabel) in zip(axes[0], panels, strict=True):
        im = ax.imshow(
            mat, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=vmax
        )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if ylabel == "lower-tier switch":
            if len(names[0]) <= 32:
                ax.set_yticks(range(len(names[0])), names[0], fontsize=7)
            if len(names[1]) <= 16:
                ax.set_xticks(range(len(names[1])), names[1], fontsize=7, rotation=90)
    assert im is not None  # every fabric has at least two panels
    fig.colorbar(
        im,
        ax=axes[0].tolist(),
        shrink=0.85,
        label="link utilization (busy share of collective time)",
    )
    fig.suptitle(title or fabric.name, fontsize=10)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
