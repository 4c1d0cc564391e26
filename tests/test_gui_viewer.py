"""The desktop viewer, driven through its real widgets (offscreen Qt, pytest-qt).

A tiny untrained CNN stands in for the real model (its numbers mean nothing clinically,
but every code path is the real one). Results on screen are checked against what the
``pneumonet classify`` CLI prints for the same file. Screenshots go to
``$PNEUMONET_SCREENSHOTS`` (or the test's tmp folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from pneumonet_core.cli.main import main as cli_main
from pneumonet_gui.display import PRESET_NAMES
from pneumonet_gui.main_window import MainWindow
from pneumonet_gui.qimage import qimage_to_array
from pneumonet_gui.result_panel import format_pair
from pneumonet_gui.theme import apply_theme
from tests.dicom_factory import SECONDARY_CAPTURE
from tests.helpers import SHARED_TRAIN, make_tiny_model

# User settings, models and the viewer's INI file live in the test's folder.
pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

WAIT_MS = 120_000  # generous: CI has 2 cores; a wait ends as soon as the condition holds


# --- fixtures ------------------------------------------------------------------------



@pytest.fixture(scope="module")
def images() -> dict[str, Path]:
    """Two PNEUMONIA images and one NORMAL image from the shared training set."""
    pneumonia = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))
    normal = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))
    if not pneumonia or not normal:
        pytest.fail(f"training images not found under {SHARED_TRAIN}")
    return {"a": pneumonia[0], "b": pneumonia[2], "normal": normal[0]}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, images) -> Path:
    """A tiny model whose threshold lies between the probabilities of images a and b.

    Its outputs barely move from 0.5, so a threshold half-way between two images makes
    them land on opposite sides: the label on screen then tells which scan a result is for.
    """
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier

    folder = tmp_path_factory.mktemp("models")
    probe = Classifier.load(make_tiny_model(folder / "probe.pneumonet", seed=0))
    pa, pb = (probe.classify(load_scan(images[k])).probability for k in ("a", "b"))
    assert pa != pb, "the tiny model gives the same probability for two different images"
    return make_tiny_model(folder / "tiny.pneumonet", seed=0, threshold=(pa + pb) / 2.0)


@pytest.fixture
def make_window(qtbot, qapp, tiny_model):
    apply_theme(qapp)

    def make(model=tiny_model, **kwargs) -> MainWindow:
        window = MainWindow(model=model, extensions=False, **kwargs)
        qtbot.addWidget(window)
        window.resize(1280, 820)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def dicom_of(tmp_path, make_dicom_from_image):
    """An 8-bit MONOCHROME2 Secondary Capture made from a JPEG's grayscale."""

    def make(jpeg: Path, **header) -> Path:
        return make_dicom_from_image(jpeg, tmp_path, SOPClassUID=SECONDARY_CAPTURE, **header)

    return make


