"""Background work for the viewer: model loading, scan decoding, classification, Grad-CAM.

Two worker threads keep the window responsive: one decodes files, the other owns the
model (TensorFlow is imported there, never on the GUI thread, and one thread serialises
every use of the model). Each open is a request with a new id; a worker skips a request
that is no longer current and the service drops any result whose id is not current, so
opening scans quickly one after another can never show an old scan's result for the new
one. The service's signals fire on the GUI thread and only for the current request.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from pneumonet_core.errors import PneumonetError


class RequestCounter:
    """The id of the current request, shared with the workers so they can skip stale work."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._value += 1
            return self._value

    @property
    def current(self) -> int:
        return self._value

    def is_current(self, request_id: int) -> bool:
        return request_id == self._value


def error_message(exc: BaseException, path=None) -> str:
    """One line for the user: Pneumonet's own message, else the file, the type and the reason."""
    if isinstance(exc, PneumonetError):
        return str(exc)
    if isinstance(exc, MemoryError):
        reason = "not enough memory to process this file"
    else:
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return f"{path}: {reason}" if path is not None else reason


def _prepare_heatmap_colours() -> None:
    """Import matplotlib's colour maps here, so the first heat map does not stall the GUI thread."""
    try:
        from pneumonet_gui.display import COLORMAPS, colormap_lut

        colormap_lut(COLORMAPS[0])
    except Exception:  # noqa: BLE001 - the GUI thread will report it when it draws
        pass


class DecodeWorker(QObject):
    """Reads scan files (on its own thread)."""

    loaded = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, requests: RequestCounter):
        super().__init__()
        self._requests = requests

    @Slot(int, object)
    def decode(self, request_id: int, path) -> None:
        if not self._requests.is_current(request_id):
            return
        try:
            from pneumonet_core.imaging import load_scan

            scan = load_scan(Path(path))
        except Exception as exc:  # noqa: BLE001 - any bad file becomes a message, never a crash
            self.failed.emit(request_id, error_message(exc, path))
            return
        self.loaded.emit(request_id, scan)


class ModelWorker(QObject):
    """Owns the classifier (on its own thread): loads models, classifies, explains."""

    modelLoaded = Signal(int, object, object)  # model request id, ModelCard, path
    modelFailed = Signal(int, str)
    classified = Signal(int, object)  # scan request id, Prediction
    heatmapReady = Signal(int, object)  # scan request id, (H, W) float array
    analysisFailed = Signal(int, str)
    heatmapFailed = Signal(int, str)

    def __init__(self, requests: RequestCounter, model_requests: RequestCounter):
        super().__init__()
        self._requests = requests
        self._model_requests = model_requests
        self.classifier = None

    @Slot(int, object)
    def load_model(self, request_id: int, path) -> None:
        if not self._model_requests.is_current(request_id):
            return
        try:
            # Imported here, on the worker thread: Keras/TensorFlow take seconds to import.
            from pneumonet_core.inference.classifier import Classifier

            classifier = Classifier.load(None if path is None else Path(path))
        except Exception as exc:  # noqa: BLE001
            self.classifier = None
            self.modelFailed.emit(request_id, error_message(exc, path if not isinstance(exc, PneumonetError) else None))
            return
        self.classifier = classifier
        _prepare_heatmap_colours()
        model_path = classifier.package.path if classifier.package.path else path
        self.modelLoaded.emit(request_id, classifier.card, model_path)

    @Slot(int, object)
    def analyse(self, request_id: int, scan) -> None:
        if not self._requests.is_current(request_id):
            return
        classifier = self.classifier
        if classifier is None:
            self.analysisFailed.emit(request_id, "no model is loaded (choose one in the Model menu)")
            return
        try:
            prediction = classifier.classify(scan)
        except Exception as exc:  # noqa: BLE001
            self.analysisFailed.emit(request_id, error_message(exc, scan.path))
            return
        self.classified.emit(request_id, prediction)
        if not self._requests.is_current(request_id):
            return
        try:
            heat = classifier.heatmap(scan, prediction)
        except Exception as exc:  # noqa: BLE001
            self.heatmapFailed.emit(request_id, error_message(exc))
            return
        self.heatmapReady.emit(request_id, heat)


class WorkerThread(QThread):
    """A QThread whose event loop runs inside a Python call, so it has one Python thread state.

    With the default ``run()``, PySide creates a Python thread state for each slot call
    and deletes it afterwards. TensorFlow's pybind11 code caches the thread state of the
    thread it runs on, so on the next call it finds a deleted one and deadlocks or crashes
    (seen as hangs and segfaults in ``Graph.graph_def_versions``). Entering the loop from
    Python keeps the thread's state alive for as long as the thread runs.
    """

    def run(self) -> None:
        self.exec()


