"""``pneumonet classify``: classify files and folders; one line per scan, or JSON/CSV/PDF.

Large folders: decoding runs in parallel with batched inference; a progress bar goes to
stderr on a terminal, a progress line every few seconds otherwise. Output paths are
checked before the first scan is read. The CSV is written row by row and moved into
place when the run ends, also when SIGINT (exit 130) or SIGTERM (exit 143) stops it
after the model batch in progress, so ``--resume PREVIOUS.csv`` can finish the job; it
carries only rows it can verify (see :mod:`~pneumonet_cli.resume`). Every export is
de-identified unless ``--include-identifiers`` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from pathlib import Path

from pneumonet_cli.common import add_model_argument, model_summary, result_line, write_json
from pneumonet_cli.progress import ProgressBar, progress_for
from pneumonet_cli.resume import carried_rows
from pneumonet_cli.scale_options import (
    add_engine_arguments,
    add_precision_argument,
    batch_engine_from_args,
    engine_usage_problem,
    load_classifier_from_args,
)
from pneumonet_core.errors import PneumonetError
from pneumonet_core.printable import printable

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify", help="classify scans (files and folders)",
        description="Classify PNG, JPEG and DICOM chest X-rays. One line per scan by default. "
        "Exit 3 if any file failed (the others are still classified), 130 on Ctrl-C and 143 on SIGTERM "
        "(the rows done are kept). A scan that is not a chest X-ray this model knows is a result, not a "
        "failure: it is flagged (out_of_distribution, ood_score, ood_reason), shown as withheld and gets no heat "
        "map. The JSON, CSV, PDF and heat-map names are de-identified (no patient names, IDs, accession numbers, "
        "institutions, birth dates or absolute paths) unless --include-identifiers is given.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_output_arguments(p)
    p.add_argument("--resume", type=Path, metavar="PREVIOUS.csv",
                   help="skip files already classified in this CSV (verified rows only: same file content, "
                   "same model) and carry their rows into the new outputs")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    p.set_defaults(func=run)


def age_range(text: str) -> tuple[float, float]:
    """argparse type of ``--accept-ages``: "MIN-MAX" in years."""
    from pneumonet_core.ood.population import parse_age_range

    try:
        return parse_age_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_output_arguments(p) -> None:
    """The model and output options of ``classify`` (``pull`` classifies with the same ones)."""
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON document with every result")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write a CSV of every result (row by row)")
    p.add_argument("--report", type=Path, metavar="FILE.pdf",
                   help="also write a batch PDF: summary, histogram of probabilities, one line per scan")
    p.add_argument("--heatmaps", type=Path, metavar="DIR", help="write a Grad-CAM overlay PNG per scan into DIR")
    p.add_argument("--dicom-out", type=Path, metavar="DIR",
                   help="write a DICOM Structured Report and a heat-map Secondary Capture per scan into DIR, in the "
                   "scan's study (a new study for PNG/JPEG); they carry the source's patient module")
    p.add_argument("--include-identifiers", "--no-deidentify", dest="include_identifiers", action="store_true",
                   help="keep patient names, IDs, dates and full paths in the JSON, CSV, PDF and file names "
                   "(default: de-identified)")
    p.add_argument("--deidentify", dest="include_identifiers", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=None, help="decoding threads (default: automatic)")
    p.add_argument("--accept-ages", type=age_range, metavar="MIN-MAX", default=None,
                   help="DICOM patient ages (years) the guard accepts, for a site that accepts a wider range than "
                   "the model card's (default: the setting accepted_ages, else the card's, 1-5); a header age "
                   "outside them withholds the result")
    add_precision_argument(p)
    add_engine_arguments(p)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def check_outputs(args, paths: list[Path]) -> None:
    """Refuse, before any scan is read, outputs that cannot be written or would overwrite an input."""
    from pneumonet_core.atomic import check_writable

    inputs = {_resolved(p) for p in paths} | {_resolved(p) for p in args.paths}
    seen: dict[Path, str] = {}
    for flag, out in (("--csv", args.csv), ("--report", args.report)):
        if out is None:
            continue
        target = _resolved(out)
        if target in inputs:
            raise PneumonetError(f"{out}: {flag} would overwrite an input scan")
        if target in seen:
            raise PneumonetError(f"{out}: {flag} and {seen[target]} name the same file")
        seen[target] = flag
        try:
            check_writable(out)
        except OSError as exc:
            raise PneumonetError(f"{out}: cannot write the {flag} output ({exc.strerror or exc})") from None
    for flag, folder in (("--heatmaps", args.heatmaps), ("--dicom-out", getattr(args, "dicom_out", None))):
        if folder is None:
            continue
        if _resolved(folder) in inputs or folder.is_file():
            raise PneumonetError(f"{folder}: {flag} needs a folder, not a file")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            check_writable(folder / "probe.out")
        except OSError as exc:
            raise PneumonetError(f"{folder}: cannot write the {flag} output there ({exc.strerror or exc})") from None


def _unique_name(name: str, used: set[str]) -> str:
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 2
    while candidate in used:
        candidate = f"{stem}-{n}{dot}{suffix}"
        n += 1
    used.add(candidate)
    return candidate


def _scan_writer(args, classifier, deid: bool, failed_outputs: list[str]):
    """``on_scan`` for the heat maps and DICOM answers of each classified scan (one Grad-CAM for both)."""
    from pneumonet_core.reports.heatmap_images import heatmap_file_name, write_heatmap_overlay

    used_names: set[str] = set()
    used_stems: set[str] = set()

    def on_scan(result, scan):
        what = "heat map"
        if result.withheld and args.heatmaps:  # no heat map explains a result that is not given
            print(f"pneumonet classify: {printable(result.path)}: no heat map: not a chest X-ray this model knows",
                  file=sys.stderr)
        try:
            heatmap = None if result.withheld else classifier.heatmap(scan, result)
            if args.heatmaps and heatmap is not None:
                name = _unique_name(heatmap_file_name(scan, deid, result.file_sha256), used_names)
                write_heatmap_overlay(scan, heatmap, args.heatmaps, deidentify=deid, name=name)
            if args.dicom_out:
                from pneumonet_core.dicom_node.answers import write_answers_into

                what = "DICOM answers"
                write_answers_into(args.dicom_out, scan, result, heatmap, classifier.card, deid, used_stems)
        except Exception as exc:  # noqa: BLE001 - the result stands without its map; the batch goes on
            reason = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).splitlines()[0]
            print(f"pneumonet classify: {printable(result.path)}: {what} not written: {printable(reason)}",
                  file=sys.stderr)
            if args.dicom_out:
                failed_outputs.append(str(result.path))

    return on_scan


def _csv_writer(args, classifier, deid: bool):
    """The --csv writer (rows are written as results arrive), or None."""
    if not args.csv:
        return None
    from pneumonet_core.reports.tables import CsvWriter

    try:
        return CsvWriter(args.csv, classifier.card, deidentify=deid)
    except OSError as exc:
        raise PneumonetError(f"{args.csv}: cannot write the --csv output ({exc.strerror or exc})") from None


def _stop_on_signals(stop: threading.Event, received: list[int]) -> dict:
    """Make SIGINT and SIGTERM set ``stop`` (and note the signal) instead of killing the run, so
    the outputs close on the rows so far; the previous handlers, for the caller to restore."""

    def request_stop(signum, frame):
        received.append(signum)
        stop.set()

    if threading.current_thread() is not threading.main_thread():  # Python allows handlers there only
        return {}
    return {sig: signal.signal(sig, request_stop) for sig in EXIT_CODES}


def run(args) -> int:
    from pneumonet_core.imaging import find_scans

    problem = engine_usage_problem(args)
    if problem:
        print(f"pneumonet classify: {problem}", file=sys.stderr)
        return 2
    from pneumonet_core.reports.deidentify import display_paths

    classify_paths = batch_engine_from_args(args)  # the local engine, or Ray (checked to be installed)
    deid = not args.include_identifiers
    skipped: list[tuple[str, str]] = []
    paths = find_scans(args.paths, recursive=args.recursive, problems=skipped)
    for where, reason in skipped:  # an unreadable sub-folder, a link out of the input: said, and exit 3
        print(printable(f"pneumonet classify: {where}: {reason}"), file=sys.stderr)
    if not paths:  # nothing to do is a failed command (exit 1), not "some inputs failed" (3)
        hint = "" if args.recursive else " (--recursive looks in subfolders)"
        raise PneumonetError(f"no PNG, JPEG or DICOM files found in {' '.join(map(str, args.paths))}{hint}")
    check_outputs(args, paths)
    classifier = load_classifier_from_args(args, "classify")
    shown = display_paths(paths, args.paths)
    carried = carried_rows(paths, args.resume, classifier.card.hash, shown) if args.resume else {}
    todo = [p for i, p in enumerate(paths) if i not in carried]
    failed_outputs: list[str] = []
    on_scan = _scan_writer(args, classifier, deid, failed_outputs) if args.heatmaps or args.dicom_out else None

    thumbnails: dict[str, object] = {}
    on_decoded = None
    if args.report:
        from pneumonet_core.reports.heatmap_images import thumbnail

        def on_decoded(path, scan):
            thumbnails[str(path)] = thumbnail(scan.pixels)

    csv_out = _csv_writer(args, classifier, deid)
    stop, received = threading.Event(), []
    progress = progress_for(len(paths), prefix="pneumonet classify")
    bar = progress if isinstance(progress, ProgressBar) else None
    results, stopped = [], False
    previous_handlers = _stop_on_signals(stop, received)
    try:
        fresh = classify_paths(todo, classifier, batch_size=args.batch_size, workers=args.workers,
                               should_stop=stop.is_set, on_decoded=on_decoded,
                               on_scan=on_scan)
        for index in range(len(paths)):
            result = carried.get(index)
            if result is None:
                result = None if stopped else next(fresh, None)
                if result is None:  # stopped: carried rows after this point still go into the outputs
                    stopped = True
                    continue
                result = dataclasses.replace(result, display_path=shown.get(str(result.path)))
            results.append(result)
            if csv_out is not None:
                csv_out.write(result)
            if not args.json:
                if bar:
                    bar.clear()
                print(result_line(result) + ("  (resumed)" if index in carried else ""), flush=True)
            if progress:
                progress.advance()
        fresh.close()
    finally:
        if progress:
            progress.clear()
        if csv_out is not None:
            csv_out.close()  # the rows written so far, also on the way out of an error
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    code = _finish(args, classifier, paths, results, carried, stopped or stop.is_set(), received, thumbnails, deid,
                   failed_outputs)
    return 3 if code == 0 and skipped else code


def _finish(args, classifier, paths, results, carried, interrupted, received, thumbnails, deid,
            failed_outputs) -> int:
    note = f"stopped after {len(results)} of {len(paths)} scans" if interrupted else None
    if args.report:
        from pneumonet_core.reports.batch_pdf import write_batch_report

        write_batch_report(args.report, results, classifier.card, thumbnails=thumbnails, deidentify=deid,
                           title_note=note)
    if args.json:
        from pneumonet_core.reports.tables import json_document

        write_json(json_document(results, model_summary(classifier), deidentify=deid))
    from pneumonet_core.reports.summary import BatchSummary

    summary = BatchSummary.of(results)
    print(f"pneumonet classify: {summary.line()}", file=sys.stderr)
    if summary.labels.get("NORMAL"):
        from pneumonet_core.results import SCOPE_NOTE

        print(f"pneumonet classify: NORMAL means no pneumonia found. {SCOPE_NOTE}", file=sys.stderr)
    if any(r.subtype for r in results):
        from pneumonet_core.results import SUBTYPE_CAVEAT

        print(f"pneumonet classify: bacterial or viral: {SUBTYPE_CAVEAT}", file=sys.stderr)
    if interrupted:
        hint = f"; rerun with --resume {args.csv} to finish" if args.csv else ""
        what = "terminated" if received and received[0] == signal.SIGTERM else "interrupted"
        print(f"pneumonet classify: {what}, {note}{hint}", file=sys.stderr)
        return EXIT_CODES.get(received[0], 130) if received else 130
    if carried:
        print(f"pneumonet classify: {len(carried)} scan(s) carried over from {args.resume}", file=sys.stderr)
    return 3 if failed_outputs or any(not r.ok for r in results) else 0
