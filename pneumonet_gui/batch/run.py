"""One batch run as plain Python: the job that finds and classifies the scans, and what the
panel says about the run.

:func:`classify_scans` runs as a worker job (:mod:`pneumonet_gui.workers`). It reports
(done, total) progress and yields the results one model batch at a time, each with a
thumbnail made in the decoding threads, so the GUI thread only inserts rows. A cancel
takes effect after the model batch in progress, whose results are still delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.inference.batch import BatchProgress

#: Scans per model batch in the app: small enough that Cancel takes effect within a second
#: or two even for a large model on a laptop CPU, big enough to batch well.
GUI_BATCH_SIZE = 8
THUMB_SIZE = 48


def classify_scans(paths, classifier, batch_size: int = GUI_BATCH_SIZE, workers: int | None = None,
                   should_stop: Callable[[], bool] = lambda: False,
                   progress: Callable[[int, int], None] = lambda done, total: None):
    """Classify every scan in ``paths`` (files and folders, searched recursively).

    Yields a list of (ScanResult, thumbnail or None) per model batch, after ``progress``
    has counted it; ``progress(0, total)`` comes first, once the files are found.
    """
    from pneumonet_core.imaging import find_scans
    from pneumonet_core.inference.batch import classify_paths
    from pneumonet_core.reports.heatmap_images import thumbnail

    files = find_scans([Path(p) for p in paths], recursive=True)
    progress(0, len(files))
    thumbs: dict[str, object] = {}

    def keep_thumbnail(path, scan) -> None:  # runs in a decoding thread
        thumbs[str(path)] = thumbnail(scan.pixels, THUMB_SIZE)

    rows = []
    results = classify_paths(files, classifier, batch_size=batch_size, workers=workers, should_stop=should_stop,
                             on_decoded=keep_thumbnail)
    for done, result in enumerate(results, start=1):
        rows.append((result, thumbs.pop(str(result.path), None)))
        if len(rows) == batch_size or done == len(files):
            # Whole model batches: a cancel stops the job at a yield, after the batch in progress.
            progress(done, len(files))
            yield rows
            rows = []


def common_parent(paths: list[Path]) -> Path | None:
    import os

    try:
        return Path(os.path.commonpath([str(p if p.is_dir() else p.parent) for p in paths]))
    except ValueError:
        return None


@dataclass
class BatchRun:
    """A run's folder and model, how far it got, and how it ended."""

    root: Path | None
    classifier: object = None
    total: int = 0
    progress: BatchProgress | None = None
    cancelled: bool = False
    stopped_by: str | None = None  # the error that ended the run early

    @property
    def card(self):
        return self.classifier.card if self.classifier is not None else None

    @property
    def model_path(self) -> Path | None:
        return self.classifier.package.path if self.classifier is not None else None

    def count(self, done: int, total: int) -> None:
        """What the job's progress says: the files found first, then the scans done."""
        if self.progress is None:
            self.total, self.progress = total, BatchProgress(total)
        elif done > self.progress.done:
            self.progress.advance(done - self.progress.done)

    def progress_text(self) -> str:
        if self.progress is None:
            return "Looking for scans\u2026"
        if not self.total:
            return "No PNG, JPEG or DICOM files found."
        return self.progress.text() if self.progress.done else f"0 / {self.total} \u00b7 starting\u2026"

    def end_text(self, done: int) -> str:
        if self.cancelled:
            return f"Cancelled: {done} of {self.total} scans classified"
        if self.total:
            elapsed = self.progress.elapsed if self.progress else 0.0
            return f"Done: {done} scans in {elapsed:.1f} s"
        return self.progress_text()

    def interrupted_note(self, done: int) -> str | None:
        if self.cancelled and done < self.total:
            return f"Cancelled after {done} of {self.total} scans; the other files were not classified."
        return None