class AnalysisService(QObject):
    """The GUI's handle on the workers; every signal is for the current request only."""

    _decode = Signal(int, object)
    _load_model = Signal(int, object)
    _analyse = Signal(int, object)

    modelLoading = Signal(object)  # path or None (the active model)
    modelLoaded = Signal(object, object)  # ModelCard, path
    modelFailed = Signal(str)
    scanOpened = Signal(object)  # Scan
    scanFailed = Signal(str)
    classified = Signal(object)  # Prediction
    heatmapReady = Signal(object)  # (H, W) array
    analysisFailed = Signal(str)
    heatmapFailed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.requests = RequestCounter()
        self.model_requests = RequestCounter()
        self.model_state = "none"  # none, loading, ready, failed
        self.card = None
        self.model_path = None
        self.scan = None
        self._threads: list[QThread] = []
        self._decoder = DecodeWorker(self.requests)
        self._model = ModelWorker(self.requests, self.model_requests)
        for worker, name in ((self._decoder, "pneumonet-decode"), (self._model, "pneumonet-model")):
            thread = WorkerThread(self)
            thread.setObjectName(name)
            worker.moveToThread(thread)
            thread.start()
            self._threads.append(thread)
        self._decode.connect(self._decoder.decode)
        self._load_model.connect(self._model.load_model)
        self._analyse.connect(self._model.analyse)
        self._decoder.loaded.connect(self._on_loaded)
        self._decoder.failed.connect(self._on_scan_failed)
        self._model.modelLoaded.connect(self._on_model_loaded)
        self._model.modelFailed.connect(self._on_model_failed)
        self._model.classified.connect(self._on_classified)
        self._model.heatmapReady.connect(self._on_heatmap)
        self._model.analysisFailed.connect(self._on_analysis_failed)
        self._model.heatmapFailed.connect(self._on_heatmap_failed)

    # --- requests (GUI thread) ---------------------------------------------------------
    def load_model(self, path=None) -> None:
        """Load ``path`` (None: the active model) in the background; re-analyse the open scan."""
        self.model_state = "loading"
        self._load_model.emit(self.model_requests.next(), path)
        self.modelLoading.emit(path)
        if self.scan is not None:
            self.analyse(self.scan)

    def open(self, path) -> int:
        """Decode and analyse ``path``; returns the request id. Supersedes any earlier request."""
        request_id = self.requests.next()
        self.scan = None
        self._decode.emit(request_id, Path(path))
        return request_id

    def analyse(self, scan) -> int:
        """Classify and explain an already decoded scan (e.g. after a model change)."""
        request_id = self.requests.next()
        self.scan = scan
        self._analyse.emit(request_id, scan)
        return request_id

    def cancel(self) -> None:
        """Forget the current request: its results, if any still come, are dropped."""
        self.requests.next()
        self.scan = None

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop the worker threads (waits for the step in progress, which cannot be interrupted)."""
        self.cancel()
        self.model_requests.next()
        for thread in self._threads:
            thread.quit()
        for thread in self._threads:
            thread.wait(timeout_ms)
        self._threads = []

    # --- results (delivered on the GUI thread) ------------------------------------------
    def _on_loaded(self, request_id: int, scan) -> None:
        if not self.requests.is_current(request_id):
            return
        self.scan = scan
        self.scanOpened.emit(scan)
        if self.requests.is_current(request_id):
            self._analyse.emit(request_id, scan)

    def _on_scan_failed(self, request_id: int, message: str) -> None:
        if self.requests.is_current(request_id):
            self.scanFailed.emit(message)

    def _on_model_loaded(self, request_id: int, card, path) -> None:
        if self.model_requests.is_current(request_id):
            self.model_state, self.card, self.model_path = "ready", card, path
            self.modelLoaded.emit(card, path)

    def _on_model_failed(self, request_id: int, message: str) -> None:
        if self.model_requests.is_current(request_id):
            self.model_state, self.card, self.model_path = "failed", None, None
            self.modelFailed.emit(message)

    def _on_classified(self, request_id: int, prediction) -> None:
        if self.requests.is_current(request_id):
            self.classified.emit(prediction)

    def _on_heatmap(self, request_id: int, heat) -> None:
        if self.requests.is_current(request_id):
            self.heatmapReady.emit(heat)

    def _on_analysis_failed(self, request_id: int, message: str) -> None:
        if self.requests.is_current(request_id):
            self.analysisFailed.emit(message)

    def _on_heatmap_failed(self, request_id: int, message: str) -> None:
        if self.requests.is_current(request_id):
            self.heatmapFailed.emit(message)
