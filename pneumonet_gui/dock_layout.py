"""Where the main window's docks go and how big they are, so nothing is cut at 1280 x 720.

- Panels added at the bottom (batch, worklist) share one tabbed dock area: side by side,
  their minimum widths added up past a 1280-pixel screen and squeezed the Result dock.
- A bottom panel, when shown, takes most of the height the scan can spare.
- The Result dock is as tall as its content (result, heat-map controls, legend and note)
  asks, taken from the scan information below it, which scrolls anyway.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

#: What the scan keeps when a bottom panel opens.
SCAN_MIN_HEIGHT = 240
#: What the scan information keeps when the Result dock grows to fit its content.
METADATA_MIN_HEIGHT = 120

_BOTTOM = (Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.TopDockWidgetArea)


def place_panel(window: QMainWindow, dock: QDockWidget, area, beside: QDockWidget) -> None:
    """Right: tabbed with ``beside`` (the scan information). Bottom: tabbed with the bottom panels."""
    if area == Qt.DockWidgetArea.RightDockWidgetArea:
        window.tabifyDockWidget(beside, dock)
        beside.raise_()
        return
    if area not in _BOTTOM:
        return
    others = [d for d in window.findChildren(QDockWidget)
              if d is not dock and window.dockWidgetArea(d) == area and not d.isFloating()]
    if others:
        window.tabifyDockWidget(others[0], dock)
    # Shown later at its smallest, a table would show three rows: give it room.
    dock.visibilityChanged.connect(lambda shown: shown and size_bottom_dock(window, dock))


def size_bottom_dock(window: QMainWindow, dock: QDockWidget) -> None:
    """Most of the height the scan can spare (it keeps 240 px), at most two thirds of it."""
    if dock.isFloating():
        return
    shared = window.centralWidget().height() + dock.height()
    target = max(int(0.4 * shared), min(int(0.66 * shared), shared - SCAN_MIN_HEIGHT))
    if dock.height() < target:
        window.resizeDocks([dock], [target], Qt.Orientation.Vertical)


def fit_result_dock(window: QMainWindow, result_dock: QDockWidget, metadata_dock: QDockWidget) -> None:
    """Make the Result dock as tall as its content asks, down to 120 px left for the scan information."""
    if result_dock.isFloating() or metadata_dock.isFloating() or not metadata_dock.isVisible():
        return
    scroll = result_dock.widget()
    page = scroll.widget()
    layout, width = page.layout(), scroll.viewport().width()
    content = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else page.sizeHint().height()
    chrome = result_dock.height() - scroll.viewport().height()  # title bar and margins
    need = content + chrome
    shared = result_dock.height() + metadata_dock.height()
    target = min(need, shared - METADATA_MIN_HEIGHT)
    if abs(result_dock.height() - target) > 2:
        window.resizeDocks([result_dock, metadata_dock], [target, shared - target], Qt.Orientation.Vertical)


class ResultDockFitter(QObject):
    """Fits the Result dock to its content when asked (a result, a note), when its width
    changes (narrower, its texts wrap onto more lines) and when the window's height does.
    A height the reader drags between the two docks is kept."""

    def __init__(self, window: QMainWindow, result_dock: QDockWidget, metadata_dock: QDockWidget):
        super().__init__(window)
        self.window, self.result_dock, self.metadata_dock = window, result_dock, metadata_dock
        self._seen = (-1, -1)  # (the dock's width, the two docks' height)
        result_dock.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            seen = (watched.width(), watched.height() + self.metadata_dock.height())
            if seen != self._seen:
                self._seen = seen
                self.schedule()
        return False

    def schedule(self) -> None:
        """Fit once the layout has settled (and never after the window is gone: self is its child)."""
        QTimer.singleShot(0, self, self.fit)

    def fit(self) -> None:
        fit_result_dock(self.window, self.result_dock, self.metadata_dock)
