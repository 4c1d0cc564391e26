"""Helpers of the DICOM loading tests (imported by test_imaging_dicom,
test_imaging_dicom_syntaxes and test_imaging_dicom_header): a training image's grayscale and
pydicom's bundled test files."""

from __future__ import annotations

import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file


def training_l(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def bundled(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path, f"pydicom test file {name} is not installed"
    return path
