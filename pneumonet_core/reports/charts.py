"""Charts for reports, drawn with matplotlib's Agg canvas (no pyplot: safe off the GUI thread)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np


def probability_histogram_png(probabilities: Sequence[float], threshold: float, width_in: float = 7.0,
                              height_in: float = 2.4, dpi: int = 200) -> bytes:
    """PNG of a histogram of pneumonia probabilities (0..1) with the threshold marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    p = np.asarray([v for v in probabilities if v is not None], dtype=np.float64)
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0.0, 1.0, 41)
    below, above = p[p < threshold], p[p >= threshold]
    ax.hist([below, above], bins=list(bins), stacked=True, color=["#1E7B34", "#B3261E"],
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
    locator = ax.yaxis.get_major_locator()
    if isinstance(locator, MaxNLocator):  # the default AutoLocator is one: whole numbers of scans
        locator.set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=7.5, frameon=False, loc="upper center", ncols=2, bbox_to_anchor=(0.5, 1.18))
    if not len(p):
        ax.text(0.5, 0.5, "no scan was classified", transform=ax.transAxes, ha="center", va="center", fontsize=9)
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


#: Chart colours on paper (the PDFs). A screen with a dark theme passes its own (see ``reliability_png``).
PAPER = {"face": "white", "text": "black", "muted": "#5f6368", "line": "#1B5E9B", "diagonal": "#9aa0a6"}


def _figure(width_in: float, height_in: float, dpi: int, colours: dict | None = None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    c = {**PAPER, **(colours or {})}
    fig = Figure(figsize=(width_in, height_in), dpi=dpi, facecolor=c["face"])
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor(c["face"])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(c["muted"])
    ax.tick_params(labelsize=8, colors=c["muted"])
    ax.xaxis.label.set_color(c["text"])
    ax.yaxis.label.set_color(c["text"])
    return fig, ax


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout(pad=0.5)
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    return buf.getvalue()


def roc_curve_png(fpr: Sequence[float], tpr: Sequence[float], auc: float | None,
                  point: tuple[float, float] | None = None, size_in: float = 4.0, dpi: int = 150) -> bytes:
    """PNG of an ROC curve, its AUC, and the operating point (1 - specificity, sensitivity)."""
    fig, ax = _figure(size_in, size_in, dpi)
    ax.plot([0, 1], [0, 1], color="#9aa0a6", linestyle=":", linewidth=1)
    ax.plot(fpr, tpr, color="#1B5E9B", linewidth=1.8, label="ROC" + ("" if auc is None else f" (AUC {auc:.4f})"))
    if point is not None:
        ax.plot(*point, "o", color="#B3261E", label="operating threshold")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity", ylabel="sensitivity")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _png(fig)


def reliability_png(reliability: dict, ece: float | None, size_in: float = 4.0, dpi: int = 150,
                    colours: dict | None = None) -> bytes:
    """PNG of a reliability diagram: observed pneumonia rate against mean probability per bin.

    ``colours`` overrides :data:`PAPER` (keys face, text, muted, line, diagonal): a dark
    screen passes its own, so the diagram is not a white box in a dark window.
    """
    c = {**PAPER, **(colours or {})}
    fig, ax = _figure(size_in, size_in, dpi, c)
    ax.plot([0, 1], [0, 1], color=c["diagonal"], linestyle=":", linewidth=1, label="perfect calibration")
    x, y, n = (reliability.get(k, []) for k in ("mean_probability", "observed_rate", "count"))
    sizes = [12 + 60 * n_ / max(n) for n_ in n] if n else []
    ax.plot(x, y, color=c["line"], linewidth=1.5)
    ax.scatter(x, y, s=sizes, color=c["line"], zorder=3,
               label="10 bins" + ("" if ece is None else f" (ECE {ece:.3f})"))
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="predicted probability of pneumonia", ylabel="observed share with pneumonia")
    legend = ax.legend(fontsize=8, frameon=False, loc="upper left")
    for text in legend.get_texts():
        text.set_color(c["text"])
    return _png(fig)
