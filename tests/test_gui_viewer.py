"""The desktop viewer's display, driven through its real widgets (offscreen Qt, pytest-qt):
the result and heat map against the CLI, the heat-map layer, zoom, pan and window/level,
and the errors a bad file or a broken model shows.

A tiny untrained CNN stands in for the real model (its numbers mean nothing clinically,
but every code path is the real one). Results on screen are checked against what the
``pneumonet classify`` CLI prints for the same file. Screenshots go to
``$PNEUMONET_SCREENSHOTS`` (or the test's tmp folder). Fixtures: tests/gui_viewer_support.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest

from pneumonet_gui.display import PRESET_NAMES
from tests.gui_viewer_support import (  # noqa: F401 - fixtures
    WAIT_MS,
    assert_result_matches_cli,
    cli_result,
    dicom_of,
    images,
    make_window,
    open_and_wait,
    save,
    tiny_model,
    viewer_pixels,
)

# User settings, models and the viewer's INI file live in the test's folder.
pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


# --- results ---------------------------------------------------------------------------


def test_jpeg_result_and_heat_map_match_the_cli(make_window, qtbot, capsys, tiny_model, images, shots):
    expected = cli_result(capsys, tiny_model, images["a"])
    window = make_window()
    window.heatmap_presenter.set_show_for_normal(True)  # whatever the tiny model decides
    open_and_wait(qtbot, window, images["a"])
    assert_result_matches_cli(window, expected)
    assert window.current.heatmap is not None and window.current.heatmap.shape == window.current.scan.pixels.shape
    assert window.viewer.has_heatmap() and window.viewer.overlay_visible
    assert not window.error_banner.isVisible()
    assert window.metadata_panel.shown_values()["Format"] == "JPEG"
    save(window, shots, "viewer-jpeg-result.png")


def test_dicom_result_matches_the_cli_and_shows_its_metadata(make_window, qtbot, capsys, tiny_model, images,
                                                            dicom_of, shots):
    dicom = dicom_of(images["b"])
    expected = cli_result(capsys, tiny_model, dicom)
    window = make_window()
    open_and_wait(qtbot, window, dicom)
    assert_result_matches_cli(window, expected)
    shown = window.metadata_panel.shown_values()
    assert shown["Format"] == "DICOM"
    metadata = window.current.scan.metadata
    assert shown["Patient name"] == metadata["patient_name"] and "Test" in shown["Patient name"]
    assert shown["Patient ID"] == "PNT-0001"
    assert shown["Photometric"] == "MONOCHROME2"
    save(window, shots, "viewer-dicom-result.png")

    window.metadata_panel.hide_identifiers.setChecked(True)
    shown = window.metadata_panel.shown_values()
    assert shown["Patient name"] == shown["Patient ID"] == shown["Birth date"] == "hidden"
    assert shown["Age"] == "3 years" and metadata["patient_age"] == "003Y"  # in words, and not identifying
    save(window, shots, "viewer-dicom-identifiers-hidden.png")


def test_loader_warnings_are_shown_in_a_banner(make_window, qtbot, images, dicom_of, shots):
    dicom = dicom_of(images["normal"], ViewPosition="LL", PatientAge="012Y")
    window = make_window()
    open_and_wait(qtbot, window, dicom)
    assert window.warning_banner.isVisible()
    text = window.warning_banner.text()
    assert "Lateral view" in text and "12" in text
    assert window.current.result is not None  # a warning does not withhold the result
    save(window, shots, "viewer-warning-banner.png")
    open_and_wait(qtbot, window, images["a"])
    assert not window.warning_banner.isVisible()


# --- the heat map layer ----------------------------------------------------------------


def test_heat_map_toggle_opacity_and_colours_change_the_drawn_pixels(make_window, qtbot, images):
    window = make_window()
    window.heatmap_presenter.set_show_for_normal(True)
    open_and_wait(qtbot, window, images["a"])
    with_overlay = viewer_pixels(window)

    QTest.keyClick(window, Qt.Key.Key_H)  # the H shortcut
    assert not window.viewer.overlay_visible and not window.heatmap_controls.show_box.isChecked()
    without = viewer_pixels(window)
    assert np.abs(with_overlay.astype(int) - without.astype(int)).max() > 30

    window.heatmap_controls.show_box.setChecked(True)  # the checkbox does the same
    assert window.commands.heatmap_action.isChecked()
    assert np.array_equal(viewer_pixels(window), with_overlay)

    window.heatmap_controls.opacity.setValue(100)
    opaque = viewer_pixels(window)
    assert window.viewer.overlay_opacity == pytest.approx(1.0)
    assert np.abs(opaque.astype(int) - with_overlay.astype(int)).max() > 30
    window.heatmap_controls.opacity.setValue(0)
    assert np.abs(viewer_pixels(window).astype(int) - without.astype(int)).max() <= 1

    window.heatmap_controls.opacity.setValue(60)
    jet = viewer_pixels(window)
    window.heatmap_controls.colormap.setCurrentText("viridis")
    assert window.viewer.colormap == "viridis"
    assert np.abs(viewer_pixels(window).astype(int) - jet.astype(int)).max() > 30


def test_overlay_stays_aligned_with_the_scan_at_every_zoom_and_pan(make_window, qtbot, images):
    window = make_window()
    window.heatmap_presenter.set_show_for_normal(True)
    open_and_wait(qtbot, window, images["a"])
    view = window.viewer
    height, width = window.current.scan.pixels.shape

    def aligned() -> bool:
        image, overlay = view.image_scene_rect(), view.overlay_scene_rect()
        return image == overlay and (image.width(), image.height()) == (width, height)

    assert aligned()
    for step in (lambda: view.zoom_by(3.0), lambda: view.pan_by(120, -80), view.actual_size,
                 lambda: view.zoom_by(0.2), view.fit):
        step()
        assert aligned()
        # Same transform for both layers: a scan pixel and its heat value land on the same screen pixel.
        corner = view.mapFromScene(view.image_scene_rect().bottomRight())
        assert view.mapFromScene(view.overlay_scene_rect().bottomRight()) == corner


# --- viewing -----------------------------------------------------------------------------


def test_zoom_one_to_one_wheel_and_pan(make_window, qtbot, images):
    window = make_window()
    open_and_wait(qtbot, window, images["a"])
    view = window.viewer

    view.actual_size()
    assert view.zoom() == pytest.approx(1.0)  # one scan pixel per physical screen pixel
    assert view.transform().m11() == pytest.approx(1.0 / view.devicePixelRatioF())

    view.fit()
    fitted = view.zoom()
    cursor = QPointF(view.viewport().width() * 0.3, view.viewport().height() * 0.4)
    before = view.mapToScene(cursor.toPoint())
    wheel = QWheelEvent(cursor, view.viewport().mapToGlobal(cursor), QPoint(), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QTest.qWait(1)
    view.wheelEvent(wheel)
    assert view.zoom() == pytest.approx(fitted * 1.44, rel=1e-3)
    after = view.mapToScene(cursor.toPoint())
    assert abs(after.x() - before.x()) < 1.0 and abs(after.y() - before.y()) < 1.0  # zoom around the cursor

    centre = view.mapToScene(view.viewport().rect().center())
    start = QPoint(200, 200)
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 6):
        QTest.mouseMove(view.viewport(), start + QPoint(12 * i, 8 * i))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(60, 40))
    moved = view.mapToScene(view.viewport().rect().center())
    assert moved.x() < centre.x() - 5 and moved.y() < centre.y() - 5  # dragging right/down shows what was left/up

    window.commands.fit_action.trigger()
    assert view.zoom() == pytest.approx(fitted)


def test_window_level_presets_drag_and_invert_change_a_dicom(make_window, qtbot, images, dicom_of, shots):
    window = make_window()
    open_and_wait(qtbot, window, dicom_of(images["a"]))
    view = window.viewer
    window.commands.heatmap_action.trigger()  # look at the scan itself
    original = viewer_pixels(window)
    assert view.preset == "Default" and window.commands.preset_box.currentText() == "Default"

    presets = view.presets()
    assert list(presets) == list(PRESET_NAMES) and "Bone" in presets
    view.apply_preset("Lung")
    assert view.window == presets["Lung"] and window.commands.preset_box.currentText() == "Lung"
    lung = viewer_pixels(window)
    assert np.abs(lung.astype(int) - original.astype(int)).max() > 30
    view.apply_preset("Mediastinum")
    assert np.abs(viewer_pixels(window).astype(int) - lung.astype(int)).max() > 30
    save(window, shots, "viewer-dicom-mediastinum-window.png")

    view.apply_preset("Default")
    assert np.array_equal(viewer_pixels(window), original)
    start_window = view.window
    start = QPoint(300, 300)
    QTest.mousePress(view.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 6):
        QTest.mouseMove(view.viewport(), start + QPoint(-20 * i, 10 * i))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(-100, 50))
    assert view.preset == "Custom" and window.commands.preset_box.currentText() == "Custom"
    assert view.window.width < start_window.width and view.window.centre > start_window.centre
    assert np.abs(viewer_pixels(window).astype(int) - original.astype(int)).max() > 30
    assert window.status_fields.window.text().startswith("W ")

    window.commands.reset_action.trigger()
    assert np.array_equal(viewer_pixels(window), original)
    window.commands.invert_action.trigger()
    inverted = viewer_pixels(window)
    centre = (slice(300, 500), slice(300, 500))
    assert np.abs(inverted[centre][..., :3].astype(int) + original[centre][..., :3].astype(int) - 255).max() <= 2
    window.commands.reset_action.trigger()
    assert not window.commands.invert_action.isChecked() and np.array_equal(viewer_pixels(window), original)


# --- errors ------------------------------------------------------------------------------


def test_bad_files_show_an_error_and_a_good_file_still_works(make_window, qtbot, tmp_path, images, shots):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.dcm"
    text.write_text("this is a text file, not a DICOM\n" * 20)
    window = make_window()

    open_and_wait(qtbot, window, empty)
    assert window.current.error and "empty.png" in window.current.error
    assert window.error_banner.isVisible() and "empty.png" in window.error_banner.text()
    assert window.result_panel.shown_label() == "No result"
    assert "empty.png" in window.statusBar().currentMessage()
    save(window, shots, "viewer-error-empty-file.png")

    open_and_wait(qtbot, window, text)
    assert "notes.dcm" in window.error_banner.text() and "not a PNG, JPEG or DICOM" in window.error_banner.text()
    assert window.stack.currentWidget() is window.placeholder  # no stale image under the error

    open_and_wait(qtbot, window, images["a"])
    assert window.current.ok and window.current.heatmap is not None
    assert not window.error_banner.isVisible()
    assert window.stack.currentWidget() is window.viewer
    assert [p.name for p in window.recent.paths()] == [images["a"].name]  # failures are not "recent"


def test_a_broken_model_shows_a_message_and_another_model_can_be_loaded(make_window, qtbot, tmp_path, tiny_model,
                                                                         images, shots):
    broken = tmp_path / "broken.pneumonet"
    broken.write_bytes(b"not a zip")
    window = make_window(model=broken)
    qtbot.waitUntil(lambda: window.active_model.state == "failed", timeout=WAIT_MS)
    assert "Model could not be loaded" in window.error_banner.text() and "broken.pneumonet" in window.error_banner.text()
    assert window.status_fields.model.text() == "Model: none"

    open_and_wait(qtbot, window, images["a"])  # the scan still opens; no result without a model
    assert window.current.scan is not None and not window.current.result.classified
    assert "no model is loaded" in window.current.error
    assert "Model could not be loaded" in window.error_banner.text()  # the cause stays on screen
    assert "Could not classify the scan" in window.error_banner.text()
    save(window, shots, "viewer-model-failed.png")

    window.set_model(tiny_model)
    qtbot.waitUntil(lambda: window.current.ok, timeout=WAIT_MS)
    assert window.model_card.name == "tiny-test-cnn"
    assert "Model could not be loaded" not in window.error_banner.text()


def test_unexpected_exceptions_are_shown_not_fatal(qtbot, qapp):
    from pneumonet_gui import error_hook

    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError as exc:
        error_hook.excepthook(type(exc), exc, exc.__traceback__)
    boxes = error_hook.open_error_boxes()
    assert boxes and "boom in a slot" in boxes[-1].text()
    assert not boxes[-1].isModal()
    for box in boxes:
        box.close()
