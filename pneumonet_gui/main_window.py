"""The viewer's main window: one scan, its result, its heat map and its metadata.

It wires widgets to the :class:`~pneumonet_gui.analysis.AnalysisService` and holds the
current :class:`Study`. Other parts of the app plug in through ``file_menu``,
``model_menu``, :meth:`MainWindow.add_panel`, :meth:`MainWindow.show_scan` and
:meth:`MainWindow.set_model`; modules listed in :data:`EXTENSION_MODULES` that define
``attach_to_main_window(window)`` are attached when the window is built.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from pneumonet_core.errors import PneumonetError
from pneumonet_gui.analysis import AnalysisService
from pneumonet_gui.banner import Banner
from pneumonet_gui.display import PRESET_NAMES, Window
from pneumonet_gui.heatmap_controls import HeatmapControls
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.metadata_panel import MetadataPanel
from pneumonet_gui.model_menu import ModelCardDialog, ModelMenu
from pneumonet_gui.result_panel import ResultPanel
from pneumonet_gui.settings import RecentFiles, viewer_settings

#: Modules that add features to the window when present (each may define
#: ``attach_to_main_window(window)``); a missing module is simply skipped.
EXTENSION_MODULES = ("pneumonet_gui.model_manager", "pneumonet_gui.wizard", "pneumonet_gui.batch")

SCAN_FILTER = "Scans (*.png *.jpg *.jpeg *.dcm *.dicom *.dic);;All files (*)"


@dataclass
class Study:
    """What the window shows for the scan opened last."""

    path: Path | None = None
    scan: object = None
    prediction: object = None
    heatmap: object = None
    error: str | None = None
    heatmap_error: str | None = None
    done: bool = False

    @property
    def ok(self) -> bool:
        return self.done and self.error is None and self.prediction is not None


class MainWindow(QMainWindow):
    """Open a scan; see it, its result, the Grad-CAM heat map and its metadata."""

    #: Emitted on the GUI thread when the current scan's work has ended (True: a result).
    studyFinished = Signal(bool)
    #: A scan was decoded and is on screen.
    scanShown = Signal(object)
    #: Several files were dropped on the window (the first one is opened).
    filesDropped = Signal(list)
    #: The classifier in use changed: (ModelCard or None, path or None).
    modelChanged = Signal(object, object)

    def __init__(self, model=None, settings=None, start_model: bool = True, extensions: bool = True,
                 parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else viewer_settings()
        self.recent = RecentFiles(self.settings)
        self.study = Study()
        self.model_path = None
        self.model_card = None
        self._model_note = " \u2014 from --model" if model is not None else ""
        self._model_error: str | None = None  # stays on the error banner until a model loads
        self._study_error: str | None = None
        self._dialogs: list = []
        self.setWindowTitle("Pneumonet")
        self.setAcceptDrops(True)
        self.resize(1360, 860)

        self.service = AnalysisService(self)
        self._build_central()
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect_service()
        self._restore_settings()
        if extensions:
            self._attach_extensions()
        if start_model:
            # After the window is up: the model loads on the worker thread.
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
        self.placeholder = QLabel("Drop a chest X-ray here, or open one with Ctrl+O\n\nPNG \u00b7 JPEG \u00b7 DICOM")
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("background: #0a0a0b;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.viewer)
        for widget in (self.error_banner, self.warning_banner, self.info_banner):
            layout.addWidget(widget)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.result_panel = ResultPanel()
        self.heatmap_controls = HeatmapControls()
        result_page = QWidget()
        page_layout = QVBoxLayout(result_page)
        page_layout.setContentsMargins(0, 0, 8, 8)
        page_layout.addWidget(self.result_panel)
        page_layout.addWidget(self.heatmap_controls)
        page_layout.addStretch(1)
        self.result_dock = self._dock(result_page, "Result", "resultDock")
        self.metadata_panel = MetadataPanel()
        self.metadata_dock = self._dock(self.metadata_panel, "Scan information", "metadataDock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.result_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.metadata_dock)
        self.resizeDocks([self.result_dock], [380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.result_dock, self.metadata_dock], [400, 500], Qt.Orientation.Vertical)

    def _dock(self, widget: QWidget, title: str, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        return dock

    def _action(self, text: str, slot, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open scan\u2026", self.open_dialog, QKeySequence.StandardKey.Open,
                                        tip="Open a PNG, JPEG or DICOM chest X-ray (Ctrl+O)")
        self.export_action = self._action("&Export report\u2026", lambda: self.export_report(),
                                          "Ctrl+E", tip="Save a PDF report of this study")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.fit_action = self._action("&Fit to window", self.viewer.fit, "F", tip="Whole scan in the window (F)")
        self.actual_size_action = self._action("&Actual pixels (1:1)", self.viewer.actual_size, "1",
                                               tip="One scan pixel per screen pixel (1)")
        self.zoom_in_action = self._action("Zoom &in", lambda: self.viewer.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self.zoom_out_action = self._action("Zoom &out", lambda: self.viewer.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self.invert_action = self._action("&Invert", self.viewer.set_inverted, "I", checkable=True,
                                          tip="Show the scan as a negative (I)")
        self.reset_action = self._action("&Reset view", self.reset_view, "R",
                                         tip="File window, not inverted, fitted (R)")
        self.heatmap_action = self._action("&Heat map", self.set_heatmap_visible, "H", checkable=True,
                                           tip="Show the Grad-CAM heat map over the scan (H)")
        self.heatmap_action.setChecked(True)
        self.preset_actions = QActionGroup(self)
        for name in PRESET_NAMES:
            action = QAction(name, self)
            action.setCheckable(True)
            action.triggered.connect(lambda _c=False, n=name: self.viewer.apply_preset(n))
            self.preset_actions.addAction(action)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_menu.addAction(self.open_action)
        self.recent_menu = self.file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        self._rebuild_recent_menu()
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.export_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)

        self.view_menu = bar.addMenu("&View")
        for action in (self.fit_action, self.actual_size_action, self.zoom_in_action, self.zoom_out_action):
            self.view_menu.addAction(action)
        self.view_menu.addSeparator()
        self.window_menu = self.view_menu.addMenu("&Window/level preset")
        for action in self.preset_actions.actions():
            self.window_menu.addAction(action)
        self.view_menu.addAction(self.invert_action)
        self.view_menu.addAction(self.reset_action)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.heatmap_action)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.result_dock.toggleViewAction())
        self.view_menu.addAction(self.metadata_dock.toggleViewAction())

        self.model_menu = ModelMenu(self)
        bar.addMenu(self.model_menu)
        self.manage_models_action = self.model_menu.manage_action
        self.train_model_action = self.model_menu.train_action

        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(self._action("&Mouse and keys", self.show_controls_help))
        self.help_menu.addAction(self._action("&About Pneumonet", self.show_about))

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar("View")
        self.toolbar.setObjectName("viewToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(self.toolbar)
        self.toolbar.addAction(self.open_action)
        self.open_action.setIconText("Open\u2026")
        self.toolbar.addSeparator()
        self.fit_action.setIconText("Fit")
        self.actual_size_action.setIconText("1:1")
        for action in (self.fit_action, self.actual_size_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(QLabel(" Window "))
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(PRESET_NAMES))
        self.preset_box.setToolTip("Window/level preset (right-drag on the scan for any window)")
        self.preset_box.setMinimumContentsLength(11)
        self.preset_box.textActivated.connect(self.viewer.apply_preset)
        self.toolbar.addWidget(self.preset_box)
        self.invert_action.setIconText("Invert")
        self.reset_action.setIconText("Reset")
        self.toolbar.addAction(self.invert_action)
        self.toolbar.addAction(self.reset_action)
        self.toolbar.addSeparator()
        self.heatmap_action.setIconText("Heat map")
        self.toolbar.addAction(self.heatmap_action)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.hover_label = QLabel()
        self.window_label = QLabel()
        self.zoom_label = QLabel()
        self.model_label = QLabel("Model: \u2014")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedWidth(90)
        self.busy.setMaximumHeight(12)
        self.busy.setTextVisible(False)
        self.busy.hide()
        metrics = self.fontMetrics()
        for label, sample in ((self.window_label, "W 00000  L 00000"), (self.zoom_label, "Zoom 0000%"),
                              (self.model_label, "Model: loading\u2026")):
            label.setMinimumWidth(metrics.horizontalAdvance(sample) + 16)
        for widget in (self.hover_label, self.window_label, self.zoom_label, self.model_label, self.busy):
            status.addPermanentWidget(widget)
        self.viewer.hovered.connect(self._on_hover)
        self.viewer.windowChanged.connect(self._on_window_changed)
        self.viewer.zoomChanged.connect(lambda z: self.zoom_label.setText(f"Zoom {z * 100:.0f}%"))

    def _connect_service(self) -> None:
        s = self.service
        s.modelLoading.connect(self._on_model_loading)
        s.modelLoaded.connect(self._on_model_loaded)
        s.modelFailed.connect(self._on_model_failed)
        s.scanOpened.connect(self._on_scan_opened)
        s.scanFailed.connect(self._on_scan_failed)
        s.classified.connect(self._on_classified)
        s.heatmapReady.connect(self._on_heatmap)
        s.heatmapFailed.connect(self._on_heatmap_failed)
        s.analysisFailed.connect(self._on_analysis_failed)
        c = self.heatmap_controls
        c.visibleChanged.connect(self.set_heatmap_visible)
        c.opacityChanged.connect(self.viewer.set_overlay_opacity)
        c.colormapChanged.connect(self.viewer.set_colormap)
        self.metadata_panel.hideIdentifiersChanged.connect(
            lambda hide: self.settings.setValue("hide_identifiers", bool(hide)))

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = s.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        try:
            opacity = int(s.value("overlay_opacity", 45))
        except (TypeError, ValueError):
            opacity = 45
        self.heatmap_controls.opacity.setValue(max(0, min(100, opacity)))
        self.viewer.set_overlay_opacity(self.heatmap_controls.opacity.value() / 100.0)
        colormap = str(s.value("colormap", self.heatmap_controls.colormap.currentText()))
        if self.heatmap_controls.colormap.findText(colormap) >= 0:
            self.heatmap_controls.colormap.setCurrentText(colormap)
        self.metadata_panel.hide_identifiers.setChecked(str(s.value("hide_identifiers", "false")).lower() == "true")

    def _save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("overlay_opacity", self.heatmap_controls.opacity.value())
        s.setValue("colormap", self.heatmap_controls.colormap.currentText())
        s.setValue("hide_identifiers", self.metadata_panel.hide_identifiers.isChecked())
        s.sync()

    def _attach_extensions(self) -> None:
        for name in EXTENSION_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name and name.startswith(exc.name):
                    continue  # not part of this build
                self._extension_failed(name, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a broken add-on must not take the viewer down
                self._extension_failed(name, exc)
                continue
            attach = getattr(module, "attach_to_main_window", None)
            if attach is None:
                continue
            try:
                attach(self)
            except Exception as exc:  # noqa: BLE001
                self._extension_failed(name, exc)

    def _extension_failed(self, name: str, exc: BaseException) -> None:
        if sys.stderr is not None:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        self.info_banner.set_lines([f"{name} could not be loaded: {type(exc).__name__}: {exc}"])

    # --- public API for the rest of the app --------------------------------------------
    def add_panel(self, widget: QWidget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Add ``widget`` as a dock panel; on the right it is tabbed with the scan information."""
        name = "".join(c for c in title if c.isalnum()) + "Dock"
        dock = self._dock(widget, title, name)
        self.addDockWidget(area, dock)
        if area == Qt.DockWidgetArea.RightDockWidgetArea:
            self.tabifyDockWidget(self.metadata_dock, dock)
            self.metadata_dock.raise_()
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def show_scan(self, path) -> None:
        """Open, show and classify ``path`` (what Ctrl+O, a drop or the command line do)."""
        path = Path(path)
        self._start_study(path)
        # The previous patient's image and data must not stay on screen under the new title.
        self.viewer.clear()
        self.metadata_panel.clear()
        self.statusBar().showMessage(f"Opening {path}\u2026")
        self.result_panel.show_waiting(f"Opening {path.name}\u2026")
        self.service.open(path)

    def show_loaded_scan(self, scan) -> None:
        """Show and classify a scan already in memory (self-test, other windows)."""
        self._start_study(Path(scan.path))
        self.service.analyse(scan)
        self._on_scan_opened(scan)

    def set_model(self, path=None) -> None:
        """Load the model at ``path`` (None: the active model) in the background; re-analyse the open scan."""
        reanalyse = self.service.scan is not None and self.study.scan is not None
        self.service.load_model(None if path is None else Path(path))
        if reanalyse:  # the old model's result must not stay on screen as if it were the new one's
            self.study = Study(path=self.study.path, scan=self.study.scan)
            self.viewer.set_heatmap(None)
            self._set_study_error(None)
            self.result_panel.show_waiting("Waiting for the model to load\u2026")
            self.heatmap_controls.set_status("Waiting for the result\u2026")
            self._update_busy()

    def switch_model(self, path) -> None:
        """Make an installed model the active one (remembered) and load it."""
        from pneumonet_core.models.registry import set_active_model

        try:
            set_active_model(Path(path))
        except PneumonetError as exc:
            self._show_error(f"Cannot use this model: {exc}")
            return
        self._model_note = ""
        self.set_model(path)

    def export_report(self, path=None):
        """Save a PDF report of the current study (``pneumonet_core.reports.study_pdf``)."""
        try:
            from pneumonet_core.reports import study_pdf
        except ImportError:
            self._show_info("Export report is not available in this build.")
            return None
        if not self.study.ok:
            self._show_info("Open a scan and wait for its result before exporting a report.")
            return None
        if path is None:
            suggested = study_pdf.study_report_name(self.study.scan, self.metadata_panel.hide_identifiers.isChecked())
            path, _ = QFileDialog.getSaveFileName(self, "Export report", suggested, "PDF (*.pdf)")
            if not path:
                return None
        try:
            out = study_pdf.write_study_report(
                Path(path), scan=self.study.scan, result=self.study.prediction, heatmap=self.study.heatmap,
                card=self.model_card, deidentify=self.metadata_panel.hide_identifiers.isChecked())
        except Exception as exc:  # noqa: BLE001
            self._show_error(f"Could not write the report: {exc}")
            return None
        self.statusBar().showMessage(f"Report saved: {out or path}", 10_000)
        return Path(out or path)

    # --- commands ----------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(self.recent.paths()[0].parent) if self.recent.paths() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a chest X-ray", start, SCAN_FILTER)
        if path:
            self.show_scan(path)

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Use a model file", "", "Pneumonet models (*.pneumonet)")
        if path:
            self._model_note = " \u2014 this session"
            self.set_model(path)

    def reset_view(self) -> None:
        self.viewer.reset()
        self.invert_action.setChecked(False)

    def set_heatmap_visible(self, visible: bool) -> None:
        visible = bool(visible)
        self.viewer.set_overlay_visible(visible)
        if self.heatmap_action.isChecked() != visible:
            self.heatmap_action.setChecked(visible)
        if self.heatmap_controls.show_box.isChecked() != visible:
            self.heatmap_controls.show_box.setChecked(visible)

    def show_model_card(self) -> None:
        if self.model_card is None:
            return
        dialog = ModelCardDialog(self.model_card, self.model_path, self)
        self._keep(dialog)
        dialog.show()

    def show_about(self) -> None:
        from pneumonet_core import __version__

        box = QMessageBox(QMessageBox.Icon.Information, "About Pneumonet",
                          f"Pneumonet {__version__}\n\nPneumonia decision support for pediatric chest X-rays: "
                          "probability, decision at the model's threshold and a Grad-CAM heat map.\n\n"
                          "Decision support for a clinician, not a diagnosis.",
                          QMessageBox.StandardButton.Close, self)
        self._keep(box)
        box.show()

    def show_controls_help(self) -> None:
        text = ("Left-drag: pan\nWheel: zoom at the cursor\nRight-drag: window (left/right) and level (up/down)\n"
                "Double-click: fit\n\nF fit \u00b7 1 actual pixels \u00b7 +/- zoom \u00b7 I invert \u00b7 R reset \u00b7 "
                "H heat map \u00b7 Ctrl+O open")
        box = QMessageBox(QMessageBox.Icon.Information, "Mouse and keys", text, QMessageBox.StandardButton.Close, self)
        self._keep(box)
        box.show()

    def _keep(self, dialog) -> None:
        """Keep a non-modal dialog alive until it closes."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self._dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self._dialogs.remove(dialog) if dialog in self._dialogs else None)

    # --- study life cycle --------------------------------------------------------------
    def _start_study(self, path: Path) -> None:
        self.study = Study(path=path)
        self._set_study_error(None)
        self.warning_banner.clear()
        self.viewer.set_heatmap(None)
        self.heatmap_controls.set_status("Waiting for the result\u2026")
        self.setWindowTitle(f"{path.name} \u2014 Pneumonet")
        self._update_busy()

    def _finish(self, ok: bool) -> None:
        self.study.done = True
        self._update_busy()
        self.studyFinished.emit(ok)

    def _on_scan_opened(self, scan) -> None:
        self.study.scan = scan
        self.viewer.set_scan(scan)
        self.invert_action.setChecked(False)
        self.stack.setCurrentWidget(self.viewer)
        self.metadata_panel.set_scan(scan)
        self.warning_banner.set_lines(scan.warnings)
        if Path(scan.path).exists():
            self.recent.add(scan.path)
        waiting = "Waiting for the model to load\u2026" if self.service.model_state == "loading" else "Analysing\u2026"
        self.result_panel.show_waiting(waiting)
        self.statusBar().showMessage(f"{Path(scan.path).name}: {waiting}")
        self.scanShown.emit(scan)

    def _on_scan_failed(self, message: str) -> None:
        self.study.error = message
        self.viewer.clear()
        self.stack.setCurrentWidget(self.placeholder)
        self.metadata_panel.clear()
        self._set_study_error(f"Could not open the scan: {message}")
        self.result_panel.show_error(message)
        self.heatmap_controls.set_status("")
        self.statusBar().showMessage(f"Could not open: {message}")
        self._finish(False)

    def _on_classified(self, prediction) -> None:
        self.study.prediction = prediction
        self.result_panel.show_prediction(prediction)
        self.heatmap_controls.set_status("Computing the heat map\u2026")
        self.statusBar().showMessage(f"{self.study.path.name}: {prediction.label}, p = {prediction.probability:.3f}")

    def _on_heatmap(self, heat) -> None:
        self.study.heatmap = heat
        self.viewer.set_heatmap(heat)
        self.viewer.set_overlay_visible(self.heatmap_action.isChecked())
        self.heatmap_controls.set_status("Regions that drove the model's output.")
        self._finish(True)

    def _on_heatmap_failed(self, message: str) -> None:
        self.study.heatmap_error = message
        self.heatmap_controls.set_status(f"Heat map unavailable: {message}")
        self._finish(True)

    def _on_analysis_failed(self, message: str) -> None:
        self.study.error = message
        self.result_panel.show_error(message)
        self.heatmap_controls.set_status("")
        self._set_study_error(f"Could not classify the scan: {message}")
        self.statusBar().showMessage(f"Could not classify: {message}")
        self._finish(False)

    # --- model life cycle ----------------------------------------------------------------
    def _on_model_loading(self, path) -> None:
        self.model_label.setText("Model: loading\u2026")
        self.result_panel.model.setText("Model: loading\u2026")
        self.statusBar().showMessage("Loading model\u2026")
        self._update_busy()

    def _on_model_loaded(self, card, path) -> None:
        self.model_card, self.model_path = card, path
        self.model_label.setText(f"Model: {card.name} v{card.version}")
        self.model_label.setToolTip(str(path))
        self.model_menu.set_active(card, path, self._model_note)
        self.result_panel.set_model(card)
        self._model_error = None
        self._refresh_error_banner()
        self.statusBar().showMessage(f"Model ready: {card.name} (version {card.version})", 5000)
        self._update_busy()
        self.modelChanged.emit(card, path)

    def _on_model_failed(self, message: str) -> None:
        self.model_card, self.model_path = None, None
        self.model_label.setText("Model: none")
        self.model_menu.set_active(None, None, "No model loaded")
        self.result_panel.set_model(None)
        self._model_error = f"Model could not be loaded: {message}\nChoose another model in the Model menu."
        self._refresh_error_banner()
        self.statusBar().showMessage(f"Model could not be loaded: {message}")
        self._update_busy()
        self.modelChanged.emit(None, None)

    # --- small helpers -----------------------------------------------------------------
    def _update_busy(self) -> None:
        working = self.service.model_state == "loading" or (self.study.path is not None and not self.study.done)
        self.busy.setVisible(working)

    def _show_info(self, message: str) -> None:
        self.info_banner.set_lines([message])
        self.statusBar().showMessage(message, 10_000)

    def _show_error(self, message: str) -> None:
        self._set_study_error(message)
        self.statusBar().showMessage(message, 10_000)

    def _set_study_error(self, message: str | None) -> None:
        self._study_error = message
        self._refresh_error_banner()

    def _refresh_error_banner(self) -> None:
        """The model's error (until a model loads) and the current scan's, together."""
        self.error_banner.set_lines([m for m in (self._model_error, self._study_error) if m])

    def _on_hover(self, x: int, y: int, value: float) -> None:
        self.hover_label.setText("" if value != value else f"x {x}  y {y}  value {value:.4g}")

    def _on_window_changed(self, window: Window, preset: str) -> None:
        self.window_label.setText(f"W {window.width:.4g}  L {window.centre:.4g}")
        for action in self.preset_actions.actions():
            action.setChecked(action.text() == preset)
        if self.preset_box.findText(preset) < 0:
            self.preset_box.addItem(preset)
        self.preset_box.setCurrentText(preset)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.show_scan(p))
        if paths:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.recent.clear)
        else:
            self.recent_menu.addAction("No recent scans").setEnabled(False)

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
        if any(p.is_dir() for p in paths):
            self.open_folders(paths)
            return
        self.show_scan(paths[0])
        if len(paths) > 1:
            self.filesDropped.emit(paths)

    def open_folders(self, paths) -> None:
        """Classify dropped folders; the batch panel replaces this when it is installed."""
        self._show_info("Folders can be opened with the batch panel, which is not part of this build.")

    def closeEvent(self, event) -> None:  # noqa: N802
        self._save_settings()
        self.service.shutdown()
        super().closeEvent(event)
