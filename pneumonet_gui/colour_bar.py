"""The heat map's legend: the colour map as a bar from "little" to "most" influence.

Drawn with the same colours and the same transparency floor as the overlay, so what the
reader sees on the film can be read off the bar.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from pneumonet_gui import display, theme
from pneumonet_gui.qimage import rgba_to_qimage


class ColourBar(QWidget):
    """A horizontal colour bar for one colour map, with its two ends named."""

    def __init__(self, colormap: str = display.COLORMAPS[0], parent=None):
        super().__init__(parent)
        self._colormap = colormap
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(f"Heat-map colours: clear below {display.HEAT_FLOOR:.0%} of the strongest influence, then "
                        "from cool to hot")

    @property
    def colormap(self) -> str:
        return self._colormap

    def set_colormap(self, name: str) -> None:
        self._colormap = name
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(200, self.fontMetrics().height() + 18)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self.fontMetrics().height() + 18)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        paint_bar(painter, QRectF(1, 1, self.width() - 2, 12), self._colormap, QColor(theme.MUTED),
                  ("little influence", "most"))
        painter.end()


def paint_bar(painter: QPainter, bar: QRectF, colormap: str, pen: QColor, ends: tuple[str, str]) -> None:
    """The colour bar in ``bar`` over a grey that shows what "clear" looks like, its ends named below."""
    values = np.linspace(0.0, 1.0, 256, dtype=np.float32).reshape(1, -1)
    painter.fillRect(bar, QColor(theme.BORDER))
    painter.drawImage(bar, rgba_to_qimage(display.heatmap_rgba(values, colormap)))
    painter.setPen(pen)
    text = QRectF(bar.left(), bar.bottom() + 2, bar.width(), painter.fontMetrics().height() + 2)
    painter.drawText(text, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), ends[0])
    painter.drawText(text, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop), ends[1])
