"""``classify --resume``: which rows of a previous CSV still hold, checked rather than trusted.

A row is carried into the new run only when (1) its ``row_check`` digest proves this
installation wrote it and nobody edited it since, (2) the file it names (by path, or by
the de-identified name the file gets now) still has the content hash the row recorded,
read again now, (3) it came from the same model (hash), and (4) it was classified without
error. Every other file is classified again.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path


def _names_match(row_path: str, path: Path, shown: str | None, digest: str) -> bool:
    from pneumonet_core.inference.batch import header_metadata
    from pneumonet_core.printable import printable
    from pneumonet_core.reports.deidentify import PSEUDONYM_PREFIX, report_path

    if row_path in (str(path), printable(path)):
        return True
    try:
        if Path(row_path).resolve() == path.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    stem = Path(row_path).stem
    if stem.startswith(PSEUDONYM_PREFIX) and digest.startswith(stem[len(PSEUDONYM_PREFIX):]) and \
            len(stem) > len(PSEUDONYM_PREFIX) + 4:
        return True
    return row_path == report_path(path, header_metadata(path), True, digest, shown)


def carried_rows(paths: list[Path], previous_csv: Path, model_hash: str,
                 shown: dict[str, str] | None = None) -> dict[int, object]:
    """Rows of ``previous_csv`` that still hold: index in ``paths`` -> the previous ScanResult."""
    from pneumonet_core.imaging.files import is_regular_file
    from pneumonet_core.inference.batch import header_metadata
    from pneumonet_core.reports.tables import read_csv_checked
    from pneumonet_core.results import file_sha256

    by_hash: dict[str, list] = {}
    unverified = 0
    for result, row_model, trusted in read_csv_checked(previous_csv):
        # Rows of a run without the out-of-distribution guard are classified again.
        if not (result.classified and result.file_sha256
                and result.out_of_distribution is not None):
            continue
        if not trusted:
            unverified += 1
            continue
        by_hash.setdefault(result.file_sha256, []).append((result, row_model))
    carried, other_model = {}, 0
    shown = shown or {}
    for index, path in enumerate(paths):
        if not by_hash or not is_regular_file(path):
            continue
        digest = file_sha256(path)
        for result, row_model in by_hash.get(digest, []) if digest else []:
            if _names_match(str(result.path), path, shown.get(str(path)), digest):
                if row_model == model_hash:
                    # The CSV holds no patient fields: read them again so de-identified
                    # outputs can still hide a file name that carries them.
                    carried[index] = dataclasses.replace(result, path=path, metadata=header_metadata(path),
                                                         display_path=shown.get(str(path)))
                else:
                    other_model += 1
                break
    if unverified:
        print(f"pneumonet classify: {unverified} row(s) of {previous_csv} could not be verified (edited, or "
              "written by another installation); classifying those files again", file=sys.stderr)
    if other_model:
        print(f"pneumonet classify: {other_model} row(s) of {previous_csv} came from another model; "
              "classifying those files again", file=sys.stderr)
    return carried
