"""The viewer's main window: one scan, its result, its heat map and its metadata.

The window assembles the parts, each with one job: the :class:`ViewerController` runs the
scan work with the app's one :class:`ActiveModel`, the :class:`ScanPresenter` shows it,
:class:`WindowCommands` holds the actions, menus and toolbar, and :mod:`settings` keeps
the layout. Other parts of the app plug in through ``file_menu``, ``model_menu``,
:meth:`MainWindow.add_panel`, :meth:`MainWindow.show_scan`, :meth:`MainWindow.set_model`
and ``active_model`` (see :mod:`pneumonet_gui.extensions`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from pneumonet_core.errors import PneumonetError
from pneumonet_gui.active_model import ActiveModel
from pneumonet_gui.banner import Banner
from pneumonet_gui.cine import CineBar
from pneumonet_gui.compare_view import ComparePane
from pneumonet_gui.extensions import attach_extensions
from pneumonet_gui.heatmap_controls import HeatmapControls
from pneumonet_gui.heatmap_presenter import HeatmapPresenter
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.measure_tool import MeasureTool
from pneumonet_gui.measurements import MeasurementSet
from pneumonet_gui.metadata_panel import MetadataPanel
from pneumonet_gui.result_panel import ResultPanel
from pneumonet_gui.scan_presenter import ScanPresenter
from pneumonet_gui.settings import (
    RecentFiles,
    restore_window,
    save_window,
    viewer_settings,
)
from pneumonet_gui.status_fields import StatusFields
from pneumonet_gui.thumbnail_strip import ThumbnailStrip
from pneumonet_gui.view_presenter import ViewPresenter
from pneumonet_gui.viewer_commands import ViewerCommands
from pneumonet_gui.viewer_controller import OpenScan, ViewerController
from pneumonet_gui.window_commands import WindowCommands


class MainWindow(QMainWindow):
    """Open a scan; see it, its result, the Grad-CAM heat map and its metadata."""

    #: Several files were dropped on the window (the first one is opened).
    filesDropped = Signal(list)

    def __init__(self, model=None, settings=None, start_model: bool = True, extensions: bool = True,
                 parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else viewer_settings()
        self.recent = RecentFiles(self.settings)
        self.setWindowTitle("Pneumonet")
        self.setAcceptDrops(True)
        self.resize(1360, 860)

        self.active_model = ActiveModel(parent=self)
        self.controller = ViewerController(self.active_model, self)
        self._build_central()
        self._build_docks()
        self.heatmap_presenter = HeatmapPresenter(self)
        self.commands = WindowCommands(self)
        self.viewer_commands = ViewerCommands(self, self.commands)
        self.status_fields = StatusFields(self.statusBar(), self.viewer)
        self.view_presenter = ViewPresenter(self)
        self.presenter = ScanPresenter(self)
        self.presenter.model_note = " \u2014 from --model" if model is not None else ""
        controls = self.heatmap_controls
        controls.visibleChanged.connect(self.commands.set_heatmap_visible)
        controls.showForNormalChanged.connect(self.heatmap_presenter.set_show_for_normal)
        controls.opacityChanged.connect(self.viewer.set_overlay_opacity)
        controls.colormapChanged.connect(self.viewer.set_colormap)
        for signal in (controls.opacityChanged, controls.colormapChanged):
            signal.connect(lambda *_: self.heatmap_presenter.apply() if self.heatmap_presenter.side_by_side else None)
        self.compare_pane.closed.connect(self.stop_comparing)
        self.thumbnails.scanChosen.connect(self.show_scan)
        restore_window(self, self.settings)
        if extensions:
            attach_extensions(self)
        if start_model:
            # After the window is up: the model loads on a worker.
            QTimer.singleShot(0, lambda: self.set_model(model))

    # --- construction ------------------------------------------------------------------
    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(6)
        self.warning_banner = Banner("warning")
        self.error_banner = Banner("error", dismissable=True)
        self.info_banner = Banner("info", dismissable=True)
        self.viewer = ScanView()
        self.measurements = MeasurementSet()
        self.measure_tool = MeasureTool(self.viewer, self.measurements, self)
        self.cine_bar = CineBar()
        self.compare_pane = ComparePane()
        self.compare_pane.attach(self.viewer)
        self.placeholder = QLabel("Drop a chest X-ray here, or open one with Ctrl+O\n\nPNG \u00b7 JPEG \u00b7 DICOM")
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("background: #0a0a0b;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.viewer)
        for widget in (self.error_banner, self.warning_banner, self.info_banner):
            layout.addWidget(widget)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.compare_pane)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.cine_bar)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.result_panel = ResultPanel()
        self.heatmap_controls = HeatmapControls()
        result_page = QWidget()
        page_layout = QVBoxLayout(result_page)
        page_layout.setContentsMargins(0, 0, 8, 8)
        for widget in (self.result_panel, self.heatmap_controls):
            page_layout.addWidget(widget)
        page_layout.addStretch(1)
        # Scrolls rather than squeezes: a short window (or a tall font) never clips a text.
        self.result_scroll = QScrollArea()
        self.result_scroll.setWidget(result_page)
        self.result_scroll.setWidgetResizable(True)
        self.result_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.result_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.result_dock = self._dock(self.result_scroll, "Result", "resultDock")
        self.metadata_panel = MetadataPanel()
        self.metadata_dock = self._dock(self.metadata_panel, "Scan information", "metadataDock")
        self.thumbnails = ThumbnailStrip()
        self.browser_dock = self._dock(self.thumbnails, "Folder", "browserDock")
        # The side docks run the full height: a bottom panel (the batch) takes room from
        # the scan, not from the result.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.result_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.metadata_dock)
        self.resizeDocks([self.result_dock], [360], Qt.Orientation.Horizontal)
        self.resizeDocks([self.browser_dock], [140], Qt.Orientation.Horizontal)
        self.browser_dock.hide()  # until a folder with several scans is open (see ViewPresenter)
        self.resizeDocks([self.result_dock, self.metadata_dock], [560, 340], Qt.Orientation.Vertical)

    def _dock(self, widget: QWidget, title: str, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        return dock

    # --- public API for the rest of the app --------------------------------------------
    @property
    def current(self) -> OpenScan:
        """The scan on screen, its result and heat map."""
        return self.controller.current

    @property
    def model_card(self):
        return self.active_model.card

    @property
    def model_path(self) -> Path | None:
        return self.active_model.path

    def add_panel(self, widget: QWidget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Add ``widget`` as a dock panel; on the right it is tabbed with the scan information."""
        name = "".join(c for c in title if c.isalnum()) + "Dock"
        dock = self._dock(widget, title, name)
        self.addDockWidget(area, dock)
        if area == Qt.DockWidgetArea.RightDockWidgetArea:
            self.tabifyDockWidget(self.metadata_dock, dock)
            self.metadata_dock.raise_()
        elif area in (Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.TopDockWidgetArea):
            # Shown later at its smallest, a table would show three rows: give it room.
            dock.visibilityChanged.connect(lambda shown, d=dock: shown and self._size_bottom_dock(d))
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def _size_bottom_dock(self, dock: QDockWidget) -> None:
        """Most of the height the scan can spare (it keeps 240 px), at most two thirds of it."""
        if dock.isFloating():
            return
        shared = self.centralWidget().height() + dock.height()
        target = max(int(0.4 * shared), min(int(0.66 * shared), shared - 240))
        if dock.height() < target:
            self.resizeDocks([dock], [target], Qt.Orientation.Vertical)

    def show_scan(self, path) -> None:
        """Open, show and classify ``path`` (what Ctrl+O, a drop or the command line do)."""
        path = Path(path)
        self.controller.open(path)
        self.presenter.opening(path)

    def show_loaded_scan(self, scan) -> None:
        """Show and classify a scan already in memory (self-test, other windows)."""
        self.presenter.opening(Path(scan.path), decoded=True)
        self.controller.show(scan)

    def set_model(self, path=None) -> None:
        """Load the model at ``path`` (None: the active model) in the background; re-analyse the open scan."""
        self.active_model.load(path)

    def use_model_file(self, path) -> None:
        """Use a model file for this session only (not installed, not remembered)."""
        self.presenter.model_note = " \u2014 this session"
        self.set_model(path)

    def switch_model(self, path) -> None:
        """Make an installed model the active one (remembered) and load it."""
        from pneumonet_core.models.registry import set_active_model

        try:
            set_active_model(Path(path))
        except PneumonetError as exc:
            self.presenter.show_error(f"Cannot use this model: {exc}")
            return
        self.presenter.model_note = ""
        self.set_model(path)

    def export_report(self, path=None, include_identifiers: bool = False) -> Path | None:
        """Save a PDF report of the scan on screen (``pneumonet_core.reports.study_pdf``).

        It is de-identified unless the user ticks "Include patient identifiers" in the save
        dialog (unticked each time it opens), or a caller passes ``include_identifiers``.
        """
        try:
            from pneumonet_core.reports import study_pdf
        except ImportError:
            self.presenter.show_info("Export report is not available in this build.")
            return None
        current = self.current
        if not current.ok:
            self.presenter.show_info("Open a scan and wait for its result before exporting a report.")
            return None
        if current.result.withheld:
            self.presenter.show_info("The result is withheld for this scan (not a chest X-ray this model knows): "
                                     "there is no report to export.")
            return None
        if path is None:
            from pneumonet_gui.export_dialog import ExportDialog

            suggested = Path(study_pdf.study_report_name(current.scan, True))
            dialog = ExportDialog("pdf", suggested, self, title="Export report")
            if not dialog.exec():
                return None
            path, include_identifiers = dialog.path, dialog.include_identifiers
        deidentify = not include_identifiers
        allowed, _ = self.heatmap_presenter.allowed  # the report prints the map the viewer may show
        note = None if allowed or current.heatmap is None else "Heat map not shown for a NORMAL decision"
        try:
            out = study_pdf.write_study_report(Path(path), scan=current.scan, result=current.result,
                                               heatmap=current.heatmap if allowed else None, card=self.model_card,
                                               deidentify=deidentify, measurements=self.measurements.report_rows(),
                                               heatmap_note=note)
        except Exception as exc:  # noqa: BLE001
            self.presenter.show_error(f"Could not write the report: {exc}")
            return None
        self.statusBar().showMessage(f"Report saved: {out or path}", 10_000)
        return Path(out or path)

    def open_folders(self, paths) -> None:
        """Dropped folders: open the first scan of the one listed in the study browser (the
        batch panel replaces this, to classify them all, when it is installed)."""
        first = self.thumbnails.scans.next_path(1)
        if first is not None:
            self.show_scan(first)
        else:
            self.presenter.show_info("No PNG, JPEG or DICOM file directly in this folder.")

    def stop_comparing(self) -> None:
        self.heatmap_presenter.set_side_by_side(False)
        self.compare_pane.stop()

    # --- Qt events ---------------------------------------------------------------------
    @staticmethod
    def _local_files(mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._local_files(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if self._local_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        """One file: open it. Several files: open the first, offer all (``filesDropped``). Folders: ``open_folders``."""
        paths = self._local_files(event.mimeData())
        if not paths:
            return
        event.acceptProposedAction()
        folders = [p for p in paths if p.is_dir()]
        if folders:
            self.thumbnails.browse(folders[0])
            self.view_presenter.reveal_browser()
            self.open_folders(paths)
            return
        self.show_scan(paths[0])
        if len(paths) > 1:
            self.filesDropped.emit(paths)

    def closeEvent(self, event) -> None:  # noqa: N802
        save_window(self, self.settings)
        self.controller.shutdown()
        for part in (self.cine_bar, self.thumbnails, self.compare_pane):
            part.shutdown()
        self.active_model.shutdown()
        super().closeEvent(event)
