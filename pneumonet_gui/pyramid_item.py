"""An image item that draws from a pre-shrunk copy close to its on-screen size.

Each layer keeps a small image pyramid, so a large DICOM shrunk to the window is drawn
from a properly averaged level instead of a few skipped pixels (no aliasing), while zooms
past 1:1 use the full-resolution level, drawn at the screen's physical pixel density.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem


class PyramidItem(QGraphicsItem):
    """An image item that draws from a pre-shrunk level close to the on-screen size."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self._levels: list[QPixmap] = []
        self._rect = QRectF()

    def set_image(self, image: QImage | None) -> None:
        self.prepareGeometryChange()
        self._levels = []
        self._rect = QRectF()
        if image is not None and not image.isNull():
            self._rect = QRectF(0, 0, image.width(), image.height())
            level = image
            self._levels.append(QPixmap.fromImage(level))
            while min(level.width(), level.height()) >= 256:
                level = level.scaled(max(1, level.width() // 2), max(1, level.height() // 2),
                                     Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
                self._levels.append(QPixmap.fromImage(level))
        self.update()

    def has_image(self) -> bool:
        return bool(self._levels)

    def boundingRect(self) -> QRectF:  # Qt API
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._levels:
            return
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        t = painter.worldTransform()
        scale = math.hypot(t.m11(), t.m12()) * ratio  # physical px per image px, at any quarter turn
        level = 0
        while level + 1 < len(self._levels) and scale * (2 ** (level + 1)) <= 1.0:
            level += 1
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawPixmap(self._rect, self._levels[level], QRectF(self._levels[level].rect()))
