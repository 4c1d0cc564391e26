"""The reading-room tools, driven through the real window (offscreen Qt, pytest-qt):
measurements, turning and flipping, typed window/level and preset keys, corner overlays,
"Hide identifiers" everywhere and fresh readouts.

A tiny untrained CNN stands in for the model; its threshold decides PNEUMONIA or NORMAL.
Screenshots go to ``$PNEUMONET_SCREENSHOTS`` (the ``shots`` fixture). Fixtures:
tests/gui_viewer_tools_support.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui_viewer_tools_support import (  # noqa: F401 - fixtures
    WAIT_MS,
    chest_dicom,
    click,
    drag,
    films,
    make_window,
    models,
    open_and_wait,
    pdf_text,
    pixels,
    save,
    screen_point,
    settle,
)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

PATIENT_WORDS = ("Test", "Child", "PNT-0001", "2021-03-01")


# --- measurements -------------------------------------------------------------------------------


def test_distance_and_angle_in_mm_edited_deleted_and_in_the_report(make_window, qtbot, chest_dicom, tmp_path, shots):
    window = make_window()
    open_and_wait(qtbot, window, chest_dicom())
    view, measurements = window.viewer, window.measurements
    assert measurements.calibration.unit == "mm"

    QTest.keyClick(window, Qt.Key.Key_D)  # the Distance tool
    assert window.viewer_commands.distance_action.isChecked() and window.measure_tool.mode == "distance"
    drag(view, screen_point(view, 40, 50), screen_point(view, 40, 150))  # press, drag, release: 100 px
    (distance,) = measurements.items
    # 100 px x 0.5 mm, within a screen pixel of where the mouse went
    assert abs(distance.value(measurements.calibration) - 50.0) < 1.0
    assert distance.text(measurements.calibration).endswith(" mm")

    QTest.keyClick(window, Qt.Key.Key_A)  # the Angle tool: one end, the vertex, the other end
    for x, y in ((180, 60), (120, 60), (120, 120)):
        click(view, screen_point(view, x, y))
    angle = measurements.items[-1]
    assert angle.complete and abs(angle.value(measurements.calibration) - 90.0) < 2.0
    assert window.viewer_commands.measure_actions.checkedAction() is window.viewer_commands.angle_action
    save(window, shots, "viewer-measurements.png")

    QTest.keyClick(window, Qt.Key.Key_Escape)  # back to pan and edit
    assert window.measure_tool.mode == "" and window.viewer_commands.pan_action.isChecked()
    drag(view, screen_point(view, 40, 150), screen_point(view, 40, 110))  # move the distance's second end
    assert abs(distance.value(measurements.calibration) - 30.0) < 1.0
    assert window.measure_tool.selected is distance and window.viewer_commands.delete_measurement_action.isEnabled()

    # Measurements live in image pixels: turning the scan keeps them on the anatomy.
    before = distance.points[:]
    window.viewer_commands.rotate_right_action.trigger()
    assert distance.points == before
    assert (screen_point(view, *before[0]) - screen_point(view, *before[1])).x() != 0  # now drawn across

    report = window.export_report(tmp_path / "measured.pdf")
    text = pdf_text(report)
    assert "Measurements" in text and "Distance 1" in text and "Angle 1" in text
    assert "Pixel Spacing: 0.5 mm per pixel" in text and "3 years" in text and "003Y" not in text

    QTest.keyClick(window, Qt.Key.Key_Delete)  # deletes the selected measurement
    assert distance not in measurements.items and len(measurements.items) == 1
    window.viewer_commands.clear_measurements_action.trigger()
    assert measurements.items == []


def test_measurements_without_spacing_are_in_pixels_and_detector_spacing_says_so(make_window, qtbot, films,
                                                                                   chest_dicom):
    window = make_window()
    open_and_wait(qtbot, window, films[0])  # a JPEG: no spacing
    window.viewer_commands.distance_action.trigger()
    view = window.viewer
    click(view, screen_point(view, 10, 10))
    click(view, screen_point(view, 10, 110))
    (distance,) = window.measurements.items
    assert distance.text(window.measurements.calibration).endswith(" px")
    assert "lengths in pixels" in window.viewer.corner_texts().all_text()

    open_and_wait(qtbot, window, chest_dicom(PixelSpacing=None, ImagerPixelSpacing=[0.2, 0.2], name="ips.dcm"))
    assert window.measurements.items == []  # a new scan starts clean
    assert window.measurements.calibration.source == "Imager Pixel Spacing"
    assert "at the detector" in window.metadata_panel.shown_values()["Measurements"]


# --- turning, window/level, overlays -------------------------------------------------------------


def test_rotate_flip_invert_and_reset_keep_the_heat_map_aligned(make_window, qtbot, films, chest_dicom):
    window = make_window()
    open_and_wait(qtbot, window, chest_dicom(Image.open(films[0]).convert("L").resize((300, 200))))
    view = window.viewer
    assert window.heatmap_presenter.allowed[0] and view.overlay_visible  # PNEUMONIA: shown by default
    upright = pixels(view)
    window.viewer_commands.rotate_right_action.trigger()
    rect = view.image_scene_rect()
    assert (round(rect.width()), round(rect.height())) == (200, 300)  # a quarter turn
    assert view.overlay_scene_rect() == rect  # the heat map turns with the scan
    assert "Rotated 90\u00b0" in view.corner_texts().all_text()
    window.viewer_commands.rotate_left_action.trigger()
    window.viewer_commands.flip_h_action.trigger()
    mirrored = pixels(view)
    assert np.abs(mirrored.astype(int) - upright.astype(int)).max() > 30
    assert np.abs(mirrored[:, ::-1].astype(int) - upright.astype(int)).mean() < 8  # a left-right mirror
    window.viewer_commands.flip_v_action.trigger()
    assert view.orientation.rotation == 180 and "Rotated 180\u00b0" in view.corner_texts().all_text()
    window.commands.invert_action.trigger()
    assert "Inverted" in view.corner_texts().all_text()
    window.commands.reset_action.trigger()
    assert view.orientation.is_identity and not view.inverted
    assert np.abs(pixels(view).astype(int) - upright.astype(int)).max() <= 2


def test_orientation_markers_come_from_the_header_and_turn_with_the_film(make_window, qtbot, films, chest_dicom):
    window = make_window()
    open_and_wait(qtbot, window, films[0])
    assert window.viewer.corner_texts().edges == {}  # a JPEG says nothing about sides: no marker guessed
    open_and_wait(qtbot, window, chest_dicom(PatientOrientation=["L", "F"], name="oriented.dcm"))
    view = window.viewer
    assert view.corner_texts().edges == {"left": "R", "right": "L", "top": "H", "bottom": "F"}
    before = pixels(view)
    window.viewer_commands.flip_h_action.trigger()
    assert view.corner_texts().edges["left"] == "L" and view.corner_texts().edges["right"] == "R"
    window.viewer_commands.rotate_right_action.trigger()
    assert view.corner_texts().edges["top"] == "L"
    window.commands.reset_action.trigger()
    assert view.corner_texts().edges["left"] == "R"
    view.set_corners_visible(False)
    plain = pixels(view)
    view.set_corners_visible(True)
    middle = before.shape[0] // 2
    assert np.abs(before[middle - 12:middle + 12, :24].astype(int) - plain[middle - 12:middle + 12, :24]).max() > 100


def test_typed_window_level_preset_keys_and_bone(make_window, qtbot, chest_dicom, monkeypatch):
    from pneumonet_gui import window_level_dialog
    from pneumonet_gui.display import Window

    window = make_window()
    open_and_wait(qtbot, window, chest_dicom())
    view = window.viewer
    QTest.keyClick(window, Qt.Key.Key_F6)
    assert view.preset == "Bone" and window.commands.preset_box.currentText() == "Bone"
    assert view.window == view.presets()["Bone"] and view.presets()["Bone"].centre > view.presets()["Lung"].centre
    QTest.keyClick(window, Qt.Key.Key_F4)
    assert view.preset == "Lung"

    def typed(dialog):
        dialog.width_box.setValue(80.0)
        dialog.level_box.setValue(120.0)
        return True

    monkeypatch.setattr(window_level_dialog.WindowLevelDialog, "exec", typed)
    QTest.keyClick(window, Qt.Key.Key_W)
    assert view.window == Window(120.0, 80.0) and view.preset == "Custom"
    assert window.status_fields.window.text() == "W 80  L 120"
    assert "W 80  L 120 (Custom)" in view.corner_texts().all_text()


def test_hide_identifiers_hides_them_everywhere_on_screen(make_window, qtbot, chest_dicom, films, shots):
    dicom = chest_dicom()
    window = make_window()
    open_and_wait(qtbot, window, dicom)
    overlay = window.viewer.corner_texts().all_text()
    assert "Test, Child" in overlay and "PNT-0001" in overlay and "3 years \u00b7 female" in overlay
    assert "CHEST AP" in overlay and "AP supine" in overlay and "Zoom" in overlay
    assert window.windowTitle().startswith("Test_Child_chest.dcm")
    save(window, shots, "viewer-overlays.png")

    window.metadata_panel.hide_identifiers.setChecked(True)
    settle()
    window.commands.rebuild_recent_menu()
    shown = [window.windowTitle(), window.statusBar().currentMessage(), window.viewer.corner_texts().all_text(),
             " ".join(window.metadata_panel.shown_values().values()),
             " ".join(a.text() + a.toolTip() for a in window.commands.recent_menu.actions())]
    for text in shown:
        assert not any(word in text for word in PATIENT_WORDS), text
    assert window.windowTitle().startswith("anon-") and "Scan 1 (name hidden)" in shown[-1]
    save(window, shots, "viewer-identifiers-hidden.png")

    # The next scan's name is not shown before its identifiers are known.
    window.show_scan(chest_dicom(name="Test_Child_second.dcm"))
    assert "Test_Child" not in window.windowTitle() and "Test_Child" not in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert not any(word in window.windowTitle() + window.statusBar().currentMessage() for word in PATIENT_WORDS)
    # Corner overlays can be switched off altogether.
    QTest.keyClick(window, Qt.Key.Key_O)
    assert not window.viewer.corners_visible


def test_opening_another_scan_clears_the_old_readouts(make_window, qtbot, films, chest_dicom, monkeypatch):
    window = make_window()
    open_and_wait(qtbot, window, chest_dicom())
    view, fields = window.viewer, window.status_fields
    QTest.mouseMove(view.viewport(), view.viewport().rect().center())
    assert fields.hover.text().startswith("x ") and fields.window.text().startswith("W ")
    assert window.result_panel.shown_probability()

    from pneumonet_core.imaging import loader

    gate = []
    real = loader.load_scan
    monkeypatch.setattr("pneumonet_core.imaging.load_scan", lambda p: gate.append(p) or real(p))
    window.show_scan(films[1])
    # While the next scan opens, nothing of the last one is left to misread.
    assert fields.hover.text() == fields.window.text() == fields.zoom.text() == ""
    assert window.result_panel.shown_probability() == "" and window.result_panel.shown_label() == "\u2026"
    assert window.measurements.items == [] and window.viewer.scan is None
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert gate and fields.window.text().startswith("W ")
