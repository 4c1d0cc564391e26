"""The reading-room tools, driven through the real window (offscreen Qt, pytest-qt):
measurements, turning and flipping, typed window/level and preset keys, corner overlays,
"Hide identifiers" everywhere, fresh readouts, frames and cine, the study browser,
compare, withheld results and the heat-map rules, the help, the theme and the layout.

A tiny untrained CNN stands in for the model; its threshold decides PNEUMONIA or NORMAL.
Screenshots go to ``$PNEUMONET_SCREENSHOTS`` (the ``shots`` fixture).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel

from pneumonet_gui import theme
from pneumonet_gui.main_window import MainWindow
from pneumonet_gui.qimage import qimage_to_array
from pneumonet_gui.theme import apply_theme
from pneumonet_gui.trust import LEGEND, WITHHELD
from tests.dicom_factory import SECONDARY_CAPTURE
from tests.helpers import SHARED_TRAIN, make_tiny_model

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

WAIT_MS = 120_000
PATIENT_WORDS = ("Test", "Child", "PNT-0001", "2021-03-01")


@pytest.fixture(scope="module")
def films() -> list[Path]:
    files = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))[:2] + sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:1]
    if len(files) < 3:
        pytest.fail(f"training images not found under {SHARED_TRAIN}")
    return files


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny models that call every film PNEUMONIA (threshold near 0) or NORMAL (near 1)."""
    folder = tmp_path_factory.mktemp("models")
    return {"pneumonia": make_tiny_model(folder / "always-pneumonia.pneumonet", threshold=0.001),
            "normal": make_tiny_model(folder / "always-normal.pneumonet", threshold=0.999)}


@pytest.fixture
def make_window(qtbot, qapp, models):
    apply_theme(qapp)

    def make(model="pneumonia", size=(1280, 820), **kwargs) -> MainWindow:
        kwargs.setdefault("extensions", False)
        window = MainWindow(model=models[model], **kwargs)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def chest_dicom(tmp_path, make_dicom_from_image, films):
    """A chest DICOM named after its patient, 0.5 mm Pixel Spacing unless told otherwise."""

    def make(source=None, name="Test_Child_chest.dcm", **header) -> Path:
        header.setdefault("PixelSpacing", [0.5, 0.5])
        return make_dicom_from_image(films[0] if source is None else source, tmp_path, name=name,
                                     SOPClassUID=SECONDARY_CAPTURE, StudyDescription="CHEST AP",
                                     SeriesDescription="AP supine", **header)

    return make


def open_and_wait(qtbot, window, path) -> None:
    window.show_scan(path)
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)


def settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def save(widget, folder: Path, name: str) -> Path:
    settle()
    path = folder / name
    assert widget.grab().save(str(path)), path
    return path


def screen_point(view, x: float, y: float) -> QPoint:
    """Where the image pixel (x, y) is on the view's viewport, at any zoom and orientation."""
    return view.mapFromScene(view.image_item.mapToScene(QPointF(x, y)))


def click(view, point: QPoint) -> None:
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)


def drag(view, start: QPoint, end: QPoint) -> None:
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 5):
        QTest.mouseMove(view.viewport(), start + (end - start) * i / 4)
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def pixels(view) -> np.ndarray:
    return qimage_to_array(view.viewport().grab().toImage())


def pdf_text(path: Path) -> str:
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())


def clipped_labels(root) -> list[str]:
    """Visible labels narrower or shorter than their text needs (what reads as "iet")."""
    clipped = []
    for label in root.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        if label.wordWrap():
            if label.heightForWidth(label.width()) > label.height() + 1:
                clipped.append(label.text())
        elif label.minimumSizeHint().width() > label.width() + 1:
            clipped.append(label.text())
    return clipped


# --- measurements -------------------------------------------------------------------------------


