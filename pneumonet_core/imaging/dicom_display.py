"""What a viewer needs from a DICOM file beyond the :class:`Scan`: the pixel spacing for
measurements, the study and series lines of its corner overlays, and the other frames.

The loader decodes the first frame only (the model classifies one film); a viewer reads
these on demand. Pixel Spacing (0028,0030) is the spacing at the patient; without it,
Imager Pixel Spacing (0018,1164) is the spacing at the detector, which overstates sizes
by the geometric magnification (about 10 % for a chest film), so callers must say which
one they used. Frames come back as modality values (``Scan.raw`` units), ready for the
viewer's window/level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, pixel_array

from pneumonet_core.errors import ScanError
from pneumonet_core.imaging.raster import luminance, one_line

PIXEL_SPACING = "Pixel Spacing"
IMAGER_PIXEL_SPACING = "Imager Pixel Spacing"


@dataclass(frozen=True)
class DisplayHeader:
    """A DICOM file's viewing details; every field is None (or 1 frame) when absent."""

    pixel_spacing: tuple[float, float] | None = None  # (row, column) mm per pixel
    spacing_source: str | None = None  # PIXEL_SPACING or IMAGER_PIXEL_SPACING
    study_description: str | None = None
    series_description: str | None = None
    series_number: str | None = None
    instance_number: str | None = None
    frames: int = 1
    frame_time_ms: float | None = None  # between frames, for cine
    #: Where the patient lies along the image's rows (towards the right edge) and columns
    #: (towards the bottom), as DICOM letters (L, R, A, P, H, F), e.g. ("L", "F"): from
    #: Patient Orientation (0020,0020), else Image Orientation (Patient) (0020,0037).
    patient_orientation: tuple[str, str] | None = None


def read_display_header(path: str | Path) -> DisplayHeader:
    """The viewing details of a DICOM file (no pixel data is read); empty for other files."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - not DICOM, or a header pydicom cannot parse: nothing to add
        return DisplayHeader()
    spacing, source = None, None
    for keyword, name in (("PixelSpacing", PIXEL_SPACING), ("ImagerPixelSpacing", IMAGER_PIXEL_SPACING)):
        spacing = _spacing(ds.get(keyword))
        if spacing is not None:
            source = name
            break
    return DisplayHeader(
        pixel_spacing=spacing,
        spacing_source=source,
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        series_number=_text(ds, "SeriesNumber"),
        instance_number=_text(ds, "InstanceNumber"),
        frames=max(1, _number(ds.get("NumberOfFrames"), 1)),
        frame_time_ms=_positive(ds.get("FrameTime")) or _rate_to_ms(ds.get("RecommendedDisplayFrameRate")),
        patient_orientation=_orientation(ds),
    )


_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H"}


def opposite(direction: str) -> str:
    """The opposite patient direction: "L" -> "R", "LF" -> "RH"."""
    return "".join(_OPPOSITE.get(letter, letter) for letter in direction)


def _orientation(ds) -> tuple[str, str] | None:
    """The row and column directions, as letters; None when the header does not say.

    View Position (AP, PA) alone does not say which side is the patient's left (a film
    can be stored mirrored), so no marker is guessed from it.
    """
    value = ds.get("PatientOrientation")
    try:
        letters = [str(v).strip().upper() for v in list(value or [])[:2]]
    except TypeError:
        letters = []
    if len(letters) == 2 and all(letters) and all(set(v) <= set(_OPPOSITE) for v in letters):
        return letters[0], letters[1]
    try:
        cosines = [float(v) for v in list(ds.get("ImageOrientationPatient") or [])]
    except (TypeError, ValueError):
        return None
    if len(cosines) != 6:
        return None
    row, column = _letters(cosines[:3]), _letters(cosines[3:])
    return (row, column) if row and column else None


def _letters(vector) -> str:
    """A direction in the patient's LPS axes as letters, the strongest first (as Weasis writes it)."""
    parts = [(abs(v), ("L" if v > 0 else "R", "P" if v > 0 else "A", "H" if v > 0 else "F")[axis])
             for axis, v in enumerate(vector) if abs(v) > 0.25]
    return "".join(letter for _size, letter in sorted(parts, reverse=True))


def iter_frames(path: str | Path, start: int = 0):
    """Yield (index, frame) from frame ``start`` on, each a float32 array of modality values
    (grey luminance for colour files). The file is read once.

    Raises :class:`ScanError` with the reason when a frame cannot be decoded.
    """
    path = Path(path)
    try:
        ds = pydicom.dcmread(path, force=True)
        frames = max(1, _number(ds.get("NumberOfFrames"), 1))
        photometric = str(ds.get("PhotometricInterpretation") or "").upper()
    except Exception as exc:  # the file changed or went away since it was opened
        raise ScanError(path, f"cannot read the frames: {one_line(exc)}") from exc
    for index in range(start, frames):
        yield index, _frame(ds, index, photometric, path)


def _frame(ds, index: int, photometric: str, path: Path) -> np.ndarray:
    try:
        stored = pixel_array(ds, index=index)
        if photometric.startswith("MONOCHROME"):
            return np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)
        full_scale = float((1 << int(ds.get("BitsStored") or ds.BitsAllocated)) - 1)
        return (luminance(stored, full_scale)[0] * full_scale).astype(np.float32)
    except MemoryError:
        raise
    except Exception as exc:  # a corrupt codestream, a plugin failure
        raise ScanError(path, f"cannot decode frame {index + 1}: {one_line(exc)}") from exc


def _spacing(value) -> tuple[float, float] | None:
    try:
        row, column = (float(v) for v in list(value)[:2])
    except (TypeError, ValueError):
        return None
    return (row, column) if row > 0 and column > 0 else None


def _text(ds, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - an undecodable value is shown as missing
        return None
    text = str(value).strip() if value is not None else ""
    return text or None


def _number(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _rate_to_ms(value) -> float | None:
    rate = _positive(value)
    return 1000.0 / rate if rate else None
