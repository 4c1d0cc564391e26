"""The viewer's pixel rules without widgets: window/level, presets, heat-map colours, texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pneumonet_core.imaging import load_scan
from pneumonet_core.imaging.scan import Scan, SourceInfo
from pneumonet_gui import display
from pneumonet_gui.display import Window
from pneumonet_gui.result_panel import decision_text, format_pair
from tests.dicom_factory import SECONDARY_CAPTURE


class _Prediction:
    def __init__(self, probability, threshold, label):
        self.probability, self.threshold, self.label = probability, threshold, label


def test_decision_text_names_the_decision_probability_and_threshold():
    assert decision_text(_Prediction(0.9312, 0.41, "PNEUMONIA")) == "Pneumonia (p = 0.931 \u2265 threshold 0.410)"
    assert decision_text(_Prediction(0.12, 0.41, "NORMAL")) == "No pneumonia found (p = 0.120 < threshold 0.410)"
    # As many decimals as the probability printed above it: 0.995 is not "1.00".
    assert decision_text(_Prediction(0.995, 0.156, "PNEUMONIA")) == "Pneumonia (p = 0.995 \u2265 threshold 0.156)"
    # Close to the threshold, enough decimals to see which side it is on.
    assert decision_text(_Prediction(0.4099, 0.41, "NORMAL")) == "No pneumonia found (p = 0.4099 < threshold 0.4100)"
    assert format_pair(0.500012, 0.5) == ("0.50001", "0.50000")


def test_file_window_shows_exactly_what_the_model_saw(some_training_jpeg, make_dicom_from_image, tmp_path):
    scan = load_scan(make_dicom_from_image(some_training_jpeg, tmp_path, SOPClassUID=SECONDARY_CAPTURE))
    assert scan.raw is not None and display.has_raw(scan)
    expected = np.round(scan.pixels * 255).astype(np.uint8)
    assert np.abs(display.render_gray(scan).astype(int) - expected).max() <= 1
    # The file's window applied to the raw values (DICOM LINEAR) gives the same picture.
    same = display.render_gray(scan, display.default_window(scan))
    assert np.abs(same.astype(int) - expected).max() <= 1
    assert np.array_equal(display.render_gray(scan, None, invert=True), 255 - display.render_gray(scan))


def test_monochrome1_is_drawn_like_monochrome2_under_any_window(some_training_jpeg, make_dicom_from_image, tmp_path):
    from PIL import Image

    with Image.open(some_training_jpeg) as image:
        gray = np.asarray(image.convert("L"))
    m2 = load_scan(make_dicom_from_image(gray, tmp_path))
    m1 = load_scan(make_dicom_from_image(255 - gray, tmp_path, photometric="MONOCHROME1"))
    assert m1.source.inverted
    for name in ("Full range",):
        a = display.render_gray(m2, display.window_presets(m2)[name])
        b = display.render_gray(m1, display.window_presets(m1)[name])
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    # Lung is the dark half of the picture for both: same orientation, similar windows.
    lung2 = display.render_gray(m2, display.window_presets(m2)["Lung"]).astype(int)
    lung1 = display.render_gray(m1, display.window_presets(m1)["Lung"]).astype(int)
    assert np.abs(lung2 - lung1).mean() < 3


def test_presets_differ_and_spread_their_half_of_the_values():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0.0, 1.0, (200, 160)).astype(np.float32)
    scan = Scan(path=Path("x.png"), pixels=pixels, source=SourceInfo("PNG", 160, 200, "L"))
    presets = display.window_presets(scan)
    assert list(presets) == list(display.PRESET_NAMES)
    assert presets["Default"] == Window(0.5, 1.0)
    lung, mediastinum = presets["Lung"], presets["Mediastinum"]
    assert lung.centre < 0.5 < mediastinum.centre
    assert lung.width < 1.0 and mediastinum.width < 1.0
    dark = display.render_gray(scan, lung)
    assert (dark[pixels > 0.7] == 255).all()  # bright values saturate under the lung window


def test_window_drag_and_minimum_width():
    w = display.window_after_drag(Window(100.0, 400.0), dx=50, dy=-25, span=1000.0, floor=2.0)
    assert w == Window(50.0, 500.0)
    assert display.window_after_drag(Window(100.0, 10.0), dx=-1000, dy=0, span=1000.0, floor=2.0).width == 2.0


@pytest.mark.parametrize("name", display.COLORMAPS)
def test_heatmap_colours_are_clear_where_cool_and_opaque_where_hot(name):
    heat = np.linspace(0.0, 1.0, 101, dtype=np.float32).reshape(1, -1)
    rgba = display.heatmap_rgba(heat, name)
    assert rgba.shape == (1, 101, 4) and rgba.dtype == np.uint8
    assert (rgba[0, : int(display.HEAT_FLOOR * 100), 3] == 0).all()
    assert rgba[0, -1, 3] == 255
    assert np.all(np.diff(rgba[0, :, 3].astype(int)) >= 0)
    assert not np.array_equal(rgba[0, 50, :3], rgba[0, 100, :3])


def test_low_influence_is_clear_and_the_default_colours_are_perceptually_uniform():
    assert display.COLORMAPS[0] in ("inferno", "viridis", "magma", "cividis")  # not jet, which tints all navy
    heat = np.linspace(0.0, 1.0, 101, dtype=np.float32).reshape(1, -1)
    alpha = display.heatmap_rgba(heat)[0, :, 3].astype(int)
    assert (alpha[:20] == 0).all()  # the lowest fifth of the scale leaves the film untouched
    assert alpha[30] <= 0.25 * 255 and alpha[50] <= 0.65 * 255  # a gentle ramp, not a square root
    assert (alpha[int(round(display.HEAT_FULL * 100)):] == 255).all()


def test_heatmap_rgba_tolerates_nan_and_out_of_range():
    rgba = display.heatmap_rgba(np.array([[np.nan, -1.0, 2.0]], dtype=np.float32))
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 0 and rgba[0, 2, 3] == 255


def test_qimage_round_trip(qapp):
    from pneumonet_gui.qimage import gray_to_qimage, qimage_to_array, rgba_to_qimage

    gray = np.arange(7 * 5, dtype=np.uint8).reshape(5, 7) * 7  # odd width: stride padding
    back = qimage_to_array(gray_to_qimage(gray))
    assert np.array_equal(back[..., 0], gray) and (back[..., 3] == 255).all()
    rgba = np.random.default_rng(1).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    assert np.array_equal(qimage_to_array(rgba_to_qimage(rgba)), rgba)


def test_the_typed_window_of_a_jpeg_is_in_its_0_to_255_grey_levels(qtbot):
    from pneumonet_gui.window_level_dialog import WindowLevelDialog

    dialog = WindowLevelDialog(Window(0.5, 1.0), (0.0, 1.0), raw_units=False)
    qtbot.addWidget(dialog)
    assert (dialog.width_box.value(), dialog.level_box.value()) == (255.0, 128.0)  # whole grey levels
    dialog.width_box.setValue(102.0)
    dialog.level_box.setValue(51.0)
    assert dialog.window() == Window(51.0 / 255.0, 102.0 / 255.0)  # the viewer keeps working in 0..1
    assert display.format_window(0.2, 0.4, 255.0) == "W 102  L 51"