def test_distance_and_angle_in_mm_edited_deleted_and_in_the_report(make_window, qtbot, chest_dicom, tmp_path, shots):
    window = make_window()
    open_and_wait(qtbot, window, chest_dicom())
    view, measurements = window.viewer, window.measurements
    assert measurements.calibration.unit == "mm"

    QTest.keyClick(window, Qt.Key.Key_D)  # the Distance tool
    assert window.distance_action.isChecked() and window.measure_tool.mode == "distance"
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
    assert window.measure_actions.checkedAction() is window.angle_action
    save(window, shots, "viewer-measurements.png")

    QTest.keyClick(window, Qt.Key.Key_Escape)  # back to pan and edit
    assert window.measure_tool.mode == "" and window.pan_action.isChecked()
    drag(view, screen_point(view, 40, 150), screen_point(view, 40, 110))  # move the distance's second end
    assert abs(distance.value(measurements.calibration) - 30.0) < 1.0
    assert window.measure_tool.selected is distance and window.delete_measurement_action.isEnabled()

    # Measurements live in image pixels: turning the scan keeps them on the anatomy.
    before = distance.points[:]
    window.rotate_right_action.trigger()
    assert distance.points == before
    assert (screen_point(view, *before[0]) - screen_point(view, *before[1])).x() != 0  # now drawn across

    report = window.export_report(tmp_path / "measured.pdf")
    text = pdf_text(report)
    assert "Measurements" in text and "Distance 1" in text and "Angle 1" in text
    assert "Pixel Spacing: 0.5 mm per pixel" in text and "3 years" in text and "003Y" not in text

    QTest.keyClick(window, Qt.Key.Key_Delete)  # deletes the selected measurement
    assert distance not in measurements.items and len(measurements.items) == 1
    window.clear_measurements_action.trigger()
    assert measurements.items == []


def test_measurements_without_spacing_are_in_pixels_and_detector_spacing_says_so(make_window, qtbot, films,
                                                                                   chest_dicom):
    window = make_window()
    open_and_wait(qtbot, window, films[0])  # a JPEG: no spacing
    window.distance_action.trigger()
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
    window.rotate_right_action.trigger()
    rect = view.image_scene_rect()
    assert (round(rect.width()), round(rect.height())) == (200, 300)  # a quarter turn
    assert view.overlay_scene_rect() == rect  # the heat map turns with the scan
    assert "Rotated 90\u00b0" in view.corner_texts().all_text()
    window.rotate_left_action.trigger()
    window.flip_h_action.trigger()
    mirrored = pixels(view)
    assert np.abs(mirrored.astype(int) - upright.astype(int)).max() > 30
    assert np.abs(mirrored[:, ::-1].astype(int) - upright.astype(int)).mean() < 8  # a left-right mirror
    window.flip_v_action.trigger()
    assert view.orientation.rotation == 180 and "Rotated 180\u00b0" in view.corner_texts().all_text()
    window.invert_action.trigger()
    assert "Inverted" in view.corner_texts().all_text()
    window.reset_action.trigger()
    assert view.orientation.is_identity and not view.inverted
    assert np.abs(pixels(view).astype(int) - upright.astype(int)).max() <= 2


def test_typed_window_level_preset_keys_and_bone(make_window, qtbot, chest_dicom, monkeypatch):
    from pneumonet_gui import window_level_dialog
    from pneumonet_gui.display import Window

    window = make_window()
    open_and_wait(qtbot, window, chest_dicom())
    view = window.viewer
    QTest.keyClick(window, Qt.Key.Key_F6)
    assert view.preset == "Bone" and window.preset_box.currentText() == "Bone"
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
             " ".join(a.text() + a.toolTip() for a in window.recent_menu.actions())]
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


# --- frames -------------------------------------------------------------------------------------


