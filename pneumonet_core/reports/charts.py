"""Charts for reports, drawn with matplotlib's Agg canvas (no pyplot: safe off the GUI thread)."""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np


def probability_histogram_png(probabilities: Sequence[float], threshold: float, width_in: float = 7.0,
                              height_in: float = 2.4, dpi: int = 200) -> bytes:
    """PNG of a histogram of pneumonia probabilities (0..1) with the threshold marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p = np.asarray([v for v in probabilities if v is not None], dtype=np.float64)
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0.0, 1.0, 41)
    below, above = p[p < threshold], p[p >= threshold]
    ax.hist([below, above], bins=bins, stacked=True, color=["#1E7B34", "#B3261E"],
            label=[f"NORMAL ({len(below)})", f"PNEUMONIA ({len(above)})"], edgecolor="white", linewidth=0.4)
    ax.axvline(threshold, color="#1B2733", linestyle="--", linewidth=1.2)
    ax.annotate(f"threshold {threshold:.4f}", xy=(threshold, 1.0), xycoords=("data", "axes fraction"),
                xytext=(5 if threshold < 0.8 else -5, -9), textcoords="offset points", fontsize=7.5,
                color="#1B2733", ha="left" if threshold < 0.8 else "right", va="center",
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("probability of pneumonia", fontsize=8)
    ax.set_ylabel("scans", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=7.5, frameon=False, loc="upper center", ncols=2, bbox_to_anchor=(0.5, 1.18))
    if not len(p):
        ax.text(0.5, 0.5, "no scan was classified", transform=ax.transAxes, ha="center", va="center", fontsize=9)
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
