"""Cheap image statistics that tell a chest radiograph from a photo, a document or a CT slice.

They need no model, so they guard every package, even one without a feature reference,
and they catch what a chest-trained network may not: colour, an aspect ratio no film has,
a page of text, a uniform or noise image. Each statistic is computed on the 224 x 224
model input (what the model sees), except colour and aspect ratio, which come from the
source before grayscale conversion and squashing.

Every statistic becomes a *ratio*: 0 at the training films' median, 1.0 at its limit,
more beyond; a film is unusual for a statistic when its ratio reaches 1. The limits are
learned from training films (:func:`fit_ranges`): the 0.1th or 99.9th percentile, pushed
out by as much again from the median (so about one training film in a thousand or fewer
crosses it; a low limit keeps at least a quarter of its percentile), but never tighter
than a fixed floor, so that a small or uniform fitting folder cannot make the guard
refuse ordinary chest films. :data:`DEFAULT_RANGES` are the
ranges learned from the 5,216 training films of the bundled models; they apply to a
package whose card holds none.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # for annotations only: the guard does not import the decoders
    from pneumonet_core.imaging.scan import SourceInfo

#: Statistics of the model input: (side that is unusual, floor of the limit, reason).
#: ``floor`` is the loosest a learned limit may be made tight: a high-side limit is at
#: least ``floor``, a low-side limit at most ``floor``.
STATISTICS = {
    "dark_fraction": ("high", 0.45, "mostly black background ({value:.0%} of the image), as in a CT or MR slice"),
    "bright_fraction": ("high", 0.25, "mostly white ({value:.0%} of the image), as on a page or a screen"),
    "entropy": ("low", 3.5, "too few grey levels ({value:.1f} bits): a blank, a drawing or a document"),
    "peak_fraction": ("high", 0.5, "large flat areas of one grey ({value:.0%} of the image in three grey levels)"),
    "flat_fraction": ("high", 0.35, "large perfectly flat areas ({value:.0%} of the image), as in a drawing or "
                                    "a screenshot"),
    "edge_fraction": ("high", 0.03, "sharp edges everywhere ({value:.1%} of the image): text, lines or noise"),
    "fine_detail": ("high", 0.05, "grain or fine texture everywhere (mean Laplacian {value:.3f}), unlike the smooth "
                                  "shades of a radiograph"),
    "structure": ("low", 0.004, "almost no fine structure (mean Laplacian {value:.4f}): a blank, a gradient or "
                                "a drawing"),
}
#: Mean spread between colour channels (0..1) above which the source was a colour image;
#: the training films, grayscale saved as RGB JPEG, all have 0.
COLOUR_LIMIT = 0.03
#: Width / height (or its inverse) that no chest film has; the training films were squashed
#: to squares, so this one is fixed, not learned.
ASPECT_LIMIT = 2.0
#: How far past the fitted percentile the limit is pushed, in units of (percentile - median).
WIDEN = 1.0
#: A low-side limit is at least this fraction of the low percentile.
LOW_KEEP = 0.25
#: Percentiles of the training films that set the limits (high side, low side).
LIMIT_PERCENTILES = (99.9, 0.1)

_BINS = 64
_FLAT_STEP = 0.5 / 255.0  # below half a grey level of 8 bits: a perfectly flat area
_EDGE_STEP = 0.2  # a jump of a fifth of the grey range between neighbours: a sharp edge
_DARK, _BRIGHT = 0.05, 0.95

#: Ranges learned with :func:`fit_ranges` from the 5,216 training films of the shared data
#: set (``pneumonet guard fit`` records the same for any folder in a package's card).
DEFAULT_RANGES = {
    "dark_fraction": {"median": 0.062749, "limit": 0.532872},
    "bright_fraction": {"median": 0.0, "limit": 0.25},
    "entropy": {"median": 5.398692, "limit": 3.097464},
    "peak_fraction": {"median": 0.152045, "limit": 0.649971},
    "flat_fraction": {"median": 0.06269, "limit": 0.400912},
    "edge_fraction": {"median": 0.002051, "limit": 0.03},
    "fine_detail": {"median": 0.022506, "limit": 0.061467},
    "structure": {"median": 0.022506, "limit": 0.00251},
}


def input_statistics(inputs: np.ndarray, chunk: int = 256) -> dict[str, np.ndarray]:
    """Each statistic of :data:`STATISTICS` for model inputs (N, 224, 224, 1) uint8 or float in [0, 1]."""
    inputs = np.asarray(inputs)
    parts = [_statistics(inputs[i : i + chunk]) for i in range(0, len(inputs), chunk)]  # bounded memory
    if not parts:
        return {name: np.zeros(0) for name in STATISTICS}
    return {name: np.concatenate([p[name] for p in parts]) for name in STATISTICS}


def _statistics(x: np.ndarray) -> dict[str, np.ndarray]:
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    x = x.reshape(len(x), x.shape[1], x.shape[2])
    n = x.shape[1] * x.shape[2]
    bins = np.minimum((x * _BINS).astype(np.int32), _BINS - 1).reshape(len(x), -1)
    hist = np.stack([np.bincount(row, minlength=_BINS) for row in bins]).astype(np.float64) / n
    logs = np.log2(np.where(hist > 0, hist, 1.0))
    laplacian = np.abs(4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:])
    step = np.maximum(np.abs(np.diff(x, axis=2))[:, :-1, :], np.abs(np.diff(x, axis=1))[:, :, :-1])
    return {
        "dark_fraction": (x < _DARK).mean(axis=(1, 2)),
        "bright_fraction": (x > _BRIGHT).mean(axis=(1, 2)),
        "entropy": -(hist * logs).sum(axis=1),
        "peak_fraction": np.sort(hist, axis=1)[:, -3:].sum(axis=1),
        "flat_fraction": (step < _FLAT_STEP).mean(axis=(1, 2)),
        "edge_fraction": (step > _EDGE_STEP).mean(axis=(1, 2)),
        "fine_detail": laplacian.mean(axis=(1, 2)),
        "structure": laplacian.mean(axis=(1, 2)),
    }


def fit_ranges(statistics: dict[str, np.ndarray]) -> dict[str, dict]:
    """Each statistic's median and limit from the fitting films (see the module docstring)."""
    ranges = {}
    for name, (side, floor, _reason) in STATISTICS.items():
        values = np.asarray(statistics[name], dtype=np.float64)
        median = float(np.median(values))
        edge = float(np.percentile(values, LIMIT_PERCENTILES[0] if side == "high" else LIMIT_PERCENTILES[1]))
        limit = edge + WIDEN * (edge - median)
        if side == "low":  # a low percentile near 0 would widen below 0: keep a quarter of it at least
            limit = min(max(limit, LOW_KEEP * edge), floor)
        else:
            limit = max(limit, floor)
        ranges[name] = {"median": round(median, 6), "limit": round(limit, 6)}
    return ranges


