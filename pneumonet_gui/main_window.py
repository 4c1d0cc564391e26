"""The viewer's main window: one scan, its result, its heat map and its metadata.

The window declares its parts (the annotations at the top of :class:`MainWindow`) and
assembles them, each with one job: the :class:`ViewerController` runs the scan work with
the app's one :class:`ActiveModel`, the presenters show it, :class:`WindowCommands` and
:class:`ViewerCommands` own the actions, menus and toolbar, and :mod:`settings` keeps the
layout. Commands and presenters get the widgets they act on and ask for the rest through
signals, which :meth:`MainWindow._connect` wires. Other parts of the app (batch,
worklist, model manager, wizard, preferences) plug in through the small interface
:class:`~pneumonet_gui.extensions.WindowHost` describes, and are recorded in
``extensions``; they write nothing else onto the window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
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
from pneumonet_gui.dock_layout import ResultDockFitter, place_panel
from pneumonet_gui.extensions import Extension, attach_extensions
from pneumonet_gui.heatmap_controls import HeatmapControls
from pneumonet_gui.heatmap_presenter import HeatmapPresenter
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.measure_tool import MeasureTool
from pneumonet_gui.measurements import MeasurementSet
from pneumonet_gui.metadata_panel import MetadataPanel
from pneumonet_gui.model_menu import ModelMenu
from pneumonet_gui.report_export import export_study_report
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
from pneumonet_gui.window_commands import SCAN_FILTER, WindowCommands
from pneumonet_gui.window_parts import layout_parts, scan_parts


class MainWindow(QMainWindow):
    """Open a scan; see it, its result, the Grad-CAM heat map and its metadata."""

    #: Several files were dropped on the window (the first one is opened).
    filesDropped = Signal(list)

    # --- the window's parts (built in __init__; nothing else writes onto the window) -----
    settings: QSettings
    recent: RecentFiles
    active_model: ActiveModel
    controller: ViewerController
    # the scan area
    viewer: ScanView
    measurements: MeasurementSet
    measure_tool: MeasureTool
    cine_bar: CineBar
    compare_pane: ComparePane
    placeholder: QLabel
    stack: QStackedWidget
    splitter: QSplitter
    warning_banner: Banner
    error_banner: Banner
    info_banner: Banner
    # the docks
    result_panel: ResultPanel
    heatmap_controls: HeatmapControls
    result_scroll: QScrollArea
    result_dock: QDockWidget
    metadata_panel: MetadataPanel
    metadata_dock: QDockWidget
    result_fitter: ResultDockFitter  # the Result dock as tall as its content
    thumbnails: ThumbnailStrip
    browser_dock: QDockWidget
    # commands and presenters
    commands: WindowCommands
    viewer_commands: ViewerCommands
    heatmap_presenter: HeatmapPresenter
    status_fields: StatusFields
    view_presenter: ViewPresenter
    presenter: ScanPresenter
    # what extensions use (see pneumonet_gui.extensions.WindowHost)
    file_menu: QMenu
    view_menu: QMenu
    model_menu: ModelMenu
    #: What each extension attached (its panel, dock and action), by name.
    extensions: dict[str, Extension]
    #: Extensions' dialogs that open once per window (see extensions.open_once), by name.
    dialogs: dict[str, QWidget]

    def __init__(self, model=None, settings=None, start_model: bool = True, extensions: bool = True,
                 parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else viewer_settings()
        self.recent = RecentFiles(self.settings)
        self.extensions, self.dialogs = {}, {}
        self._folder_handler: Callable[[list[Path]], None] = self._open_first_of_folder
        self.setWindowTitle("Pneumonet")
        self.setAcceptDrops(True)
        self.resize(1360, 860)

        self.active_model = ActiveModel(parent=self)
        self.controller = ViewerController(self.active_model, self)
        self._build_central()
        self._build_docks()
        self.commands = WindowCommands(self, self.viewer, self.recent, self.active_model,
                                       (self.result_dock, self.metadata_dock), self.metadata_panel.identifiers_hidden)
        self.file_menu, self.view_menu, self.model_menu = (self.commands.file_menu, self.commands.view_menu,
                                                           self.commands.model_menu)
        self.viewer_commands = ViewerCommands(self, self.commands, self.viewer, self.measure_tool, self.cine_bar)
        self.heatmap_presenter = HeatmapPresenter(lambda: self.current, self.viewer, self.compare_pane,
                                                  self.heatmap_controls, self.cine_bar, self)
        self.status_fields = StatusFields(self.statusBar(), self.viewer)
        vc = self.viewer_commands
        self.view_presenter = ViewPresenter(self.setWindowTitle, self.statusBar(), lambda: self.current, self.viewer,
                                            self.cine_bar, self.metadata_panel, self.measure_tool, self.measurements,
                                            self.thumbnails, self.browser_dock, self.status_fields,
                                            self.heatmap_presenter,
                                            (vc.delete_measurement_action, vc.clear_measurements_action))
        self.result_fitter = ResultDockFitter(self, self.result_dock, self.metadata_dock)
        self.presenter = ScanPresenter(scan_parts(self), self)
        self.presenter.model_note = " \u2014 from --model" if model is not None else ""
        self._connect()
        restore_window(layout_parts(self), self.settings)
        if extensions:
            attach_extensions(self)
        if start_model:
            # After the window is up: the model loads on a worker.
            QTimer.singleShot(0, lambda: self.set_model(model))

    # --- construction ------------------------------------------------------------------
    def _connect(self) -> None:
        """What the commands ask for, and the heat map's three choices kept in step everywhere."""
        c, vc, heat, controls = self.commands, self.viewer_commands, self.heatmap_presenter, self.heatmap_controls
        c.openRequested.connect(self.show_scan)
        c.exportRequested.connect(lambda: self.export_report())
        c.modelFileChosen.connect(self.use_model_file)
        c.modelSwitchRequested.connect(self.switch_model)
        c.viewReset.connect(self.view_presenter.refresh_corners)
        c.invert_action.triggered.connect(lambda _on: self.view_presenter.refresh_corners())  # after the viewer
        vc.compareRequested.connect(lambda: self.compare_with_file())
        vc.stepRequested.connect(self.step_scan)
        for asks, set_choice in ((c.heatmapToggled, heat.set_visible), (controls.visibleChanged, heat.set_visible),
                                 (vc.showForNormalToggled, heat.set_show_for_normal),
                                 (controls.showForNormalChanged, heat.set_show_for_normal),
                                 (vc.sideBySideToggled, heat.set_side_by_side)):
            asks.connect(set_choice)
        for changed, boxes in ((heat.visibleChanged, (c.heatmap_action, controls.show_box)),
                               (heat.showForNormalChanged, (vc.normal_heatmap_action, controls.normal_box)),
                               (heat.sideBySideChanged, (vc.compare_heatmap_action,))):
            changed.connect(lambda on, boxes=boxes: [box.setChecked(on) for box in boxes if box.isChecked() != on])
        heat.availabilityChanged.connect(lambda *state: controls.show_availability(*state, c.heatmap_action))
        heat.availabilityChanged.connect(lambda *_: self.result_fitter.schedule())  # the note may have grown
        self.presenter.scanOpenChanged.connect(c.set_scan_open)
        self.presenter.scanOpenChanged.connect(vc.set_scan_open)
        self.compare_pane.closed.connect(self.stop_comparing)
        self.thumbnails.scanChosen.connect(self.show_scan)
        self.presenter.set_scan_open(False)

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
        self.result_scroll.setMinimumWidth(300)  # squeezed narrower, "Pneumonia" itself was cut
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

    # --- the interface extensions use (pneumonet_gui.extensions.WindowHost) --------------
    def add_file_action(self, action: QAction, place: str) -> None:
        """An extension's File entry: after Open ("open"), before Export ("export") or Quit ("quit")."""
        self.commands.add_file_action(action, place)

    def set_folder_handler(self, handler: Callable[[list[Path]], None]) -> None:
        """Who takes dropped folders (the batch panel classifies them; without it the first scan opens)."""
        self._folder_handler = handler

    # --- public API for the rest of the app --------------------------------------------
    @property
    def current(self) -> OpenScan:
        """The scan on screen, its result and heat map."""
        return self.controller.current

    model_card = property(lambda self: self.active_model.card, doc="The active model's card (None until loaded).")
    model_path = property(lambda self: self.active_model.path, doc="The active model's file.")

    def add_panel(self, widget: QWidget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Add ``widget`` as a dock panel: on the right tabbed with the scan information, at the
        bottom tabbed with the other bottom panels (see :mod:`pneumonet_gui.dock_layout`)."""
        name = "".join(c for c in title if c.isalnum()) + "Dock"
        dock = self._dock(widget, title, name)
        self.addDockWidget(area, dock)
        place_panel(self, dock, area, self.metadata_dock)
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

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
        """Save a PDF report of the scan on screen (see :mod:`pneumonet_gui.report_export`)."""
        allowed, _ = self.heatmap_presenter.allowed  # the report prints the map the viewer may show
        outcome = export_study_report(self, self.current, allowed, self.model_card, self.measurements.report_rows(),
                                      path, include_identifiers)
        if outcome.error:
            self.presenter.show_error(outcome.message)
        elif outcome.message:
            self.presenter.show_info(outcome.message)
        if outcome.path is not None:
            self.statusBar().showMessage(f"Report saved: {outcome.path}", 10_000)
        return outcome.path

    def _open_first_of_folder(self, _paths) -> None:
        """Dropped folders without the batch panel: open the first scan of the one the study browser lists."""
        first = self.thumbnails.scans.next_path(1)
        if first is not None:
            self.show_scan(first)
        else:
            self.presenter.show_info("No PNG, JPEG or DICOM file directly in this folder.")

    def step_scan(self, step: int) -> None:
        """Open the next (+1) or previous (-1) scan of the study browser."""
        target = self.thumbnails.scans.next_path(step)
        if target is not None:
            self.show_scan(target)

    def compare_with_file(self, path=None) -> None:
        """Show another scan beside this one (asks which when ``path`` is None)."""
        if path is None:
            start = str(self.current.path.parent) if self.current.path else ""
            path, _ = QFileDialog.getOpenFileName(self, "Compare with another scan", start, SCAN_FILTER)
            if not path:
                return
        self.heatmap_presenter.set_side_by_side(False)
        self.compare_pane.compare_with(path, self.metadata_panel.identifiers_hidden(), self.active_model.classifier)

    def stop_comparing(self) -> None:
        self.heatmap_presenter.set_side_by_side(False)
        self.compare_pane.stop()

    # --- Qt events ---------------------------------------------------------------------
    @staticmethod
    def _local_files(mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event) -> None:
        if self._local_files(event.mimeData()):
            event.acceptProposedAction()

    dragMoveEvent = dragEnterEvent  # the same test while the drag moves over the window

    def dropEvent(self, event) -> None:
        """One file: open it. Several: open the first, offer all (``filesDropped``). Folders: the folder handler."""
        paths = self._local_files(event.mimeData())
        if not paths:
            return
        event.acceptProposedAction()
        folders = [p for p in paths if p.is_dir()]
        if folders:
            self.thumbnails.browse(folders[0])
            self.view_presenter.reveal_browser()
            self._folder_handler(paths)
            return
        self.show_scan(paths[0])
        if len(paths) > 1:
            self.filesDropped.emit(paths)

    def closeEvent(self, event) -> None:
        save_window(layout_parts(self), self.settings)
        self.controller.shutdown()
        for part in (self.cine_bar, self.thumbnails, self.compare_pane):
            part.shutdown()
        self.active_model.shutdown()
        super().closeEvent(event)
