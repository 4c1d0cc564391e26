"""The main window's commands: its actions, the File, View, Model and Help menus, the
toolbar, and what the commands that need no scan work do.

Like a Designer ``setupUi``, :class:`WindowCommands` puts the actions and menus on the
window (``window.open_action``, ``window.file_menu``...), where extensions add theirs.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QMessageBox, QToolBar

from pneumonet_gui.display import PRESET_NAMES, Window
from pneumonet_gui.model_menu import ModelCardDialog, ModelMenu

SCAN_FILTER = "Scans (*.png *.jpg *.jpeg *.dcm *.dicom *.dic);;All files (*)"



class WindowCommands:
    """Builds the window's actions, menus and toolbar, and carries out the simple commands."""

    def __init__(self, window):
        self.window = window
        #: Non-modal dialogs that are open (kept alive until they close).
        self.dialogs: list = []
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        window.viewer.windowChanged.connect(self._on_window_changed)

    def _action(self, text: str, slot, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        w, viewer = self.window, self.window.viewer
        w.open_action = self._action("&Open scan\u2026", self.open_dialog, QKeySequence.StandardKey.Open,
                                     tip="Open a PNG, JPEG or DICOM chest X-ray (Ctrl+O)")
        w.export_action = self._action("&Export report\u2026", lambda: w.export_report(), "Ctrl+E",
                                       tip="Save a PDF report of this study")
        w.quit_action = self._action("&Quit", w.close, QKeySequence.StandardKey.Quit)
        w.fit_action = self._action("&Fit to window", viewer.fit, "F", tip="Whole scan in the window (F)")
        w.actual_size_action = self._action("&Actual pixels (1:1)", viewer.actual_size, "1",
                                            tip="One scan pixel per screen pixel (1)")
        w.zoom_in_action = self._action("Zoom &in", lambda: viewer.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        w.zoom_out_action = self._action("Zoom &out", lambda: viewer.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        # The plain + and - keys too, as most viewers have them.
        w.zoom_in_action.setShortcuts(w.zoom_in_action.shortcuts() + [QKeySequence("+"), QKeySequence("=")])
        w.zoom_out_action.setShortcuts(w.zoom_out_action.shortcuts() + [QKeySequence("-")])
        w.invert_action = self._action("&Invert", viewer.set_inverted, "I", checkable=True,
                                       tip="Show the scan as a negative (I)")
        w.reset_action = self._action("&Reset view", self.reset_view, "R",
                                      tip="File window, not inverted, upright, fitted (R)")
        w.heatmap_action = self._action("&Heat map", self.set_heatmap_visible, "H", checkable=True,
                                        tip="Show the Grad-CAM heat map over the scan (H)")
        w.heatmap_action.setChecked(True)
        w.preset_actions = QActionGroup(w)
        for name in PRESET_NAMES:
            action = QAction(name, w)
            action.setCheckable(True)
            action.triggered.connect(lambda _c=False, n=name: viewer.apply_preset(n))
            w.preset_actions.addAction(action)

    def _build_menus(self) -> None:
        w = self.window
        bar = w.menuBar()
        w.file_menu = bar.addMenu("&File")
        w.file_menu.addAction(w.open_action)
        w.recent_menu = w.file_menu.addMenu("Open &recent")
        w.recent_menu.aboutToShow.connect(self.rebuild_recent_menu)
        self.rebuild_recent_menu()
        for action in (None, w.export_action, None, w.quit_action):
            w.file_menu.addSeparator() if action is None else w.file_menu.addAction(action)

        w.view_menu = bar.addMenu("&View")
        for action in (w.fit_action, w.actual_size_action, w.zoom_in_action, w.zoom_out_action):
            w.view_menu.addAction(action)
        w.view_menu.addSeparator()
        w.window_menu = w.view_menu.addMenu("&Window/level preset")
        for action in w.preset_actions.actions():
            w.window_menu.addAction(action)
        for action in (w.invert_action, w.reset_action, None, w.heatmap_action, None,
                       w.result_dock.toggleViewAction(), w.metadata_dock.toggleViewAction()):
            w.view_menu.addSeparator() if action is None else w.view_menu.addAction(action)

        w.model_menu = ModelMenu(w, show_card=self.show_model_card, choose_file=self.choose_model_file)
        bar.addMenu(w.model_menu)
        w.manage_models_action = w.model_menu.manage_action
        w.train_model_action = w.model_menu.train_action

        w.help_menu = bar.addMenu("&Help")
        w.help_menu.addAction(self._action("&Mouse and keys", self.show_controls_help, "F1"))
        w.help_menu.addAction(self._action("What the &heat map shows", self.show_heatmap_help))
        w.help_menu.addAction(self._action("&About Pneumonet", self.show_about))

    def _build_toolbar(self) -> None:
        w = self.window
        w.toolbar = toolbar = QToolBar("View")
        toolbar.setObjectName("viewToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        w.addToolBar(toolbar)
        for action, text in ((w.open_action, "Open\u2026"), (w.fit_action, "Fit"), (w.actual_size_action, "1:1"),
                             (w.invert_action, "Invert"), (w.reset_action, "Reset"), (w.heatmap_action, "Heat map")):
            action.setIconText(text)
        toolbar.addAction(w.open_action)
        toolbar.addSeparator()
        toolbar.addAction(w.fit_action)
        toolbar.addAction(w.actual_size_action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Window "))
        w.preset_box = QComboBox()
        w.preset_box.addItems(list(PRESET_NAMES))
        w.preset_box.setToolTip("Window/level preset (right-drag on the scan for any window)")
        w.preset_box.setMinimumContentsLength(11)
        w.preset_box.textActivated.connect(w.viewer.apply_preset)
        toolbar.addWidget(w.preset_box)
        toolbar.addAction(w.invert_action)
        toolbar.addAction(w.reset_action)
        toolbar.addSeparator()
        toolbar.addAction(w.heatmap_action)

    # --- commands -----------------------------------------------------------------------
    def open_dialog(self) -> None:
        recent = self.window.recent.paths()
        start = str(recent[0].parent) if recent else ""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a chest X-ray", start, SCAN_FILTER)
        if path:
            self.window.show_scan(path)

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Use a model file", "", "Pneumonet models (*.pneumonet)")
        if path:
            self.window.use_model_file(path)

    def reset_view(self) -> None:
        self.window.viewer.reset()
        self.window.invert_action.setChecked(False)
        self.window.view_presenter.refresh_corners()

    def set_heatmap_visible(self, visible: bool) -> None:
        """The H key, the View menu and the checkbox beside the result, kept in step."""
        w, visible = self.window, bool(visible)
        if w.heatmap_action.isChecked() != visible:
            w.heatmap_action.setChecked(visible)
        if w.heatmap_controls.show_box.isChecked() != visible:
            w.heatmap_controls.show_box.setChecked(visible)
        w.heatmap_presenter.apply()

    def rebuild_recent_menu(self) -> None:
        menu, recent = self.window.recent_menu, self.window.recent
        menu.clear()
        paths = recent.paths()
        hide = self.window.metadata_panel.hide_identifiers.isChecked()
        for number, path in enumerate(paths, 1):
            hidden = hide and recent.names_patient(path)
            action = menu.addAction(f"Scan {number} (name hidden)" if hidden else path.name)
            action.setToolTip("" if hidden else str(path))
            action.setStatusTip("" if hidden else str(path))
            action.triggered.connect(lambda _c=False, p=path: self.window.show_scan(p))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear list", recent.clear)
        else:
            menu.addAction("No recent scans").setEnabled(False)

    def show_model_card(self) -> None:
        card = self.window.model_card
        if card is not None:
            self._show(ModelCardDialog(card, self.window.model_path, self.window))

    def show_about(self) -> None:
        from pneumonet_core import __version__

        self._show(QMessageBox(
            QMessageBox.Icon.Information, "About Pneumonet",
            f"Pneumonet {__version__}\n\nPneumonia decision support for pediatric chest X-rays: probability, "
            "decision at the model's threshold and a Grad-CAM heat map.\n\n"
            "Decision support for a clinician, not a diagnosis.", QMessageBox.StandardButton.Close, self.window))

    def show_controls_help(self) -> None:
        from pneumonet_gui.key_help import KeyHelpDialog

        self._show(KeyHelpDialog(self.window))

    def show_heatmap_help(self) -> None:
        from pneumonet_gui.trust import GRADCAM_EXPLAINED, LEGEND

        self._show(QMessageBox(QMessageBox.Icon.Information, "What the heat map shows",
                               f"{GRADCAM_EXPLAINED}\n\n{LEGEND}.\n\nIt is shown for PNEUMONIA decisions; "
                               "Image \u25b8 Heat map also for NORMAL shows it for NORMAL ones. It is never shown "
                               "for a scan whose result is withheld.", QMessageBox.StandardButton.Close, self.window))

    def _show(self, dialog) -> None:
        """Show a non-modal dialog, kept alive until it closes."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self.dialogs.remove(dialog) if dialog in self.dialogs else None)
        dialog.show()

    def _on_window_changed(self, _window: Window, preset: str) -> None:
        w = self.window
        for action in w.preset_actions.actions():
            action.setChecked(action.text() == preset)
        if w.preset_box.findText(preset) < 0:
            w.preset_box.addItem(preset)
        w.preset_box.setCurrentText(preset)
