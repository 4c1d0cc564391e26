"""The app's one model: the active :class:`Classifier`, loaded once in the background and
shared by the viewer and batch runs.

The model runs on LiteRT by default (no TensorFlow); Keras and TensorFlow, when used
(``PNEUMONET_RUNTIME=tensorflow``, bfloat16, deriving a new package's graph), are imported
by the load job, never on the GUI thread. The model is ready as soon as it is loaded; a
second job then warms it (:meth:`Classifier.warm_up`: under TensorFlow it compiles the
one-pass graph, and a scan that comes meanwhile is answered eagerly). A new load
supersedes one in progress (the newest choice wins), and until it is done nobody gets a
classifier: the viewer and the batch panel wait for :attr:`ActiveModel.loaded`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from pneumonet_gui.workers import LatestJob

log = logging.getLogger(__name__)

#: The user was told to pick a model here when there is none to use.
NO_MODEL = "no model is loaded (choose one in the Model menu)"


def load_classifier(path: Path | None, precision: str | None = None):
    """Load ``path`` (None: the active model) and warm the heat-map colours (runs in a worker).

    ``precision`` "bfloat16" (from the Preferences) runs the model in mixed bfloat16;
    None loads it in float32.
    """
    from pneumonet_core.inference.classifier import Classifier

    classifier = Classifier.load(path, precision=precision or "float32")
    try:  # matplotlib's colour maps, imported here so the first heat map does not stall the GUI thread
        from pneumonet_gui.display import COLORMAPS, colormap_lut

        colormap_lut(COLORMAPS[0])
    except Exception:  # the GUI thread will report it when it draws
        log.debug("colour maps not preloaded", exc_info=True)
    return classifier


class ActiveModel(QObject):
    """Which classifier the app uses now: ``state`` is none, loading, ready or failed."""

    loading = Signal(object)  # path, or None for the active model
    loaded = Signal(object)  # Classifier
    failed = Signal(str)  # one line

    def __init__(self, classifier=None, parent: QObject | None = None):
        super().__init__(parent)
        self.classifier = classifier
        self.state = "ready" if classifier is not None else "none"
        self.error: str | None = None
        self._requested: Path | None = None
        self._load = LatestJob()
        #: How the model computes, when the user chose it (Preferences); None: the core's default.
        self.precision: str | None = None
        self._warm = LatestJob()

    @property
    def card(self):
        return self.classifier.card if self.classifier is not None else None

    @property
    def path(self) -> Path | None:
        """The model file in use (None while loading or without a model)."""
        if self.classifier is None:
            return None
        return self.classifier.package.path or self._requested

    def load(self, path=None) -> None:
        """Load ``path`` (None: the active model) in the background, replacing the classifier in use."""
        self._requested = None if path is None else Path(path)
        self.classifier, self.state, self.error = None, "loading", None
        self._load.start(load_classifier, self._requested, self.precision, _error_path=self._requested,
                         _connect={"returned": self._on_loaded, "failed": self._on_failed})
        self.loading.emit(self._requested)

    def reload(self) -> None:
        """Load the same model again (after its precision changed)."""
        self.load(self._requested)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Drop a load in progress and wait for it and a compilation (the window is closing)."""
        self._load.shutdown(timeout)
        self._warm.shutdown(timeout)

    def _on_loaded(self, classifier) -> None:
        self.classifier, self.state = classifier, "ready"
        # Ready at once: the first scan is answered eagerly while the graph compiles.
        warm_up = getattr(classifier, "warm_up", None)
        if warm_up is not None:
            classifier.warming = True
        self.loaded.emit(classifier)
        if warm_up is not None:
            self._warm.start(warm_up)

    def _on_failed(self, message: str) -> None:
        self.state, self.error = "failed", message
        self.failed.emit(message)