def test_multi_frame_dicom_slider_and_cine(make_window, qtbot, films, make_dicom_from_image, tmp_path, shots):
    gray = np.asarray(Image.open(films[0]).convert("L"))
    frames = [gray, 255 - gray, gray // 3]
    dicom = make_dicom_from_image(frames, tmp_path, SOPClassUID=SECONDARY_CAPTURE, FrameTime="50")
    window = make_window()
    open_and_wait(qtbot, window, dicom)
    bar, view = window.cine_bar, window.viewer
    assert bar.isVisible() and bar.count == 3
    qtbot.waitUntil(lambda: len(bar.frames) == 2, timeout=WAIT_MS)
    first = pixels(view)
    assert view.overlay_visible
    QTest.keyClick(window, Qt.Key.Key_Period)  # next frame
    assert bar.index == 1 and "Frame 2/3" in view.corner_texts().all_text()
    second = pixels(view)
    assert np.abs(second.astype(int) - first.astype(int)).mean() > 40  # the inverted frame
    assert not view.overlay_visible  # the heat map belongs to frame 1
    assert "frame 1" in window.heatmap_controls.status.text()
    save(window, shots, "viewer-multiframe.png")
    QTest.keyClick(window, Qt.Key.Key_Comma)
    assert bar.index == 0 and view.overlay_visible
    QTest.keyClick(window, Qt.Key.Key_P)  # play
    assert bar.playing
    seen = set()
    qtbot.waitUntil(lambda: seen.add(bar.index) or len(seen) == 3, timeout=10_000)
    QTest.keyClick(window, Qt.Key.Key_P)
    assert not bar.playing


# --- the study browser --------------------------------------------------------------------------


def test_study_browser_pages_through_the_folder_and_marks_results(make_window, qtbot, films, tmp_path, shots):
    folder = tmp_path / "study"
    folder.mkdir()
    copies = [Path(shutil.copy(f, folder / f"IM-{i + 1}.jpeg")) for i, f in enumerate(films)]
    window = make_window()
    open_and_wait(qtbot, window, copies[0])
    strip = window.thumbnails
    assert window.browser_dock.isVisible() and strip.count() == 3
    qtbot.waitUntil(lambda: len(strip._thumbs) == 3, timeout=WAIT_MS)
    QTest.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "IM-2.jpeg", timeout=WAIT_MS)
    QTest.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "IM-3.jpeg", timeout=WAIT_MS)
    QTest.keyClick(window, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "IM-2.jpeg", timeout=WAIT_MS)
    texts = [strip.item(row).text() for row in range(strip.count())]
    assert all("PNEUMONIA" in text for text in texts), texts  # each marked once classified
    assert strip.currentItem().text().startswith("IM-2.jpeg")
    save(window, shots, "viewer-study-browser.png")

    strip.itemClicked.emit(strip.item(0))  # a click on a thumbnail opens it
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "IM-1.jpeg", timeout=WAIT_MS)

    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(films[2], other / "a.jpeg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    window.dropEvent(QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))  # without the batch panel: browse and open
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "a.jpeg", timeout=WAIT_MS)
    assert strip.count() == 1


# --- compare ------------------------------------------------------------------------------------


def test_compare_scan_and_heat_map_side_by_side_and_two_scans(make_window, qtbot, films, monkeypatch, shots):
    from PySide6.QtWidgets import QFileDialog

    window = make_window(size=(1440, 820))
    open_and_wait(qtbot, window, films[0])
    pane, view = window.compare_pane, window.viewer
    QTest.keyClick(window, Qt.Key.Key_S)
    assert pane.isVisible() and pane.mode == "heatmap" and window.compare_heatmap_action.isChecked()
    assert pane.view.has_heatmap() and pane.view.overlay_visible
    assert not view.overlay_visible  # the scan alone on the left
    view.zoom_by(2.0)
    settle()
    assert pane.view.zoom() == pytest.approx(view.zoom(), rel=0.01)  # they zoom together
    save(window, shots, "viewer-compare-heatmap.png")
    QTest.keyClick(window, Qt.Key.Key_S)
    assert not pane.isVisible() and view.overlay_visible

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(films[2]), ""))
    window.compare_scan_action.trigger()
    qtbot.waitUntil(lambda: pane.view.scan is not None, timeout=WAIT_MS)
    assert pane.mode == "scan" and films[2].name in pane.title.text()
    assert not pane.view.has_heatmap()
    save(window, shots, "viewer-compare-two-scans.png")
    pane.closed.emit()
    assert not pane.isVisible()


