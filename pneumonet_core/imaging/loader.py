"""The one way into Pneumonet for a scan file: :func:`load_scan`, and :func:`find_scans`.

The format is decided by the file's first bytes, not its name, because scans arrive
renamed (a DICOM saved as ``.png``, a PNG as ``.dcm``, DICOM files named by UID). Every
failure leaves as a :class:`ScanError` naming the file and the reason on one line.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import dicom, raster
from pneumonet_core.imaging.clinical_warnings import clinical_warnings
from pneumonet_core.imaging.raster import one_line
from pneumonet_core.imaging.scan import Scan

#: Suffixes (lower case) that :func:`find_scans` picks up in folders.
SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")

#: Most pixels a scan may declare, all DICOM frames together: 100 megapixels, about
#: ten times a large radiograph. Checked before decoding, so a small file declaring a
#: huge image (a decompression bomb) is refused instead of exhausting memory.
MAX_PIXELS = 100_000_000

NOT_A_SCAN = "not a PNG, JPEG or DICOM file"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_DICOM_MAGIC = b"DICM"
_DICOM_MAGIC_OFFSET = 128
_HEAD_SIZE = _DICOM_MAGIC_OFFSET + len(_DICOM_MAGIC)


def sniff_format(head: bytes) -> str | None:
    """Return "PNG", "JPEG" or "DICOM" from a file's first 132 bytes, else None."""
    if head.startswith(_PNG_MAGIC):
        return "PNG"
    if head.startswith(_JPEG_MAGIC):
        return "JPEG"
    if head[_DICOM_MAGIC_OFFSET:_HEAD_SIZE] == _DICOM_MAGIC:
        return "DICOM"
    return None


def load_scan(path: str | os.PathLike) -> Scan:
    """Load a PNG, JPEG or DICOM file as a :class:`Scan`, with its warnings.

    Raises :class:`ScanError` (never anything else) when the file cannot be used.
    """
    path = Path(path)
    try:
        scan = _load(path)
        extra = clinical_warnings(scan.metadata, scan.source.width, scan.source.height)
    except ScanError:
        raise
    except MemoryError:
        raise ScanError(path, "not enough memory to decode this image") from None
    except Exception as exc:  # the boundary: any library failure becomes one line
        raise ScanError(path, one_line(exc)) from exc
    return dataclasses.replace(scan, warnings=scan.warnings + tuple(extra))


def find_scans(paths: Iterable[str | os.PathLike], recursive: bool = True) -> list[Path]:
    """Expand files and folders into the scan files to load.

    A folder gives its files with a supported suffix, plus DICOM files named without
    one or by UID (``1.2.840...123``), sorted; hidden files and folders (``.DS_Store``,
    ``._x.png``) are skipped. Paths named explicitly are kept as given, even missing or
    hidden ones, so that :func:`load_scan` reports them. A file reached twice (also
    through a relative and an absolute path) is listed once; the order of ``paths`` is
    kept.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for given in map(Path, paths):
        candidates = sorted(_scan_files(given, recursive)) if given.is_dir() else [given]
        for candidate in candidates:
            if candidate.resolve() not in seen:
                seen.add(candidate.resolve())
                found.append(candidate)
    return found


def _load(path: Path) -> Scan:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ScanError(path, "no such file") from None
    except OSError as exc:
        raise ScanError(path, exc.strerror or one_line(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ScanError(path, "is a folder, not a scan file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise ScanError(path, "not a regular file")
    if info.st_size == 0:
        raise ScanError(path, "empty file (0 bytes)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_SIZE)
    except OSError as exc:
        raise ScanError(path, exc.strerror or one_line(exc)) from None

    fmt = sniff_format(head)
    if fmt in ("PNG", "JPEG"):
        return raster.load_raster(path, fmt, MAX_PIXELS)
    if fmt == "DICOM":
        return dicom.load_dicom(path, MAX_PIXELS)
    dataset = dicom.read_headerless(path) if dicom.looks_like_headerless_dicom(head) else None
    if dataset is None:
        named_dicom = path.suffix.lower() in (".dcm", ".dicom")
        raise ScanError(path, NOT_A_SCAN + (" (named like DICOM, but has no DICOM header)" if named_dicom else ""))
    return dicom.load_dicom(path, MAX_PIXELS, dataset=dataset)


def _scan_files(folder: Path, recursive: bool) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")] if recursive else []
        for name in files:
            if not name.startswith(".") and _is_scan_file(Path(root, name)):
                yield Path(root, name)


def _is_scan_file(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return True
    if path.name.upper() == "DICOMDIR":  # an index of a DICOM media, not an image
        return False
    if suffix and not suffix[1:].isdigit():
        return False
    try:
        with open(path, "rb") as handle:
            return sniff_format(handle.read(_HEAD_SIZE)) == "DICOM"
    except OSError:
        return False
