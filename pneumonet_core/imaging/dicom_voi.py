"""From stored DICOM values to display pixels: the modality LUT (rescale), then the file's
VOI LUT or window, else the full range, into [0, 1]. See :mod:`pneumonet_core.imaging.dicom`
for the rules; large images are computed in float32 to halve the memory they take.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from pneumonet_core.imaging import limits
from pneumonet_core.imaging.raster import one_line


def modality_values(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    """Modality values: float64, or float32 for large images with a plain rescale (half the memory)."""
    if stored.size > limits.FLOAT32_ABOVE_PIXELS and not ds.get("ModalityLUTSequence"):
        raw = stored.astype(np.float32)
        if "RescaleSlope" in ds and "RescaleIntercept" in ds:  # as pydicom's apply_modality_lut
            with np.errstate(over="ignore", invalid="ignore"):
                raw *= np.float32(float(ds.RescaleSlope))
                raw += np.float32(float(ds.RescaleIntercept))
        return raw
    return np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)


def apply_voi(raw: np.ndarray, ds: Dataset) -> tuple[np.ndarray, tuple[float, float], str | None]:
    """Window ``raw`` into [0, 1]: VOI LUT, else first window, else the full range.

    Returns (pixels, (centre, width), a warning when the file's VOI could not be used).
    """
    problem = None
    if ds.get("VOILUTSequence") or _has_window(ds):
        try:
            return (*_file_voi(raw, ds), None)
        except Exception as exc:  # noqa: BLE001 - width 0, unknown VOI LUT Function, broken LUT...
            problem = f"The file's window could not be used ({one_line(exc)}): showing the full range"
    low, high = _full_range(raw, ds)
    return _scaled(raw, low, high), ((low + high + 1) / 2, high - low + 1), problem


def _scaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """(values - low) / (high - low) as float32, with one temporary array at most."""
    if values.dtype == np.float32:
        out = values - np.float32(low)
        out /= np.float32(high - low)
        return out
    out = np.subtract(values, low, dtype=np.float64)
    out /= high - low
    return out.astype(np.float32)


def _file_voi(raw: np.ndarray, ds: Dataset) -> tuple[np.ndarray, tuple[float, float]]:
    """Apply the file's own VOI LUT Sequence or first window with pydicom, into [0, 1]."""
    lut = _voi_lut_descriptor(ds)
    window = _first_window(ds) if _has_window(ds) else None
    if lut:
        entries, first = lut
        out = apply_voi_lut(np.rint(raw).astype(np.int64), ds, index=0)
        table = apply_voi_lut(np.arange(first, first + entries, dtype=np.int64), ds, index=0)
        low, high = float(np.min(table)), float(np.max(table))
        # A LUT need not be linear: its input range stands in for a window.
        window = window or (first + entries / 2, float(entries))
    elif window:
        out = apply_voi_lut(raw, ds, index=0, prefer_lut=False)
        # Values far outside the window map to the output's ends, whatever the function.
        with np.errstate(over="ignore"):
            low, high = apply_voi_lut(np.array([-1e30, 1e30]), ds, index=0, prefer_lut=False)
    else:
        raise ValueError("VOI LUT Sequence without LUT Descriptor or LUT Data")
    if not high > low:
        raise ValueError("it maps every value to the same grey")
    return _scaled(np.asarray(out, dtype=raw.dtype), low, high), window


def _voi_lut_descriptor(ds: Dataset) -> tuple[int, int] | None:
    sequence = ds.get("VOILUTSequence")
    if not sequence:
        return None
    item = sequence[0]
    descriptor = item.get("LUTDescriptor")
    if not descriptor or item.get("LUTData") is None:
        return None
    return int(descriptor[0]) or 65536, int(descriptor[1])


def _has_window(ds: Dataset) -> bool:
    return all(ds.get(keyword) not in (None, "") for keyword in ("WindowCenter", "WindowWidth"))


def _first_window(ds: Dataset) -> tuple[float, float]:
    values = (ds.WindowCenter, ds.WindowWidth)
    centre, width = (value[0] if isinstance(value, MultiValue) else value for value in values)
    return float(centre), float(width)


def _full_range(raw: np.ndarray, ds: Dataset) -> tuple[float, float]:
    """(low, high) modality values shown black..white when the file gives no window."""
    bits = int(ds.get("BitsStored") or ds.BitsAllocated)
    if int(ds.get("PixelRepresentation") or 0) == 1:
        stored = np.array([-(1 << (bits - 1)), (1 << (bits - 1)) - 1], dtype=np.int64)
    else:
        stored = np.array([0, (1 << bits) - 1], dtype=np.int64)
    implied = np.sort(np.asarray(apply_modality_lut(stored, ds), dtype=np.float64))
    low, high = float(implied[0]), float(implied[1])
    if bits > 8 and raw.size:
        data_low, data_high = float(np.min(raw)), float(np.max(raw))
        if data_high > data_low:
            low, high = data_low, data_high
    return low, (high if high > low else low + 1.0)
