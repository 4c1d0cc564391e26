"""The status bar's permanent fields: the value under the cursor, window/level, zoom, the
model in use, and a busy bar while a model loads or a scan is analysed.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from pneumonet_gui.display import Window, window_text


class StatusFields:
    """Adds the fields to ``status_bar`` and follows the viewer's hover, window and zoom."""

    def __init__(self, status_bar: QStatusBar, viewer):
        self.hover = QLabel()
        self.window = QLabel()
        self.zoom = QLabel()
        self.model = QLabel("Model: \u2014")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedWidth(90)
        self.busy.setMaximumHeight(12)
        self.busy.setTextVisible(False)
        self.busy.hide()
        metrics = status_bar.fontMetrics()
        for label, sample in ((self.window, "W 00000  L 00000"), (self.zoom, "Zoom 0000%"),
                              (self.model, "Model: loading\u2026")):
            label.setMinimumWidth(metrics.horizontalAdvance(sample) + 16)
        for widget in (self.hover, self.window, self.zoom, self.model, self.busy):
            status_bar.addPermanentWidget(widget)
        self._viewer = viewer
        viewer.hovered.connect(self._on_hover)
        viewer.windowChanged.connect(self._on_window_changed)
        viewer.zoomChanged.connect(self._on_zoom)

    def clear(self) -> None:
        """Another scan is opening: the old scan's readouts must not stay on screen."""
        for label in (self.hover, self.window, self.zoom):
            label.setText("")

    def _on_hover(self, x: int, y: int, value: float) -> None:
        self.hover.setText("" if value != value else f"x {x}  y {y}  value {value:.4g}")

    def _on_zoom(self, zoom: float) -> None:
        # The empty viewer zooms too (on a resize): without a scan there is no zoom to claim.
        self.zoom.setText(f"Zoom {zoom * 100:.0f}%" if self._viewer.scan is not None else "")

    def _on_window_changed(self, window: Window, _preset: str) -> None:
        scan = self._viewer.scan
        self.window.setText(window_text(scan, window) if scan is not None else "")
