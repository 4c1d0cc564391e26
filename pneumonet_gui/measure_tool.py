"""Draw, edit and delete measurements on the scan view (the Qt side of :mod:`measurements`).

One :class:`MeasureTool` per view takes the left button before panning does: in
distance or angle mode a press (or press, drag, release) places each point; in any mode
a press on a point's handle drags it, and a press on a line selects its measurement for
Delete. Each measurement is drawn by a :class:`MeasurementItem`, a child of the image
item, so it follows zoom, pan, rotation and flip; handles and labels are drawn at a fixed
screen size, upright.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from pneumonet_gui.measurements import ANGLE, POINTS, Measurement, MeasurementSet

LINE = QColor(255, 214, 74)
SELECTED = QColor(90, 200, 255)
#: Screen pixels: how near a press must be to grab a handle or pick a line, and how far a
#: press must drag to count as placing a second point.
GRAB, DRAG = 8.0, 5.0


class MeasurementItem(QGraphicsItem):
    """Draws one measurement: its lines, a handle per point and its value, upright."""

    def __init__(self, measurement: Measurement, measurements: MeasurementSet, parent: QGraphicsItem):
        super().__init__(parent)
        self.measurement = measurement
        self._set = measurements
        self.selected = False
        self.setZValue(10)

    def boundingRect(self) -> QRectF:
        points = self.measurement.points or [(0.0, 0.0)]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        parent = self.parentItem().boundingRect() if self.parentItem() else QRectF(0, 0, 100, 100)
        margin = 0.15 * max(parent.width(), parent.height(), 1.0)  # room for the upright label
        return QRectF(min(xs) - margin, min(ys) - margin, max(xs) - min(xs) + 2 * margin,
                      max(ys) - min(ys) + 2 * margin)

    def refresh(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        points = [QPointF(x, y) for x, y in self.measurement.points]
        if not points:
            return
        colour = SELECTED if self.selected else LINE
        to_screen = painter.worldTransform()
        painter.save()
        painter.resetTransform()  # screen space: constant line width, handles and upright text
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        screen = [to_screen.map(p) for p in points]
        painter.setPen(QPen(QColor(0, 0, 0, 160), 4))
        for a, b in zip(screen, screen[1:]):
            painter.drawLine(a, b)
        painter.setPen(QPen(colour, 2))
        for a, b in zip(screen, screen[1:]):
            painter.drawLine(a, b)
        painter.setBrush(QColor(0, 0, 0, 120))
        for p in screen:
            painter.drawRect(QRectF(p.x() - 4, p.y() - 4, 8, 8))
        text = self.measurement.text(self._set.calibration)
        if text:
            anchor = screen[1] if self.measurement.kind == ANGLE else (screen[0] + screen[-1]) / 2
            font = QFont(painter.font())
            font.setBold(True)
            painter.setFont(font)
            label = QPointF(anchor.x() + 10, anchor.y() - 10)
            painter.setPen(QColor(0, 0, 0, 220))
            painter.drawText(label + QPointF(1, 1), text)
            painter.setPen(colour)
            painter.drawText(label, text)
        painter.restore()


class MeasureTool(QObject):
    """The view's measuring tool: modes, creation, handle drags, selection and deletion."""

    #: The mode changed: "distance", "angle" or "" (pan and edit).
    modeChanged = Signal(str)
    #: A measurement was added, moved or removed, or the selection changed.
    changed = Signal()

    def __init__(self, view, measurements: MeasurementSet, parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.measurements = measurements
        self.mode = ""
        self.selected: Measurement | None = None
        self._items: dict[int, MeasurementItem] = {}
        self._drawing: Measurement | None = None  # being placed; its last point follows the mouse
        self._press: QPointF | None = None
        self._dragging: tuple[Measurement, int] | None = None
        measurements.subscribe(self._sync)
        view.tool = self

    # --- commands ------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Measure distances or angles, or "" to pan again (what Escape does)."""
        self.cancel()
        self.mode = mode if mode in POINTS else ""
        if self.mode:
            self.view.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.view.viewport().unsetCursor()
        self.modeChanged.emit(self.mode)

    def cancel(self) -> None:
        """Drop the measurement being placed."""
        drawing, self._drawing = self._drawing, None
        if drawing is not None:
            self.measurements.remove(drawing)

    def delete_selected(self) -> bool:
        if self.selected is None:
            return False
        selected, self.selected = self.selected, None
        self.measurements.remove(selected)
        return True

    def clear(self) -> None:
        self._drawing = self.selected = None
        self.measurements.clear()

    def select(self, measurement: Measurement | None) -> None:
        self.selected = measurement
        for item in self._items.values():
            item.selected = item.measurement is measurement
            item.update()
        self.changed.emit()

    # --- mouse (called by the view for its left button) ------------------------------------
    def press(self, view, event) -> bool:
        pos = event.position()
        if self._drawing is not None:
            self._fix_point(pos)
            return True
        grabbed = self._handle_at(pos)
        if grabbed is not None:
            self._dragging = grabbed
            self.select(grabbed[0])
            return True
        if self.mode:
            point = self._image(pos)
            self._drawing = self.measurements.add(self.mode, [point, point])
            self._press = pos
            self.select(None)
            return True
        line = self._line_at(pos)
        self.select(line)
        return line is not None

    def move(self, view, event) -> bool:
        pos = event.position()
        if self._dragging is not None:
            measurement, index = self._dragging
            self.measurements.move_point(measurement, index, self._image(pos))
            return True
        if self._drawing is not None:
            self.measurements.move_point(self._drawing, len(self._drawing.points) - 1, self._image(pos))
            return True
        return False

    def release(self, view, event) -> bool:
        if self._dragging is not None:
            self._dragging = None
            return True
        if self._drawing is None:
            return False
        press, self._press = self._press, None
        if press is not None and math.dist((press.x(), press.y()), (event.position().x(), event.position().y())) > DRAG:
            self._fix_point(event.position())  # press, drag, release: the drag placed a point
        return True

    def _fix_point(self, pos: QPointF) -> None:
        drawing = self._drawing
        self.measurements.move_point(drawing, len(drawing.points) - 1, self._image(pos))
        if len(drawing.points) >= POINTS[drawing.kind]:
            self._drawing = None
            self.select(drawing)
        else:
            drawing.points.append(self._image(pos))
            self.measurements.move_point(drawing, len(drawing.points) - 1, self._image(pos))

    # --- geometry --------------------------------------------------------------------------
    def _image(self, pos: QPointF) -> tuple[float, float]:
        point = self.view.image_point(pos)
        return point.x(), point.y()

    def _screen(self, point) -> QPointF:
        return QPointF(self.view.mapFromScene(self.view.image_item.mapToScene(QPointF(*point))))

    def _handle_at(self, pos: QPointF) -> tuple[Measurement, int] | None:
        best = None
        for measurement in self.measurements.items:
            for index, point in enumerate(measurement.points):
                distance = _distance(self._screen(point), pos)
                if distance <= GRAB and (best is None or distance < best[0]):
                    best = (distance, measurement, index)
        return None if best is None else (best[1], best[2])

    def _line_at(self, pos: QPointF) -> Measurement | None:
        for measurement in reversed(self.measurements.items):
            screen = [self._screen(p) for p in measurement.points]
            if any(_to_segment(pos, a, b) <= GRAB for a, b in zip(screen, screen[1:])):
                return measurement
        return None

    # --- items -----------------------------------------------------------------------------
    def _sync(self) -> None:
        """Make the drawn items match the measurements (added, moved, removed, new scan)."""
        alive = {id(m): m for m in self.measurements.items}
        for key in [k for k in self._items if k not in alive]:
            item = self._items.pop(key)
            item.setParentItem(None)
            if item.scene() is not None:
                item.scene().removeItem(item)
        for key, measurement in alive.items():
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = MeasurementItem(measurement, self.measurements, self.view.image_item)
            item.selected = measurement is self.selected
            item.refresh()
        if self.selected is not None and id(self.selected) not in alive:
            self.selected = None
        if self._drawing is not None and id(self._drawing) not in alive:
            self._drawing = None
        self.view.viewport().update()
        self.changed.emit()


def _distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


def _to_segment(p: QPointF, a: QPointF, b: QPointF) -> float:
    dx, dy = b.x() - a.x(), b.y() - a.y()
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p.x() - a.x()) * dx + (p.y() - a.y()) * dy) / length2))
    return math.hypot(p.x() - a.x() - t * dx, p.y() - a.y() - t * dy)

