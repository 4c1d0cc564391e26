"""The batch worker: finds and classifies scans on its own thread, reporting each result.

It runs :func:`pneumonet_core.inference.batch.classify_paths` (decoding in parallel with
batched inference) and makes each thumbnail in the decoding threads, so the GUI thread
only inserts rows. ``cancel()`` is honoured after the model batch in progress: every
result already computed is still delivered.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from pneumonet_gui.batch.table_model import THUMB_SIZE

#: Scans per model batch in the app: small enough that Cancel takes effect within a second
#: or two even for a large model on a laptop CPU, big enough to batch well.
GUI_BATCH_SIZE = 8


class BatchWorker(QThread):
    """Classify ``paths`` (files and folders, searched recursively) with ``classifier``.

    ``classifier`` may be a loaded :class:`Classifier`, or None to load ``model_path``
    (None: the active model) on this thread. Signals arrive on the GUI thread.
    """

    found = Signal(int)  # how many scan files will be classified
    resultReady = Signal(object, object)  # ScanResult, thumbnail (uint8 array or None)
    modelReady = Signal(object)  # the classifier used (so the panel can reuse it)
    failed = Signal(str)  # the run could not start or broke off (one line)
    finishedRun = Signal(bool)  # True when cancelled

    def __init__(self, paths, classifier=None, model_path=None, batch_size: int = GUI_BATCH_SIZE,
                 workers: int | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("pneumonet-batch")
        self.paths = [Path(p) for p in paths]
        self.classifier = classifier
        self.model_path = model_path
        self.batch_size = batch_size
        self.workers = workers
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - the run fails, the app does not
            from pneumonet_gui.analysis import error_message

            self.failed.emit(error_message(exc))
        finally:
            self.finishedRun.emit(self._stop.is_set())

    def _run(self) -> None:
        from pneumonet_core.imaging import find_scans
        from pneumonet_core.inference.batch import classify_paths
        from pneumonet_core.reports.heatmap_images import thumbnail

        paths = find_scans(self.paths, recursive=True)
        self.found.emit(len(paths))
        if not paths or self._stop.is_set():
            return
        if self.classifier is None:
            from pneumonet_core.inference.classifier import Classifier

            self.classifier = Classifier.load(self.model_path)
        self.modelReady.emit(self.classifier)
        thumbs: dict[str, object] = {}

        def keep_thumbnail(path, scan):  # runs in a decoding thread
            thumbs[str(path)] = thumbnail(scan.pixels, THUMB_SIZE)

        for result in classify_paths(paths, self.classifier, batch_size=self.batch_size, workers=self.workers,
                                     should_stop=self._stop.is_set, on_decoded=keep_thumbnail):
            self.resultReady.emit(result, thumbs.pop(result.path, None))
