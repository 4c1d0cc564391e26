"""Moving through images in the real window (offscreen Qt, pytest-qt): the frames of a
multi-frame DICOM and cine, the study browser over a folder, and compare (scan beside its heat
map, or two scans).

A tiny untrained CNN stands in for the model; its threshold decides PNEUMONIA or NORMAL.
Screenshots go to ``$PNEUMONET_SCREENSHOTS`` (the ``shots`` fixture). Fixtures:
tests/gui_viewer_tools_support.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from tests.dicom_factory import SECONDARY_CAPTURE
from tests.gui_viewer_tools_support import (  # noqa: F401 - fixtures
    WAIT_MS,
    films,
    make_window,
    models,
    open_and_wait,
    pixels,
    save,
    settle,
)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


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
    twins = [Path(shutil.copy(films[0], folder / f"person104_bacteria_49{i}.jpeg")) for i in (1, 2)]
    window = make_window()
    open_and_wait(qtbot, window, copies[0])
    strip = window.thumbnails
    assert window.browser_dock.isVisible() and strip.count() == 5
    # Long names are cut in the middle, so two films never read the same; the tooltip has the whole path.
    twin_items = [strip.item(row) for row in range(strip.count()) if "bacteria" in strip.item(row).toolTip()]
    assert len({item.text() for item in twin_items}) == 2 and all("\u2026" in i.text() for i in twin_items)
    assert {item.toolTip() for item in twin_items} == {str(t) for t in twins}
    qtbot.waitUntil(lambda: len(strip._thumbs) == 5, timeout=WAIT_MS)
    QTest.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "IM-2.jpeg", timeout=WAIT_MS)
    QTest.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "IM-3.jpeg", timeout=WAIT_MS)
    QTest.keyClick(window, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: window.current.done and window.current.path.name == "IM-2.jpeg", timeout=WAIT_MS)
    texts = [strip.item(row).text() for row in range(strip.count()) if "IM-" in strip.item(row).text()]
    assert all("Pneumonia 0." in text for text in texts), texts  # each marked once classified, in words
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


def centre_y(view) -> int:
    """The screen row of the image's centre in a view."""
    rect = view.image_item.boundingRect()
    return view.viewport().mapToGlobal(view.mapFromScene(view.image_item.mapToScene(rect.center()))).y()


def test_compare_scan_and_heat_map_side_by_side_and_two_scans(make_window, qtbot, films, monkeypatch, shots):
    from PySide6.QtWidgets import QFileDialog

    window = make_window(size=(1440, 820))
    open_and_wait(qtbot, window, films[0])
    pane, view = window.compare_pane, window.viewer
    QTest.keyClick(window, Qt.Key.Key_S)
    assert pane.isVisible() and pane.mode == "heatmap" and window.viewer_commands.compare_heatmap_action.isChecked()
    assert pane.view.has_heatmap() and pane.view.overlay_visible
    assert not view.overlay_visible  # the scan alone on the left
    view.zoom_by(2.0)
    settle()
    assert pane.view.zoom() == pytest.approx(view.zoom(), rel=0.01)  # they zoom together
    save(window, shots, "viewer-compare-heatmap.png")
    QTest.keyClick(window, Qt.Key.Key_S)
    assert not pane.isVisible() and view.overlay_visible

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(films[2]), ""))
    window.viewer_commands.compare_scan_action.trigger()
    qtbot.waitUntil(lambda: pane.view.scan is not None, timeout=WAIT_MS)
    assert pane.mode == "scan" and films[2].name in pane.title.text()
    # The compared scan is read like the main one: its result, its heat map, its window in its corners.
    assert "Pneumonia, p = 0." in pane.title.text()
    assert pane.view.has_heatmap() and pane.view.overlay_visible
    assert "W 255  L 128 (Default)" in pane.view.corner_texts().all_text()
    QTest.keyClick(window, Qt.Key.Key_F4)  # Lung on the main view: the compared scan's own Lung window
    assert view.preset == pane.view.preset == "Lung" and pane.view.window == pane.view.presets()["Lung"]
    QTest.keyClick(window, Qt.Key.Key_H)
    assert not pane.view.overlay_visible  # the reader's H hides both maps
    QTest.keyClick(window, Qt.Key.Key_H)
    # Level after a resize: the image centres stay on one screen row (they drifted 58 px apart).
    for size in ((1200, 700), (1500, 900)):
        window.resize(*size)
        settle()
        settle()
        assert abs(centre_y(view) - centre_y(pane.view)) <= 2, size
    save(window, shots, "viewer-compare-two-scans.png")
    pane.closed.emit()
    assert not pane.isVisible()
