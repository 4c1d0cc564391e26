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
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, get_decoder, pixel_array
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
from pneumonet_core.imaging.clinical_warnings import colour_warning
from pneumonet_core.imaging.raster import luminance, one_line
from pneumonet_core.imaging.scan import METADATA_KEYS, Scan, SourceInfo

MONOCHROME1_WARNING = "MONOCHROME1 image inverted for display"

#: Elements larger than this are read from disk only when used, so a header can be
#: checked (pixel count, transfer syntax) before a large Pixel Data value is loaded.
DEFER_SIZE = "256 KB"

#: DICOM keyword of each metadata key.
METADATA_KEYWORDS = {
    "patient_name": "PatientName",
    "patient_id": "PatientID",
    "patient_birth_date": "PatientBirthDate",
    "patient_age": "PatientAge",
    "patient_sex": "PatientSex",
    "study_date": "StudyDate",
    "modality": "Modality",
    "body_part": "BodyPartExamined",
    "view_position": "ViewPosition",
    "manufacturer": "Manufacturer",
}

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
    except Exception:  # a lenient parse of something else fails in many ways
        return None
    if _has_pixel_data(ds):
        return ds
    if "SOPClassUID" in ds:
        raise ScanError(path, _no_pixel_data_reason(ds))
    return None


def load_dicom(path: Path, max_pixels: int, dataset: Dataset | None = None) -> Scan:
    """Decode the first frame of a DICOM file into a :class:`Scan`.

    ``dataset`` is the already parsed file when it had no preamble (see
    :func:`read_headerless`); otherwise the file is read with ``force=False``.
    """
    ds = dataset if dataset is not None else _read(path)
    if not _has_pixel_data(ds):
        raise ScanError(path, _no_pixel_data_reason(ds))
    rows, columns, frames = _dimensions(ds, path)
    total = rows * columns * frames
    if total > max_pixels:
        frames_text = f" x {frames} frames" if frames > 1 else ""
        raise ScanError(
            path,
            f"declares {columns} x {rows} pixels{frames_text} = {total:,} pixels, more than the "
            f"{max_pixels:,}-pixel limit (possible decompression bomb)",
        )
    photometric = " ".join(str(ds.get("PhotometricInterpretation") or "").upper().split())
    if photometric not in _MONOCHROME + _COLOUR:
        raise ScanError(path, f"photometric interpretation '{photometric or 'missing'}' is not supported")
    syntax = _transfer_syntax(ds)
    stored = _decode_first_frame(ds, path, syntax)

    warnings: list[str] = []
    if frames > 1:
        warnings.append(f"Multi-frame image ({frames} frames): only the first frame is used")
    inverted = False
    spread = 0.0
    if photometric in _MONOCHROME:
        if stored.ndim != 2:
            raise ScanError(path, f"{photometric} image with {stored.shape[-1]} samples per pixel")
        try:
            raw = np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
        except Exception as exc:  # an empty or non-numeric rescale must not load as if absent
            raise ScanError(path, f"invalid rescale or modality LUT: {one_line(exc)}") from exc
        pixels, window, problem = _apply_voi(raw, ds)
        if problem:
            warnings.append(problem)
        if photometric == "MONOCHROME1":
            pixels = 1.0 - pixels
            inverted = True
            warnings.append(MONOCHROME1_WARNING)
    else:
        raw, pixels, window, spread = _colour_to_gray(stored, ds, photometric, path)
        colour = colour_warning(spread, photometric)
        if colour:
            warnings.append(colour)

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
        pixels=np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32),
        source=source,
        metadata=metadata,
        warnings=tuple(warnings),
        raw=np.ascontiguousarray(raw, dtype=np.float32),
        default_window=(float(window[0]), float(window[1])),
    )


def read_metadata(ds: Dataset) -> dict:
    """Return METADATA_KEYS as strings or None; dates as ISO YYYY-MM-DD when valid."""
    metadata = {}
    for key in METADATA_KEYS:
        keyword = METADATA_KEYWORDS.get(key)
        text = _text(ds, keyword) if keyword else None
        if text and key.endswith("_date"):
            text = _iso_date(text)
        metadata[key] = text
    return metadata


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
            size = int(value)
        except (TypeError, ValueError):
            size = 0
        if size < 1:
            raise ScanError(path, f"invalid {keyword} '{value}' in the DICOM header")
        sizes.append(size)
    return sizes[0], sizes[1], sizes[2]


def _transfer_syntax(ds: Dataset) -> UID:
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
    try:
        return pixel_array(ds, index=0)
    except MemoryError:
        raise
    except Exception as exc:  # truncated data, corrupt codestream, plugin failure
        raise ScanError(path, f"cannot decode {syntax.name} pixel data: {one_line(exc)}") from exc


def _apply_voi(raw: np.ndarray, ds: Dataset) -> tuple[np.ndarray, tuple[float, float], str | None]:
    """Window ``raw`` into [0, 1]: VOI LUT, else first window, else the full range.

    Returns (pixels, (centre, width), a warning when the file's VOI could not be used).
    """
    problem = None
    if ds.get("VOILUTSequence") or _has_window(ds):
        try:
            return (*_file_voi(raw, ds), None)
        except Exception as exc:  # width 0, unknown VOI LUT Function, broken LUT...
            problem = f"The file's window could not be used ({one_line(exc)}): showing the full range"
    low, high = _full_range(raw, ds)
    return (raw - low) / (high - low), ((low + high + 1) / 2, high - low + 1), problem


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
    return (np.asarray(out, dtype=np.float64) - low) / (high - low), window


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
    raw = pixels.astype(np.float64) * full_scale
    return raw, pixels, ((full_scale + 1) / 2, full_scale + 1), spread


def _text(ds: Dataset, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:  # an undecodable value is shown as missing, not as a failed load
        return None
    if value is None:
        return None
    if isinstance(value, MultiValue):
        text = "\\".join(str(item) for item in value)
    elif isinstance(value, pydicom.valuerep.PersonName):
        text = _person_name(value)
    else:
        text = str(value)
    text = text.strip()
    return text or None


def _person_name(name: pydicom.valuerep.PersonName) -> str:
    """"Family, Given Middle" from a DICOM PN, whose components are separated by ^."""
    parts = [part.strip() for part in str(name).split("=")[0].split("^")]
    family, given = parts[0], " ".join(part for part in parts[1:3] if part)
    return f"{family}, {given}" if family and given else family or given


def _iso_date(text: str) -> str:
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text
