"""What the viewer may claim and how it looks, in the real window (offscreen Qt, pytest-qt):
the heat-map rules (PNEUMONIA by default, NORMAL on request, never for a withheld scan), the
help, the theme's disabled and checked controls, and the layout at 1280x720 and at 200 %.

A tiny untrained CNN stands in for the model; its threshold decides PNEUMONIA or NORMAL.
Screenshots go to ``$PNEUMONET_SCREENSHOTS`` (the ``shots`` fixture). Fixtures:
tests/gui_viewer_tools_support.py.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from pneumonet_core.results import WITHHELD_MESSAGE as WITHHELD
from pneumonet_gui.qimage import qimage_to_array
from pneumonet_gui.theme import apply_theme
from pneumonet_gui.trust import LEGEND
from tests.gui_viewer_tools_support import (  # noqa: F401 - fixtures
    WAIT_MS,
    clipped_labels,
    films,
    make_window,
    models,
    open_and_wait,
    pixels,
    save,
    settle,
)
from tests.helpers import SHARED_TRAIN

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


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
    assert "No pneumonia found" in controls.status.text()
    QTest.keyClick(window, Qt.Key.Key_N)  # also for NORMAL
    assert controls.normal_box.isChecked() and window.viewer.has_heatmap() and window.viewer.overlay_visible
    assert controls.legend.isVisible()


def test_no_scan_offers_no_tool_and_a_hidden_heat_map_reads_off(make_window, qtbot, films):
    window = make_window("normal")
    c, vc, box = window.commands, window.viewer_commands, window.heatmap_controls.show_box
    tools = (c.fit_action, c.actual_size_action, c.invert_action, c.reset_action, c.export_action,
             vc.rotate_right_action, vc.flip_h_action, vc.distance_action, vc.angle_action, vc.window_level_action,
             vc.compare_heatmap_action, vc.compare_scan_action)
    assert not any(action.isEnabled() for action in tools) and not c.preset_box.isEnabled()
    button = c.toolbar.widgetForAction(c.heatmap_action)
    assert not c.heatmap_action.isEnabled() and not button.isChecked() and not box.isChecked()
    window.resize(1300, 800)
    settle()
    assert window.status_fields.zoom.text() == "" and window.status_fields.window.text() == ""  # no "Zoom 100%"

    open_and_wait(qtbot, window, films[0])  # a NORMAL decision: the map is hidden, and the button says so
    assert all(action.isEnabled() for action in tools) and c.preset_box.isEnabled()
    assert window.current.result.label == "NORMAL" and not window.viewer.overlay_visible
    assert not button.isChecked() and not c.heatmap_action.isChecked() and not box.isChecked()
    assert "No pneumonia found" in c.heatmap_action.toolTip() and "No pneumonia found" in box.toolTip()
    assert window.status_fields.zoom.text().startswith("Zoom ")
    assert window.status_fields.window.text() == "W 255  L 128"  # a JPEG: whole 0..255 grey levels
    without = legend_strip(window.viewer)
    QTest.keyClick(window, Qt.Key.Key_N)  # also for NORMAL: now it is on screen, and the button reads on
    assert window.viewer.overlay_visible and button.isChecked() and box.isChecked() and box.isEnabled()
    # The colour bar is drawn on the film itself, so the legend is in view with the map.
    assert np.abs(legend_strip(window.viewer) - without).max() > 100
    QTest.keyClick(window, Qt.Key.Key_H)
    assert not window.viewer.overlay_visible and not button.isChecked() and not box.isChecked()


def legend_strip(view) -> np.ndarray:
    """The bottom centre of the viewer, where the heat map's colour bar is drawn."""
    settle()
    image = pixels(view)[..., :3].astype(int)
    h, w = image.shape[:2]
    return image[h - 40:h - 8, w // 2 - 30:w // 2 + 30]


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
    # no number, bar or threshold: only what was withheld and why
    assert panel.shown_probability() == "" and not panel.probability.isVisible()
    assert not panel.bar.isVisible() and panel.bar.value() is None and panel.bar.threshold() is None
    assert not panel.probability_caption.isVisible()
    assert window.current.result.probability is None and window.current.result.label == "WITHHELD"
    assert not window.viewer.has_heatmap() and not window.heatmap_controls.legend.isVisible()
    window.viewer_commands.compare_heatmap_action.trigger()
    assert not window.compare_pane.view.has_heatmap()  # not beside it either
    window.viewer_commands.compare_heatmap_action.trigger()
    status = window.statusBar().currentMessage()
    assert WITHHELD in status and "p =" not in status and "NORMAL" not in status and "PNEUMONIA" not in status
    assert window.thumbnails.scans.result(films[0]).out_of_distribution
    from pneumonet_gui.thumbnail_strip import result_badge

    assert result_badge(window.thumbnails.scans.result(films[0]))[0] == "withheld"  # the study browser too
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
    window.extensions["batch"].dock.show()
    settle()
    panel = window.extensions["batch"].widget
    assert clipped_labels(window.result_dock) == []
    # Thumbnail rows (54 px): the table showed under three; now the scan spares all it can.
    rows_fit = panel.table.viewport().height() / panel.table.verticalHeader().defaultSectionSize()
    assert rows_fit >= 4.0, rows_fit
    assert window.result_dock.height() >= result_height  # the batch takes room from the scan, not the result
    assert window.viewer.width() >= 300 and window.viewer.height() >= 200
    save(window, shots, "viewer-batch-1280x720.png")


def in_view(scroll, widget) -> bool:
    """The widget lies wholly inside the scroll area's visible part (not scrolled off, not cut)."""
    from PySide6.QtCore import QPoint, QRect

    return scroll.viewport().rect().contains(QRect(widget.mapTo(scroll.viewport(), QPoint(0, 0)), widget.size()))


def add_worklist_rows(window, count: int = 6) -> None:
    from pneumonet_core.dicom_node import events as ev

    events = []
    for i in range(count):
        study = ev.StudyInfo(f"1.2.{i}", patient_name=f"Verylongfamilyname-Doublebarrel, Child {i} Middlename",
                             patient_id=f"ID-{i}", study_date="20240315")
        outcome = ev.Outcome(0.95 - i * 0.1, "PNEUMONIA" if i < 3 else "NORMAL", 0.5, i == 4, 2.5 if i == 4 else None,
                             "the film looks like a hand or a knee, not a chest film this model knows" if i == 4 else None)
        events += [ev.NodeEvent(ev.RECEIVED, f"k{i}", study), ev.NodeEvent(ev.ANSWERED, f"k{i}", study, outcome)]
    window.extensions["worklist"].widget.model.apply(events)


def test_nothing_is_cut_at_1280x720_with_a_normal_film_the_worklist_and_the_batch(make_window, qtbot, films, shots):
    from PySide6.QtWidgets import QMessageBox

    window = make_window("normal", size=(1280, 720), extensions=True)
    open_and_wait(qtbot, window, films[2])
    settle()
    settle()
    scroll, controls = window.result_scroll, window.heatmap_controls
    note = controls.status
    assert "No pneumonia found" in note.text() and in_view(scroll, note)  # the NORMAL note, under no splitter
    assert clipped_labels(window.result_dock) == []
    QTest.keyClick(window, Qt.Key.Key_N)
    settle()
    settle()
    assert controls.legend.isVisible() and in_view(scroll, controls.legend) and in_view(scroll, note)
    for name in ("worklist", "batch"):
        window.extensions[name].dock.show()
    add_worklist_rows(window)
    settle()
    settle()
    assert window.minimumSizeHint().width() <= 1280 and window.width() == 1280
    for dock in (window.result_dock, window.metadata_dock, window.extensions["worklist"].dock,
                 window.extensions["batch"].dock):
        assert dock.width() >= dock.minimumSizeHint().width(), dock.windowTitle()
    assert clipped_labels(window.result_dock) == [] and in_view(scroll, controls.legend) and in_view(scroll, note)
    assert window.result_dock.width() >= 300
    save(window, shots, "screenshot-worklist-1280x720.png")
    window.commands.show_about()
    about = next(d for d in window.commands.dialogs if isinstance(d, QMessageBox))
    assert "chest X\u2011rays" in about.text()  # never "chest X-" / "rays"


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
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
        window.extensions["batch"].dock.show()
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


# --- the README's screenshots, with the bundled custom CNN ----------------------------------------

BUNDLED_CNN = Path(__file__).resolve().parents[1] / "resources" / "models" / "pneumonet-cnn.pneumonet"


def test_reading_room_at_1280x720_and_1920x1080_with_the_bundled_model(qtbot, qapp, tmp_path, make_dicom_from_image,
                                                                      shots):
    """Run with PNEUMONET_SCREENSHOTS=docs to refresh the README's screenshot-*.png."""
    from pneumonet_gui.main_window import MainWindow
    from tests.dicom_factory import SECONDARY_CAPTURE

    apply_theme(qapp)
    window = MainWindow(model=BUNDLED_CNN)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    settle()
    assert not window.commands.fit_action.isEnabled() and window.status_fields.zoom.text() == ""
    save(window, shots, "screenshot-empty-1280x720.png")
    study = tmp_path / "study"
    study.mkdir()
    sources = (sorted((SHARED_TRAIN / "PNEUMONIA").glob("*bacteria*.jpeg"))[:3]
               + sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:2])
    files = [make_dicom_from_image(
        source, study, name=f"IM-{i + 1:04d}.dcm", SOPClassUID=SECONDARY_CAPTURE, PatientName="Test^Child",
        PatientID="PNT-0001", PatientBirthDate="20210301", PatientAge="003Y", PatientSex="F", StudyDate="20240315",
        Modality="CR", BodyPartExamined="CHEST", ViewPosition="AP", PatientOrientation=["L", "F"],
        PixelSpacing=[0.7, 0.7], StudyDescription="CHEST AP", SeriesDescription="AP supine", SeriesNumber="1",
        InstanceNumber=str(i + 1)) for i, source in enumerate(sources)]
    open_and_wait(qtbot, window, files[0])
    settle()
    settle()
    assert window.viewer.corner_texts().edges["left"] == "R"
    assert clipped_labels(window.result_dock) == [] and in_view(window.result_scroll, window.heatmap_controls.status)
    save(window, shots, "screenshot-viewer-1280x720.png")
    window.resize(1920, 1080)
    settle()
    settle()
    for dock in (window.result_dock, window.metadata_dock, window.browser_dock):
        assert dock.width() >= dock.minimumSizeHint().width(), dock.windowTitle()
    assert clipped_labels(window.result_dock) == [] and in_view(window.result_scroll, window.heatmap_controls.status)
    save(window, shots, "screenshot-viewer.png")
    window.compare_with_file(files[3])
    qtbot.waitUntil(lambda: "p = " in window.compare_pane.title.text(), timeout=WAIT_MS)
    settle()
    save(window, shots, "screenshot-compare.png")
    window.stop_comparing()
    window.resize(1280, 720)
    batch = window.extensions["batch"]
    batch.dock.show()
    with qtbot.waitSignal(batch.widget.batchFinished, timeout=WAIT_MS):
        assert batch.widget.open_folder(study)
    settle()
    assert window.minimumSizeHint().width() <= 1280 and clipped_labels(window.result_dock) == []
    save(window, shots, "screenshot-batch-1280x720.png")
    window.close()