# --- what the viewer may claim ----------------------------------------------------------------


def test_heat_map_and_legend_for_pneumonia_normal_on_request(make_window, qtbot, films):
    window = make_window("pneumonia")
    open_and_wait(qtbot, window, films[0])
    controls = window.heatmap_controls
    assert window.current.result.label == "PNEUMONIA"
    assert window.viewer.has_heatmap() and window.viewer.overlay_visible
    assert controls.legend.isVisible() and controls.status.text() == LEGEND
    window.close()

    window = make_window("normal")
    open_and_wait(qtbot, window, films[0])
    assert window.current.result.label == "NORMAL" and window.current.heatmap is not None  # computed...
    assert not window.viewer.has_heatmap() and not controls.legend.isVisible()  # ...but not shown
    controls = window.heatmap_controls
    assert "NORMAL" in controls.status.text()
    QTest.keyClick(window, Qt.Key.Key_N)  # also for NORMAL
    assert controls.normal_box.isChecked() and window.viewer.has_heatmap() and window.viewer.overlay_visible
    assert controls.legend.isVisible()


def test_a_flagged_scan_is_withheld_greyed_and_never_has_a_heat_map(make_window, qtbot, films, monkeypatch, tmp_path,
                                                                  shots):
    from pneumonet_core.inference.classifier import Classifier

    real = Classifier.explain

    def flagged(self, scan, *args):
        result, heat = real(self, scan, *args)
        return dataclasses.replace(result, out_of_distribution=True, ood_score=12.5,
                                   ood_reason="the film looks like a hand, not a chest"), heat

    monkeypatch.setattr(Classifier, "explain", flagged)
    window = make_window("pneumonia")
    window.heatmap_presenter.set_show_for_normal(True)
    open_and_wait(qtbot, window, films[0])
    panel = window.result_panel
    assert panel.shown_decision() == WITHHELD
    assert panel.shown_label() == "Withheld" and "hand" in panel.details.text()
    assert theme.MUTED in panel.probability.styleSheet() and panel.bar.greyed  # the number greyed out
    assert not window.viewer.has_heatmap() and not window.heatmap_controls.legend.isVisible()
    window.compare_heatmap_action.trigger()
    assert not window.compare_pane.view.has_heatmap()  # not beside it either
    window.compare_heatmap_action.trigger()
    assert WITHHELD in window.statusBar().currentMessage()
    assert window.thumbnails.scans.result(films[0]).out_of_distribution
    save(window, shots, "viewer-withheld.png")
    assert window.export_report(tmp_path / "w.pdf") is None  # no report states a withheld result
    assert "withheld" in window.info_banner.text() and not (tmp_path / "w.pdf").exists()


# --- help, theme, layout ------------------------------------------------------------------------


def test_help_lists_every_menu_shortcut_and_what_grad_cam_shows(make_window, qtbot):
    from pneumonet_gui.key_help import KeyHelpDialog, shortcut_rows
    from pneumonet_gui.trust import GRADCAM_EXPLAINED

    window = make_window()
    rows = shortcut_rows(window)
    commands = {command: keys for _menu, command, keys in rows}
    for command, keys in (("Zoom in", "+"), ("Zoom out", "-"), ("Distance", "D"), ("Angle", "A"),
                          ("Rotate right", "Ctrl+R"), ("Flip horizontally", "Shift+H"), ("Next scan in folder", "PgDown"),
                          ("Previous scan in folder", "PgUp"), ("Play / pause frames", "P"), ("Bone", "F6"),
                          ("Window/level values", "W"), ("Scan and heat map side by side", "S"), ("Corner overlays", "O")):
        assert keys in commands[command].split(", "), (command, commands.get(command))
    text = KeyHelpDialog(window).text.toPlainText()
    assert all(command in text for command in commands) and GRADCAM_EXPLAINED in text
    assert "+/-" not in text
    zoom = window.viewer.zoom()
    open_and_wait(qtbot, window, sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[0])
    zoom = window.viewer.zoom()
    QTest.keyClick(window, Qt.Key.Key_Plus)  # the plain key the help names
    assert window.viewer.zoom() == pytest.approx(zoom * 1.25, rel=1e-3)


