"""Keeps what is drawn over and around the scan in step with it: the corner texts, the
measurements' calibration, the frames bar, the window title and the study browser, all
following "Hide identifiers". It gets the widgets it keeps in step and the window's
title setter, not the window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QStatusBar

from pneumonet_gui.cine import CineBar
from pneumonet_gui.heatmap_presenter import HeatmapPresenter
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.measure_tool import MeasureTool
from pneumonet_gui.measurements import Calibration, MeasurementSet
from pneumonet_gui.metadata_panel import MetadataPanel
from pneumonet_gui.overlays import ViewState, corner_texts
from pneumonet_gui.privacy import UNKNOWN_SCAN, screen_name, screen_text
from pneumonet_gui.status_fields import StatusFields
from pneumonet_gui.thumbnail_strip import ThumbnailStrip
from pneumonet_gui.viewer_controller import OpenScan


class ViewPresenter:
    """Refreshes the overlays, title and browser of the window's open scan."""

    def __init__(self, set_title: Callable[[str], None], status_bar: QStatusBar, current: Callable[[], OpenScan],
                 viewer: ScanView, cine_bar: CineBar, metadata_panel: MetadataPanel, measure_tool: MeasureTool,
                 measurements: MeasurementSet, thumbnails: ThumbnailStrip, browser_dock: QDockWidget, status_fields: StatusFields,
                 heatmap: HeatmapPresenter, measurement_actions: tuple[QAction, QAction]):
        self._set_title, self.status_bar = set_title, status_bar
        self._current, self.viewer, self.cine_bar = current, viewer, cine_bar
        self.metadata_panel, self.measure_tool, self.measurements = metadata_panel, measure_tool, measurements
        self.thumbnails, self.browser_dock, self.status_fields = thumbnails, browser_dock, status_fields
        self.heatmap = heatmap
        self.delete_action, self.clear_action = measurement_actions  # enabled when there is something to delete
        self._browser_shown = False
        viewer.windowChanged.connect(lambda *_: self.refresh_corners())
        viewer.zoomChanged.connect(lambda _z: self.refresh_corners())
        viewer.viewChanged.connect(self.refresh_corners)
        cine_bar.frameChanged.connect(self._on_frame)
        metadata_panel.hideIdentifiersChanged.connect(lambda _hide: self.refresh_identity())
        measure_tool.changed.connect(self._on_measurements_changed)

    @property
    def hide(self) -> bool:
        return self.metadata_panel.identifiers_hidden()

    def metadata(self) -> dict | None:
        """The open scan's metadata; None while its identifiers are unknown (still opening)."""
        scan = self._current().scan
        return dict(scan.metadata or {}) if scan is not None else None

    def shown_text(self, text: str, path=None) -> str:
        """A status-bar or title text as "Hide identifiers" allows it."""
        return screen_text(text, self.metadata() or {}, self.hide, path)

    def shown_name(self, path) -> str:
        if self.hide and self.metadata() is None:
            return UNKNOWN_SCAN
        return screen_name(path, self.metadata(), self.hide)

    # --- the scan ------------------------------------------------------------------------
    def opening(self, path: Path) -> None:
        self._set_title(f"{self.shown_name(path)} \u2014 Pneumonet")
        self.status_fields.clear()
        self.measure_tool.cancel()
        self.measurements.reset(Calibration())
        self.cine_bar.clear()

    def opened(self, scan, header) -> None:
        self.measurements.reset(Calibration(header.pixel_spacing, header.spacing_source) if header else Calibration())
        self.cine_bar.set_scan(scan.path, header.frames if header else 1, header.frame_time_ms if header else None)
        if Path(scan.path).exists():
            self.thumbnails.opened(scan.path)
            self.reveal_browser()
        self.refresh_identity()

    def reveal_browser(self) -> None:
        """Show the study browser the first time a folder with several scans is open."""
        if not self._browser_shown and self.thumbnails.count() > 1:
            self._browser_shown = True
            self.browser_dock.show()

    def failed(self) -> None:
        self.viewer.set_corner_texts(corner_texts(None, None, ViewState(), self.hide))

    def refresh_identity(self) -> None:
        """Title, corners, browser names and status bar after a scan opened or the switch moved."""
        path, status = self._current().path, self.status_bar
        if path is not None:
            self._set_title(f"{self.shown_name(path)} \u2014 Pneumonet")
        message = status.currentMessage()
        if message and self.hide:
            status.showMessage(self.shown_text(message, path))
        self.thumbnails.set_hide_identifiers(self.hide)
        self.refresh_corners()

    def refresh_corners(self) -> None:
        current, view = self._current(), self.viewer
        if current.scan is None:
            view.set_corner_texts(corner_texts(None, None, ViewState(), self.hide))
            return
        measurements = self.measurements
        state = ViewState(window=(view.window.centre, view.window.width), preset=view.preset, zoom=view.zoom(),
                          inverted=view.inverted, orientation=view.orientation.describe(),
                          frame=(self.cine_bar.index + 1, self.cine_bar.count),
                          calibration=measurements.calibration.describe() if measurements.items else "",
                          edges=view.orientation.edge_letters(getattr(current.header, "patient_orientation", None)))
        view.set_corner_texts(corner_texts(current.scan, current.header, state, self.hide))

    def _on_frame(self, index: int) -> None:
        self.viewer.show_frame(None if index == 0 else self.cine_bar.frames.get(index))
        self.heatmap.apply()
        self.refresh_corners()

    def _on_measurements_changed(self) -> None:
        self.delete_action.setEnabled(self.measure_tool.selected is not None)
        self.clear_action.setEnabled(bool(self.measurements.items))
        self.refresh_corners()
