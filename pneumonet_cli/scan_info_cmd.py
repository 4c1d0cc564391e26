"""``pneumonet scan-info``: what Pneumonet reads from scan files, without a model.

It shows how each file would be decoded (format, size, photometric, inversion) and the
warnings a clinician would see, so a file that looks wrong can be checked before it is
classified. Every file is reported even when some fail; the exit code then is 3.
The JSON document is an export like ``classify --json``: de-identified unless
``--include-identifiers`` is given (no identifying metadata, pseudonyms for paths, ages
over 89 as 90+). Every path is printed with undecodable bytes and control characters
escaped, so one file is always one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import find_scans, load_scan
from pneumonet_core.imaging.scan import Scan
from pneumonet_core.printable import printable

EXIT_OK = 0
EXIT_SOME_FAILED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``scan-info`` parser; its ``func(args)`` returns the exit code."""
    parser = subparsers.add_parser(
        "scan-info",
        help="show how scan files are read: format, size, photometric, metadata, warnings",
        description="Show how Pneumonet reads PNG, JPEG and DICOM files: format, size, "
        "photometric interpretation, inversion, modality, body part and the warnings. "
        "Folders are expanded to the scan files they hold. Exit code 3 when a file failed.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="scan files or folders")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    parser.add_argument("--recursive", action="store_true", help="also look in subfolders of folders")
    parser.add_argument("--include-identifiers", action="store_true",
                        help="keep patient identifiers and file names in the --json document (default: de-identified)")
    parser.set_defaults(func=lambda args: run_scan_info(args.paths, args.json, args.recursive,
                                                        deidentify=not args.include_identifiers))


def run_scan_info(
    paths: Sequence[str], as_json: bool = False, recursive: bool = False, out: TextIO | None = None,
    deidentify: bool = False,
) -> int:
    """Report on every scan in ``paths`` to ``out``; return 0, or 3 when any failed.

    ``deidentify`` applies to the JSON document (the command line's default)."""
    out = out if out is not None else sys.stdout
    results = [_result(path, target) for path, target in _targets(paths, recursive)]
    if as_json:
        rows = [_deidentified(result) if deidentify else result for result in results]
        json.dump({"results": [{**row, "path": printable(row["path"])} for row in rows]}, out, indent=2)
        out.write("\n")
    else:
        for result in results:
            out.write(_line(result) + "\n")
    return EXIT_SOME_FAILED if any(result["error"] for result in results) else EXIT_OK


def _targets(paths: Sequence[str], recursive: bool) -> list[tuple[str, str | None]]:
    """(path, error) pairs: each scan to load, or a folder in which none was found."""
    targets: list[tuple[str, str | None]] = []
    seen = set()
    for given in paths:
        if not Path(given).is_dir():  # a file is reported under the name it was given
            found = [(Path(given), str(given))]
        else:
            skipped: list[tuple[str, str]] = []
            found = [(path, str(path)) for path in find_scans([given], recursive=recursive, problems=skipped)]
            targets.extend(skipped)
            if not found and not skipped:
                hint = "" if recursive else " (--recursive looks in subfolders)"
                targets.append((str(given), f"no PNG, JPEG or DICOM files in this folder{hint}"))
        for path, shown in found:
            if path.resolve() not in seen:  # the same file named twice is reported once
                seen.add(path.resolve())
                targets.append((shown, None))
    return targets


def _result(path: str, folder_error: str | None) -> dict:
    result = {
        "path": path,
        "format": None,
        "width": None,
        "height": None,
        "photometric": None,
        "inverted": None,
        "warnings": [],
        "metadata": {},
        "error": folder_error,
    }
    if folder_error:
        return result
    try:
        scan = load_scan(path)
    except ScanError as exc:
        result["error"] = exc.reason
        return result
    result.update(_describe(scan))
    return result


def _describe(scan: Scan) -> dict:
    source = scan.source
    return {
        "format": source.format,
        "width": source.width,
        "height": source.height,
        "photometric": source.photometric,
        "inverted": source.inverted,
        "warnings": list(scan.warnings),
        "metadata": dict(scan.metadata),
    }


def _deidentified(result: dict) -> dict:
    """A result fit for a de-identified export (see ``reports.deidentify``)."""
    from pneumonet_core.reports.deidentify import deidentified
    from pneumonet_core.results import ScanResult, file_sha256

    digest = file_sha256(result["path"])  # named as classify names the same file (None: not a regular file)
    scrubbed = deidentified(ScanResult(path=result["path"], warnings=list(result["warnings"]), error=result["error"],
                                       metadata=result["metadata"], file_sha256=digest))
    return {**result, "path": str(scrubbed.path), "warnings": scrubbed.warnings, "error": scrubbed.error,
            "metadata": scrubbed.metadata if result["metadata"] else {}}


def _line(result: dict) -> str:
    return printable(_text_line(result))


def _text_line(result: dict) -> str:
    if result["error"]:
        return f"{result['path']}: ERROR: {result['error']}"
    metadata = result["metadata"]
    inverted = " (inverted)" if result["inverted"] else ""
    warnings = "warnings: " + "; ".join(result["warnings"]) if result["warnings"] else "no warnings"
    return (
        f"{result['path']}: {result['format']} {result['width']}x{result['height']} "
        f"{result['photometric']}{inverted}, modality {metadata.get('modality') or '-'}, "
        f"body part {metadata.get('body_part') or '-'}, {warnings}"
    )
