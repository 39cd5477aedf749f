"""Figures of the cooling plant's annual simulation (`dcsim cooling year --plot`)."""

from __future__ import annotations

import numpy as np


def plot_period(result: dict, path, title: str = "") -> None:
    """Two-panel PNG: outdoor temperatures and PUE (daily means) with economizer share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["series"]
    day = s["t_s"] / 86400.0
    nd = max(int(day[-1]) + 1, 1)
    idx = np.minimum(day.astype(int), nd - 1)

    def daily(x):
        return np.bincount(idx, weights=x, minlength=nd) / np.maximum(
            np.bincount(idx, minlength=nd), 1
        )

    d = np.arange(nd)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    ax1.plot(d, daily(s["dry_bulb_c"]), label="dry bulb")
    ax1.plot(d, daily(s["wet_bulb_c"]), label="wet bulb")
    ax1.set_ylabel("outdoor, C (daily mean)")
    ax1.legend(loc="upper left")
    ax1.grid(alpha=0.3)
    ax2.plot(d, daily(s["pue"]), color="C3", label="PUE")
    ax2.set_ylabel("PUE (daily mean)")
    ax2.set_xlabel("day of year")
    ax2.grid(alpha=0.3)
    ax3 = ax2.twinx()
    ax3.fill_between(
        d, daily(s["economizer_fraction"]), color="C2", alpha=0.2, label="economizer share"
    )
    ax3.set_ylim(0, 1.05)
    ax3.set_ylabel("economizer share of CHW load")
    summ = result["summary"]
    fig.suptitle(title or f"annual PUE {summ['pue']:.3f}, WUE {summ['wue_l_per_kwh']:.2f} L/kWh")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
