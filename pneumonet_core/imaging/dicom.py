"""DICOM scans, read with pydicom and brought to MONOCHROME2 grayscale in [0, 1].

Grayscale images go through the modality LUT (rescale slope/intercept or a Modality LUT
Sequence) into ``raw``, then through the file's VOI LUT or its first window into
``pixels``. Without either, the full range is shown: the range implied by BitsStored for
data of 8 bits or fewer (already display-ready, such as secondary captures) and the
min..max of the modality values for deeper data, whose stored range is mostly unused.
MONOCHROME1 is inverted after windowing. Colour images (RGB, YBR, palette) become their
luminance. Only the first frame is decoded.

``default_window`` is (centre, width) in ``raw`` units. For the fallback range it is the
DICOM LINEAR window (PS3.3 C.11.2.1.2) that reproduces ``pixels`` exactly; for a file's
own window it is that window, applied with the file's VOI LUT Function (LINEAR unless
it says otherwise); for a VOI LUT Sequence it is the file's window if it has one, else
the LUT's input range, an approximation since a LUT need not be linear.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, get_decoder, pixel_array
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLETransferSyntaxes,
)

from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import limits
from pneumonet_core.imaging.clinical_warnings import colour_warning
from pneumonet_core.imaging.dicom_metadata import METADATA_KEYWORDS, read_metadata  # noqa: F401 (re-exported)
from pneumonet_core.imaging.dicom_voi import apply_voi, modality_values
from pneumonet_core.imaging.native import native_offset, read_native_frame
from pneumonet_core.imaging.raster import luminance, one_line
from pneumonet_core.imaging.scan import Scan, SourceInfo

MONOCHROME1_WARNING = "MONOCHROME1 image inverted for display"
#: The start of the reason given for a scan whose values cannot be classified.
NON_FINITE = "non-finite pixel values"

#: Elements larger than this are read from disk only when used, so a header can be
#: checked (pixel count, transfer syntax) before a large Pixel Data value is loaded.
DEFER_SIZE = "256 KB"

_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "PALETTE COLOR")

#: What to install for each family of compressed transfer syntaxes (pydicom plugins).
_PLUGIN_HINTS = (
    (JPEG2000TransferSyntaxes, "pylibjpeg-openjpeg or Pillow with OpenJPEG"),
    (JPEGLSTransferSyntaxes, "pylibjpeg-libjpeg or pyjpegls"),
    (JPEGTransferSyntaxes, "pylibjpeg-libjpeg or Pillow"),
    (RLETransferSyntaxes, "pylibjpeg-rle"),
)


def looks_like_headerless_dicom(head: bytes) -> bool:
    """True when a file without the DICM preamble may still be a bare DICOM dataset.

    A dataset with pixel data has Rows at (0028,0010), and elements are sorted by tag,
    so its first element is in a group from 0002 to 0028 (in either byte order). Text
    and other binaries fail this and are never handed to pydicom's lenient parser.
    """
    if len(head) < 8:
        return False
    little, big = int.from_bytes(head[:2], "little"), int.from_bytes(head[:2], "big")
    return 0x0002 <= little <= 0x0028 or 0x0002 <= big <= 0x0028


def read_headerless(path: Path) -> Dataset | None:
    """Parse a file without the DICM preamble; None unless it is a DICOM dataset.

    A dataset that parses but has no pixel data while naming its SOP class is a real
    DICOM file (a report, a plan...), reported as such.
    """
    try:
        ds = pydicom.dcmread(path, force=True, defer_size=DEFER_SIZE)
    except Exception:  # noqa: BLE001 - a lenient parse of something else fails in many ways
        return None
    if _has_pixel_data(ds):
        return ds
    if "SOPClassUID" in ds:
        raise ScanError(path, _no_pixel_data_reason(ds))
    return None


def load_dicom(path: Path, max_pixels: int, dataset: Dataset | None = None) -> Scan:
    """Decode the first frame of a DICOM file into a :class:`Scan`.

    ``dataset`` is the already parsed file when it had no preamble (see
    :func:`read_headerless`); otherwise the file is read with ``force=False``. The size
    is checked from the header first (see :mod:`~pneumonet_core.imaging.limits`); the
    decode then holds its memory estimate from the shared budget.
    """
    ds = dataset if dataset is not None else _read(path)
    if not _has_pixel_data(ds):
        raise ScanError(path, _no_pixel_data_reason(ds))
    rows, columns, frames = _dimensions(ds, path)
    if rows * columns * frames > max_pixels:
        raise ScanError(path, limits.bomb_message(columns, rows, frames, max_pixels))
    photometric = " ".join(str(ds.get("PhotometricInterpretation") or "").upper().split())
    if photometric not in _MONOCHROME + _COLOUR:
        raise ScanError(path, f"photometric interpretation '{photometric or 'missing'}' is not supported")
    _check_rescale(ds, path)
    syntax = transfer_syntax(ds)
    step, offset, estimate = plan_decode(ds, syntax, path)
    with limits.BUDGET.reserve(estimate):
        return _decode(path, ds, syntax, photometric, (rows, columns, frames), step, offset)


def plan_decode(ds: Dataset, syntax: UID, path: Path) -> tuple[int, int | None, int]:
    """(reduction step, file offset for a direct read or None, peak bytes) from the header alone."""
    rows, columns, frames = _dimensions(ds, path)
    step = limits.reduction_factor(columns, rows)
    samples = max(1, int(ds.get("SamplesPerPixel") or 1))
    frame_bytes = rows * columns * samples * max(1, (int(ds.get("BitsAllocated") or 8) + 7) // 8)
    big = step > 1 or frame_bytes * frames > limits.NATIVE_READ_ABOVE_BYTES
    offset = native_offset(ds, syntax) if big else None
    if offset is None and frame_bytes > limits.MAX_WHOLE_DECODE_BYTES:
        raise ScanError(path, limits.too_large_message(f"a {columns} x {rows} {syntax.name} frame", frame_bytes))
    kept = -(-rows // step) * -(-columns // step)
    # The stored frame (pydicom may hold its bytes and the array), then the float64 modality
    # values and window, and the two float32 arrays the scan keeps.
    estimate = (kept * samples * 8 if offset is not None else frame_bytes * 2) + kept * (24 + 8 * (samples > 1))
    return step, offset, estimate


def _decode(path: Path, ds: Dataset, syntax: UID, photometric: str, size: tuple[int, int, int], step: int,
            offset: int | None) -> Scan:
    rows, columns, frames = size
    if offset is not None:
        try:
            stored = read_native_frame(path, ds, syntax, offset, step)
        except (OSError, ValueError) as exc:
            raise ScanError(path, f"cannot read {syntax.name} pixel data: {one_line(exc)}") from exc
    else:
        stored = _decode_first_frame(ds, path, syntax)
        if step > 1:
            stored = np.ascontiguousarray(stored[::step, ::step])
    warnings: list[str] = []
    if step > 1:
        warnings.append(limits.reduced_warning(columns, rows, stored.shape[1], stored.shape[0]))
    if frames > 1:
        warnings.append(f"Multi-frame image ({frames} frames): only the first frame is used")
    inverted = False
    spread = 0.0
    if photometric in _MONOCHROME:
        if stored.ndim != 2:
            raise ScanError(path, f"{photometric} image with {stored.shape[-1]} samples per pixel")
        try:
            raw = modality_values(stored, ds)
        except Exception as exc:  # an empty or non-numeric rescale must not load as if absent
            raise ScanError(path, f"invalid rescale or modality LUT: {one_line(exc)}") from exc
        del stored
        if not np.isfinite(raw).all():
            raise ScanError(path, NON_FINITE + " after the modality LUT (rescale slope/intercept)")
        pixels, window, problem = apply_voi(raw, ds)
        raw = raw.astype(np.float32)
        if problem:
            warnings.append(problem)
        if photometric == "MONOCHROME1":
            np.subtract(1.0, pixels, out=pixels)
            inverted = True
            warnings.append(MONOCHROME1_WARNING)
    else:
        raw, pixels, window, spread = _colour_to_gray(stored, ds, photometric, path)
        colour = colour_warning(spread, photometric)
        if colour:
            warnings.append(colour)
    if not (np.isfinite(pixels).all() and np.isfinite(window).all()):
        raise ScanError(path, NON_FINITE + " after windowing (window centre/width or VOI LUT)")
    np.clip(pixels, 0.0, 1.0, out=pixels)

    metadata = read_metadata(ds)
    source = SourceInfo(
        format="DICOM",
        width=columns,
        height=rows,
        photometric=photometric,
        inverted=inverted,
        bits_stored=int(ds.get("BitsStored") or ds.get("BitsAllocated") or 0) or None,
        transfer_syntax=syntax.name,
        frames=frames,
        modality=metadata["modality"],
        body_part=metadata["body_part"],
        colour_spread=round(spread, 6),
    )
    return Scan(
        path=path,
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        source=source,
        metadata=metadata,
        warnings=tuple(warnings),
        raw=np.ascontiguousarray(raw, dtype=np.float32),
        default_window=(float(window[0]), float(window[1])),
    )


def _check_rescale(ds: Dataset, path: Path) -> None:
    """Refuse a NaN or infinite Rescale Slope or Intercept: it would turn every pixel into NaN."""
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        value = ds.get(keyword)
        if value in (None, ""):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue  # pydicom's modality LUT reports an unreadable value in its own words
        if not np.isfinite(number):
            raise ScanError(path, f"{NON_FINITE}: {keyword} is {value}")


def read_header(path: Path) -> Dataset:
    """The dataset of a DICOM file with a preamble; large elements (Pixel Data) stay on disk."""
    return _read(path)


def _read(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path, force=False, defer_size=DEFER_SIZE)
    except Exception as exc:  # header cut short or malformed
        raise ScanError(path, f"unreadable DICOM file: {one_line(exc)}") from exc


def _has_pixel_data(ds: Dataset) -> bool:
    return "PixelData" in ds


def _no_pixel_data_reason(ds: Dataset) -> str:
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        return "float pixel data (parametric map) is not supported"
    sop_class = ds.get("SOPClassUID")
    name = UID(str(sop_class)).name if sop_class else "unknown"
    if not sop_class or "Image Storage" in name:
        # pydicom stops quietly at a cut, so an image class without pixels means a cut file
        return f"no pixel data (SOP class: {name}): the file may be cut short"
    return f"no pixel data (SOP class: {name})"


def _dimensions(ds: Dataset, path: Path) -> tuple[int, int, int]:
    """(Rows, Columns, NumberOfFrames) from the header, refusing missing or non-numeric ones."""
    missing = [keyword for keyword in ("Rows", "Columns") if ds.get(keyword) in (None, "")]
    if missing:
        raise ScanError(path, f"the DICOM header has pixel data but no {' or '.join(missing)}")
    sizes = []
    for keyword, default in (("Rows", None), ("Columns", None), ("NumberOfFrames", 1)):
        value = ds.get(keyword) or default
        try:
            size = int(value) if value is not None else 0
        except (TypeError, ValueError):
            size = 0
        if size < 1:
            raise ScanError(path, f"invalid {keyword} '{value}' in the DICOM header")
        sizes.append(size)
    return sizes[0], sizes[1], sizes[2]


def transfer_syntax(ds: Dataset) -> UID:
    """The dataset's transfer syntax, inferred from its encoding when the meta lacks it."""
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if not syntax:
        implicit, little = ds.original_encoding
        if implicit or implicit is None:
            syntax = ImplicitVRLittleEndian
        else:
            syntax = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        if meta is None:
            meta = ds.file_meta = FileMetaDataset()
        meta.TransferSyntaxUID = syntax  # pydicom's decoders read it from there
    return UID(str(syntax))


