"""Paints the four corner texts (see :mod:`pneumonet_gui.overlays`) over a view, in screen space,
and, while a heat map is drawn, its colour bar at the bottom centre: the legend stays on the
film, in view whatever the panels beside it show (as OHIF draws its colour bars)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter

from pneumonet_gui.colour_bar import paint_bar
from pneumonet_gui.overlays import (
    BOTTOM_LEFT,
    BOTTOM_RIGHT,
    TOP_LEFT,
    TOP_RIGHT,
    CornerTexts,
)

TEXT = QColor(230, 230, 200)
SHADOW = QColor(0, 0, 0, 200)  # keeps the text readable over white bone
_ALIGN = {
    TOP_LEFT: Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft,
    TOP_RIGHT: Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight,
    BOTTOM_LEFT: Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft,
    BOTTOM_RIGHT: Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight,
}

_EDGES = {
    "left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
    "right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
    "top": Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter,
    "bottom": Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
}


def paint_corners(painter: QPainter, viewport: QRectF, texts: CornerTexts, base_font: QFont,
                  legend: str | None = None) -> None:
    """Draw each corner's lines inside ``viewport``, and the ``legend`` colour map's bar when given;
    the texts never turn or zoom with the scan."""
    painter.save()
    painter.resetTransform()
    font = QFont(base_font)
    font.setPointSizeF(max(7.5, font.pointSizeF() * 0.9))
    painter.setFont(font)
    box = viewport.adjusted(8, 6, -8, -6)
    for corner, align in _ALIGN.items():
        _shadowed(painter, box, align, "\n".join(texts[corner]))
    # Orientation markers at the middle of each edge, a little larger (as PACS viewers draw them).
    marker_font = QFont(font)
    marker_font.setPointSizeF(font.pointSizeF() * 1.3)
    marker_font.setBold(True)
    painter.setFont(marker_font)
    for edge, letters in texts.edges.items():
        if edge in _EDGES:
            _shadowed(painter, box, _EDGES[edge], letters)
    painter.setFont(font)
    if legend:
        width = max(80.0, min(180.0, 0.3 * box.width()))
        line = painter.fontMetrics().height() + 2
        lift = QFontMetricsF(marker_font).height() if texts.edges.get("bottom") else 0.0  # above the marker
        bar = QRectF(box.center().x() - width / 2, box.bottom() - line - 10 - lift, width, 8)
        painter.fillRect(bar.adjusted(-4, -3, 4, line + 3), SHADOW)
        paint_bar(painter, bar, legend, TEXT, ("little", "most influence"))
    painter.restore()


def _shadowed(painter: QPainter, box: QRectF, align, text: str) -> None:
    """Text with a dark shadow, readable over white bone and black air alike."""
    if text:
        painter.setPen(SHADOW)
        painter.drawText(box.translated(1, 1), int(align), text)
        painter.setPen(TEXT)
        painter.drawText(box, int(align), text)
