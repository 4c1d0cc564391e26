"""The main window's commands: its actions, the File, View, Model and Help menus and the
toolbar.

:class:`WindowCommands` owns what it builds (``commands.open_action``,
``commands.file_menu``...) and receives only what its commands act on: the window it
puts the menus on, the viewer, the recent files, the active model and the docks the View
menu toggles. What needs the rest of the window (opening a scan, exporting, choosing a
model file) it asks for through signals, which the window connects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

from pneumonet_gui.active_model import ActiveModel
from pneumonet_gui.display import PRESET_NAMES, Window
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.model_menu import ModelCardDialog, ModelMenu
from pneumonet_gui.settings import RecentFiles

SCAN_FILTER = "Scans (*.png *.jpg *.jpeg *.dcm *.dicom *.dic);;All files (*)"


def make_action(parent: QObject, text: str, slot: Callable, shortcut=None, checkable: bool = False,
                tip: str = "") -> QAction:
    """An action with its text, slot, optional shortcut and tip (also the status-bar tip)."""
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action


class WindowCommands(QObject):
    """Builds the window's actions, menus and toolbar, and carries out the simple commands."""

    #: Open this scan (Ctrl+O's dialog, File > Open recent).
    openRequested = Signal(object)
    #: File > Export report.
    exportRequested = Signal()
    #: Model > Use a model file: the file chosen.
    modelFileChosen = Signal(str)
    #: Switch model: the installed model chosen.
    modelSwitchRequested = Signal(object)
    #: H, the View menu's Heat map: the new state.
    heatmapToggled = Signal(bool)
    #: Reset view: the viewer is back to its file's window, upright and fitted.
    viewReset = Signal()

    def __init__(self, window: QMainWindow, viewer: ScanView, recent: RecentFiles, active_model: ActiveModel,
                 docks: Iterable[QDockWidget], hide_identifiers: Callable[[], bool]):
        super().__init__(window)
        self.window, self.viewer, self.recent, self.active_model = window, viewer, recent, active_model
        self._hide_identifiers = hide_identifiers
        #: Non-modal dialogs that are open (kept alive until they close).
        self.dialogs: list[QWidget] = []
        self._build_actions()
        self._build_menus(list(docks))
        self._build_toolbar()
        viewer.windowChanged.connect(self._on_window_changed)

    def _build_actions(self) -> None:
        w, viewer = self.window, self.viewer
        self.open_action = make_action(w, "&Open scan\u2026", self.open_dialog, QKeySequence.StandardKey.Open,
                                       tip="Open a PNG, JPEG or DICOM chest X-ray (Ctrl+O)")
        self.export_action = make_action(w, "&Export report\u2026", lambda: self.exportRequested.emit(), "Ctrl+E",
                                         tip="Save a PDF report of this study")
        self.quit_action = make_action(w, "&Quit", w.close, QKeySequence.StandardKey.Quit)
        self.fit_action = make_action(w, "&Fit to window", viewer.fit, "F", tip="Whole scan in the window (F)")
        self.actual_size_action = make_action(w, "&Actual pixels (1:1)", viewer.actual_size, "1",
                                              tip="One scan pixel per screen pixel (1)")
        self.zoom_in_action = make_action(w, "Zoom &in", lambda: viewer.zoom_by(1.25),
                                          QKeySequence.StandardKey.ZoomIn)
        self.zoom_out_action = make_action(w, "Zoom &out", lambda: viewer.zoom_by(0.8),
                                           QKeySequence.StandardKey.ZoomOut)
        # The plain + and - keys too, as most viewers have them.
        self.zoom_in_action.setShortcuts(self.zoom_in_action.shortcuts() + [QKeySequence("+"), QKeySequence("=")])
        self.zoom_out_action.setShortcuts(self.zoom_out_action.shortcuts() + [QKeySequence("-")])
        self.invert_action = make_action(w, "&Invert", viewer.set_inverted, "I", checkable=True,
                                         tip="Show the scan as a negative (I)")
        self.reset_action = make_action(w, "&Reset view", self.reset_view, "R",
                                        tip="File window, not inverted, upright, fitted (R)")
        self.heatmap_action = make_action(w, "&Heat map", lambda on: self.heatmapToggled.emit(bool(on)), "H",
                                          checkable=True, tip="Show the Grad-CAM heat map over the scan (H)")
        self.heatmap_action.setChecked(True)
        self.preset_actions = QActionGroup(w)
        for name in PRESET_NAMES:
            action = QAction(name, w)
            action.setCheckable(True)
            action.triggered.connect(lambda _c=False, n=name: viewer.apply_preset(n))
            self.preset_actions.addAction(action)

    def _build_menus(self, docks: list[QDockWidget]) -> None:
        bar = self.window.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_menu.addAction(self.open_action)
        self.recent_menu = self.file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self.rebuild_recent_menu)
        self.rebuild_recent_menu()
        for action in (None, self.export_action, None, self.quit_action):
            self.file_menu.addSeparator() if action is None else self.file_menu.addAction(action)

        self.view_menu = bar.addMenu("&View")
        for action in (self.fit_action, self.actual_size_action, self.zoom_in_action, self.zoom_out_action):
            self.view_menu.addAction(action)
        self.view_menu.addSeparator()
        self.window_menu = self.view_menu.addMenu("&Window/level preset")
        for action in self.preset_actions.actions():
            self.window_menu.addAction(action)
        for action in (self.invert_action, self.reset_action, None, self.heatmap_action, None,
                       *(dock.toggleViewAction() for dock in docks)):
            self.view_menu.addSeparator() if action is None else self.view_menu.addAction(action)

        self.model_menu = ModelMenu(self.window, self.active_model, show_card=self.show_model_card,
                                    choose_file=self.choose_model_file)
        self.model_menu.switchRequested.connect(self.modelSwitchRequested)
        bar.addMenu(self.model_menu)

        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(make_action(self.window, "&Mouse and keys", self.show_controls_help, "F1"))
        self.help_menu.addAction(make_action(self.window, "What the &heat map shows", self.show_heatmap_help))
        self.help_menu.addAction(make_action(self.window, "&About Pneumonet", self.show_about))

    def _build_toolbar(self) -> None:
        self.toolbar = toolbar = QToolBar("View")
        toolbar.setObjectName("viewToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.window.addToolBar(toolbar)
        for action, text in ((self.open_action, "Open\u2026"), (self.fit_action, "Fit"),
                             (self.actual_size_action, "1:1"), (self.invert_action, "Invert"),
                             (self.reset_action, "Reset"), (self.heatmap_action, "Heat map")):
            action.setIconText(text)
        toolbar.addAction(self.open_action)
        toolbar.addSeparator()
        toolbar.addAction(self.fit_action)
        toolbar.addAction(self.actual_size_action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Window "))
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(PRESET_NAMES))
        self.preset_box.setToolTip("Window/level preset (right-drag on the scan for any window)")
        self.preset_box.setMinimumContentsLength(11)
        self.preset_box.textActivated.connect(self.viewer.apply_preset)
        toolbar.addWidget(self.preset_box)
        toolbar.addAction(self.invert_action)
        toolbar.addAction(self.reset_action)
        toolbar.addSeparator()
        toolbar.addAction(self.heatmap_action)

    def set_scan_open(self, is_open: bool) -> None:
        """Enable what acts on a scan only while one is open: an empty viewer offers no tool."""
        for action in (self.fit_action, self.actual_size_action, self.zoom_in_action, self.zoom_out_action,
                       self.invert_action, self.reset_action, self.export_action, *self.preset_actions.actions()):
            action.setEnabled(is_open)
        self.preset_box.setEnabled(is_open)

    # --- where extensions put their entries -------------------------------------------------
    def add_file_action(self, action: QAction, place: str) -> None:
        """Put an extension's File entry after Open ("open"), before Export ("export") or before Quit ("quit")."""
        if place == "open":
            actions = self.file_menu.actions()
            after = actions.index(self.open_action) + 1
            self.file_menu.insertAction(actions[after] if after < len(actions) else None, action)
        elif place in ("export", "quit"):
            self.file_menu.insertAction(self.export_action if place == "export" else self.quit_action, action)
        else:
            raise ValueError(f"no place {place!r} in the File menu")

    # --- commands -----------------------------------------------------------------------
    def open_dialog(self) -> None:
        recent = self.recent.paths()
        start = str(recent[0].parent) if recent else ""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a chest X-ray", start, SCAN_FILTER)
        if path:
            self.openRequested.emit(Path(path))

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Use a model file", "", "Pneumonet models (*.pneumonet)")
        if path:
            self.modelFileChosen.emit(path)

    def reset_view(self) -> None:
        self.viewer.reset()
        self.invert_action.setChecked(False)
        self.viewReset.emit()

    def rebuild_recent_menu(self) -> None:
        menu, recent = self.recent_menu, self.recent
        menu.clear()
        paths = recent.paths()
        hide = self._hide_identifiers()
        for number, path in enumerate(paths, 1):
            hidden = hide and recent.names_patient(path)
            action = menu.addAction(f"Scan {number} (name hidden)" if hidden else path.name)
            action.setToolTip("" if hidden else str(path))
            action.setStatusTip("" if hidden else str(path))
            action.triggered.connect(lambda _c=False, p=path: self.openRequested.emit(p))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear list", recent.clear)
        else:
            menu.addAction("No recent scans").setEnabled(False)

    def show_model_card(self) -> None:
        card = self.active_model.card
        if card is not None:
            self._show(ModelCardDialog(card, self.active_model.path, self.window))

    def show_about(self) -> None:
        from pneumonet_core import __version__

        self._show(QMessageBox(
            QMessageBox.Icon.Information, "About Pneumonet",
            # A non-breaking hyphen: the box wrapped "chest X-" / "rays".
            f"Pneumonet {__version__}\n\nPneumonia decision support for pediatric chest X\u2011rays: probability, "
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

    def _show(self, dialog: QWidget) -> None:
        """Show a non-modal dialog, kept alive until it closes."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self.dialogs.remove(dialog) if dialog in self.dialogs else None)
        dialog.show()

    def _on_window_changed(self, _window: Window, preset: str) -> None:
        for action in self.preset_actions.actions():
            action.setChecked(action.text() == preset)
        if self.preset_box.findText(preset) < 0:
            self.preset_box.addItem(preset)
        self.preset_box.setCurrentText(preset)


__all__ = ["SCAN_FILTER", "WindowCommands", "make_action"]
