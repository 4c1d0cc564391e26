"""The DICOM answers (Structured Report + Secondary Capture) and ``classify --dicom-out``."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest
from PIL import Image

from tests.pacs_fixtures import chest_dicom, chest_jpeg2000, tiny_model  # noqa: F401 - fixtures
from tests.pacs_servers import dciodvfy_errors

CARD = SimpleNamespace(name="test-model", version="7", hash="ab" * 32)


def _result(**extra):
    from pneumonet_core.results import ScanResult

    fields = dict(path="made.dcm", probability=0.87, label="PNEUMONIA", threshold=0.156, warnings=["Lateral view"])
    return ScanResult(**{**fields, **extra})


def _answers(path: Path, result=None, heatmap=None):
    from pneumonet_core.dicom_node.answers import build_answers
    from pneumonet_core.imaging import load_scan

    scan = load_scan(path)
    if heatmap is None:
        heatmap = np.zeros(scan.shape, dtype=np.float32)
    return build_answers(scan, result or _result(), heatmap, CARD)


def _content(items, out=None) -> list[tuple[str, object]]:
    """(concept meaning, value) of every SR content item, depth first."""
    out = [] if out is None else out
    for item in items:
        name = item.ConceptNameCodeSequence[0].CodeMeaning
        kind = item.ValueType
        if kind == "CODE":
            value = (item.ConceptCodeSequence[0].CodeValue, item.ConceptCodeSequence[0].CodeMeaning)
        elif kind == "NUM":
            value = float(item.MeasuredValueSequence[0].NumericValue)
        elif kind == "TEXT":
            value = item.TextValue
        else:
            value = kind
        out.append((name, value))
        _content(item.get("ContentSequence", []), out)
    return out


def test_answers_are_in_the_source_study_with_its_patient_module_in_new_series(chest_dicom):
    source_path = chest_dicom(PatientName="Test^Child", PatientSex="F", AccessionNumber="ACC-77")
    source = pydicom.dcmread(source_path)
    answers = _answers(source_path)
    sr, sc = answers.structured_report, answers.secondary_capture
    for answer in (sr, sc):
        assert answer.StudyInstanceUID == source.StudyInstanceUID
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyDate"):
            assert str(answer.get(keyword)) == str(source.get(keyword)), keyword
        assert answer.SeriesInstanceUID != source.SeriesInstanceUID
        assert answer.SOPInstanceUID != source.SOPInstanceUID
    assert sr.SeriesInstanceUID != sc.SeriesInstanceUID
    assert sr.SOPClassUID == pydicom.uid.ComprehensiveSRStorage
    assert sc.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    # a second answer to the same image gets fresh UIDs again
    again = _answers(source_path)
    assert again.structured_report.SOPInstanceUID != sr.SOPInstanceUID
    assert again.secondary_capture.SeriesInstanceUID != sc.SeriesInstanceUID


def test_structured_report_states_finding_probability_threshold_ood_flag_and_model(chest_dicom):
    result = _result(out_of_distribution=False, ood_score=0.43)
    sr = _answers(chest_dicom(), result).structured_report
    content = _content(sr.ContentSequence)
    assert ("Finding", ("233604007", "Pneumonia")) in content
    assert ("Probability of pneumonia", pytest.approx(0.87)) in content
    assert ("Decision threshold", pytest.approx(0.156)) in content
    assert ("Out of distribution", ("373067005", "No")) in content
    assert ("Out-of-distribution score", pytest.approx(0.43)) in content
    assert ("Procedure reported", ("399208008", "Plain chest X-ray")) in content
    assert ("Algorithm Name", "test-model") in content
    assert ("Algorithm Version", "7") in content
    assert sr.VerificationFlag == "UNVERIFIED"
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"

    normal = _content(_answers(chest_dicom(), _result(label="NORMAL", probability=0.02)).structured_report.ContentSequence)
    assert ("Finding", ("17621005", "Normal")) in normal
    assert not [name for name, _ in normal if name == "Out of distribution"]  # this result carries no OOD flag


def test_secondary_capture_is_derived_not_for_diagnosis_with_heat_map_and_legend_burnt_in(chest_dicom):
    source_path = chest_dicom()
    rows, columns = pydicom.dcmread(source_path).pixel_array.shape
    heatmap = np.zeros((rows, columns), dtype=np.float32)
    heatmap[:, : columns // 2] = 1.0  # hot left half, cold right half
    sc = _answers(source_path, heatmap=heatmap).secondary_capture
    assert list(sc.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert sc.BurnedInAnnotation == "YES"
    assert "NOT FOR PRIMARY DIAGNOSIS" in sc.ImageComments
    assert "not for primary diagnosis" in sc.SeriesDescription
    pixels = sc.pixel_array.astype(int)
    assert sc.PhotometricInterpretation == "RGB" and pixels.shape[2] == 3
    image_h = round(rows * sc.Columns / columns)  # the scan, scaled to the capture's width
    assert sc.Rows > image_h  # the legend band lies below the scan
    scan_part, legend = pixels[:image_h], pixels[image_h:]
    colour = lambda a: np.abs(a[..., 0] - a[..., 2]).mean()  # noqa: E731 - red/blue spread; 0 for gray
    assert colour(scan_part[:, : sc.Columns // 3]) > 40 > colour(scan_part[:, -sc.Columns // 3:]) + 30
    assert (legend[..., 0] > 200).any() and (legend[..., 2] > 200).any()  # the colour bar, red to blue
    assert (legend.min(axis=2) > 200).sum() > 100  # white legend text


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")  # the test's own malformed source
def test_invalid_or_non_ascii_source_values_are_checked_before_they_are_copied(chest_dicom):
    from pneumonet_core.dicom_node.answers import encode

    source_path = chest_dicom(PatientName="Müller^Anna", PatientSex="X", PatientBirthDate="2021-03-01")
    for answer in _answers(source_path).datasets():
        written = pydicom.dcmread(io.BytesIO(encode(answer)))
        assert str(written.PatientName) == "Müller^Anna"
        assert written.SpecificCharacterSet == "ISO_IR 192"
        assert written.PatientSex == "" and written.PatientBirthDate == ""  # invalid in the source: left empty


def test_classify_dicom_out_writes_answers_that_pass_dciodvfy_for_jpeg2000_and_png(
        chest_jpeg2000, some_training_jpeg, tiny_model, tmp_path, capsys):
    from pneumonet_cli.main import main

    j2k = chest_jpeg2000(PatientName="Müller^Anna", PatientSex="X")
    png = tmp_path / "child.png"
    Image.open(some_training_jpeg).convert("L").save(png)
    out = tmp_path / "answers"
    code = main(["classify", str(j2k), str(png), "--model", str(tiny_model), "--dicom-out", str(out)])
    assert code == 0, capsys.readouterr().err
    from pneumonet_core.reports.deidentify import safe_stem
    from pneumonet_core.results import file_sha256

    child, j2k_stem = (safe_stem(p, {}, True, file_sha256(p)) for p in (png, j2k))  # de-identified file names
    written = sorted(out.iterdir())
    assert [p.name for p in written] == sorted([f"{j2k_stem}-sc.dcm", f"{j2k_stem}-sr.dcm", f"{child}-sc.dcm",
                                                f"{child}-sr.dcm"])
    for path in written:
        assert dciodvfy_errors(path) == [], path.name
    source = pydicom.dcmread(j2k, stop_before_pixels=True)
    png_sr, j2k_sr = (pydicom.dcmread(out / f"{stem}-sr.dcm") for stem in (child, j2k_stem))
    assert j2k_sr.StudyInstanceUID == source.StudyInstanceUID
    assert png_sr.StudyInstanceUID != source.StudyInstanceUID  # a PNG gets a new study...
    assert pydicom.dcmread(out / f"{child}-sc.dcm").StudyInstanceUID == png_sr.StudyInstanceUID  # ...shared by both
    assert png_sr.PatientName == "" and png_sr.PatientID == ""


def _withheld_result():
    """What the guard makes of an extremity film: the model's 0.73 survives only under its warning name."""
    return _result(probability=0.73, out_of_distribution=True, ood_score=3.2,
                   ood_reason="DICOM Body Part Examined is HAND, not CHEST")


