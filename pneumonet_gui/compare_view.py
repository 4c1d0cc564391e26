"""Compare: a second pane beside the scan view, with the scan's heat map or another scan.

The pane follows the main view: the same orientation, the same point of the image at
the centre and the same share of the image across the screen, so the two stay in step
while the reader zooms, pans, turns or flips the main one, and after either is resized.
Another scan is read like the main one: the active model classifies and explains it (its
decision in the title, its heat map by the same rules), its corners show its patient,
window/level and orientation, and it takes the main view's window preset (each scan's
own "Lung" or "Bone", computed from its values) and inversion.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QToolButton, QVBoxLayout, QWidget

from pneumonet_core.reports.summary import format_pair
from pneumonet_core.results import decision_words
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.overlays import ViewState, corner_texts
from pneumonet_gui.privacy import screen_name
from pneumonet_gui.trust import heatmap_policy
from pneumonet_gui.viewer_controller import open_scan_file as open_and_read_header
from pneumonet_gui.workers import LatestJob

HEATMAP, SCAN = "heatmap", "scan"


def open_scan_file(path, classifier=None):
    """Decode a scan to compare with and, given the model, classify and explain it (runs in a worker).

    Returns (scan, display header, result or None, heat map or None).
    """
    scan, header = open_and_read_header(path)
    if classifier is None:
        return scan, header, None, None
    result, heat = classifier.explain(scan)  # the classifier's lock makes it take turns with the viewer
    return scan, header, result, heat


def result_line(result) -> str:
    """The compared scan's result in a few words, for the pane's title."""
    if result is None:
        return "no model to classify it"
    if result.withheld:
        return "result withheld: not a chest X-ray this model knows"
    if not result.classified:
        return f"not classified: {result.error}"
    return f"{decision_words(result.label)}, p = {format_pair(result.probability, result.threshold)[0]}"


class ComparePane(QWidget):
    """The right-hand pane of a comparison; hidden when not comparing."""

    #: The user closed the comparison.
    closed = Signal()
    #: Another scan to compare could not be opened: the reason.
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.mode = ""
        self.other_path: Path | None = None
        self._job = LatestJob()
        self._main: ScanView | None = None
        #: The compared scan's (header, result, heat map) and the reader's heat-map choices.
        self.other: tuple = (None, None, None)
        self.hide_identifiers = False
        self._heat_choice = (True, False)  # (shown, also for NORMAL)
        self.title = QLabel()
        self.title.setObjectName("muted")
        close = QToolButton()
        close.setText("\u2715")
        close.setToolTip("Stop comparing")
        close.clicked.connect(self.closed)
        top = QHBoxLayout()
        top.setContentsMargins(6, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(close)
        self.view = ScanView()
        self.view.set_corners_visible(False)  # the same scan beside its heat map needs no second set
        for signal in (self.view.windowChanged, self.view.zoomChanged, self.view.viewChanged):
            signal.connect(lambda *_: self._refresh_corners())
        self.view.viewport().installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.hide()

    def attach(self, main: ScanView) -> None:
        """Follow ``main``'s view from now on."""
        self._main = main
        main.viewChanged.connect(self.sync)
        main.windowChanged.connect(lambda *_: self._sync_window())
        main.viewport().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        """Either pane resized: level them again once the layout has settled (they drifted 58 px)."""
        if event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self, self.sync)
        return False

    def show_heatmap(self, scan, heat, colormap: str, opacity: float, note: str = "") -> None:
        """The same scan with its heat map (``heat`` None: the note says why there is none)."""
        self.mode, self.other_path = HEATMAP, None
        self._job.cancel()
        self.title.setText("Grad-CAM heat map" + (f" \u2014 {note}" if note else ""))
        self.view.set_corners_visible(False)
        if scan is not None and scan is not self.view.scan:
            self.view.set_scan(scan)
        self.view.set_colormap(colormap)
        self.view.set_overlay_opacity(opacity)
        self.view.set_heatmap(heat)
        self.view.set_overlay_visible(heat is not None)
        self._reveal()

    def compare_with(self, path, hide_identifiers: bool = False, classifier=None) -> None:
        """Open another scan in the pane and, given the model, classify it (on a worker); its name
        follows "Hide identifiers"."""
        self.mode, self.other_path = SCAN, Path(path)
        self.title.setText("Opening the scan to compare\u2026")
        self.view.set_heatmap(None)
        self._job.start(open_scan_file, self.other_path, classifier, _error_path=self.other_path,
                        _connect={"returned": lambda scan: self._on_other(scan, hide_identifiers),
                                  "failed": self._on_failed})
        self._reveal()

    def stop(self) -> None:
        self.mode, self.other_path, self.other = "", None, (None, None, None)
        self._job.cancel()
        self.view.clear()
        self.view.set_corners_visible(False)
        self.hide()

    def set_heatmap_choice(self, shown: bool, show_for_normal: bool) -> None:
        """The reader's H and "also for NORMAL" choices, applied to a compared scan too."""
        self._heat_choice = (bool(shown), bool(show_for_normal))
        self._apply_heat()

    def shutdown(self, timeout: float = 30.0) -> None:
        self._job.shutdown(timeout)

    def _on_other(self, opened, hide_identifiers: bool) -> None:
        scan, header, result, heat = opened
        self.other, self.hide_identifiers = (header, result, heat), hide_identifiers
        self.view.set_scan(scan)
        self.view.set_corners_visible(True)
        name = screen_name(scan.path, scan.metadata, hide_identifiers)
        self.title.setText(f"Compared with {name} \u2014 {result_line(result)}")
        self._apply_heat()
        self._sync_window()
        self.sync()

    def _apply_heat(self) -> None:
        if self.mode != SCAN or self.view.scan is None:
            return
        _header, result, heat = self.other
        shown, for_normal = self._heat_choice
        allowed = heat is not None and heatmap_policy(result, for_normal)[0]
        main = self._main
        if main is not None:
            self.view.set_colormap(main.colormap)
            self.view.set_overlay_opacity(main.overlay_opacity)
        self.view.set_heatmap(heat if allowed else None)
        self.view.set_overlay_visible(allowed and shown)

    def _refresh_corners(self) -> None:
        view = self.view
        if self.mode != SCAN or view.scan is None:
            return
        header = self.other[0]
        state = ViewState(window=(view.window.centre, view.window.width), preset=view.preset, zoom=view.zoom(),
                          inverted=view.inverted, orientation=view.orientation.describe(),
                          edges=view.orientation.edge_letters(getattr(header, "patient_orientation", None)))
        view.set_corner_texts(corner_texts(view.scan, header, state, self.hide_identifiers))

    def _on_failed(self, message: str) -> None:
        self.title.setText(f"Could not open: {message}")
        self.failed.emit(message)

    def _reveal(self) -> None:
        if not self.isVisible():
            self.show()
            splitter = self.parentWidget()
            if isinstance(splitter, QSplitter):  # two panes of one size: the comparison is fair
                total = sum(splitter.sizes())
                splitter.setSizes([total - total // 2, total // 2])
        self.sync()

    def _sync_window(self) -> None:
        main, view = self._main, self.view
        if main is None or view.scan is None:
            return
        if self.mode == HEATMAP and main.scan is view.scan:
            view.set_window(main.window, main.preset)
            view.set_inverted(main.inverted)
        elif self.mode == SCAN:
            # Another film has other values: the same preset, computed from its own; a typed or
            # dragged window stays the reader's to set on it (right-drag on the pane).
            if main.preset in view.presets() and main.preset != view.preset:
                view.apply_preset(main.preset)
            if view.inverted != main.inverted:
                view.set_inverted(main.inverted)

    def sync(self) -> None:
        """Take the main view's orientation, centre and scale, relative to each image's size."""
        main, view = self._main, self.view
        if main is None or not self.isVisible() or main.scan is None or view.scan is None:
            return
        if view.orientation != main.orientation:
            view.set_orientation(main.orientation)
        mine, theirs = view.image_item.boundingRect(), main.image_item.boundingRect()
        if theirs.width() <= 0 or mine.width() <= 0:
            return
        ratio = theirs.width() / mine.width()
        centre = main.image_item.mapFromScene(main.mapToScene(main.viewport().rect().center()))
        fx, fy = centre.x() / theirs.width(), centre.y() / theirs.height()
        scale = abs(main.transform().m11()) * ratio
        view.look_at(scale, QPointF(fx * mine.width(), fy * mine.height()))
        # Level with the main view: the pane's title row puts its centre lower on screen.
        level = view.viewport().mapFromGlobal(main.viewport().mapToGlobal(main.viewport().rect().center())).y()
        view.pan_by(0, view.viewport().rect().center().y() - level)