def cli_result(capsys, model: Path, path: Path) -> dict:
    """What ``pneumonet classify --json`` says about one file."""
    capsys.readouterr()
    code = cli_main(["classify", "--json", "--model", str(model), str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    (result,) = json.loads(out)["results"]
    return result


def open_and_wait(qtbot, window: MainWindow, path: Path) -> None:
    window.show_scan(path)
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)


def viewer_pixels(window: MainWindow) -> np.ndarray:
    return qimage_to_array(window.viewer.viewport().grab().toImage())


def save(widget, folder: Path, name: str) -> Path:
    for _ in range(5):  # let the layout settle after the last change, as it does on screen (and in --screenshot)
        QApplication.processEvents()
    path = folder / name
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path


# --- results ---------------------------------------------------------------------------


def assert_result_matches_cli(window: MainWindow, expected: dict) -> None:
    current = window.current
    assert current.error is None, current.error
    assert current.result.probability == pytest.approx(expected["probability"], abs=1e-6)
    assert current.result.label == expected["label"]
    panel = window.result_panel
    assert panel.shown_label() == expected["label"]
    assert panel.shown_probability() == f"{expected['probability']:.3f}"
    p_text, t_text = format_pair(expected["probability"], expected["threshold"])
    sign = "\u2265" if expected["label"] == "PNEUMONIA" else "<"
    assert panel.shown_decision() == f"{expected['label']} (p = {p_text} {sign} threshold {t_text})"
    assert panel.bar.value() == pytest.approx(expected["probability"], abs=1e-6)
    assert panel.bar.threshold() == pytest.approx(expected["threshold"])
    assert "tiny-test-cnn" in panel.model.text() and "version 1" in panel.model.text()
    assert panel.disclaimer.isVisible() and "not a diagnosis" in panel.disclaimer.text()


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
    assert window.heatmap_action.isChecked()
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

    window.fit_action.trigger()
    assert view.zoom() == pytest.approx(fitted)


def test_window_level_presets_drag_and_invert_change_a_dicom(make_window, qtbot, images, dicom_of, shots):
    window = make_window()
    open_and_wait(qtbot, window, dicom_of(images["a"]))
    view = window.viewer
    window.heatmap_action.trigger()  # look at the scan itself
    original = viewer_pixels(window)
    assert view.preset == "Default" and window.preset_box.currentText() == "Default"

    presets = view.presets()
    assert list(presets) == list(PRESET_NAMES) and "Bone" in presets
    view.apply_preset("Lung")
    assert view.window == presets["Lung"] and window.preset_box.currentText() == "Lung"
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
    assert view.preset == "Custom" and window.preset_box.currentText() == "Custom"
    assert view.window.width < start_window.width and view.window.centre > start_window.centre
    assert np.abs(viewer_pixels(window).astype(int) - original.astype(int)).max() > 30
    assert window.status_fields.window.text().startswith("W ")

    window.reset_action.trigger()
    assert np.array_equal(viewer_pixels(window), original)
    window.invert_action.trigger()
    inverted = viewer_pixels(window)
    centre = (slice(300, 500), slice(300, 500))
    assert np.abs(inverted[centre][..., :3].astype(int) + original[centre][..., :3].astype(int) - 255).max() <= 2
    window.reset_action.trigger()
    assert not window.invert_action.isChecked() and np.array_equal(viewer_pixels(window), original)


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


# --- threads -------------------------------------------------------------------------------


class _Calls(list):
    started: list


@pytest.fixture
def slow_classify(monkeypatch):
    """Classifier.explain (the viewer's one pass) sleeps 0.5 s first (in the worker); records
    file, thread, start and end."""
    from pneumonet_core.inference.classifier import Classifier

    original = Classifier.explain
    calls = _Calls()
    calls.started = []

    def explain(self, scan):
        calls.started.append(Path(scan.path).name)
        start = time.perf_counter()
        time.sleep(0.5)
        result = original(self, scan)
        calls.append((Path(scan.path).name, threading.current_thread().name, start, time.perf_counter()))
        return result

    monkeypatch.setattr(Classifier, "explain", explain)
    return calls


def test_the_window_keeps_repainting_while_a_scan_is_classified(make_window, qtbot, images, slow_classify):
    window = make_window()
    qtbot.waitUntil(lambda: window.active_model.state == "ready", timeout=WAIT_MS)
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    open_and_wait(qtbot, window, images["a"])
    timer.stop()
    assert window.current.ok
    ((name, thread, start, end),) = slow_classify
    assert name == images["a"].name and thread != threading.main_thread().name
    # The 0.5 s sleep ran on the worker: the GUI thread's 10 ms timer kept firing meanwhile
    # (about 50 ticks; a blocked GUI thread would manage one).
    during = [t for t in ticks if start <= t <= end]
    assert len(during) >= 10, f"only {len(during)} timer ticks during a 0.5 s classification"


def test_two_quick_opens_end_with_the_second_scans_result(make_window, qtbot, capsys, tiny_model, images,
                                                         slow_classify):
    expected_b = cli_result(capsys, tiny_model, images["b"])
    expected_a = cli_result(capsys, tiny_model, images["a"])
    assert expected_a["label"] != expected_b["label"]  # see the tiny_model fixture
    window = make_window()
    qtbot.waitUntil(lambda: window.active_model.state == "ready", timeout=WAIT_MS)
    shown = []
    window.controller.classified.connect(lambda p: shown.append((window.current.path.name, p.probability)))
    window.show_scan(images["a"])
    qtbot.waitUntil(lambda: bool(slow_classify.started), timeout=WAIT_MS)  # a is being classified now
    window.show_scan(images["b"])
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    QTest.qWait(800)  # long enough for a's late result to arrive, had it not been dropped
    assert window.current.path == images["b"]
    assert_result_matches_cli(window, expected_b)
    assert shown == [(images["b"].name, pytest.approx(expected_b["probability"], abs=1e-6))]
    assert window.windowTitle().startswith(images["b"].name)
    assert [call[0] for call in slow_classify] == [images["a"].name, images["b"].name]  # a's result was dropped


def test_keras_and_tensorflow_are_imported_off_the_gui_thread(tiny_model, images, tmp_path):
    script = textwrap.dedent(f"""
        import sys, threading
        first = {{}}

        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name in ("keras", "tensorflow") and name not in first:
                    first[name] = threading.current_thread() is threading.main_thread()
                return None

        sys.meta_path.insert(0, Spy())
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from pneumonet_gui.main_window import MainWindow
        window = MainWindow(model={str(tiny_model)!r}, extensions=False)
        window.show()
        assert "keras" not in sys.modules and "tensorflow" not in sys.modules, "imported at start-up"
        from pneumonet_gui.app import _wait_for
        window.show_scan({str(images["a"])!r})
        _wait_for([window.controller.finished], 300)
        assert window.current.ok, window.current.error
        window.close()
        print("FIRST_IMPORT_ON_MAIN", first)
        assert first and not any(first.values()), first
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PNEUMONET_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "'keras': False" in done.stdout


# --- opening files -------------------------------------------------------------------------


def test_open_by_menu_drop_and_recent_files(make_window, qtbot, images, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = make_window()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(images["a"]), ""))
    window.open_action.trigger()  # Ctrl+O
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["a"] and window.current.ok

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(images["b"]))])
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["b"] and window.current.ok

    assert window.recent.paths()[:2] == [images["b"].resolve(), images["a"].resolve()]
    window.commands.rebuild_recent_menu()
    names = [a.text() for a in window.recent_menu.actions()]
    assert names[:2] == [images["b"].name, images["a"].name]
    window.recent_menu.actions()[1].trigger()
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["a"].resolve()

    # Recent files are remembered across windows (QSettings in PNEUMONET_HOME).
    window.close()
    again = make_window()
    assert again.recent.paths()[0] == images["a"].resolve()


# --- the model menu ------------------------------------------------------------------------


def test_model_menu_shows_the_card_and_switches_models(make_window, qtbot, tmp_path, tiny_model, isolated_home):
    from pneumonet_core.models.registry import active_model_path, install_user_model

    other = make_tiny_model(tmp_path / "other.pneumonet", seed=1, name="other-tiny-cnn")
    installed = install_user_model(other)
    window = make_window()
    qtbot.waitUntil(lambda: window.active_model.state == "ready", timeout=WAIT_MS)
    assert window.model_menu.active_action.text().startswith("Active: tiny-test-cnn (version 1)")

    window.model_menu.card_action.trigger()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.commands.dialogs), timeout=WAIT_MS)
    card_text = window.commands.dialogs[-1].text.toPlainText()
    assert "tiny-test-cnn version 1" in card_text and "OPERATING THRESHOLD" in card_text
    window.commands.dialogs[-1].close()

    window.model_menu.rebuild_switch_menu()
    entries = {a.text(): a for a in window.model_menu.switch_menu.actions()}
    assert "other-tiny-cnn (version 1, yours)" in entries
    entries["other-tiny-cnn (version 1, yours)"].trigger()
    qtbot.waitUntil(lambda: window.model_card is not None and window.model_card.name == "other-tiny-cnn",
                    timeout=WAIT_MS)
    assert active_model_path() == installed.resolve()  # remembered as the active model
    assert window.status_fields.model.text() == "Model: other-tiny-cnn v1"
    window.model_menu.rebuild_switch_menu()
    checked = [a.text() for a in window.model_menu.switch_menu.actions() if a.isChecked()]
    assert checked == ["other-tiny-cnn (version 1, yours)"]
    # The slots the model manager and the training wizard connect to exist.
    assert window.manage_models_action in window.model_menu.actions()
    assert window.train_model_action in window.model_menu.actions()


def test_changing_the_model_reclassifies_the_open_scan(make_window, qtbot, tmp_path, images):
    window = make_window()
    open_and_wait(qtbot, window, images["a"])
    first = window.current.result
    other = make_tiny_model(tmp_path / "other.pneumonet", seed=3, name="other-tiny-cnn")
    window.set_model(other)
    qtbot.waitUntil(lambda: window.model_card is not None and window.model_card.name == "other-tiny-cnn"
                    and window.current.ok and window.current.heatmap is not None, timeout=WAIT_MS)
    assert window.current.result.probability != first.probability
    assert "other-tiny-cnn" in window.result_panel.model.text()


def test_export_report_says_when_it_is_not_available(make_window, qtbot, images, monkeypatch):
    monkeypatch.setitem(sys.modules, "pneumonet_core.reports.study_pdf", None)  # import fails
    monkeypatch.delattr("pneumonet_core.reports.study_pdf", raising=False)  # even after another test imported it
    window = make_window()
    assert window.export_action in window.file_menu.actions()
    assert window.export_report() is None
    assert "not available" in window.info_banner.text()


def test_export_report_writes_the_study_pdf(make_window, qtbot, images, tmp_path):
    pytest.importorskip("pneumonet_core.reports.study_pdf")
    window = make_window()
    open_and_wait(qtbot, window, images["a"])
    out = window.export_report(tmp_path / "study.pdf")
    assert out is not None and out.read_bytes()[:5] == b"%PDF-"
    assert "Report saved" in window.statusBar().currentMessage()


def test_export_report_asks_where_and_offers_identifiers_unticked_every_time(make_window, qtbot, images, tmp_path,
                                                                            monkeypatch):
    from pneumonet_gui.export_dialog import ExportDialog

    window = make_window()
    open_and_wait(qtbot, window, images["a"])
    seen = []

    def answer(dialog):
        seen.append(dialog.include_identifiers)
        dialog.path_edit.setText(str(tmp_path / f"asked-{len(seen)}.pdf"))
        dialog.identifiers_box.setChecked(True)  # ticked for this export only
        return True

    monkeypatch.setattr(ExportDialog, "exec", answer)
    assert window.export_report() == tmp_path / "asked-1.pdf"
    assert window.export_report() == tmp_path / "asked-2.pdf"
    assert seen == [False, False]  # the box starts unticked each time the dialog opens


def test_dropping_several_files_opens_the_first_and_offers_all(make_window, qtbot, images):
    window = make_window()
    offered = []
    window.filesDropped.connect(offered.append)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(images[k])) for k in ("b", "a")])
    window.dropEvent(QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["b"] and window.current.ok
    assert offered == [[images["b"], images["a"]]]


def test_add_panel_adds_a_dock(make_window):
    from PySide6.QtWidgets import QLabel

    window = make_window()
    dock = window.add_panel(QLabel("batch results"), "Batch")
    assert dock.windowTitle() == "Batch" and dock.widget().text() == "batch results"
    assert dock.toggleViewAction() in window.view_menu.actions()


# --- scripted runs -------------------------------------------------------------------------


def test_screenshot_command_saves_the_window_with_result_and_heat_map(qtbot, capsys, tiny_model, images, shots):
    out = shots / "viewer-cli-screenshot.png"
    if out.exists():
        out.unlink()
    code = cli_main(["gui", str(images["a"]), "--model", str(tiny_model), "--screenshot", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.exists() and out.stat().st_size > 20_000
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1440, 900)
    assert images["a"].name in captured.out


def test_screenshot_command_fails_with_the_reason_for_a_bad_file(qtbot, capsys, tiny_model, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    code = cli_main(["gui", str(bad), "--model", str(tiny_model), "--screenshot", str(tmp_path / "s.png")])
    assert code != 0
    assert "broken.png" in capsys.readouterr().err


def test_selftest(qtbot, capsys, tiny_model):
    code = cli_main(["gui", "--selftest", "--model", str(tiny_model)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("selftest ok: model tiny-test-cnn")


def test_selftest_fails_for_a_broken_model(qtbot, capsys, tmp_path):
    broken = tmp_path / "broken.pneumonet"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert cli_main(["gui", "--selftest", "--model", str(broken)]) == 1
    assert "selftest FAILED" in capsys.readouterr().err


def test_app_entry_point_opens_the_viewer_or_runs_a_cli_command(monkeypatch, capsys):
    """``pneumonet-gui`` and the frozen app: arguments go to ``pneumonet gui`` unless they name a command."""
    import pneumonet_gui.app as app
    from pneumonet_core.cli.main import app_entry_point

    calls = []
    monkeypatch.setattr(app, "run_app", lambda **kwargs: calls.append(kwargs) or 0)
    for argv, expected in ((["scan.png", "--model", "m.pneumonet"], {"file": Path("scan.png"), "model": Path("m.pneumonet")}),
                           (["--selftest"], {"selftest": True, "file": None})):
        monkeypatch.setattr(sys, "argv", ["Pneumonet", *argv])
        with pytest.raises(SystemExit) as exit_info:
            app_entry_point()
        assert exit_info.value.code == 0
        assert {k: calls[-1][k] for k in expected} == expected
    monkeypatch.setattr(sys, "argv", ["Pneumonet", "classify", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        app_entry_point()
    assert exit_info.value.code == 0 and "usage: pneumonet classify" in capsys.readouterr().out
    assert len(calls) == 2


def test_the_gui_never_imports_the_cli():
    """The GUI calls pneumonet_core; the CLI starts the GUI, never the other way round."""
    root = Path(__file__).resolve().parents[1] / "pneumonet_gui"
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if "import pneumonet_core.cli" in path.read_text() or "from pneumonet_core.cli" in path.read_text()]
    assert offenders == []
