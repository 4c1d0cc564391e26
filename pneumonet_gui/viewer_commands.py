"""The reading-room commands: turn and flip, typed window/level and preset keys, corner
overlays, measuring, frames, the study browser and comparing, in the Image, Measure and
Go menus (each with its keys, which Help > Mouse and keys lists).

Like :class:`~pneumonet_gui.window_commands.WindowCommands`, it puts its actions on the
window (``window.rotate_right_action``...).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu

from pneumonet_gui import display
from pneumonet_gui.measurements import ANGLE, DISTANCE
from pneumonet_gui.window_commands import SCAN_FILTER
from pneumonet_gui.window_level_dialog import WindowLevelDialog

#: Keys of the window presets, in PRESET_NAMES order.
PRESET_KEYS = ("F2", "F3", "F4", "F5", "F6")


class ViewerCommands:
    """Builds the viewer's tool actions and menus and carries them out."""

    def __init__(self, window, commands):
        self.w = window
        self.commands = commands  # WindowCommands: its _action helper and dialogs
        self._build_actions()
        self._build_menus()
        window.measure_tool.modeChanged.connect(self._on_mode)

    def _action(self, text, slot, keys, tip="", checkable=False) -> QAction:
        # Text fields still get their letters, Delete and Esc: they claim them before shortcuts.
        action = self.commands._action(text, slot, None, checkable=checkable, tip=tip)
        action.setShortcuts([QKeySequence(k) for k in (keys if isinstance(keys, (list, tuple)) else [keys])])
        return action

    def _build_actions(self) -> None:
        w, v = self.w, self.w.viewer
        w.rotate_right_action = self._action("Rotate &right", v.rotate_right, "Ctrl+R", "Turn 90\u00b0 clockwise")
        w.rotate_left_action = self._action("Rotate &left", v.rotate_left, "Ctrl+Shift+R", "Turn 90\u00b0 anticlockwise")
        w.flip_h_action = self._action("Flip &horizontally", v.flip_horizontally, "Shift+H", "Mirror left and right")
        w.flip_v_action = self._action("Flip &vertically", v.flip_vertically, "Shift+V", "Mirror top and bottom")
        w.window_level_action = self._action("Window/level &values\u2026", self.type_window, "W",
                                             "Type a window width and level")
        for action, key in zip(w.preset_actions.actions(), PRESET_KEYS):
            action.setShortcut(QKeySequence(key))
        w.corners_action = self._action("&Corner overlays", self.set_corners, "O",
                                        "Patient, study, series, window and zoom in the corners of the scan",
                                        checkable=True)
        w.corners_action.setChecked(True)
        w.normal_heatmap_action = self._action("Heat map also for &NORMAL", w.heatmap_presenter.set_show_for_normal,
                                               "N", "Show the heat map for NORMAL decisions too", checkable=True)
        w.compare_heatmap_action = self._action("Scan and heat map &side by side", w.heatmap_presenter.set_side_by_side,
                                                "S", "The scan on the left, its heat map on the right", checkable=True)
        w.compare_scan_action = self._action("&Compare with another scan\u2026", lambda: self.compare_with_file(), "Shift+S",
                                             "Show another scan beside this one, zoomed and panned together")
        tool = w.measure_tool
        w.measure_actions = QActionGroup(w)
        w.pan_action = self._action("&Pan and edit", lambda: tool.set_mode(""), "Esc",
                                    "Stop measuring: drag to pan, drag a measurement's end to move it", checkable=True)
        w.distance_action = self._action("&Distance", lambda: tool.set_mode(DISTANCE), "D",
                                         "Measure a distance: click (or drag) from one end to the other",
                                         checkable=True)
        w.angle_action = self._action("&Angle", lambda: tool.set_mode(ANGLE), "A",
                                      "Measure an angle: click one end, the vertex, then the other end", checkable=True)
        for action in (w.pan_action, w.distance_action, w.angle_action):
            w.measure_actions.addAction(action)
        w.pan_action.setChecked(True)
        w.delete_measurement_action = self._action("De&lete measurement", self.delete_measurement, "Delete",
                                                   "Delete the selected measurement")
        w.clear_measurements_action = self._action("&Clear measurements", tool.clear, "Shift+Del",
                                                   "Delete every measurement on this scan")
        for action in (w.delete_measurement_action, w.clear_measurements_action):
            action.setEnabled(False)
        bar = w.cine_bar
        w.play_action = self._action("&Play / pause frames", bar.toggle_playing, "P", "Cine loop of a multi-frame scan")
        w.next_frame_action = self._action("Next &frame", bar.step_forward, ".", "")
        w.previous_frame_action = self._action("Previous f&rame", bar.step_back, ",", "")
        w.next_scan_action = self._action("&Next scan in folder", lambda: self.step_scan(1), "PgDown",
                                          "Open the next scan of the study browser")
        w.previous_scan_action = self._action("P&revious scan in folder", lambda: self.step_scan(-1), "PgUp",
                                              "Open the previous scan of the study browser")

    def _build_menus(self) -> None:
        w = self.w
        bar, before = w.menuBar(), w.model_menu.menuAction()
        for action in (w.window_menu.menuAction(), w.invert_action, w.reset_action):
            w.view_menu.removeAction(action)  # they move to the Image menu
        w.image_menu, w.measure_menu, w.go_menu = QMenu("&Image", w), QMenu("&Measure", w), QMenu("&Go", w)
        for menu, actions in (
            (w.image_menu, (w.rotate_right_action, w.rotate_left_action, w.flip_h_action, w.flip_v_action, None,
                            w.window_level_action, w.window_menu.menuAction(), w.invert_action, w.reset_action, None,
                            w.corners_action, w.normal_heatmap_action, w.compare_heatmap_action,
                            w.compare_scan_action)),
            (w.measure_menu, (w.distance_action, w.angle_action, w.pan_action, None, w.delete_measurement_action,
                              w.clear_measurements_action)),
            (w.go_menu, (w.next_scan_action, w.previous_scan_action, None, w.play_action, w.next_frame_action,
                         w.previous_frame_action)),
        ):
            for action in actions:
                menu.addSeparator() if action is None else menu.addAction(action)
            bar.insertMenu(before, menu)
        toolbar = w.toolbar
        toolbar.addSeparator()
        for action, text in ((w.rotate_right_action, "Rotate"), (w.flip_h_action, "Flip"),
                             (w.distance_action, "Distance"), (w.angle_action, "Angle"),
                             (w.compare_heatmap_action, "Side by side")):
            action.setIconText(text)
            toolbar.addAction(action)

    # --- commands ---------------------------------------------------------------------------
    def type_window(self) -> None:
        view = self.w.viewer
        if view.scan is None:
            return
        dialog = WindowLevelDialog(view.window, display.value_range(view.scan), display.has_raw(view.scan), self.w)
        if dialog.exec():
            view.set_window(dialog.window())

    def set_corners(self, visible: bool) -> None:
        self.w.viewer.set_corners_visible(visible)

    def delete_measurement(self) -> None:
        self.w.measure_tool.delete_selected()

    def step_scan(self, step: int) -> None:
        target = self.w.thumbnails.scans.next_path(step)
        if target is not None:
            self.w.show_scan(target)

    def compare_with_file(self, path=None) -> None:
        w = self.w
        if path is None:
            start = str(w.current.path.parent) if w.current.path else ""
            path, _ = QFileDialog.getOpenFileName(w, "Compare with another scan", start, SCAN_FILTER)
            if not path:
                return
        w.heatmap_presenter.set_side_by_side(False)
        w.compare_pane.compare_with(path, w.metadata_panel.hide_identifiers.isChecked())

    def _on_mode(self, mode: str) -> None:
        action = {DISTANCE: self.w.distance_action, ANGLE: self.w.angle_action}.get(mode, self.w.pan_action)
        action.setChecked(True)
