"""Deflated DICOM data sets inflated with a bound planned from their own header.

In the Deflated Explicit VR Little Endian transfer syntax the whole data set after the
file meta is one deflate stream, and pydicom (reading a file) and pynetdicom (decoding a
received object) inflate it whole with ``zlib.decompress``: 2 MB of zeros becomes 2 GB
before anything is checked. :func:`bounded_decompress` takes its place in both: it
inflates the first :data:`HEAD_BYTES`, reads the pixel module there (Rows, Columns,
samples, bits, frames) and allows the planned pixel bytes plus :data:`HEADER_ALLOWANCE`
for everything else, never more than :data:`~pneumonet_core.imaging.limits.MAX_WHOLE_DECODE_BYTES`
plus that allowance. Past the bound it raises ValueError naming a possible decompression
bomb, having inflated no more than the bound. :func:`install` is called on import of
``pneumonet_core.imaging`` and of the DICOM network code, so every reader goes through it.
"""

from __future__ import annotations

import re
import struct
import types
import zlib
from typing import Any

from pneumonet_core.imaging import limits

#: What is inflated before the bound is planned: the pixel module precedes the pixels.
HEAD_BYTES = 1 << 20
#: What a data set may hold besides its planned pixels (overlays, icons, private tags).
HEADER_ALLOWANCE = 16 << 20
_US = {name: re.compile(re.escape(struct.pack("<HH", 0x0028, element) + b"US\x02\x00") + b"(..)", re.DOTALL)
       for name, element in (("rows", 0x0010), ("columns", 0x0011), ("samples", 0x0002), ("bits", 0x0100))}
_FRAMES = re.compile(re.escape(struct.pack("<HH", 0x0028, 0x0008) + b"IS") + b"(..)", re.DOTALL)


def planned_bytes(head: bytes) -> int:
    """The bytes a data set may inflate to, from the pixel module in its first bytes."""
    values = {}
    for name, pattern in _US.items():
        match = pattern.search(head)
        values[name] = struct.unpack("<H", match.group(1))[0] if match else None
    if not values["rows"] or not values["columns"]:
        return HEADER_ALLOWANCE  # no image here (or a header too odd to plan): its header only
    frames = 1
    if match := _FRAMES.search(head):
        length = struct.unpack("<H", match.group(1))[0]
        text = head[match.end():match.end() + length].decode("ascii", "replace").strip(" \0")
        frames = int(text) if text.isdigit() else 1
    pixels = values["rows"] * values["columns"] * (values["samples"] or 1) * max(1, frames)
    pixel_bytes = pixels * max(1, ((values["bits"] or 16) + 7) // 8)
    return min(pixel_bytes, limits.MAX_WHOLE_DECODE_BYTES) + HEADER_ALLOWANCE


def bounded_decompress(data: bytes, wbits: int = zlib.MAX_WBITS, bufsize: int = zlib.DEF_BUF_SIZE) -> bytes:
    """``zlib.decompress`` that stops at the planned size (see the module's text)."""
    inflater = zlib.decompressobj(wbits)
    out = bytearray(inflater.decompress(data, HEAD_BYTES))
    limit = planned_bytes(bytes(out[:HEAD_BYTES]))
    with limits.BUDGET.reserve(limit):  # inflations in several threads share the decode budget
        return _inflate_rest(inflater, out, limit)


def _inflate_rest(inflater, out: bytearray, limit: int) -> bytes:
    while not inflater.eof and inflater.unconsumed_tail:
        out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out) if len(out) <= limit else 1)
        if len(out) > limit:
            raise ValueError(f"the deflated data set inflates to more than its planned {limit >> 20} MB "
                             "(possible decompression bomb)")
    if not inflater.eof:
        out += inflater.flush()
    if len(out) > limit:
        raise ValueError(f"the deflated data set inflates to more than its planned {limit >> 20} MB "
                         "(possible decompression bomb)")
    return bytes(out)


def _shim() -> Any:
    """A stand-in for the ``zlib`` module that inflates with a bound and does the rest as zlib
    (a namespace in the place of a module, hence Any)."""
    names = {name: getattr(zlib, name) for name in dir(zlib) if not name.startswith("__")}
    return types.SimpleNamespace(**{**names, "decompress": bounded_decompress})


def install(network: bool = False) -> None:
    """Make pydicom's file reader (and, with ``network``, pynetdicom's decoder) inflate with a bound."""
    import pydicom.filereader

    if not isinstance(pydicom.filereader.zlib, types.SimpleNamespace):
        pydicom.filereader.zlib = _shim()
    if network:
        import pynetdicom.dsutils

        if not isinstance(pynetdicom.dsutils.zlib, types.SimpleNamespace):
            pynetdicom.dsutils.zlib = _shim()