def _decode_first_frame(ds: Dataset, path: Path, syntax: UID) -> np.ndarray:
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise ScanError(path, f"transfer syntax {syntax.name} is not supported") from None
    if not decoder.is_available:
        hint = next((hint for family, hint in _PLUGIN_HINTS if syntax in family), None)
        needed = hint or "; ".join(decoder.missing_dependencies) or "a decoding plugin"
        raise ScanError(path, f"{syntax.name} needs {needed}, which is not installed")
    from pneumonet_core.quiet import native_panics_filtered

    try:
        with native_panics_filtered():  # a Rust codec's panic report is not a line of ours
            return pixel_array(ds, index=0)
    except MemoryError:
        raise
    except Exception as exc:  # truncated data, corrupt codestream, plugin failure
        raise ScanError(path, f"cannot decode {syntax.name} pixel data: {one_line(exc)}") from exc


def _colour_to_gray(
    stored: np.ndarray, ds: Dataset, photometric: str, path: Path
) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
    """Return (raw luminance in stored units, pixels, window, channel spread)."""
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(stored, ds)
        full_scale = float(np.iinfo(rgb.dtype).max)
    else:
        rgb = stored  # pydicom has already turned YBR into RGB
        full_scale = float((1 << int(ds.get("BitsStored") or ds.BitsAllocated)) - 1)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ScanError(path, f"{photometric} image decoded with unexpected shape {rgb.shape}")
    pixels, spread = luminance(rgb, full_scale)
    raw = pixels * np.float32(full_scale)
    return raw, pixels, ((full_scale + 1) / 2, full_scale + 1), spread
