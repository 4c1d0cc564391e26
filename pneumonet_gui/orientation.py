"""How the scan is turned on screen: quarter turns and mirror flips, as plain data.

The orientation is one of the eight symmetries of a rectangle, kept as a 2 x 2 integer
matrix acting on screen directions (x right, y down). Each command applies on top of
what is on screen, so "flip horizontally" after "rotate right" still mirrors left and
right as the reader sees them. Measurements stay in image pixels, unaffected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pneumonet_core.imaging.dicom_display import opposite

_ROTATE_RIGHT = ((0, -1), (1, 0))  # clockwise on a y-down screen
_ROTATE_LEFT = ((0, 1), (-1, 0))
_FLIP_H = ((-1, 0), (0, 1))
_FLIP_V = ((1, 0), (0, -1))


def _times(a, b):
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(2)) for j in range(2)) for i in range(2))


@dataclass(frozen=True)
class Orientation:
    """``matrix`` maps an image direction to a screen direction: [x'; y'] = M [x; y]."""

    matrix: tuple = ((1, 0), (0, 1))

    def _then(self, op) -> Orientation:
        return Orientation(_times(op, self.matrix))

    def rotated_right(self) -> Orientation:
        return self._then(_ROTATE_RIGHT)

    def rotated_left(self) -> Orientation:
        return self._then(_ROTATE_LEFT)

    def flipped_horizontally(self) -> Orientation:
        return self._then(_FLIP_H)

    def flipped_vertically(self) -> Orientation:
        return self._then(_FLIP_V)

    @property
    def flipped(self) -> bool:
        (a, b), (c, d) = self.matrix
        return a * d - b * c < 0

    @property
    def rotation(self) -> int:
        """Clockwise quarter turns in degrees (0, 90, 180, 270), after any horizontal mirror."""
        (a, _b), (c, _d) = self.matrix if not self.flipped else _times(self.matrix, _FLIP_H)
        return round(math.degrees(math.atan2(c, a))) % 360

    @property
    def is_identity(self) -> bool:
        return self.matrix == ((1, 0), (0, 1))

    def affine(self, cx: float, cy: float) -> tuple[float, ...]:
        """Qt's QTransform(m11, m12, m21, m22, dx, dy) turning the image about (cx, cy)."""
        (a, b), (c, d) = self.matrix
        return a, c, b, d, cx - a * cx - b * cy, cy - c * cx - d * cy

    def edge_letters(self, patient_orientation: tuple[str, str] | None) -> dict[str, str]:
        """The patient direction at each screen edge ("left", "right", "top", "bottom") as turned
        now, from the file's (row, column) directions; {} when the file does not say.

        Like Weasis and RadiAnt: "R" at the left edge of a frontal film shown as acquired,
        swapped by a mirror flip, carried round by a turn.
        """
        if not patient_orientation:
            return {}
        row, column = patient_orientation
        along = {(1, 0): row, (-1, 0): opposite(row), (0, 1): column, (0, -1): opposite(column)}
        (a, b), (c, d) = self.matrix  # the image direction shown along screen +x is M's first row
        right, bottom = along[(a, b)], along[(c, d)]
        return {"left": opposite(right), "right": right, "top": opposite(bottom), "bottom": bottom}

    def describe(self) -> str:
        """For the corner overlay: "" when as acquired, else e.g. "Rotated 90\u00b0, mirrored"."""
        parts = []
        if self.rotation:
            parts.append(f"Rotated {self.rotation}\u00b0")
        if self.flipped:
            parts.append("mirrored" if parts else "Mirrored")
        return ", ".join(parts)
