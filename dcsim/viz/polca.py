"""POLCA figure: row power under oversubscription (`dcsim polca --plot`)."""

from __future__ import annotations

import numpy as np

from dcsim.polca import PolcaReport, RowConfig


def plot_row_power(report: PolcaReport, path: str, cfg: RowConfig | None = None) -> str:
    """PNG: row power share over time for the baseline and the largest passing count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    keys = sorted(report.series)
    best = report.summary.get("best_n_servers")
    show = [k for k in (keys[0], best, keys[-1]) if k is not None]
    for n in dict.fromkeys(show):
        y = report.series[n]
        ax.plot(np.arange(y.size) / 60.0, 100 * y, lw=0.8, label=f"{n} servers")
    for thr, lab in ((80, "80% LP cap"), (89, "89% LP+HP cap"), (100, "budget / brake")):
        ax.axhline(thr, ls="--", lw=0.7, color="grey")
        ax.text(
            1.0,
            thr + 0.5,
            lab,
            fontsize=7,
            color="grey",
            ha="right",
            transform=ax.get_yaxis_transform(),
        )
    ax.set_xlabel("time (min)")
    ax.set_ylabel("row power (% of budget)")
    ax.set_title("POLCA row power under oversubscription")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
