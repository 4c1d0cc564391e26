"""DICOM loading: every transfer syntax decodes to the same pixels, lossless exactly and
lossy closely.

DICOM files are made from a real training image (tests/dicom_factory.py) and taken
from pydicom's bundled test files for the syntaxes nothing here can encode.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

from pneumonet_core.imaging import load_scan
from tests.dicom_loading_support import bundled, training_l

# --- transfer syntaxes -----------------------------------------------------------------

LOSSLESS_MADE = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    JPEG2000Lossless,
]


@pytest.mark.parametrize("syntax", LOSSLESS_MADE, ids=lambda uid: uid.name)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lossless_syntaxes_made_from_a_training_image(
    syntax, dtype, some_training_jpeg, make_dicom_from_image, tmp_path
):
    gray = training_l(some_training_jpeg)
    stored = gray.astype(dtype) * (257 if dtype == np.uint16 else 1)
    window = {} if dtype == np.uint8 else {"window": (32768.0, 65536.0)}

    scan = load_scan(make_dicom_from_image(stored, tmp_path, transfer_syntax=syntax, **window))

    assert scan.source.transfer_syntax == syntax.name
    np.testing.assert_array_equal(scan.raw, stored.astype(np.float32))
    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)


def test_jpeg_baseline_made_from_a_training_image(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)

    scan = load_scan(make_dicom_from_image(gray, tmp_path, transfer_syntax=JPEGBaseline8Bit))

    assert scan.source.transfer_syntax == JPEGBaseline8Bit.name
    error = np.abs(scan.pixels - gray / 255)
    assert error.max() < 8 / 255 and error.mean() < 1 / 255  # lossy, quality 95


def test_jpeg_baseline_rgb_is_stored_as_ybr_and_comes_back_gray(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = training_l(some_training_jpeg)

    scan = load_scan(make_dicom_from_image(np.dstack([gray] * 3), tmp_path, transfer_syntax=JPEGBaseline8Bit))

    assert scan.source.photometric == "YBR_FULL_422"
    assert np.abs(scan.pixels - gray / 255).mean() < 1 / 255
    assert not any("Colour" in warning for warning in scan.warnings)


MR_SMALL_SYNTAXES = [
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
]


@pytest.mark.parametrize("name", MR_SMALL_SYNTAXES)
def test_bundled_lossless_syntaxes_decode_identically(name):
    reference = load_scan(bundled("MR_small.dcm"))
    scan = load_scan(bundled(name))

    assert scan.source.transfer_syntax == pydicom.dcmread(bundled(name)).file_meta.TransferSyntaxUID.name
    np.testing.assert_array_equal(scan.raw, reference.raw)
    np.testing.assert_array_equal(scan.pixels, reference.pixels)
    assert scan.default_window == reference.default_window == (600.0, 1600.0)


def test_bundled_jpeg_lossless_matches_rle_of_the_same_image():
    jpeg_lossless = load_scan(bundled("SC_rgb_jpeg_gdcm.dcm"))
    rle = load_scan(bundled("SC_rgb_rle.dcm"))

    assert jpeg_lossless.source.transfer_syntax.startswith("JPEG Lossless")
    np.testing.assert_array_equal(jpeg_lossless.pixels, rle.pixels)


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("SC_rgb_jpeg_dcmtk.dcm", "JPEG Baseline (Process 1)"),
        ("JPGExtended.dcm", "JPEG Extended (Process 2 and 4)"),
        ("JPEGLSNearLossless_16.dcm", "JPEG-LS Lossy (Near-Lossless) Image Compression"),
        ("JPEG2000.dcm", "JPEG 2000 Image Compression"),
        ("693_J2KI.dcm", "JPEG 2000 Image Compression"),
        ("image_dfl.dcm", "Deflated Explicit VR Little Endian"),
    ],
)
def test_bundled_lossy_and_other_syntaxes_decode(name, syntax):
    ds = pydicom.dcmread(bundled(name))
    scan = load_scan(bundled(name))

    assert scan.source.transfer_syntax == syntax
    assert scan.pixels.shape == (ds.Rows, ds.Columns)
    assert np.all(np.isfinite(scan.pixels)) and scan.pixels.min() >= 0 and scan.pixels.max() <= 1
    assert scan.pixels.std() > 0.01  # an image, not a flat fill


def test_bundled_lossy_ybr_jpeg_is_close_to_the_lossless_original():
    lossy = load_scan(bundled("SC_rgb_jpeg_dcmtk.dcm"))
    lossless = load_scan(bundled("SC_rgb_rle.dcm"))

    assert lossy.source.photometric == "YBR_FULL"
    assert np.abs(lossy.pixels - lossless.pixels).mean() < 2 / 255
