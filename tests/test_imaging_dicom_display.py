"""What a viewer reads from a DICOM file beyond the Scan: spacing, descriptions, frames."""

from __future__ import annotations

import numpy as np

from pneumonet_core.imaging.dicom_display import (
    IMAGER_PIXEL_SPACING,
    PIXEL_SPACING,
    DisplayHeader,
    iter_frames,
    read_display_header,
)


def test_pixel_spacing_first_then_imager_pixel_spacing_then_none(tmp_path, make_dicom_from_image):
    image = np.zeros((16, 12), np.uint8)
    both = read_display_header(make_dicom_from_image(image, tmp_path, PixelSpacing=[0.15, 0.16],
                                                     ImagerPixelSpacing=[0.2, 0.2], StudyDescription="CHEST AP",
                                                     SeriesDescription="AP supine", SeriesNumber="3",
                                                     InstanceNumber="7"))
    assert both.pixel_spacing == (0.15, 0.16) and both.spacing_source == PIXEL_SPACING
    assert (both.study_description, both.series_description, both.series_number, both.instance_number) == \
        ("CHEST AP", "AP supine", "3", "7")
    detector = read_display_header(make_dicom_from_image(image, tmp_path, ImagerPixelSpacing=[0.2, 0.25]))
    assert detector.pixel_spacing == (0.2, 0.25) and detector.spacing_source == IMAGER_PIXEL_SPACING
    bad = read_display_header(make_dicom_from_image(image, tmp_path, PixelSpacing=[0, 0]))
    assert bad.pixel_spacing is None and bad.spacing_source is None
    assert bad.frames == 1 and bad.frame_time_ms is None


def test_patient_orientation_from_its_tag_else_from_image_orientation_never_from_view_position(
        tmp_path, make_dicom_from_image):
    image = np.zeros((16, 12), np.uint8)
    tagged = read_display_header(make_dicom_from_image(image, tmp_path, PatientOrientation=["L", "F"]))
    assert tagged.patient_orientation == ("L", "F")
    cosines = read_display_header(make_dicom_from_image(image, tmp_path, ImageOrientationPatient=[1, 0, 0, 0, 0, -1]))
    assert cosines.patient_orientation == ("L", "F")
    oblique = read_display_header(make_dicom_from_image(image, tmp_path,
                                                        ImageOrientationPatient=[0.8, 0.6, 0, 0, 0, -1]))
    assert oblique.patient_orientation == ("LP", "F")
    # View Position alone does not say which side is the patient's left: no marker is guessed.
    assert read_display_header(make_dicom_from_image(image, tmp_path, ViewPosition="AP")).patient_orientation is None


def test_a_file_that_is_not_dicom_has_an_empty_header(tmp_path, some_training_jpeg):
    assert read_display_header(some_training_jpeg) == DisplayHeader()
    assert read_display_header(tmp_path / "missing.dcm") == DisplayHeader()


def test_frames_come_back_as_modality_values_with_their_cine_rate(tmp_path, make_dicom_from_image):
    frames = [np.full((8, 6), value, np.uint16) for value in (100, 200, 300)]
    path = make_dicom_from_image(frames, tmp_path, rescale=(2.0, -50.0), FrameTime="40")
    header = read_display_header(path)
    assert header.frames == 3 and header.frame_time_ms == 40.0
    decoded = dict(iter_frames(path, start=1))
    assert sorted(decoded) == [1, 2]
    assert decoded[1].dtype == np.float32 and np.all(decoded[1] == 200 * 2 - 50) and np.all(decoded[2] == 550)
    rate = read_display_header(make_dicom_from_image(frames, tmp_path, RecommendedDisplayFrameRate="25"))
    assert rate.frame_time_ms == 40.0
