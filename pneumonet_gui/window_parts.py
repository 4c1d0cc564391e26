"""The parts of the main window that its presenter and its saved layout receive, declared.

:class:`ScanPresenter` gets a :class:`ScanParts` and :func:`~pneumonet_gui.settings.restore_window`
and :func:`~pneumonet_gui.settings.save_window` get a :class:`LayoutParts`: each names the
widgets and presenters its receiver keeps in step, instead of the whole window, so what
a part may touch is visible in one place. The main window builds both here
(:func:`scan_parts`, :func:`layout_parts`), the one place that reads them off the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only: the window imports this module
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMainWindow, QStackedWidget, QStatusBar, QWidget

    from pneumonet_gui.active_model import ActiveModel
    from pneumonet_gui.banner import Banner
    from pneumonet_gui.heatmap_controls import HeatmapControls
    from pneumonet_gui.heatmap_presenter import HeatmapPresenter
    from pneumonet_gui.image_view import ScanView
    from pneumonet_gui.main_window import MainWindow
    from pneumonet_gui.metadata_panel import MetadataPanel
    from pneumonet_gui.model_menu import ModelMenu
    from pneumonet_gui.result_panel import ResultPanel
    from pneumonet_gui.settings import RecentFiles
    from pneumonet_gui.status_fields import StatusFields
    from pneumonet_gui.thumbnail_strip import ThumbnailStrip
    from pneumonet_gui.view_presenter import ViewPresenter
    from pneumonet_gui.viewer_controller import ViewerController


@dataclass(frozen=True)
class ScanParts:
    """What :class:`~pneumonet_gui.scan_presenter.ScanPresenter` listens to and keeps in step."""

    # what it listens to
    controller: ViewerController
    active_model: ActiveModel
    # the scan area
    viewer: ScanView
    placeholder: QWidget  # shown instead of the viewer while no scan is open
    stack: QStackedWidget  # holds the viewer and the placeholder
    warning_banner: Banner
    error_banner: Banner
    info_banner: Banner
    # the docks and the status bar
    result_panel: ResultPanel
    heatmap_controls: HeatmapControls
    metadata_panel: MetadataPanel
    thumbnails: ThumbnailStrip
    status_bar: QStatusBar
    status_fields: StatusFields
    # what follows the scan and the model
    model_menu: ModelMenu
    recent: RecentFiles
    invert_action: QAction  # unchecked when a scan opens (it opens not inverted)
    heatmap_presenter: HeatmapPresenter
    view_presenter: ViewPresenter


@dataclass(frozen=True)
class LayoutParts:
    """What the saved layout restores and saves (see :mod:`pneumonet_gui.settings`)."""

    window: QMainWindow  # its geometry and the docks' places
    heatmap_controls: HeatmapControls  # opacity and colour map
    metadata_panel: MetadataPanel  # "Hide identifiers"
    heatmap_presenter: HeatmapPresenter  # the heat map also for NORMAL
    corners_action: QAction  # the corner overlays shown


def scan_parts(window: MainWindow) -> ScanParts:
    w = window
    return ScanParts(
        controller=w.controller, active_model=w.active_model, viewer=w.viewer, placeholder=w.placeholder,
        stack=w.stack, warning_banner=w.warning_banner, error_banner=w.error_banner, info_banner=w.info_banner,
        result_panel=w.result_panel, heatmap_controls=w.heatmap_controls, metadata_panel=w.metadata_panel,
        thumbnails=w.thumbnails, status_bar=w.statusBar(), status_fields=w.status_fields, model_menu=w.model_menu,
        recent=w.recent, invert_action=w.commands.invert_action, heatmap_presenter=w.heatmap_presenter,
        view_presenter=w.view_presenter)


def layout_parts(window: MainWindow) -> LayoutParts:
    return LayoutParts(window, window.heatmap_controls, window.metadata_panel, window.heatmap_presenter,
                       window.viewer_commands.corners_action)
