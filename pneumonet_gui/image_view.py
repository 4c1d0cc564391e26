"""The scan viewer: zoom, pan, window/level, invert, rotate and flip, frames, the Grad-CAM
layer, the corner overlays, and a slot for a measuring tool.

The scene is in image pixels: the heat map and the measurements are children of the scan's
item, so they stay aligned under every zoom, pan, rotation and flip (only that item turns).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

from pneumonet_gui import display
from pneumonet_gui.corner_overlay import paint_corners
from pneumonet_gui.display import Window
from pneumonet_gui.orientation import Orientation
from pneumonet_gui.overlays import CornerTexts
from pneumonet_gui.pyramid_item import PyramidItem
from pneumonet_gui.qimage import gray_to_qimage, rgba_to_qimage
from pneumonet_gui.window_drag import WindowLevelDrag

#: Zoom limits, in physical screen pixels per image pixel.
MIN_ZOOM = 1.0 / 64.0
MAX_ZOOM = 32.0
#: One wheel notch (120 units) zooms by this factor.
WHEEL_STEP = 1.2
BACKGROUND = QColor(10, 10, 11)


class ScanView(QGraphicsView):
    """Shows one scan; left-drag pans, wheel zooms at the cursor, right-drag sets window/level."""

    #: (window, preset name or "Custom") after any window change.
    windowChanged = Signal(object, str)
    #: Physical screen pixels per image pixel (1.0 = 1:1).
    zoomChanged = Signal(float)
    #: Image column, row and value under the cursor (value is NaN off the image).
    hovered = Signal(int, int, float)
    #: Zoom, pan, rotation or flip changed (compare views follow).
    viewChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._image_item = PyramidItem()
        self._overlay_item = PyramidItem(self._image_item)  # a child: same transform, always aligned
        self.scene().addItem(self._image_item)
        self._scan = None
        self._frame = None  # the scan with another frame's values, when one is shown
        self._window = Window(0.5, 1.0)
        self._preset = "Default"
        self._presets: dict[str, Window] = {}
        self._inverted = False
        self._orientation = Orientation()
        self._heat: np.ndarray | None = None
        self._colormap = display.COLORMAPS[0]
        self._overlay_opacity = 0.45
        self._overlay_visible = True
        self._fit_mode = True
        self._corners = CornerTexts()
        self._corners_visible = True
        #: The measuring tool, when one is active: gets left-button presses, moves and releases first.
        self.tool = None
        self._wl_drag = WindowLevelDrag(self)
        self._overlay_item.setOpacity(self._overlay_opacity)

        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(BACKGROUND)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
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
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.viewChanged.emit())
        self.verticalScrollBar().valueChanged.connect(lambda _v: self.viewChanged.emit())

    # --- content -----------------------------------------------------------------------
    @property
    def scan(self):
        return self._scan

    @property
    def image_item(self) -> PyramidItem:
        """The scan's item: children of it (heat map, measurements) live in image pixels."""
        return self._image_item

    def set_scan(self, scan) -> None:
        """Show ``scan`` at its file's window, not inverted, upright, fitted; drops any heat map."""
        self._scan, self._frame = scan, None
        self._heat = None
        self._overlay_item.set_image(None)
        self._presets = display.window_presets(scan)
        self._inverted = False
        self._window = self._presets["Default"]
        self._preset = "Default"
        self._render()
        self.set_orientation(Orientation())
        self.fit()
        self.windowChanged.emit(self._window, self._preset)

    def clear(self) -> None:
        self._scan = self._frame = None
        self._heat = None
        self._image_item.set_image(None)
        self._overlay_item.set_image(None)
        self._corners = CornerTexts()
        self.viewport().update()

    def show_frame(self, values: np.ndarray | None) -> None:
        """Show another frame's modality values (None: the first frame, the one classified)."""
        if self._scan is None:
            return
        self._frame = None if values is None else dataclasses.replace(self._scan, raw=values)
        self._render()

    def _render(self) -> None:
        if self._scan is None:
            return
        if self._frame is not None:
            # Only the first frame has the file's own rendering; the others use its window.
            gray = display.render_gray(self._frame, self._window, self._inverted)
        else:
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
        """The file's window, not inverted, upright, fitted to the window."""
        if self._scan is None:
            return
        self._inverted = False
        self.set_orientation(Orientation())
        self.set_window(self._presets["Default"], "Default")
        self.fit()

    # --- orientation -------------------------------------------------------------------
    @property
    def orientation(self) -> Orientation:
        return self._orientation

    def rotate_right(self) -> None:
        self._turn(self._orientation.rotated_right())

    def rotate_left(self) -> None:
        self._turn(self._orientation.rotated_left())

    def flip_horizontally(self) -> None:
        self._turn(self._orientation.flipped_horizontally())

    def flip_vertically(self) -> None:
        self._turn(self._orientation.flipped_vertically())

    def _turn(self, orientation: Orientation) -> None:
        if self._scan is None:
            return
        self.set_orientation(orientation)
        if self._fit_mode:
            self.fit()
        self.viewChanged.emit()

    def set_orientation(self, orientation: Orientation) -> None:
        """Turn the image item about its centre; the scene keeps a margin all round."""
        self._orientation = orientation
        rect = self._image_item.boundingRect()
        cx, cy = rect.center().x(), rect.center().y()
        self._image_item.setTransform(QTransform(*orientation.affine(cx, cy)))
        side = max(rect.width(), rect.height())
        self.setSceneRect(QRectF(cx - 1.5 * side, cy - 1.5 * side, 3 * side, 3 * side))

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

    # --- corner overlays -----------------------------------------------------------------
    def set_corner_texts(self, texts: CornerTexts) -> None:
        self._corners = texts
        self.viewport().update()

    def corner_texts(self) -> CornerTexts:
        return self._corners

    @property
    def corners_visible(self) -> bool:
        return self._corners_visible

    def set_corners_visible(self, visible: bool) -> None:
        self._corners_visible = bool(visible)
        self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._corners_visible and self._scan is not None:
            shown = self._overlay_visible and self._overlay_opacity > 0 and self._overlay_item.has_image()
            paint_corners(painter, QRectF(self.viewport().rect()), self._corners, self.font(), self._colormap if shown else None)

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
        self.viewChanged.emit()

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
        self.viewChanged.emit()

    def look_at(self, scale: float, point: QPointF) -> None:
        """Image point ``point`` at the centre, ``scale`` view units per image pixel (compare views)."""
        self._fit_mode = False
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(self._image_item.mapToScene(point))

    def pan_by(self, dx: int, dy: int) -> None:
        """Scroll the scan by screen pixels (what a left-drag does)."""
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)

    # --- events ------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if not delta or not self._image_item.has_image():
            return
        self.zoom_by(math.pow(WHEEL_STEP, delta / 120.0), event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        if self.tool is not None and event.button() == Qt.MouseButton.LeftButton:
            self.tool.press(self, event)  # a double click is two clicks to a measuring tool
            event.accept()
        elif event.button() == Qt.MouseButton.LeftButton:
            self.fit()
        else:
            super().mouseDoubleClickEvent(event)

    def mousePressEvent(self, event) -> None:
        if self._wl_drag.press(event):
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool is not None and self._scan is not None \
                and self.tool.press(self, event):
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._wl_drag.move(event):
            return
        self._emit_hover(event.position())
        if self.tool is not None and self.tool.move(self, event):
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._wl_drag.release(event):
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool is not None and self.tool.release(self, event):
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def image_point(self, pos: QPointF) -> QPointF:
        """The image pixel position (x, y) under a viewport position, at any orientation."""
        return self._image_item.mapFromScene(self.mapToScene(pos.toPoint()))

    def _emit_hover(self, pos: QPointF) -> None:
        if self._scan is None:
            return
        point = self.image_point(pos)
        x, y = int(math.floor(point.x())), int(math.floor(point.y()))
        values = display.display_values(self._frame if self._frame is not None else self._scan)
        height, width = values.shape
        value = float(values[y, x]) if 0 <= x < width and 0 <= y < height else float("nan")
        self.hovered.emit(x, y, value)
