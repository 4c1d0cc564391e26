"""Distance and angle measurements as plain data: points in image pixels, lengths in mm.

A point is (x, y) in image pixels (column, row), so a measurement stays on the anatomy
under any zoom, pan, rotation or flip. Lengths use the scan's Pixel Spacing (at the
patient) or, failing that, Imager Pixel Spacing (at the detector, which overstates
sizes by the magnification); a scan with neither is measured in pixels and says so.
No Qt here: :mod:`pneumonet_gui.measure_tool` draws and edits these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DISTANCE, ANGLE = "distance", "angle"
#: How many points each kind needs (an angle's vertex is its middle point).
POINTS = {DISTANCE: 2, ANGLE: 3}
TITLES = {DISTANCE: "Distance", ANGLE: "Angle"}


@dataclass(frozen=True)
class Calibration:
    """How image pixels become millimetres: (row, column) mm per pixel, or None for pixels."""

    spacing: tuple[float, float] | None = None
    source: str | None = None  # "Pixel Spacing" or "Imager Pixel Spacing"

    @property
    def unit(self) -> str:
        return "mm" if self.spacing else "px"

    def describe(self) -> str:
        """One line for the overlay and the report: where the millimetres come from."""
        if not self.spacing:
            return "No pixel spacing in this file: lengths in pixels"
        row, column = self.spacing
        size = f"{row:.3g} mm" if math.isclose(row, column) else f"{row:.3g} \u00d7 {column:.3g} mm"
        where = " (at the detector)" if self.source == "Imager Pixel Spacing" else ""
        return f"{self.source or 'Pixel spacing'}: {size} per pixel{where}"

    def scaled(self, dx: float, dy: float) -> tuple[float, float]:
        """An image-pixel offset (columns, rows) in the unit of :attr:`unit`."""
        if not self.spacing:
            return dx, dy
        row, column = self.spacing
        return dx * column, dy * row


@dataclass
class Measurement:
    """One measurement: its kind and its points (x, y) in image pixels."""

    kind: str
    points: list[tuple[float, float]] = field(default_factory=list)
    number: int = 0

    @property
    def complete(self) -> bool:
        return len(self.points) >= POINTS[self.kind]

    @property
    def name(self) -> str:
        return f"{TITLES[self.kind]} {self.number}"

    def value(self, calibration: Calibration) -> float | None:
        """The length in mm (or px), or the angle in degrees; None while points are missing."""
        if not self.complete:
            return None
        if self.kind == DISTANCE:
            return length(self.points[0], self.points[1], calibration)
        return angle(self.points[0], self.points[1], self.points[2], calibration)

    def text(self, calibration: Calibration) -> str:
        """The value as the viewer and the report print it: "42.3 mm", "118 px", "37.5\u00b0"."""
        value = self.value(calibration)
        if value is None:
            return ""
        if self.kind == ANGLE:
            return f"{value:.1f}\u00b0"
        return f"{value:.1f} mm" if calibration.spacing else f"{value:.0f} px"


def length(a, b, calibration: Calibration) -> float:
    """Length from ``a`` to ``b`` (image pixels) in mm, or in pixels without a spacing."""
    dx, dy = calibration.scaled(b[0] - a[0], b[1] - a[1])
    return math.hypot(dx, dy)


def angle(a, vertex, b, calibration: Calibration) -> float:
    """The angle a-vertex-b in degrees (0..180), measured on the patient's proportions."""
    ax, ay = calibration.scaled(a[0] - vertex[0], a[1] - vertex[1])
    bx, by = calibration.scaled(b[0] - vertex[0], b[1] - vertex[1])
    if (ax == 0 and ay == 0) or (bx == 0 and by == 0):
        return 0.0
    return abs(math.degrees(math.atan2(ax * by - ay * bx, ax * bx + ay * by)))


class MeasurementSet:
    """The open scan's measurements, numbered per kind; listeners hear every change."""

    def __init__(self) -> None:
        self.items: list[Measurement] = []
        self.calibration = Calibration()
        self._listeners: list = []
        self._counts = {DISTANCE: 0, ANGLE: 0}

    def subscribe(self, listener) -> None:
        """``listener()`` is called after every change."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def reset(self, calibration: Calibration) -> None:
        """A new scan: no measurements, its calibration."""
        self.items, self.calibration = [], calibration
        self._counts = {DISTANCE: 0, ANGLE: 0}
        self._changed()

    def add(self, kind: str, points) -> Measurement:
        self._counts[kind] += 1
        measurement = Measurement(kind, [tuple(map(float, p)) for p in points], self._counts[kind])
        self.items.append(measurement)
        self._changed()
        return measurement

    def move_point(self, measurement: Measurement, index: int, point) -> None:
        measurement.points[index] = (float(point[0]), float(point[1]))
        self._changed()

    def remove(self, measurement: Measurement) -> None:
        if measurement in self.items:
            self.items.remove(measurement)
            self._changed()

    def clear(self) -> None:
        if self.items:
            self.items = []
            self._changed()

    def report_rows(self) -> list[tuple[str, str]]:
        """(name, value) rows for the PDF report, the calibration last."""
        rows = [(m.name, m.text(self.calibration)) for m in self.items if m.complete]
        if rows:
            rows.append(("Calibration", self.calibration.describe()))
        return rows
