"""DICOM loading: the same X-ray as JPEG and as DICOM reaches the model the same way;
windows, VOI LUTs, rescale, stored bits, frames and colour are honoured.

DICOM files are made from a real training image (tests/dicom_factory.py) and taken
from pydicom's bundled test files (tests/dicom_loading_support.py).
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut

from pneumonet_core.imaging import load_scan
from pneumonet_core.preprocessing import preprocess
from tests.dicom_loading_support import bundled, training_l

ATOL = 1 / 255 + 1e-6


def linear_window(raw: np.ndarray, centre: float, width: float) -> np.ndarray:
    """DICOM LINEAR window (PS3.3 C.11.2.1.2) into [0, 1], as a viewer would apply it."""
    return np.clip((raw - (centre - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)


def luma(rgb: np.ndarray, full_scale: float) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / full_scale


# --- the same image as JPEG and DICOM ------------------------------------------------


def monochrome2_8bit(gray, make, tmp_path):
    return make(gray, tmp_path)


def monochrome1_8bit(gray, make, tmp_path):
    return make(255 - gray, tmp_path, photometric="MONOCHROME1")


#: 12 bits stored in 16, rescaled to modality units, with the window that maps them back.
SLOPE, INTERCEPT, OFFSET, GAIN = 2.0, -1024.0, 500, 8


def rescaled_16bit(gray, make, tmp_path):
    stored = gray.astype(np.uint16) * GAIN + OFFSET
    return make(stored, tmp_path, bits_stored=12, rescale=(SLOPE, INTERCEPT), window=window_for_gray())


def window_for_gray() -> tuple[float, float]:
    """The LINEAR window under which modality value SLOPE*(GAIN*g + OFFSET) + INTERCEPT shows as g/255."""
    width = SLOPE * GAIN * 255 + 1
    black = SLOPE * OFFSET + INTERCEPT
    return black + 0.5 + (width - 1) / 2, width


@pytest.mark.parametrize("variant", [monochrome2_8bit, monochrome1_8bit, rescaled_16bit])
def test_dicom_made_from_training_jpeg_gives_the_same_model_input(
    variant, some_training_jpeg, make_dicom_from_image, tmp_path
):
    jpeg_scan = load_scan(some_training_jpeg)
    dicom_scan = load_scan(variant(training_l(some_training_jpeg), make_dicom_from_image, tmp_path))

    assert dicom_scan.source.format == "DICOM"
    assert dicom_scan.pixels.dtype == np.float32 and dicom_scan.pixels.shape == (224, 224)
    np.testing.assert_allclose(preprocess(dicom_scan.pixels), preprocess(jpeg_scan.pixels), atol=ATOL)


def test_monochrome1_is_inverted_and_says_so(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)
    scan = load_scan(make_dicom_from_image(255 - gray, tmp_path, photometric="MONOCHROME1"))

    assert scan.source.photometric == "MONOCHROME1"
    assert scan.source.inverted is True
    assert "MONOCHROME1 image inverted for display" in scan.warnings
    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)
    # raw keeps the stored sense; inverting after the default window gives the pixels back
    np.testing.assert_array_equal(scan.raw, (255 - gray).astype(np.float32))
    np.testing.assert_allclose(1 - linear_window(scan.raw, *scan.default_window), scan.pixels, atol=1e-6)


def test_monochrome2_is_not_inverted(some_training_jpeg, make_dicom_from_image, tmp_path):
    scan = load_scan(make_dicom_from_image(some_training_jpeg, tmp_path))

    assert scan.source.inverted is False
    assert not any("inverted" in warning for warning in scan.warnings)


def test_rescale_gives_modality_values_and_the_file_window(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)
    scan = load_scan(rescaled_16bit(gray, make_dicom_from_image, tmp_path))

    stored = gray.astype(np.float64) * GAIN + OFFSET
    np.testing.assert_allclose(scan.raw, SLOPE * stored + INTERCEPT, atol=1e-4)
    assert scan.raw.dtype == np.float32
    assert scan.default_window == pytest.approx(window_for_gray())
    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-5)
    np.testing.assert_allclose(linear_window(scan.raw, *scan.default_window), scan.pixels, atol=1e-5)
    assert scan.source.bits_stored == 12


def test_8bit_without_window_shows_the_full_8bit_range(make_dicom_from_image, tmp_path):
    stored = np.tile(np.arange(50, 200, dtype=np.uint8), (224, 2))[:, :224]

    scan = load_scan(make_dicom_from_image(stored, tmp_path))

    np.testing.assert_allclose(scan.pixels, stored / 255, atol=1e-6)  # not stretched to 0..1
    assert scan.default_window == (128.0, 256.0)
    np.testing.assert_allclose(linear_window(scan.raw, *scan.default_window), scan.pixels, atol=1e-6)


def test_deep_data_without_window_shows_min_to_max(make_dicom_from_image, tmp_path):
    stored = np.linspace(100, 3000, 224 * 224).reshape(224, 224).astype(np.uint16)

    scan = load_scan(make_dicom_from_image(stored, tmp_path, bits_stored=12))

    np.testing.assert_allclose(scan.pixels, (stored - 100.0) / 2900.0, atol=1e-6)
    assert scan.default_window == pytest.approx((1550.5, 2901.0))
    np.testing.assert_allclose(linear_window(scan.raw, *scan.default_window), scan.pixels, atol=1e-6)


def test_flat_deep_image_falls_back_to_the_bits_stored_range(make_dicom_from_image, tmp_path):
    stored = np.full((224, 224), 1024, dtype=np.uint16)

    scan = load_scan(make_dicom_from_image(stored, tmp_path, bits_stored=12))

    assert np.all(np.isfinite(scan.pixels))
    np.testing.assert_allclose(scan.pixels, 1024 / 4095, atol=1e-6)


def test_first_of_several_windows_is_used(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)
    windows = [(128.0, 256.0), (60.0, 40.0)]

    scan = load_scan(make_dicom_from_image(gray, tmp_path, window=windows))

    assert scan.default_window == (128.0, 256.0)
    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)


def test_narrow_window_clips(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)

    scan = load_scan(make_dicom_from_image(gray, tmp_path, window=(100.0, 51.0)))

    np.testing.assert_allclose(scan.pixels, linear_window(gray.astype(np.float64), 100.0, 51.0), atol=1e-6)
    assert scan.pixels[gray < 70].max() == 0.0 and scan.pixels[gray > 130].min() == 1.0


def test_voi_lut_sequence_is_applied(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)
    lut = ((np.arange(256) / 255.0) ** 0.5 * 4095).astype(np.uint16)  # a gamma curve, 12-bit out

    scan = load_scan(make_dicom_from_image(gray, tmp_path, voi_lut=(0, lut)))

    np.testing.assert_allclose(scan.pixels, lut[gray] / 4095.0, atol=1e-6)


@pytest.mark.parametrize(
    "voi",
    [{"window": (128.0, 0.0)}, {"window": (128.0, 256.0), "voi_function": "CUBIC"}],
    ids=["width 0", "unknown VOI LUT Function"],
)
def test_unusable_window_falls_back_with_a_warning(voi, some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)

    scan = load_scan(make_dicom_from_image(gray, tmp_path, **voi))

    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)
    assert any(warning.startswith("The file's window could not be used") for warning in scan.warnings)


def test_sigmoid_voi_function_is_honoured(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)

    scan = load_scan(make_dicom_from_image(gray, tmp_path, window=(128.0, 64.0), voi_function="SIGMOID"))

    expected = 1 / (1 + np.exp(-4 * (gray - 128.0) / 64.0))
    np.testing.assert_allclose(scan.pixels, expected, atol=1e-6)


def test_unused_high_bits_are_ignored(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)
    clean = gray.astype(np.uint16) * 16  # 12-bit values
    dirty = clean.copy()
    dirty[::2] |= 0xF000  # overlay-like garbage above BitsStored

    clean_scan = load_scan(make_dicom_from_image(clean, tmp_path, bits_stored=12, window=(2040.5, 4081.0)))
    dirty_scan = load_scan(make_dicom_from_image(dirty, tmp_path, bits_stored=12, window=(2040.5, 4081.0)))

    np.testing.assert_array_equal(dirty_scan.raw, clean_scan.raw)
    np.testing.assert_array_equal(dirty_scan.pixels, clean_scan.pixels)


def test_signed_pixels_with_rescale(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)
    stored = gray.astype(np.int16) - 128

    scan = load_scan(make_dicom_from_image(stored, tmp_path, rescale=(1.0, 128.0), window=(128.0, 256.0)))

    np.testing.assert_array_equal(scan.raw, gray.astype(np.float32))
    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)


def test_multiframe_uses_the_first_frame_and_warns(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)

    scan = load_scan(make_dicom_from_image([gray, 255 - gray, gray // 2], tmp_path))

    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)
    assert scan.source.frames == 3
    assert "Multi-frame image (3 frames): only the first frame is used" in scan.warnings


# --- colour ------------------------------------------------------------------------------


def test_rgb_dicom_becomes_luminance_with_a_warning(make_dicom_from_image, tmp_path):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(230, 240, 3), dtype=np.uint8)

    scan = load_scan(make_dicom_from_image(rgb, tmp_path))

    assert scan.source.photometric == "RGB"
    np.testing.assert_allclose(scan.pixels, luma(rgb, 255.0), atol=1e-6)
    np.testing.assert_allclose(linear_window(scan.raw, *scan.default_window), scan.pixels, atol=1e-5)
    assert "Colour image (RGB) converted to grayscale: X-rays are grayscale" in scan.warnings


def test_palette_colour_dicom_becomes_luminance():
    path = bundled("examples_palette.dcm")
    ds = pydicom.dcmread(path)

    scan = load_scan(path)

    assert scan.source.photometric == "PALETTE COLOR"
    np.testing.assert_allclose(scan.pixels, luma(apply_color_lut(ds.pixel_array, ds), 65535.0), atol=1e-6)
