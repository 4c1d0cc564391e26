"""Read one frame of uncompressed grayscale DICOM pixel data straight from the file, every
k-th row and column only.

pydicom reads the whole Pixel Data element (every frame) into memory before it hands out
the first frame; for a 100-megapixel or a many-frame file that is hundreds of megabytes
for nothing. Here, the element's offset in the file (known because large elements are
read lazily) lets Pneumonet read just the rows it keeps, so memory is the size of the
reduced image. The unused high bits are handled as pydicom does (shifted out, with sign
extension for signed data), so both paths give the same values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from pneumonet_core.imaging.files import open_regular

_NATIVE_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)
_UNDEFINED_LENGTH = 0xFFFFFFFF


def native_offset(ds: Dataset, syntax: UID) -> int | None:
    """File offset of the pixel values when this frame can be read directly, else None.

    Only single-sample (grayscale) data of 8, 16 or 32 bits in a native transfer syntax,
    whose Pixel Data element was left on disk (deferred), qualifies.
    """
    if syntax not in _NATIVE_SYNTAXES:
        return None
    if int(ds.get("SamplesPerPixel") or 1) != 1 or int(ds.get("BitsAllocated") or 0) not in (8, 16, 32):
        return None
    try:
        raw = ds.get_item("PixelData", keep_deferred=True)
    except Exception:  # noqa: BLE001 - anything odd: let pydicom decode it
        return None
    if raw is None or getattr(raw, "value", b"") is not None:  # already in memory: nothing to gain
        return None
    tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
    if tell is None or length in (None, _UNDEFINED_LENGTH):
        return None
    rows, columns = int(ds.Rows), int(ds.Columns)
    if length < rows * columns * int(ds.BitsAllocated) // 8:
        return None  # cut short: pydicom reports that in its own words
    return int(tell)


def read_native_frame(path: Path, ds: Dataset, syntax: UID, offset: int, step: int) -> np.ndarray:
    """Frame 0 at every ``step``-th row and column, as pydicom would decode it."""
    rows, columns = int(ds.Rows), int(ds.Columns)
    allocated = int(ds.BitsAllocated)
    stored = int(ds.get("BitsStored") or allocated)
    signed = int(ds.get("PixelRepresentation") or 0) == 1
    order = ">" if syntax == ExplicitVRBigEndian else "<"
    dtype = np.dtype(f"{order}{'i' if signed else 'u'}{allocated // 8}")
    row_bytes = columns * dtype.itemsize
    kept = range(0, rows, step)
    out = np.empty((len(kept), len(range(0, columns, step))), dtype=dtype.newbyteorder("="))
    with open_regular(path) as fh:
        for i, row in enumerate(kept):
            fh.seek(offset + row * row_bytes)
            data = fh.read(row_bytes)
            if len(data) != row_bytes:
                raise ValueError(f"pixel data ends at row {row} of {rows}")
            out[i] = np.frombuffer(data, dtype=dtype)[::step]
    if stored < allocated:
        shift = allocated - stored
        np.left_shift(out, shift, out=out)
        np.right_shift(out, shift, out=out)
    return out
