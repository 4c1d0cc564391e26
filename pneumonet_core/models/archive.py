"""Reading a ``.pneumonet`` file, before any model is built: the zip limits, the format
marker and the integrity manifest (:mod:`~pneumonet_core.models.integrity`).

Below :mod:`~pneumonet_core.models.package` (which writes and loads packages),
:mod:`~pneumonet_core.models.signing` and :mod:`~pneumonet_core.models.registry`, which
all read packages through :func:`verified_files`, so none of them imports another to do so.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from pneumonet_core.errors import ModelPackageError
from pneumonet_core.models import integrity
from pneumonet_core.models.card import ModelCard

FORMAT_NAME = "pneumonet-model"
FORMAT_VERSION = 2
SUFFIX = ".pneumonet"
MARKER = "pneumonet-model.json"
#: Limits checked on the zip directory before anything is decompressed (zip bombs): the
#: total of the files, their number, and the expansion of any large member.
MAX_UNPACKED_BYTES = 1 << 30
MAX_MEMBERS = 5000
MAX_RATIO = 200
#: The largest JSON member (card, manifest, architecture): checked from the zip directory.
MAX_JSON_BYTES = 16 << 20


def is_model_package(path: Path) -> bool:
    """True when ``path`` is a zip carrying the Pneumonet format marker."""
    try:
        with zipfile.ZipFile(path) as zf:
            return MARKER in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _read_zip(path: Path) -> dict[str, bytes]:
    from pneumonet_core.imaging.files import NotRegularFile, open_regular

    if not path.exists():
        raise ModelPackageError(path, "model file not found")
    if path.is_dir():
        raise ModelPackageError(path, "is a folder, not a model file")
    try:
        with open_regular(path) as handle:  # never a FIFO or a device (/dev/zero)
            if (size := os.fstat(handle.fileno()).st_size) > MAX_UNPACKED_BYTES:
                raise ModelPackageError(path, f"refused: {size:,} bytes, more than the {MAX_UNPACKED_BYTES:,}-byte "
                                              "limit of a model file")
            return _read_members(path, zipfile.ZipFile(handle))
    except NotRegularFile as exc:
        raise ModelPackageError(path, f"not a model file: {exc.strerror}") from None
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise ModelPackageError(path, f"not a Pneumonet model file ({type(exc).__name__}: {exc})") from None
    except (RuntimeError, ValueError, NotImplementedError) as exc:  # encrypted or odd members
        raise ModelPackageError(path, f"unreadable model file ({exc})") from None


def _read_members(path: Path, zf: zipfile.ZipFile) -> dict[str, bytes]:
    """Every member of an open package, within the zip limits; JSON ones bounded before parsing."""
    from pneumonet_core.models.card_validation import CardError, check_json_member

    with zf:
        infos = zf.infolist()
        if MARKER not in zf.namelist():
            raise ModelPackageError(path, "not a Pneumonet model file (no format marker)")
        _check_sizes(path, infos)
        files = {}
        for info in infos:
            if info.filename.endswith(".json") and info.file_size > MAX_JSON_BYTES:
                raise ModelPackageError(path, f"refused: {info.filename} is {info.file_size:,} bytes, more than "
                                              f"the {MAX_JSON_BYTES:,}-byte limit")
            files[info.filename] = zf.read(info)
            if info.filename.endswith(".json"):
                try:
                    check_json_member(info.filename, files[info.filename])
                except CardError as exc:
                    raise ModelPackageError(path, f"refused: {exc}") from None
        return files


def _check_sizes(path: Path, infos) -> None:
    if len(infos) > MAX_MEMBERS:
        raise ModelPackageError(path, f"refused: {len(infos):,} files in the archive (at most {MAX_MEMBERS:,})")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED_BYTES:
        raise ModelPackageError(path, f"refused: unpacks to {total:,} bytes, more than the "
                                      f"{MAX_UNPACKED_BYTES:,}-byte limit (possible zip bomb)")
    for info in infos:
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise ModelPackageError(path, f"refused: {info.filename} expands {info.file_size // max(1, info.compress_size)}"
                                          "-fold (possible zip bomb)")


def verified_files(path: Path) -> tuple[ModelCard, dict[str, bytes]]:
    """Read every file of a package and check its format, manifest and content hash."""
    files = _read_zip(path)
    try:
        marker = json.loads(files[MARKER])
        version = int(marker.get("version", 0))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelPackageError(path, f"corrupt model file ({exc})") from None
    if marker.get("format") != FORMAT_NAME or version > FORMAT_VERSION:
        raise ModelPackageError(path, f"unsupported model format {marker}")
    if version < FORMAT_VERSION:
        raise ModelPackageError(path, f"model format {version} from an older Pneumonet: its card is not protected "
                                      "by an integrity manifest; use a package made by this version")
    try:
        return integrity.verify(files), files
    except integrity.IntegrityError as exc:
        raise ModelPackageError(path, str(exc)) from None


def read_card(path: str | Path) -> ModelCard:
    """Read and verify a package's card without building the model (listings, ``info``)."""
    return verified_files(Path(path))[0]
