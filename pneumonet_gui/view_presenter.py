"""Keeps what is drawn over and around the scan in step with it: the corner texts, the
measurements' calibration, the frames bar, the window title and the study browser, all
following "Hide identifiers".
"""

from __future__ import annotations

from pathlib import Path

from pneumonet_gui.measurements import Calibration
from pneumonet_gui.overlays import ViewState, corner_texts
from pneumonet_gui.privacy import UNKNOWN_SCAN, screen_name, screen_text


class ViewPresenter:
    """Refreshes the overlays, title and browser of the window's open scan."""

    def __init__(self, window):
        self.w = window
        self._browser_shown = False
        v = window.viewer
        v.windowChanged.connect(lambda *_: self.refresh_corners())
        v.zoomChanged.connect(lambda _z: self.refresh_corners())
        v.viewChanged.connect(self.refresh_corners)
        window.cine_bar.frameChanged.connect(self._on_frame)
        window.metadata_panel.hideIdentifiersChanged.connect(lambda _hide: self.refresh_identity())
        window.measure_tool.changed.connect(self._on_measurements_changed)
        window.invert_action.triggered.connect(lambda _on: self.refresh_corners())  # after the viewer inverts

    @property
    def hide(self) -> bool:
        return self.w.metadata_panel.hide_identifiers.isChecked()

    def metadata(self) -> dict | None:
        """The open scan's metadata; None while its identifiers are unknown (still opening)."""
        scan = self.w.current.scan
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
        w = self.w
        w.setWindowTitle(f"{self.shown_name(path)} \u2014 Pneumonet")
        w.status_fields.clear()
        w.measure_tool.cancel()
        w.measurements.reset(Calibration())
        w.cine_bar.clear()

    def opened(self, scan, header) -> None:
        w = self.w
        w.measurements.reset(Calibration(header.pixel_spacing, header.spacing_source) if header else Calibration())
        w.cine_bar.set_scan(scan.path, header.frames if header else 1, header.frame_time_ms if header else None)
        if Path(scan.path).exists():
            w.thumbnails.opened(scan.path)
            self.reveal_browser()
        self.refresh_identity()

    def reveal_browser(self) -> None:
        """Show the study browser the first time a folder with several scans is open."""
        w = self.w
        if not self._browser_shown and w.thumbnails.count() > 1:
            self._browser_shown = True
            w.browser_dock.show()

    def failed(self) -> None:
        self.w.viewer.set_corner_texts(corner_texts(None, None, ViewState(), self.hide))

    def refresh_identity(self) -> None:
        """Title, corners, browser names and status bar after a scan opened or the switch moved."""
        w = self.w
        path = w.current.path
        if path is not None:
            w.setWindowTitle(f"{self.shown_name(path)} \u2014 Pneumonet")
        message = w.statusBar().currentMessage()
        if message and self.hide:
            w.statusBar().showMessage(self.shown_text(message, path))
        w.thumbnails.set_hide_identifiers(self.hide)
        self.refresh_corners()

    def refresh_corners(self) -> None:
        w = self.w
        current = w.current
        if current.scan is None:
            w.viewer.set_corner_texts(corner_texts(None, None, ViewState(), self.hide))
            return
        view = w.viewer
        state = ViewState(window=(view.window.centre, view.window.width), preset=view.preset, zoom=view.zoom(),
                          inverted=view.inverted, orientation=view.orientation.describe(),
                          frame=(w.cine_bar.index + 1, w.cine_bar.count),
                          calibration=w.measurements.calibration.describe() if w.measurements.items else "")
        view.set_corner_texts(corner_texts(current.scan, current.header, state, self.hide))

    def _on_frame(self, index: int) -> None:
        w = self.w
        w.viewer.show_frame(None if index == 0 else w.cine_bar.frames.get(index))
        w.heatmap_presenter.apply()
        self.refresh_corners()

    def _on_measurements_changed(self) -> None:
        w = self.w
        selected = w.measure_tool.selected
        w.delete_measurement_action.setEnabled(selected is not None)
        w.clear_measurements_action.setEnabled(bool(w.measurements.items))
        self.refresh_corners()
