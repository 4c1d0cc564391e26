"""What the viewer draws, as plain numpy: window/level, presets and the heat-map colours.

No Qt here, so the pixel rules are testable headless and shared by every widget. Window
values are in the scan's own units: modality values (``scan.raw``) for DICOM, the 0..1
grey levels for PNG and JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The heat map's look is the core's, so the viewer, the PDFs and the DICOM captures agree.
from pneumonet_core.reports.heatmap_images import (  # noqa: F401 - the viewer's names for them
    COLORMAPS,
    HEAT_FLOOR,
    HEAT_FULL,
    colormap_lut,
    heatmap_rgba,
)

#: Window presets in menu order; "Default" is the file's own window.
PRESET_NAMES = ("Default", "Full range", "Lung", "Mediastinum", "Bone")

@dataclass(frozen=True)
class Window:
    """A display window: values in [centre - width/2, centre + width/2] span black to white."""

    centre: float
    width: float

    def clamped(self, min_width: float) -> Window:
        return Window(float(self.centre), float(max(self.width, min_width)))


def display_values(scan) -> np.ndarray:
    """The values windowing works on: ``raw`` when the loader kept it, else ``pixels``."""
    raw = getattr(scan, "raw", None)
    if raw is not None and np.ndim(raw) == 2 and tuple(np.shape(raw)) == tuple(scan.pixels.shape):
        return raw
    return scan.pixels


def has_raw(scan) -> bool:
    return display_values(scan) is not scan.pixels


def _sample(values: np.ndarray, limit: int = 262_144) -> np.ndarray:
    """A strided sample of the image: percentiles of a 3000 x 3000 scan in milliseconds."""
    step = max(1, int(np.sqrt(values.size / limit)))
    sample = np.asarray(values[::step, ::step], dtype=np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    return sample if sample.size else np.zeros(1)


def window_scale(scan) -> float:
    """Display units per window unit: 1 for modality values, 255 for 0..1 grey levels.

    People read and type a window in the film's own units, as Weasis and RadiAnt show
    them: a JPEG's 0..255 grey levels, a DICOM's modality values (after rescale).
    """
    return 1.0 if has_raw(scan) else 255.0


def window_text(scan, window: Window) -> str:
    """"W 400  L 40": width and level as whole numbers in the film's own units."""
    return format_window(window.centre, window.width, window_scale(scan))


def format_window(centre: float, width: float, scale: float = 1.0) -> str:
    """Width and level rounded to whole units (``scale`` converts to those units)."""
    return f"W {round(width * scale):d}  L {round(centre * scale):d}"


def value_range(scan) -> tuple[float, float]:
    values = _sample(display_values(scan))
    return float(values.min()), float(values.max())


def min_width(scan) -> float:
    """The narrowest window allowed: one grey step for 0..1 images, two units for raw values."""
    return 2.0 if has_raw(scan) else 1.0 / 255.0


def default_window(scan) -> Window:
    """The file's own window (DICOM Window Center/Width or the loader's choice), else full 0..1."""
    if has_raw(scan) and scan.default_window is not None:
        centre, width = scan.default_window
        return Window(float(centre), float(width)).clamped(min_width(scan))
    if has_raw(scan):
        return full_range_window(scan)
    return Window(0.5, 1.0)


def full_range_window(scan) -> Window:
    """Lowest value black, highest white."""
    lo, hi = value_range(scan)
    if has_raw(scan):  # DICOM LINEAR: width w spans w - 1 units
        return Window((lo + hi + 1.0) / 2.0, hi - lo + 1.0).clamped(min_width(scan))
    return Window((lo + hi) / 2.0, hi - lo).clamped(min_width(scan))


def _percentile_window(values: np.ndarray, lo_pct: float, hi_pct: float) -> tuple[float, float]:
    lo, hi = np.percentile(values, [lo_pct, hi_pct])
    return float(lo), float(hi)


def window_presets(scan) -> dict[str, Window]:
    """Named windows for this scan, computed from its own values.

    Radiographs carry no calibrated units (unlike CT's Hounsfield scale), so "Lung" and
    "Mediastinum" are chosen from the image histogram: Lung spreads the dark (aerated)
    half of the values over the full grey scale, Mediastinum the bright (dense) half, and
    Bone the brightest third, for ribs and clavicles. For MONOCHROME1 files, where dense
    tissue has low values, the ends swap.
    """
    values = _sample(display_values(scan))
    inverted = bool(getattr(scan.source, "inverted", False)) and has_raw(scan)
    dark = (1.0, 60.0) if not inverted else (40.0, 99.0)
    bright = (40.0, 99.5) if not inverted else (0.5, 60.0)
    densest = (70.0, 99.9) if not inverted else (0.1, 30.0)
    floor = min_width(scan)
    presets = {"Default": default_window(scan), "Full range": full_range_window(scan)}
    for name, (a, b) in (("Lung", dark), ("Mediastinum", bright), ("Bone", densest)):
        lo, hi = _percentile_window(values, a, b)
        presets[name] = Window((lo + hi) / 2.0, hi - lo).clamped(floor)
    return presets


def window_to_unit(values: np.ndarray, window: Window, dicom_linear: bool) -> np.ndarray:
    """Values under ``window`` as float32 in [0, 1].

    Modality values use the DICOM LINEAR function (PS3.3 C.11.2.1.2), as the loader does
    for the file's own window; 0..1 grey levels use the plain linear ramp.
    """
    out = np.asarray(values, dtype=np.float32)
    if dicom_linear:
        span = max(window.width - 1.0, 1e-6)
        out = (out - np.float32(window.centre - 0.5)) * np.float32(1.0 / span) + np.float32(0.5)
    else:
        out = (out - np.float32(window.centre - window.width / 2.0)) * np.float32(1.0 / window.width)
    return np.clip(out, 0.0, 1.0)


def render_gray(scan, window: Window | None = None, invert: bool = False) -> np.ndarray:
    """The scan as uint8 grey levels (H, W); white = dense, like the film.

    ``window`` None shows the file's own rendering (``scan.pixels``: its window, VOI LUT
    or sigmoid, exactly as the model saw it). A MONOCHROME1 file (``source.inverted``)
    is always drawn the MONOCHROME2 way; ``invert`` flips the result on request.
    """
    if window is None:
        out = np.array(scan.pixels, dtype=np.float32)
        np.clip(out, 0.0, 1.0, out=out)
        flip = bool(invert)
    else:
        raw = has_raw(scan)
        out = window_to_unit(display_values(scan), window.clamped(min_width(scan)), raw)
        flip = (bool(getattr(scan.source, "inverted", False)) and raw) != bool(invert)
    if flip:
        np.subtract(1.0, out, out=out)
    return (out * 255.0 + 0.5).astype(np.uint8)


def window_after_drag(window: Window, dx: float, dy: float, span: float, floor: float) -> Window:
    """Window after a right-button drag of (dx, dy) screen pixels.

    Like most PACS viewers: right/left widens/narrows the window, down/up raises/lowers
    the level. One pixel moves by 1/500 of the value span, so the full range is a
    comfortable drag across the screen.
    """
    step = max(span, floor) / 500.0
    return Window(window.centre + dy * step, max(floor, window.width + dx * step))
