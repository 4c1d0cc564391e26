"""Fixtures and helpers of the viewer tests (imported by test_gui_viewer, test_gui_viewer_threads
and test_gui_app_commands): three training images, a tiny model whose threshold tells two of
them apart, a window maker, Secondary Captures made from JPEGs, and the checks against what
the ``pneumonet classify`` CLI prints for the same file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from pneumonet_cli.main import main as cli_main
from pneumonet_gui.main_window import MainWindow
from pneumonet_gui.qimage import qimage_to_array
from pneumonet_gui.result_panel import format_pair
from pneumonet_gui.theme import apply_theme
from tests.dicom_factory import SECONDARY_CAPTURE
from tests.helpers import SHARED_TRAIN, make_tiny_model

WAIT_MS = 120_000  # generous: CI has 2 cores; a wait ends as soon as the condition holds


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


def assert_result_matches_cli(window: MainWindow, expected: dict) -> None:
    current = window.current
    assert current.error is None, current.error
    assert current.result.probability == pytest.approx(expected["probability"], abs=1e-6)
    assert current.result.label == expected["label"]
    panel = window.result_panel
    words = {"PNEUMONIA": "Pneumonia", "NORMAL": "No pneumonia found"}[expected["label"]]
    assert panel.shown_label() == words  # people read words; the CLI and exports keep the class name
    assert panel.shown_probability() == f"{expected['probability']:.3f}"
    p_text, t_text = format_pair(expected["probability"], expected["threshold"])
    sign = "\u2265" if expected["label"] == "PNEUMONIA" else "<"
    assert panel.shown_decision() == f"{words} (p = {p_text} {sign} threshold {t_text})"
    assert "assesses pneumonia only" in panel.details.text() and "TB, nodules or devices" in panel.details.text()
    assert panel.bar.value() == pytest.approx(expected["probability"], abs=1e-6)
    assert panel.bar.threshold() == pytest.approx(expected["threshold"])
    assert "tiny-test-cnn" in panel.model.text() and "version 1" in panel.model.text()
    assert panel.disclaimer.isVisible() and "not a diagnosis" in panel.disclaimer.text()