def test_a_withheld_study_gets_an_sr_that_says_only_that_no_result_was_given_and_why(chest_dicom, tmp_path):
    from pneumonet_core.dicom_node.answers import encode

    result = _withheld_result()
    assert result.probability is None and result.label == "WITHHELD"
    answers = _answers(chest_dicom(), result, heatmap=None)
    sr = answers.structured_report
    content = _content(sr.ContentSequence)
    names = [name for name, _ in content]
    values = [value for _, value in content]
    assert ("Result withheld", ("373066001", "Yes")) in content
    assert ("Out of distribution", ("373066001", "Yes")) in content
    reason = dict(content)["Reason the result was withheld"]
    assert "result withheld" in reason and "HAND, not CHEST" in reason
    assert ("Procedure reported", ("363679005", "Imaging")) in content  # not "Plain chest X-ray"
    for absent in ("Finding", "Probability of pneumonia", "Decision threshold", "Finding Site"):
        assert absent not in names, absent
    for code in (("233604007", "Pneumonia"), ("17621005", "Normal"), ("399208008", "Plain chest X-ray")):
        assert code not in values, code
    assert not any(isinstance(v, float) and v == pytest.approx(0.73) for v in values)
    assert "no result" in sr.SeriesDescription.lower()
    written = {}
    for name, answer in (("sr", sr), ("sc", answers.secondary_capture)):
        written[name] = tmp_path / f"withheld-{name}.dcm"
        written[name].write_bytes(encode(answer))
        assert dciodvfy_errors(written[name]) == [], name
    # nothing anywhere in either file reads as a decision or the hidden probability
    for path in written.values():
        raw = path.read_bytes()
        for word in (b"PNEUMONIA", b"NORMAL", b"0.73", b"Plain chest"):
            assert word not in raw, (path.name, word)


def test_a_withheld_secondary_capture_header_carries_no_decision(chest_dicom):
    sc = _answers(chest_dicom(), _withheld_result(), heatmap=None).secondary_capture
    header = " ".join(str(sc.get(k, "")) for k in ("SeriesDescription", "ImageComments", "DerivationDescription"))
    assert "withheld" in sc.SeriesDescription.lower() and "HAND, not CHEST" in sc.ImageComments
    for word in ("PNEUMONIA", "NORMAL", "0.73", "probability", "Grad-CAM", "heat map"):
        assert word not in header, word


def test_a_given_result_reads_in_words_in_the_capture_with_the_scope_note(chest_dicom):
    from pneumonet_core.dicom_node.secondary_capture import legend_lines

    normal = _result(label="NORMAL", probability=0.02)
    assert "No pneumonia found" in legend_lines(normal, CARD)[0]
    assert any("pneumonia only" in line for line in legend_lines(normal, CARD))
    sc = _answers(chest_dicom(), normal).secondary_capture
    assert "NORMAL (No pneumonia found; the model assesses pneumonia only)" in sc.ImageComments