def test_disabled_controls_look_disabled_and_checked_boxes_show_a_tick(qtbot, qapp):
    from PySide6.QtWidgets import QCheckBox, QPushButton

    apply_theme(qapp)
    boxes = []
    for checked in (False, True):
        box = QCheckBox("")
        box.setChecked(checked)
        box.resize(20, 20)
        qtbot.addWidget(box)
        box.show()
        boxes.append(qimage_to_array(box.grab().toImage()))
    unchecked, checked = boxes
    assert (checked[..., :3].min(axis=-1) > 235).sum() >= 4  # white tick pixels
    assert (unchecked[..., :3].min(axis=-1) > 235).sum() == 0

    def text_brightness(button) -> float:
        button.resize(140, 30)
        qtbot.addWidget(button)
        button.show()
        image = qimage_to_array(button.grab().toImage())[..., :3].astype(int).sum(axis=-1)
        return float(np.sort(image.ravel())[-20:].mean())  # the brightest pixels: the text

    enabled = text_brightness(QPushButton("Export"))
    disabled_button = QPushButton("Export")
    disabled_button.setEnabled(False)
    assert text_brightness(disabled_button) < 0.7 * enabled


def test_layout_holds_at_1280x720_with_the_batch_panel_open(make_window, qtbot, films, shots):
    window = make_window("pneumonia", size=(1280, 720), extensions=True)
    save(window, shots, "viewer-empty-1280x720.png")
    open_and_wait(qtbot, window, films[0])
    save(window, shots, "viewer-result-1280x720.png")
    result_height = window.result_dock.height()
    window.batch_dock.show()
    settle()
    panel = window.batch_panel
    assert clipped_labels(window.result_dock) == []
    # Thumbnail rows (54 px): the table showed under three; now the scan spares all it can.
    rows_fit = panel.table.viewport().height() / panel.table.verticalHeader().defaultSectionSize()
    assert rows_fit >= 4.0, rows_fit
    assert window.result_dock.height() == result_height  # the batch takes room from the scan, not the result
    assert window.viewer.width() >= 300 and window.viewer.height() >= 200
    save(window, shots, "viewer-batch-1280x720.png")


def test_layout_holds_at_200_percent_scaling(tmp_path, films, models, shots):
    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtWidgets import QApplication, QLabel
        from pneumonet_gui.app import make_application, _wait_for
        app = make_application()
        from pneumonet_gui.main_window import MainWindow
        window = MainWindow(model={str(models['pneumonia'])!r})
        window.resize(1280, 720)
        window.show()
        window.show_scan({str(films[0])!r})
        assert _wait_for([window.controller.finished], 300)
        window.batch_dock.show()
        for _ in range(10):
            app.processEvents()
        clipped = []
        for label in window.result_dock.findChildren(QLabel):
            if not label.isVisible() or not label.text():
                continue
            short = label.heightForWidth(label.width()) > label.height() + 1 if label.wordWrap() \\
                else label.minimumSizeHint().width() > label.width() + 1
            if short:
                clipped.append(label.text())
        print("RATIO", window.devicePixelRatioF(), "CLIPPED", clipped)
        window.grab().save({str(shots / 'viewer-200-percent.png')!r})
        window.close()
        sys.exit(1 if clipped else 0)
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2",
           "PNEUMONET_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "RATIO 2.0 CLIPPED []" in done.stdout
