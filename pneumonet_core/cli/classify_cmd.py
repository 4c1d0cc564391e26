"""``pneumonet classify``: classify files and folders; one line per scan, or JSON/CSV/PDF.

Large folders: decoding runs in parallel with batched inference, a progress bar goes to
stderr when it is a terminal, Ctrl-C stops after the current batch and still writes the
outputs for the scans done, and ``--resume PREVIOUS.csv`` skips files already classified
(same path, same content hash, same model).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
from pathlib import Path

from pneumonet_core.cli.common import add_model_argument, load_classifier, model_summary, result_line, write_json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify", help="classify scans (files and folders)",
        description="Classify PNG, JPEG and DICOM chest X-rays. One line per scan by default. "
        "Exit 3 if any file failed (the others are still classified). A scan that is not a chest X-ray this "
        "model knows is a result, not a failure: it is flagged (out_of_distribution, ood_score, ood_reason), "
        "shown as withheld and gets no heat map. Reports leave out patient names, "
        "IDs and birth dates unless --no-deidentify is given.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON document with every result")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write a CSV of every result")
    p.add_argument("--report", type=Path, metavar="FILE.pdf",
                   help="also write a batch PDF: summary, histogram of probabilities, one line per scan")
    p.add_argument("--heatmaps", type=Path, metavar="DIR", help="write a Grad-CAM overlay PNG per scan into DIR")
    p.add_argument("--resume", type=Path, metavar="PREVIOUS.csv",
                   help="skip files already classified in this CSV (same path and file hash, same model) "
                   "and carry their rows into the new outputs")
    p.add_argument("--deidentify", action=argparse.BooleanOptionalAction, default=True,
                   help="leave patient names, IDs and birth dates out of the JSON, CSV, PDF and file names "
                   "(default: on)")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=None, help="decoding threads (default: automatic)")
    p.set_defaults(func=run)


class ProgressBar:
    """A one-line progress bar on stderr, redrawn in place; only used when stderr is a terminal."""

    def __init__(self, total: int, stream=None):
        from pneumonet_core.inference.batch import BatchProgress

        self.stream = stream or sys.stderr
        self.progress = BatchProgress(total)
        self._shown = False

    def advance(self, n: int = 1) -> None:
        self.progress.advance(n)
        self.draw()

    def draw(self) -> None:
        columns = shutil.get_terminal_size((80, 20)).columns
        text = self.progress.text()
        width = max(10, min(40, columns - len(text) - 4))
        total = max(1, self.progress.total)
        filled = int(width * self.progress.done / total)
        line = f"[{'#' * filled}{'.' * (width - filled)}] {text}"
        self.stream.write("\r\033[K" + line[: columns - 1])
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _same_path(a: str, b: Path) -> bool:
    if a == str(b):
        return True
    try:
        return Path(a).resolve() == b.resolve()
    except OSError:
        return False


def _is_anonymised_name_of(row_path: str, digest: str) -> bool:
    """True when a de-identified row's file name is the hash name this file's content gets."""
    stem = Path(row_path).stem
    return stem.startswith("anon-") and len(stem) > 9 and digest.startswith(stem[5:])


def carried_rows(paths: list[Path], previous_csv: Path, model_hash: str) -> dict[int, object]:
    """Rows of ``previous_csv`` that still hold: index in ``paths`` -> the previous ScanResult.

    A row is carried when the file has the same path (or, in a de-identified CSV, the hash
    name made from its content) and the same content hash, was classified without error
    and assessed by the out-of-distribution guard, and came from the same model; every
    other file is classified again.
    """
    import dataclasses

    from pneumonet_core.inference.batch import header_metadata
    from pneumonet_core.reports.tables import read_csv
    from pneumonet_core.results import file_sha256

    by_hash: dict[str, list] = {}
    for result, row_model in read_csv(previous_csv):
        if result.ok and result.file_sha256 and result.out_of_distribution is not None:  # guarded rows only
            by_hash.setdefault(result.file_sha256, []).append((result, row_model))
    carried, other_model = {}, 0
    for index, path in enumerate(paths):
        digest = file_sha256(path) if by_hash else None
        for result, row_model in by_hash.get(digest, []) if digest else []:
            if _same_path(result.path, path) or _is_anonymised_name_of(result.path, digest):
                if row_model == model_hash:
                    # The CSV holds no patient fields: read them again so de-identified
                    # outputs can still hide a file name that carries them.
                    carried[index] = dataclasses.replace(result, path=str(path), metadata=header_metadata(path))
                else:
                    other_model += 1
                break
    if other_model:
        print(f"pneumonet classify: {other_model} row(s) of {previous_csv} came from another model; "
              "classifying those files again", file=sys.stderr)
    return carried


def _unique_name(name: str, used: set[str]) -> str:
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 2
    while candidate in used:
        candidate = f"{stem}-{n}{dot}{suffix}"
        n += 1
    used.add(candidate)
    return candidate


def run(args) -> int:
    from pneumonet_core.imaging import find_scans
    from pneumonet_core.inference.batch import classify_paths

    paths = find_scans(args.paths, recursive=args.recursive)
    classifier = load_classifier(args.model)
    deid = args.deidentify
    carried = carried_rows(paths, args.resume, classifier.card.hash) if args.resume else {}
    todo = [p for i, p in enumerate(paths) if i not in carried]

    on_scan = None
    if args.heatmaps:
        from pneumonet_core.reports.heatmap_images import heatmap_file_name, write_heatmap_overlay

        args.heatmaps.mkdir(parents=True, exist_ok=True)
        used_names: set[str] = set()

        def on_scan(result, scan):
            if result.withheld:  # no heat map explains a result that is not given
                print(f"pneumonet classify: {result.path}: no heat map: not a chest X-ray this model knows",
                      file=sys.stderr)
                return
            name = _unique_name(heatmap_file_name(scan, deid, result.file_sha256), used_names)
            try:
                write_heatmap_overlay(scan, classifier.heatmap(scan), args.heatmaps, deidentify=deid, name=name)
            except Exception as exc:  # noqa: BLE001 - the result stands without its map; the batch goes on
                reason = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).splitlines()[0]
                print(f"pneumonet classify: {result.path}: heat map not written: {reason}", file=sys.stderr)

    thumbnails: dict[str, object] = {}
    on_decoded = None
    if args.report:
        from pneumonet_core.reports.heatmap_images import thumbnail

        def on_decoded(path, scan):
            thumbnails[str(path)] = thumbnail(scan.pixels)

    stop = threading.Event()
    previous_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous_handlers[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    bar = ProgressBar(len(paths)) if sys.stderr.isatty() and paths else None
    results, stopped = [], False
    try:
        fresh = classify_paths(todo, classifier, batch_size=args.batch_size, workers=args.workers,
                               should_stop=stop.is_set, on_scan=on_scan, on_decoded=on_decoded)
        for index in range(len(paths)):
            result = carried.get(index)
            if result is None:
                result = None if stopped else next(fresh, None)
                if result is None:  # stopped: carried rows after this point still go into the outputs
                    stopped = True
                    continue
            results.append(result)
            if not args.json:
                if bar:
                    bar.clear()
                print(result_line(result) + ("  (resumed)" if index in carried else ""), flush=True)
            if bar:
                bar.advance()
        fresh.close()
    finally:
        if bar:
            bar.clear()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)

    interrupted = stopped
    note = f"stopped after {len(results)} of {len(paths)} scans" if interrupted else None
    if args.csv:
        from pneumonet_core.reports.tables import write_csv

        write_csv(results, args.csv, classifier.card, deidentify=deid)
    if args.report:
        from pneumonet_core.reports.batch_pdf import write_batch_report

        write_batch_report(args.report, results, classifier.card, thumbnails=thumbnails, deidentify=deid,
                           title_note=note)
    if args.json:
        from pneumonet_core.reports.tables import json_document

        write_json(json_document(results, model_summary(classifier), deidentify=deid))
    if paths:
        from pneumonet_core.reports.summary import BatchSummary

        print(f"pneumonet classify: {BatchSummary.of(results).line()}", file=sys.stderr)
    if not paths:
        print("pneumonet classify: no PNG, JPEG or DICOM files found", file=sys.stderr)
        return 3
    if interrupted:
        hint = f"; rerun with --resume {args.csv} to finish" if args.csv else ""
        print(f"pneumonet classify: interrupted, {note}{hint}", file=sys.stderr)
        return 130
    if carried:
        print(f"pneumonet classify: {len(carried)} scan(s) carried over from {args.resume}", file=sys.stderr)
    return 3 if any(not r.ok for r in results) else 0
