"""DICOM loading: the metadata read from the header, and DICOM files found by their content
(with or without a preamble, whatever their name).

DICOM files are made from a real training image (tests/dicom_factory.py).
"""

from __future__ import annotations

import numpy as np
from pydicom.uid import ImplicitVRLittleEndian

from pneumonet_core.imaging import METADATA_KEYS, load_scan
from tests.dicom_loading_support import training_l

# --- header ------------------------------------------------------------------------------


def test_metadata_comes_from_the_header(make_dicom_from_image, tmp_path):
    scan = load_scan(make_dicom_from_image(np.zeros((256, 256), np.uint8), tmp_path, ViewPosition="PA"))

    assert list(scan.metadata) == list(METADATA_KEYS)
    assert scan.metadata == {
        "patient_name": "Test, Child",
        "patient_id": "PNT-0001",
        "patient_birth_date": "2021-03-01",
        "patient_age": "003Y",
        "patient_sex": "F",
        "study_date": "2024-03-15",
        "modality": "CR",
        "body_part": "CHEST",
        "view_position": "PA",
        "manufacturer": "Pneumonet test factory",
        **{key: None for key in METADATA_KEYS[10:]},  # identifiers this file does not carry
    }
    assert (scan.source.modality, scan.source.body_part) == ("CR", "CHEST")
    assert (scan.source.width, scan.source.height, scan.source.bits_stored) == (256, 256, 8)


def test_missing_header_elements_are_none(make_dicom_from_image, tmp_path):
    header = {keyword: None for keyword in ("PatientName", "PatientAge", "BodyPartExamined", "Manufacturer")}

    scan = load_scan(make_dicom_from_image(np.zeros((256, 256), np.uint8), tmp_path, **header))

    assert scan.metadata["patient_name"] is None
    assert scan.metadata["patient_age"] is None
    assert scan.metadata["body_part"] is None and scan.source.body_part is None
    assert scan.metadata["modality"] == "CR"


def test_a_chest_radiograph_like_the_training_set_has_no_warnings(some_training_jpeg, make_dicom_from_image, tmp_path):
    scan = load_scan(make_dicom_from_image(some_training_jpeg, tmp_path))

    assert scan.warnings == ()


def test_bare_dataset_without_preamble_loads(some_training_jpeg, make_dicom_from_image, tmp_path):
    path = make_dicom_from_image(some_training_jpeg, tmp_path, preamble=False, transfer_syntax=ImplicitVRLittleEndian)
    assert path.read_bytes()[128:132] != b"DICM"

    scan = load_scan(path)

    assert scan.source.format == "DICOM"
    np.testing.assert_allclose(scan.pixels, training_l(some_training_jpeg) / 255, atol=1e-6)
    assert scan.metadata["modality"] == "CR"


def test_file_meta_without_preamble_loads(some_training_jpeg, make_dicom_from_image, tmp_path):
    full = make_dicom_from_image(some_training_jpeg, tmp_path)
    cut = tmp_path / "no_preamble.dcm"
    cut.write_bytes(full.read_bytes()[132:])  # drop the 128-byte preamble and "DICM"

    scan = load_scan(cut)

    np.testing.assert_array_equal(scan.pixels, load_scan(full).pixels)


def test_dicom_is_found_by_content_whatever_its_name(some_training_jpeg, make_dicom_from_image, tmp_path):
    path = make_dicom_from_image(some_training_jpeg, tmp_path, name="looks_like.png")
    uid_named = make_dicom_from_image(some_training_jpeg, tmp_path, name="1.2.840.10008.99.123")

    assert load_scan(path).source.format == "DICOM"
    assert load_scan(uid_named).source.format == "DICOM"
