"""Compare: a second pane beside the scan view, with the scan's heat map or another scan.

The pane follows the main view: the same orientation, the same point of the image at
the centre and the same share of the image across the screen, so the two stay in step
while the reader zooms, pans, turns or flips the main one.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QToolButton, QVBoxLayout, QWidget

from pneumonet_gui.image_view import ScanView
from pneumonet_gui.privacy import screen_name
from pneumonet_gui.workers import LatestJob

HEATMAP, SCAN = "heatmap", "scan"


def open_scan_file(path):
    """Decode a scan to compare with (runs in a worker)."""
    from pneumonet_core.imaging import load_scan

    return load_scan(path)


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
        self.view.set_corners_visible(False)
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

    def show_heatmap(self, scan, heat, colormap: str, opacity: float, note: str = "") -> None:
        """The same scan with its heat map (``heat`` None: the note says why there is none)."""
        self.mode, self.other_path = HEATMAP, None
        self._job.cancel()
        self.title.setText("Grad-CAM heat map" + (f" \u2014 {note}" if note else ""))
        if scan is not None and scan is not self.view.scan:
            self.view.set_scan(scan)
        self.view.set_colormap(colormap)
        self.view.set_overlay_opacity(opacity)
        self.view.set_heatmap(heat)
        self.view.set_overlay_visible(heat is not None)
        self._reveal()

    def compare_with(self, path, hide_identifiers: bool = False) -> None:
        """Open another scan in the pane (decoded on a worker); its name follows "Hide identifiers"."""
        self.mode, self.other_path = SCAN, Path(path)
        self.title.setText("Opening the scan to compare\u2026")
        self.view.set_heatmap(None)
        self._job.start(open_scan_file, self.other_path, _error_path=self.other_path,
                        _connect={"returned": lambda scan: self._on_other(scan, hide_identifiers),
                                  "failed": self._on_failed})
        self._reveal()

    def stop(self) -> None:
        self.mode, self.other_path = "", None
        self._job.cancel()
        self.view.clear()
        self.hide()

    def shutdown(self, timeout: float = 30.0) -> None:
        self._job.shutdown(timeout)

    def _on_other(self, scan, hide_identifiers: bool) -> None:
        self.view.set_scan(scan)
        self.title.setText(f"Compared with {screen_name(scan.path, scan.metadata, hide_identifiers)}")
        self.sync()

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
        main = self._main
        if self.mode == HEATMAP and main is not None and main.scan is self.view.scan:
            self.view.set_window(main.window, main.preset)
            self.view.set_inverted(main.inverted)

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
