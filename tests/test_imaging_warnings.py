"""Warnings that a scan lies outside the training population, never silent."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pneumonet_core.imaging import load_scan
from pneumonet_core.imaging.clinical_warnings import (
    age_from_dates,
    clinical_warnings,
    colour_warning,
    is_training_age,
    parse_dicom_age,
)

#: Metadata of a scan like the training images: a 3-year-old's frontal chest radiograph.
TRAINING_LIKE = {
    "patient_name": None,
    "patient_id": None,
    "patient_birth_date": "2021-03-01",
    "patient_age": "003Y",
    "patient_sex": "M",
    "study_date": "2024-03-15",
    "modality": "CR",
    "body_part": "CHEST",
    "view_position": "AP",
    "manufacturer": None,
}


def warnings_for(width: int = 224, height: int = 224, **changes) -> list[str]:
    return clinical_warnings({**TRAINING_LIKE, **changes}, width, height)


def test_training_like_scan_has_no_warnings():
    assert warnings_for() == []


def test_no_metadata_at_all_has_no_warnings():
    assert clinical_warnings({}, 224, 224) == []


@pytest.mark.parametrize(
    ("value", "years", "words"),
    [
        ("004Y", 4.0, "4 years"),
        ("001Y", 1.0, "1 year"),
        ("018M", 1.5, "18 months"),
        ("030D", 30 / 365.25, "30 days"),
        ("010W", 70 / 365.25, "10 weeks"),
        ("5y", 5.0, "5 years"),
    ],
)
def test_parse_dicom_age(value, years, words):
    assert parse_dicom_age(value) == (pytest.approx(years), words)


@pytest.mark.parametrize("value", ["", None, "Y", "four", "1234Y", "4 years", "-04Y"])
def test_parse_dicom_age_rejects_non_age_strings(value):
    assert parse_dicom_age(value) is None


@pytest.mark.parametrize(
    ("birth", "study", "years", "words"),
    [
        ("20210301", "20240315", 3.0, "3 years"),
        ("2021-03-01", "2024-02-28", 35 / 12, "2 years"),
        ("20230115", "20240314", 13 / 12, "13 months"),
        ("20240301", "20240315", 14 / 365.25, "14 days"),
    ],
)
def test_age_from_dates(birth, study, years, words):
    assert age_from_dates(birth, study) == (pytest.approx(years), words)


@pytest.mark.parametrize(
    ("birth", "study"),
    [("20240315", "20210301"), ("2021", "20240301"), ("20210230", "20240301"), (None, "20240301")],
)
def test_age_from_dates_needs_two_valid_ordered_dates(birth, study):
    assert age_from_dates(birth, study) is None


@pytest.mark.parametrize(
    ("years", "inside"), [(0.99, False), (1.0, True), (3.0, True), (5.99, True), (6.0, False), (18, False)]
)
def test_training_age_is_one_to_five_years(years, inside):
    assert is_training_age(years) is inside


@pytest.mark.parametrize("modality", ["CR", "DX", "RG", "cr"])
def test_radiograph_modalities_are_accepted(modality):
    assert warnings_for(modality=modality) == []


@pytest.mark.parametrize("modality", ["MR", "CT", "US", "OT", "NM"])
def test_other_modalities_warn(modality):
    assert warnings_for(modality=modality) == [
        f"Modality {modality} is not a radiograph (CR, DX, RG): the model knows chest X-rays only"
    ]


@pytest.mark.parametrize("part", ["CHEST", "Chest", "THORAX", "LUNG", "chest pa"])
def test_chest_body_parts_are_accepted(part):
    assert warnings_for(body_part=part) == []


@pytest.mark.parametrize("part", ["KNEE", "ABDOMEN", "HEAD", "WHOLE BODY"])
def test_other_body_parts_warn(part):
    assert warnings_for(body_part=part) == [f"Body part is {part}, not the chest"]


@pytest.mark.parametrize("view", ["LL", "RL", "LATERAL", "lateral"])
def test_lateral_views_warn(view):
    assert warnings_for(view_position=view) == [
        f"Lateral view ({view.upper()}): the model was trained on frontal (AP) chest X-rays"
    ]


@pytest.mark.parametrize("view", ["AP", "PA", None])
def test_frontal_or_unknown_views_are_accepted(view):
    assert warnings_for(view_position=view) == []


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("001Y", None),
        ("012M", None),
        ("005Y", None),
        ("011M", "Patient age 11 months is outside the training population (children 1 to 5 years)"),
        ("030D", "Patient age 30 days is outside the training population (children 1 to 5 years)"),
        ("006Y", "Patient age 6 years is outside the training population (children 1 to 5 years)"),
        ("018Y", "Patient age 18 years is outside the training population (children 1 to 5 years)"),
        ("abc", "Patient age 'abc' could not be read: the model was trained on children 1 to 5 years"),
    ],
)
def test_recorded_age(age, expected):
    assert warnings_for(patient_age=age) == ([expected] if expected else [])


def test_age_is_computed_from_dates_when_not_recorded():
    assert warnings_for(patient_age=None, patient_birth_date="2010-06-01", study_date="2024-03-15") == [
        "Patient age 13 years (from birth and study dates) is outside the training population "
        "(children 1 to 5 years)"
    ]
    assert warnings_for(patient_age=None, patient_birth_date="2020-06-01", study_date="2024-03-15") == []


def test_recorded_age_wins_over_dates():
    assert warnings_for(patient_age="004Y", patient_birth_date="1990-01-01") == []


@pytest.mark.parametrize(("width", "height"), [(223, 300), (300, 111), (100, 80)])
def test_images_smaller_than_the_model_input_warn(width, height):
    assert warnings_for(width, height) == [f"Image is smaller than the model input ({width} x {height} < 224 x 224)"]


@pytest.mark.parametrize(("width", "height"), [(224, 224), (2048, 2500)])
def test_images_at_least_the_model_input_do_not_warn(width, height):
    assert warnings_for(width, height) == []


def test_several_problems_give_several_warnings():
    assert len(warnings_for(100, 100, modality="MR", body_part="KNEE", view_position="LL", patient_age="040Y")) == 5


def test_colour_warning_threshold():
    assert colour_warning(0.0, "RGB") is None
    assert colour_warning(0.02, "RGB") is None
    assert colour_warning(0.05, "RGB") == "Colour image (RGB) converted to grayscale: X-rays are grayscale"


# --- the warnings reach the Scan --------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"Modality": "MR"}, "Modality MR is not a radiograph (CR, DX, RG): the model knows chest X-rays only"),
        ({"BodyPartExamined": "KNEE"}, "Body part is KNEE, not the chest"),
        ({"ViewPosition": "LL"}, "Lateral view (LL): the model was trained on frontal (AP) chest X-rays"),
        ({"PatientAge": "018Y"}, "Patient age 18 years is outside the training population (children 1 to 5 years)"),
        (
            {"PatientAge": None, "PatientBirthDate": "20100101", "StudyDate": "20240315"},
            "Patient age 14 years (from birth and study dates) is outside the training population "
            "(children 1 to 5 years)",
        ),
    ],
)
def test_dicom_header_warnings_reach_the_scan(header, expected, some_training_jpeg, make_dicom_from_image, tmp_path):
    scan = load_scan(make_dicom_from_image(some_training_jpeg, tmp_path, **header))

    assert scan.warnings == (expected,)


def test_small_dicom_warns(make_dicom_from_image, tmp_path):
    scan = load_scan(make_dicom_from_image(np.zeros((80, 100), np.uint8), tmp_path))

    assert scan.warnings == ("Image is smaller than the model input (100 x 80 < 224 x 224)",)


def test_small_png_warns(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((80, 100), np.uint8)).save(path)

    assert load_scan(path).warnings == ("Image is smaller than the model input (100 x 80 < 224 x 224)",)


def test_monochrome1_and_clinical_warnings_together(some_training_jpeg, make_dicom_from_image, tmp_path):
    gray = np.asarray(Image.open(some_training_jpeg).convert("L"))

    path = make_dicom_from_image(255 - gray, tmp_path, photometric="MONOCHROME1", Modality="DX", ViewPosition="RL")

    scan = load_scan(path)

    assert scan.warnings == (
        "MONOCHROME1 image inverted for display",
        "Lateral view (RL): the model was trained on frontal (AP) chest X-rays",
    )
