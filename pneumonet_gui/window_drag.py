"""Right-drag window/level on a scan view, as PACS viewers do it.

Moves arrive faster than a large scan re-renders, so only the latest window is applied,
on the next turn of the event loop.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, QTimer

from pneumonet_gui import display
from pneumonet_gui.display import Window


class WindowLevelDrag:
    """Turns right-button drags on ``view`` into :meth:`ScanView.set_window` calls."""

    def __init__(self, view):
        self.view = view
        self._start: tuple[QPointF, Window, float] | None = None
        self._pending: Window | None = None
        self._timer = QTimer(view)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._apply)

    def press(self, event) -> bool:
        scan = self.view.scan
        if event.button() != Qt.MouseButton.RightButton or scan is None:
            return False
        lo, hi = display.value_range(scan)
        self._start = (event.position(), self.view.window, hi - lo)
        self.view.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
        event.accept()
        return True

    def move(self, event) -> bool:
        if self._start is None:
            return False
        start, window, span = self._start
        delta = event.position() - start
        self._pending = display.window_after_drag(window, delta.x(), delta.y(), span,
                                                  display.min_width(self.view.scan))
        if not self._timer.isActive():
            self._timer.start()
        event.accept()
        return True

    def release(self, event) -> bool:
        if event.button() != Qt.MouseButton.RightButton or self._start is None:
            return False
        self._start = None
        self._apply()
        self.view.viewport().unsetCursor()
        event.accept()
        return True

    def _apply(self) -> None:
        self._timer.stop()
        if self._pending is not None:
            window, self._pending = self._pending, None
            self.view.set_window(window)
