"""The reading-room commands: turn and flip, typed window/level and preset keys, corner
overlays, measuring, frames, the study browser and comparing, in the Image, Measure and
Go menus (each with its keys, which Help > Mouse and keys lists).

Like :class:`~pneumonet_gui.window_commands.WindowCommands`, it owns its actions
(``viewer_commands.rotate_right_action``...) and receives only the widgets they act on;
what needs the rest of the window (the heat map's place, the next scan, comparing) it
asks for through signals.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from pneumonet_gui import display
from pneumonet_gui.cine import CineBar
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.measure_tool import MeasureTool
from pneumonet_gui.measurements import ANGLE, DISTANCE
from pneumonet_gui.window_commands import WindowCommands, make_action
from pneumonet_gui.window_level_dialog import WindowLevelDialog

#: Keys of the window presets, in PRESET_NAMES order.
PRESET_KEYS = ("F2", "F3", "F4", "F5", "F6")


class ViewerCommands(QObject):
    """Builds the viewer's tool actions and menus and carries them out."""

    #: Heat map also for NORMAL: the new state.
    showForNormalToggled = Signal(bool)
    #: Scan and heat map side by side: the new state.
    sideBySideToggled = Signal(bool)
    #: Compare with another scan (the window asks which).
    compareRequested = Signal()
    #: Next (+1) or previous (-1) scan of the study browser.
    stepRequested = Signal(int)

    def __init__(self, window: QMainWindow, commands: WindowCommands, viewer: ScanView, measure_tool: MeasureTool,
                 cine_bar: CineBar):
        super().__init__(window)
        self.window, self.commands = window, commands  # the menus and toolbar this adds to
        self.viewer, self.measure_tool, self.cine_bar = viewer, measure_tool, cine_bar
        self._build_actions()
        self._build_menus()
        measure_tool.modeChanged.connect(self._on_mode)

    def _action(self, text, slot, keys, tip="", checkable=False) -> QAction:
        # Text fields still get their letters, Delete and Esc: they claim them before shortcuts.
        action = make_action(self.window, text, slot, None, checkable=checkable, tip=tip)
        action.setShortcuts([QKeySequence(k) for k in (keys if isinstance(keys, (list, tuple)) else [keys])])
        return action

    def _build_actions(self) -> None:
        v, c, tool, bar = self.viewer, self.commands, self.measure_tool, self.cine_bar
        self.rotate_right_action = self._action("Rotate &right", v.rotate_right, "Ctrl+R", "Turn 90\u00b0 clockwise")
        self.rotate_left_action = self._action("Rotate &left", v.rotate_left, "Ctrl+Shift+R",
                                               "Turn 90\u00b0 anticlockwise")
        self.flip_h_action = self._action("Flip &horizontally", v.flip_horizontally, "Shift+H",
                                          "Mirror left and right")
        self.flip_v_action = self._action("Flip &vertically", v.flip_vertically, "Shift+V", "Mirror top and bottom")
        self.window_level_action = self._action("Window/level &values\u2026", self.type_window, "W",
                                                "Type a window width and level")
        for action, key in zip(c.preset_actions.actions(), PRESET_KEYS, strict=True):
            action.setShortcut(QKeySequence(key))
        self.corners_action = self._action("&Corner overlays", v.set_corners_visible, "O",
                                           "Patient, study, series, window and zoom in the corners of the scan",
                                           checkable=True)
        self.corners_action.setChecked(True)
        self.normal_heatmap_action = self._action(
            "Heat map also for &NORMAL", lambda on: self.showForNormalToggled.emit(bool(on)), "N",
            "Show the heat map for NORMAL decisions too", checkable=True)
        self.compare_heatmap_action = self._action(
            "Scan and heat map &side by side", lambda on: self.sideBySideToggled.emit(bool(on)), "S",
            "The scan on the left, its heat map on the right", checkable=True)
        self.compare_scan_action = self._action(
            "&Compare with another scan\u2026", lambda: self.compareRequested.emit(), "Shift+S",
            "Show another scan beside this one, zoomed and panned together")
        self.measure_actions = QActionGroup(self.window)
        self.pan_action = self._action("&Pan and edit", lambda: tool.set_mode(""), "Esc",
                                       "Stop measuring: drag to pan, drag a measurement's end to move it",
                                       checkable=True)
        self.distance_action = self._action("&Distance", lambda: tool.set_mode(DISTANCE), "D",
                                            "Measure a distance: click (or drag) from one end to the other",
                                            checkable=True)
        self.angle_action = self._action("&Angle", lambda: tool.set_mode(ANGLE), "A",
                                         "Measure an angle: click one end, the vertex, then the other end",
                                         checkable=True)
        for action in (self.pan_action, self.distance_action, self.angle_action):
            self.measure_actions.addAction(action)
        self.pan_action.setChecked(True)
        self.delete_measurement_action = self._action("De&lete measurement", tool.delete_selected, "Delete",
                                                      "Delete the selected measurement")
        self.clear_measurements_action = self._action("&Clear measurements", tool.clear, "Shift+Del",
                                                      "Delete every measurement on this scan")
        for action in (self.delete_measurement_action, self.clear_measurements_action):
            action.setEnabled(False)
        self.play_action = self._action("&Play / pause frames", bar.toggle_playing, "P",
                                        "Cine loop of a multi-frame scan")
        self.next_frame_action = self._action("Next &frame", bar.step_forward, ".", "")
        self.previous_frame_action = self._action("Previous f&rame", bar.step_back, ",", "")
        self.next_scan_action = self._action("&Next scan in folder", lambda: self.stepRequested.emit(1), "PgDown",
                                             "Open the next scan of the study browser")
        self.previous_scan_action = self._action("P&revious scan in folder", lambda: self.stepRequested.emit(-1),
                                                 "PgUp", "Open the previous scan of the study browser")

    def _build_menus(self) -> None:
        w, c = self.window, self.commands
        bar, before = w.menuBar(), c.model_menu.menuAction()
        for action in (c.window_menu.menuAction(), c.invert_action, c.reset_action):
            c.view_menu.removeAction(action)  # they move to the Image menu
        self.image_menu, self.measure_menu, self.go_menu = QMenu("&Image", w), QMenu("&Measure", w), QMenu("&Go", w)
        for menu, actions in (
            (self.image_menu, (self.rotate_right_action, self.rotate_left_action, self.flip_h_action,
                               self.flip_v_action, None, self.window_level_action, c.window_menu.menuAction(),
                               c.invert_action, c.reset_action, None, self.corners_action,
                               self.normal_heatmap_action, self.compare_heatmap_action, self.compare_scan_action)),
            (self.measure_menu, (self.distance_action, self.angle_action, self.pan_action, None,
                                 self.delete_measurement_action, self.clear_measurements_action)),
            (self.go_menu, (self.next_scan_action, self.previous_scan_action, None, self.play_action,
                            self.next_frame_action, self.previous_frame_action)),
        ):
            for action in actions:
                menu.addSeparator() if action is None else menu.addAction(action)
            bar.insertMenu(before, menu)
        toolbar = c.toolbar
        toolbar.addSeparator()
        for action, text in ((self.rotate_right_action, "Rotate"), (self.flip_h_action, "Flip"),
                             (self.distance_action, "Distance"), (self.angle_action, "Angle"),
                             (self.compare_heatmap_action, "Side by side")):
            action.setIconText(text)
            toolbar.addAction(action)

    def set_scan_open(self, is_open: bool) -> None:
        """Turning, windowing, measuring and comparing need a scan on screen."""
        for action in (self.rotate_right_action, self.rotate_left_action, self.flip_h_action, self.flip_v_action,
                       self.window_level_action, self.compare_heatmap_action, self.compare_scan_action,
                       *self.measure_actions.actions()):
            action.setEnabled(is_open)

    # --- commands ---------------------------------------------------------------------------
    def type_window(self) -> None:
        view = self.viewer
        if view.scan is None:
            return
        dialog = WindowLevelDialog(view.window, display.value_range(view.scan), display.has_raw(view.scan),
                                   self.window)
        if dialog.exec():
            view.set_window(dialog.window())

    def _on_mode(self, mode: str) -> None:
        action = {DISTANCE: self.distance_action, ANGLE: self.angle_action}.get(mode, self.pan_action)
        action.setChecked(True)
