"""The one way into Pneumonet for a scan file: :func:`load_scan`, and :func:`find_scans`.

The format is decided by the file's first bytes, not its name, because scans arrive
renamed (a DICOM saved as ``.png``, a PNG as ``.dcm``, DICOM files named by UID). Every
failure leaves as a :class:`ScanError` naming the file and the reason on one line:
:func:`load_scan` is the fence around every decoder, so even a decoder that panics
(pylibjpeg's Rust codecs raise ``PanicException``, a ``BaseException``) fails that file
only. Only regular files are opened (see :mod:`~pneumonet_core.imaging.files`), and
pixels that are not finite numbers are refused rather than classified.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import dicom, raster
from pneumonet_core.imaging.clinical_warnings import clinical_warnings
from pneumonet_core.imaging.files import NotRegularFile, is_regular_file, open_regular, os_problem, regular_file_problem
from pneumonet_core.imaging.limits import MAX_PIXELS  # part of this module's interface
from pneumonet_core.imaging.raster import one_line
from pneumonet_core.imaging.scan import Scan

#: Suffixes (lower case) that :func:`find_scans` picks up in folders.
SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")

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

    Raises :class:`ScanError` (never anything else) when the file cannot be used, however
    the decoder failed; only KeyboardInterrupt and SystemExit pass through.
    """
    path = Path(path)
    try:
        scan = _load(path)
        if not np.isfinite(scan.pixels).all():
            raise ScanError(path, "non-finite pixel values")
        extra = clinical_warnings(scan.metadata, scan.source.width, scan.source.height)
    except ScanError:
        raise
    except MemoryError:
        raise ScanError(path, "not enough memory to decode this image") from None
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # the boundary: any library failure, a Rust panic included, is one line
        reason = one_line(exc)
        if not isinstance(exc, Exception):
            reason = f"the decoder failed ({type(exc).__name__}: {reason})"
        raise ScanError(path, reason) from exc
    return dataclasses.replace(scan, warnings=scan.warnings + tuple(extra))


def decode_estimate(path: str | os.PathLike) -> int:
    """Bytes that loading ``path`` and preparing its model input may take at the peak,
    from its header alone (0 when the header cannot be read: loading will say why)."""
    from PIL import Image

    path = Path(path)
    try:
        with open_regular(path) as handle:
            fmt = sniff_format(handle.read(_HEAD_SIZE))
            handle.seek(0)
            if fmt in ("PNG", "JPEG"):
                with Image.open(handle, formats=[fmt]) as image:
                    width, height = image.size
                    step, estimate = raster.plan_decode(image, fmt)
            elif fmt == "DICOM":
                ds = dicom.read_header(path)
                step, _, estimate = dicom.plan_decode(ds, dicom.transfer_syntax(ds), path)
                width, height = int(ds.Columns), int(ds.Rows)
            else:
                return 0
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 - an unreadable header: load_scan reports it
        return 0
    # The scan's pixels and raw values, and preprocessing's copy of the pixels.
    return estimate + -(-width // step) * -(-height // step) * 12


def find_scans(paths: Iterable[str | os.PathLike], recursive: bool = True,
               problems: list[tuple[str, str]] | None = None) -> list[Path]:
    """Expand files and folders into the scan files to load.

    A folder gives its files with a supported suffix, plus DICOM files named without
    one or by UID (``1.2.840...123``), sorted; hidden files and folders (``.DS_Store``,
    ``._x.png``) are skipped. Symbolic links to folders are followed, each folder at most
    once, so a link loop ends, and only when they stay inside the folder given: a link out
    of it (to ``/``, say) is not followed. A sub-folder that cannot be read, or a link not
    followed, is skipped with a (path, reason) in ``problems`` (when given) for the caller
    to report.
    Paths named explicitly are kept as given, even missing or
    hidden ones, so that :func:`load_scan` reports them. A file reached twice (also
    through a relative and an absolute path) is listed once; the order of ``paths`` is
    kept. Nothing here opens a file that is not regular (a FIFO would block).
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for given in map(Path, paths):
        candidates = sorted(_scan_files(given, recursive, problems)) if given.is_dir() else [given]
        for candidate in candidates:
            key = _resolved(candidate)
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return path.absolute()


def _load(path: Path) -> Scan:
    problem = regular_file_problem(path)
    if problem:
        raise ScanError(path, problem)
    try:
        with open_regular(path) as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                raise ScanError(path, "empty file (0 bytes)")
            head = handle.read(_HEAD_SIZE)
    except NotRegularFile as exc:
        raise ScanError(path, exc.strerror or str(exc)) from None
    except OSError as exc:
        raise ScanError(path, os_problem(exc)) from None

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


def _scan_files(folder: Path, recursive: bool, problems: list[tuple[str, str]] | None = None) -> Iterator[Path]:
    problems = problems if problems is not None else []
    visited: set[tuple[int, int]] = set()
    top = _resolved(folder)

    def unreadable(exc: OSError) -> None:
        where = exc.filename if exc.filename is not None else folder
        problems.append((str(where), f"folder skipped: {os_problem(exc)}"))

    def inside(root: str, name: str) -> bool:
        path = Path(root, name)
        if not path.is_symlink():
            return True
        target = _resolved(path)
        if target == top or top in target.parents:
            return True
        problems.append((str(path), f"link to a folder outside {folder} not followed"))
        return False

    for root, dirs, files in os.walk(folder, followlinks=True, onerror=unreadable):
        try:
            info = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in visited:  # reached again through a link: a loop
            dirs[:] = []
            continue
        visited.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(name for name in dirs if not name.startswith(".") and inside(root, name)) \
            if recursive else []
        for name in files:
            if not name.startswith(".") and _is_scan_file(Path(root, name)):
                yield Path(root, name)


def _is_scan_file(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return True  # listed even when not regular: load_scan then reports it
    if path.name.upper() == "DICOMDIR":  # an index of a DICOM media, not an image
        return False
    if suffix and not suffix[1:].isdigit():
        return False
    if not is_regular_file(path):
        return False
    try:
        with open_regular(path) as handle:
            return sniff_format(handle.read(_HEAD_SIZE)) == "DICOM"
    except OSError:
        return False