def statistic_ratios(values: dict[str, np.ndarray], ranges: dict[str, dict]) -> dict[str, np.ndarray]:
    """Ratio of each statistic (arrays, one value per image): 0 at the median, 1.0 at the limit."""
    ratios = {}
    for name in STATISTICS:
        if name in ranges:
            median, limit = float(ranges[name]["median"]), float(ranges[name]["limit"])
            span = limit - median
            value = np.asarray(values[name], dtype=np.float64)
            ratios[name] = np.maximum(0.0, (value - median) / span) if span else np.zeros_like(value)
    return ratios


def source_ratios(source: SourceInfo | None, colour_limit: float = COLOUR_LIMIT,
                  aspect_limit: float = ASPECT_LIMIT) -> dict:
    """Colour and aspect-ratio ratios of one scan's source (1.0 at ``colour_limit`` and ``aspect_limit``).

    A source not known (None) or a spread not measured counts as grayscale, and no size as no aspect ratio.
    """
    if source is None:
        return {"colour": 0.0}
    ratios = {"colour": float(source.colour_spread or 0.0) / colour_limit}
    width, height = source.width or 0, source.height or 0
    if width and height:
        ratios["aspect_ratio"] = abs(math.log(width / height)) / math.log(aspect_limit)
    return ratios


def describe(name: str, values: dict[str, float], source: SourceInfo | None) -> str:
    """The reason phrase for one statistic that reached its limit."""
    if name == "colour":
        return "a colour image (X-rays are grayscale)"
    if name == "aspect_ratio":
        width, height = (source.width, source.height) if source is not None else (None, None)
        return f"an aspect ratio of {width} x {height} px that no chest film has"
    return STATISTICS[name][2].format(value=max(0.0, float(values[name])))
