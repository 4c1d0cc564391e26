"""File names and messages as text every output can carry, and none can be forged by.

A file system allows any bytes but ``/`` and NUL in a name. Python gives undecodable bytes
to us as lone surrogates ("surrogateescape"), which a UTF-8 CSV, a terminal or a JSON
parser refuses, and a newline or a carriage return in a name would start a line of its
own on stdout, one that reads like a result. :func:`printable` writes every such
character as an escape (``\\xff`` for an undecodable byte, ``\\n``, ``\\u202e``), so one
file is always one line, and the text round-trips to nothing but what was there.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text) -> str:
    """``text`` (a str, a path) with undecodable bytes, control and format characters escaped."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch.isprintable():
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode gives it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
