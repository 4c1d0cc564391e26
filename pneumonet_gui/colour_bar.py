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
        self.setToolTip("Heat-map colours: clear below 15 % of the strongest influence, then from cool to hot")

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
        bar = QRectF(1, 1, self.width() - 2, 12)
        values = np.linspace(0.0, 1.0, 256, dtype=np.float32).reshape(1, -1)
        image = rgba_to_qimage(display.heatmap_rgba(values, self._colormap))
        painter.fillRect(bar, QColor(theme.BORDER))  # what "clear" looks like
        painter.drawImage(bar, image)
        painter.setPen(QColor(theme.MUTED))
        text = QRectF(0, 15, self.width(), self.height() - 15)
        painter.drawText(text, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), "little influence")
        painter.drawText(text, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop), "most (red)")
        painter.end()
