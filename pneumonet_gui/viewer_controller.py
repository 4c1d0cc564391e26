"""The viewer's work on one scan: open it, then classify and explain it, each step a worker job.

:class:`OpenScan` is the plain-Python state of the scan on screen: the decoded scan, its
:class:`~pneumonet_core.results.ScanResult` (the model's answer, or why there is none) and
its heat map. :class:`ViewerController` runs the steps with the app's one model and
announces each on the GUI thread. The probability and the heat map come from one pass of
the model (:meth:`Classifier.explain`). Every step goes through one :class:`LatestJob`, so
opening another scan, or switching the model, drops whatever the earlier request would
still have delivered: the screen never shows an older scan's result for the newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from pneumonet_core.results import ScanResult
from pneumonet_gui.active_model import NO_MODEL, ActiveModel
from pneumonet_gui.workers import LatestJob


def open_scan_file(path: Path):
    """Decode ``path`` with the one scan loader, and read its viewing details (runs in a worker)."""
    from pneumonet_core.imaging import load_scan

    scan = load_scan(path)
    return scan, display_header(scan)


def display_header(scan):
    """Pixel spacing, descriptions and frames of a DICOM scan; an empty header for others."""
    from pneumonet_core.imaging.dicom_display import DisplayHeader, read_display_header

    return read_display_header(scan.path) if scan.source.format == "DICOM" else DisplayHeader()


@dataclass
class OpenScan:
    """The scan the window shows and what is known about it so far."""

    path: Path | None = None
    scan: object = None
    result: ScanResult | None = None
    heatmap: object = None
    heatmap_error: str | None = None
    done: bool = False
    header: object = None  # DisplayHeader: spacing, descriptions, frames

    @property
    def error(self) -> str | None:
        """Why there is no result: the file could not be read, or not classified."""
        return self.result.error if self.result is not None else None

    @property
    def ok(self) -> bool:
        return self.done and self.result is not None and self.result.classified


class ViewerController(QObject):
    """Opens and analyses scans with the shared model; signals concern the current scan only."""

    scanOpened = Signal(object)  # Scan
    scanFailed = Signal(str)
    classified = Signal(object)  # ScanResult
    analysisFailed = Signal(str)
    heatmapReady = Signal(object)  # (H, W) array, or None when the scan has no decision to explain
    heatmapFailed = Signal(str)
    #: The current scan's work has ended (True: it has a result).
    finished = Signal(bool)
    #: A model switch dropped the open scan's result; a new one will follow.
    reanalysing = Signal()

    def __init__(self, model: ActiveModel, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self.current = OpenScan()
        self._job = LatestJob()
        model.loading.connect(self._on_model_loading)
        model.loaded.connect(lambda _classifier: self._analyse_waiting())
        model.failed.connect(lambda _message: self._analyse_waiting())

    def open(self, path) -> None:
        """Decode, classify and explain ``path``; supersedes any earlier request."""
        self.current = OpenScan(path=Path(path))
        self._job.start(open_scan_file, self.current.path, _error_path=self.current.path,
                        _connect={"returned": self._on_scan, "failed": self._on_scan_failed})

    def show(self, scan) -> None:
        """Classify and explain a scan already in memory."""
        self._job.cancel()
        self.current = OpenScan(path=Path(scan.path))
        self._on_scan((scan, display_header(scan)))

    def shutdown(self, timeout: float = 30.0) -> None:
        """Drop the request in progress and wait for its step to end (the window is closing)."""
        self._job.shutdown(timeout)

    # --- the steps (GUI thread) ---------------------------------------------------------
    def _on_scan(self, opened) -> None:
        scan, self.current.header = opened
        self.current.scan = scan
        self.scanOpened.emit(scan)
        self._analyse_waiting()

    def _on_scan_failed(self, message: str) -> None:
        self._finish(ScanResult.failed(self.current.path, message), False, self.scanFailed, message)

    def _analyse_waiting(self) -> None:
        """Classify and explain the current scan (one pass) if it waits for a model that has settled."""
        current = self.current
        if current.scan is None or current.result is not None or self.model.state == "loading":
            return
        classifier = self.model.classifier
        if classifier is None:
            self._on_analysis_failed(NO_MODEL)
            return
        self._job.start(classifier.explain, current.scan, _error_path=current.path,
                        _connect={"returned": self._on_explained, "failed": self._on_analysis_failed})

    def _on_explained(self, answer) -> None:
        result, heat = answer
        if not result.classified:
            self._finish(result, False, self.analysisFailed, result.error or "the model gave no result")
            return
        self.current.result = result
        self.classified.emit(result)
        if heat is None:
            self._on_heatmap_failed("the model gave no heat map for this decision")
        else:
            self._on_heatmap(heat)

    def _on_analysis_failed(self, message: str) -> None:
        self._finish(ScanResult.failed(self.current.path, message), False, self.analysisFailed, message)

    def _on_heatmap(self, heat) -> None:
        self.current.heatmap = heat
        self._finish(self.current.result, True, self.heatmapReady, heat)

    def _on_heatmap_failed(self, message: str) -> None:
        self.current.heatmap_error = message
        self._finish(self.current.result, True, self.heatmapFailed, message)

    def _finish(self, result: ScanResult, ok: bool, signal, value) -> None:
        self.current.result, self.current.done = result, True
        signal.emit(value)
        self.finished.emit(ok)

    def _on_model_loading(self, _path) -> None:
        """The old model's result must not stay on screen as if it were the new one's."""
        if self.current.scan is None:
            return
        self._job.cancel()
        self.current = OpenScan(path=self.current.path, scan=self.current.scan, header=self.current.header)
        self.reanalysing.emit()
