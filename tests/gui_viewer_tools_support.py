"""Fixtures and helpers of the reading-room tool tests (imported by test_gui_viewer_tools,
test_gui_viewer_browsing and test_gui_viewer_trust_layout): three training films, tiny models
that call every film PNEUMONIA or NORMAL, a window maker, a chest DICOM maker, and mouse and
screen helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel

from pneumonet_gui.main_window import MainWindow
from pneumonet_gui.qimage import qimage_to_array
from pneumonet_gui.theme import apply_theme
from tests.dicom_factory import SECONDARY_CAPTURE
from tests.helpers import SHARED_TRAIN, make_tiny_model

WAIT_MS = 120_000


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
