"""The scan viewer: zoom, pan, window/level, invert, and the Grad-CAM layer on top.

A QGraphicsView whose scene is in image pixels: the scan and the heat map are two items of
the same size at the same place, so the overlay stays aligned under every zoom and pan.
Each layer keeps a small image pyramid, so a large DICOM shrunk to the window is drawn
from a properly averaged level instead of a few skipped pixels (no aliasing), while zooms
past 1:1 use the full-resolution level, drawn at the screen's physical pixel density.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsItem, QGraphicsScene, QGraphicsView

from pneumonet_gui import display
from pneumonet_gui.display import Window
from pneumonet_gui.qimage import gray_to_qimage, rgba_to_qimage

#: Zoom limits, in physical screen pixels per image pixel.
MIN_ZOOM = 1.0 / 64.0
MAX_ZOOM = 32.0
#: One wheel notch (120 units) zooms by this factor.
WHEEL_STEP = 1.2
BACKGROUND = QColor(10, 10, 11)


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

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._levels:
            return
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        scale = abs(painter.worldTransform().m11()) * ratio  # physical px per image px
        level = 0
        while level + 1 < len(self._levels) and scale * (2 ** (level + 1)) <= 1.0:
            level += 1
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawPixmap(self._rect, self._levels[level], QRectF(self._levels[level].rect()))


class ScanView(QGraphicsView):
    """Shows one scan; left-drag pans, wheel zooms at the cursor, right-drag sets window/level."""

    #: (window, preset name or "Custom") after any window change.
    windowChanged = Signal(object, str)
    #: Physical screen pixels per image pixel (1.0 = 1:1).
    zoomChanged = Signal(float)
    #: Image column, row and value under the cursor (value is NaN off the image).
    hovered = Signal(int, int, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._image_item = PyramidItem()
        self._overlay_item = PyramidItem(self._image_item)  # a child: same transform, always aligned
        self.scene().addItem(self._image_item)
        self._scan = None
        self._window = Window(0.5, 1.0)
        self._preset = "Default"
        self._presets: dict[str, Window] = {}
        self._inverted = False
        self._heat: np.ndarray | None = None
        self._colormap = display.COLORMAPS[0]
        self._overlay_opacity = 0.45
        self._overlay_visible = True
        self._fit_mode = True
        self._wl_drag: tuple[QPointF, Window, float] | None = None
        # Right-drag moves arrive faster than a large scan re-renders: keep only the latest.
        self._pending_window: Window | None = None
        self._wl_timer = QTimer(self)
        self._wl_timer.setSingleShot(True)
        self._wl_timer.setInterval(0)
        self._wl_timer.timeout.connect(self._apply_pending_window)
        self._overlay_item.setOpacity(self._overlay_opacity)

        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(BACKGROUND)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)  # right-drag is window/level
        self.setMouseTracking(True)
        # Drops go to the main window, which opens the file.
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.setMinimumSize(200, 200)

    # --- content -----------------------------------------------------------------------
    @property
    def scan(self):
        return self._scan

    def set_scan(self, scan) -> None:
        """Show ``scan`` at its file's window, not inverted, fitted; drops any heat map."""
        self._scan = scan
        self._heat = None
        self._overlay_item.set_image(None)
        self._presets = display.window_presets(scan)
        self._inverted = False
        self._window = self._presets["Default"]
        self._preset = "Default"
        self._render()
        margin_w, margin_h = scan.pixels.shape[1], scan.pixels.shape[0]
        self.setSceneRect(QRectF(-margin_w, -margin_h, 3 * margin_w, 3 * margin_h))
        self.fit()
        self.windowChanged.emit(self._window, self._preset)

    def clear(self) -> None:
        self._scan = None
        self._heat = None
        self._image_item.set_image(None)
        self._overlay_item.set_image(None)
        self.viewport().update()

    def _render(self) -> None:
        if self._scan is None:
            return
        # The "Default" preset shows the file's own rendering (VOI LUT, sigmoid...) exactly.
        window = None if self._preset == "Default" else self._window
        gray = display.render_gray(self._scan, window, self._inverted)
        self._image_item.set_image(gray_to_qimage(gray))
        self.viewport().update()

    # --- window / level ----------------------------------------------------------------
    @property
    def window(self) -> Window:
        return self._window

    @property
    def preset(self) -> str:
        return self._preset

    def presets(self) -> dict[str, Window]:
        return dict(self._presets)

    def set_window(self, window: Window, preset: str = "Custom") -> None:
        if self._scan is None:
            return
        self._window = window.clamped(display.min_width(self._scan))
        self._preset = preset
        self._render()
        self.windowChanged.emit(self._window, self._preset)

    def apply_preset(self, name: str) -> None:
        if name in self._presets:
            self.set_window(self._presets[name], name)

    @property
    def inverted(self) -> bool:
        return self._inverted

    def set_inverted(self, inverted: bool) -> None:
        if bool(inverted) != self._inverted:
            self._inverted = bool(inverted)
            self._render()

    def reset(self) -> None:
        """The file's window, not inverted, fitted to the window."""
        if self._scan is None:
            return
        self._inverted = False
        self.set_window(self._presets["Default"], "Default")
        self.fit()

    # --- heat map ----------------------------------------------------------------------
    def set_heatmap(self, heat: np.ndarray | None) -> None:
        """Grad-CAM values (H, W, 0..1) at the scan's size, or None to remove the layer."""
        self._heat = None if heat is None else np.asarray(heat, dtype=np.float32)
        self._render_overlay()

    def has_heatmap(self) -> bool:
        return self._heat is not None

    def _render_overlay(self) -> None:
        if self._heat is None or self._scan is None or self._heat.shape != self._scan.pixels.shape:
            self._overlay_item.set_image(None)
        else:
            self._overlay_item.set_image(rgba_to_qimage(display.heatmap_rgba(self._heat, self._colormap)))
        self._overlay_item.setVisible(self._overlay_visible)
        self.viewport().update()

    @property
    def colormap(self) -> str:
        return self._colormap

    def set_colormap(self, name: str) -> None:
        if name != self._colormap:
            self._colormap = name
            self._render_overlay()

    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = bool(visible)
        self._overlay_item.setVisible(self._overlay_visible)
        self.viewport().update()

    @property
    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_opacity = float(min(1.0, max(0.0, opacity)))
        self._overlay_item.setOpacity(self._overlay_opacity)
        self.viewport().update()

    def overlay_scene_rect(self) -> QRectF:
        return self._overlay_item.sceneBoundingRect()

    def image_scene_rect(self) -> QRectF:
        return self._image_item.sceneBoundingRect()

    # --- zoom --------------------------------------------------------------------------
    def zoom(self) -> float:
        """Physical screen pixels per image pixel (1.0 is 1:1 on any screen)."""
        return abs(self.transform().m11()) * self.devicePixelRatioF()

    def fit(self) -> None:
        """Whole scan in the window; stays fitted when the window is resized."""
        self._fit_mode = True
        if self._image_item.has_image():
            self.fitInView(self._image_item, Qt.AspectRatioMode.KeepAspectRatio)
            self.centerOn(self._image_item)
        self.zoomChanged.emit(self.zoom())

    def actual_size(self) -> None:
        """One image pixel per physical screen pixel, so a high-DPI screen shows every pixel."""
        self._set_zoom(1.0, anchor=None)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self._set_zoom(self.zoom() * factor, anchor)

    def _set_zoom(self, zoom: float, anchor: QPointF | None) -> None:
        """Zoom so the scene point under ``anchor`` (viewport coordinates) stays put."""
        self._fit_mode = False
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        anchor = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        old = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        scale = zoom / self.devicePixelRatioF()
        self.setTransform(QTransform.fromScale(scale, scale))
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        self.setTransformationAnchor(old)
        self.zoomChanged.emit(self.zoom())

    def pan_by(self, dx: int, dy: int) -> None:
        """Scroll the scan by screen pixels (what a left-drag does)."""
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)

    # --- events ------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if not delta or not self._image_item.has_image():
            return
        self.zoom_by(math.pow(WHEEL_STEP, delta / 120.0), event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.fit()
        else:
            super().mouseDoubleClickEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton and self._scan is not None:
            lo, hi = display.value_range(self._scan)
            self._wl_drag = (event.position(), self._window, hi - lo)
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._wl_drag is not None:
            start, window, span = self._wl_drag
            delta = event.position() - start
            self._pending_window = display.window_after_drag(window, delta.x(), delta.y(), span,
                                                             display.min_width(self._scan))
            if not self._wl_timer.isActive():
                self._wl_timer.start()
            event.accept()
            return
        self._emit_hover(event.position())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton and self._wl_drag is not None:
            self._wl_drag = None
            self._apply_pending_window()
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _apply_pending_window(self) -> None:
        self._wl_timer.stop()
        if self._pending_window is not None:
            window, self._pending_window = self._pending_window, None
            self.set_window(window)

    def _emit_hover(self, pos: QPointF) -> None:
        if self._scan is None:
            return
        point = self.mapToScene(pos.toPoint())
        x, y = int(math.floor(point.x())), int(math.floor(point.y()))
        values = display.display_values(self._scan)
        height, width = values.shape
        value = float(values[y, x]) if 0 <= x < width and 0 <= y < height else float("nan")
        self.hovered.emit(x, y, value)
