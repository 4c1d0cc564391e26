"""The viewer's plain-Python models, without widgets: measurements, orientation, corner
texts, "Hide identifiers", the heat-map rules, the study browser's folder and the words
a clinician reads."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from pneumonet_core.imaging.dicom_display import DisplayHeader
from pneumonet_core.imaging.scan import Scan, SourceInfo
from pneumonet_core.reports.wording import age_text, readable, sex_text
from pneumonet_core.results import WITHHELD_MESSAGE, ScanResult
from pneumonet_gui.folder_scans import FolderScans, scans_in_folder
from pneumonet_gui.measurements import (
    ANGLE,
    DISTANCE,
    Calibration,
    MeasurementSet,
    angle,
    length,
)
from pneumonet_gui.orientation import Orientation
from pneumonet_gui.overlays import (
    BOTTOM_LEFT,
    BOTTOM_RIGHT,
    TOP_LEFT,
    TOP_RIGHT,
    ViewState,
    corner_texts,
)
from pneumonet_gui.privacy import (
    HIDDEN,
    names_patient,
    screen_metadata,
    screen_name,
    screen_text,
)
from pneumonet_gui.trust import heatmap_policy

PATIENT = {"patient_name": "Doe, Jane", "patient_id": "PNT-7788", "patient_birth_date": "2021-03-01",
           "patient_age": "003Y", "patient_sex": "F", "study_date": "2024-03-15", "modality": "CR",
           "body_part": "CHEST", "view_position": "AP"}


def a_scan(path="Doe_Jane_chest.dcm", metadata=PATIENT, fmt="DICOM") -> Scan:
    pixels = np.zeros((300, 200), np.float32)
    return Scan(path=Path(path), pixels=pixels, source=SourceInfo(fmt, 200, 300, "MONOCHROME2"),
                metadata=dict(metadata or {}))


# --- measurements -------------------------------------------------------------------------


def test_lengths_use_the_pixel_spacing_per_axis_and_pixels_without_one():
    square = Calibration((0.2, 0.2), "Pixel Spacing")
    assert length((0, 0), (30, 40), square) == pytest.approx(10.0)  # 50 px x 0.2 mm
    tall = Calibration((0.5, 0.1), "Pixel Spacing")  # rows 0.5 mm apart, columns 0.1 mm
    assert length((0, 0), (100, 0), tall) == pytest.approx(10.0)
    assert length((0, 0), (0, 20), tall) == pytest.approx(10.0)
    none = Calibration()
    assert none.unit == "px" and length((0, 0), (3, 4), none) == pytest.approx(5.0)
    assert "pixels" in none.describe()
    assert "at the detector" in Calibration((0.14, 0.14), "Imager Pixel Spacing").describe()


def test_angles_in_degrees_on_the_patients_proportions():
    iso = Calibration((0.2, 0.2), "Pixel Spacing")
    assert angle((10, 0), (0, 0), (0, 10), iso) == pytest.approx(90.0)
    assert angle((10, 0), (0, 0), (10, 10), iso) == pytest.approx(45.0)
    assert angle((10, 0), (0, 0), (-10, 0), iso) == pytest.approx(180.0)
    # Rows twice as far apart as columns: a 45 degree line in pixels is steeper on the patient.
    assert angle((10, 0), (0, 0), (10, 10), Calibration((0.2, 0.1))) == pytest.approx(math.degrees(math.atan(2)))


def test_a_measurement_set_numbers_edits_deletes_and_reports():
    events = []
    measurements = MeasurementSet()
    measurements.subscribe(lambda: events.append(1))
    measurements.reset(Calibration((0.5, 0.5), "Pixel Spacing"))
    d1 = measurements.add(DISTANCE, [(0, 0), (0, 100)])
    a1 = measurements.add(ANGLE, [(10, 0), (0, 0), (0, 10)])
    d2 = measurements.add(DISTANCE, [(0, 0), (10, 0)])
    assert [m.name for m in measurements.items] == ["Distance 1", "Angle 1", "Distance 2"]
    assert d1.text(measurements.calibration) == "50.0 mm" and a1.text(measurements.calibration) == "90.0\u00b0"
    measurements.move_point(d1, 1, (0, 40))
    assert d1.text(measurements.calibration) == "20.0 mm"
    measurements.remove(d2)
    assert measurements.report_rows() == [("Distance 1", "20.0 mm"), ("Angle 1", "90.0\u00b0"),
                                          ("Calibration", "Pixel Spacing: 0.5 mm per pixel")]
    measurements.reset(Calibration())
    assert measurements.items == [] and measurements.report_rows() == []
    assert measurements.add(DISTANCE, [(0, 0), (3, 4)]).text(measurements.calibration) == "5 px"
    assert len(events) == 8


# --- orientation ----------------------------------------------------------------------------


def test_orientation_composes_screen_space_turns_and_flips():
    o = Orientation()
    assert o.is_identity and o.describe() == ""
    right = o.rotated_right()
    assert right.rotation == 90 and not right.flipped and right.describe() == "Rotated 90\u00b0"
    assert right.rotated_right().rotated_right().rotated_right().is_identity
    assert right.rotated_left().is_identity
    assert o.flipped_horizontally().flipped_horizontally().is_identity
    # A mirror after a turn mirrors what is on screen: H-flip after 90 equals V-flip before it.
    assert right.flipped_horizontally() == o.flipped_vertically().rotated_right()
    assert o.flipped_horizontally().describe() == "Mirrored"
    assert o.flipped_horizontally().flipped_vertically().rotation == 180
    m11, m12, m21, m22, dx, dy = right.affine(100, 50)
    # Qt maps x' = m11 x + m21 y + dx: the centre stays put, the top-left corner goes top-right.
    assert (m11 * 100 + m21 * 50 + dx, m12 * 100 + m22 * 50 + dy) == (100, 50)
    assert (m11 * 0 + m21 * 0 + dx, m12 * 0 + m22 * 0 + dy) == (150, -50)


# --- corner overlays and hiding identifiers ------------------------------------------------------


def test_orientation_markers_follow_turns_and_flips_like_a_pacs_viewer():
    o = Orientation()
    assert o.edge_letters(None) == {}
    assert o.edge_letters(("L", "F")) == {"left": "R", "right": "L", "top": "H", "bottom": "F"}
    assert o.flipped_horizontally().edge_letters(("L", "F")) == {"left": "L", "right": "R", "top": "H", "bottom": "F"}
    # A quarter turn clockwise carries the patient's right (the left edge) to the top.
    assert o.rotated_right().edge_letters(("L", "F")) == {"left": "F", "right": "H", "top": "R", "bottom": "L"}
    assert o.rotated_right().rotated_left().edge_letters(("LP", "F"))["left"] == "RA"


def test_the_age_is_one_computation_for_the_panel_the_corner_and_the_warning():
    from pneumonet_core.imaging.clinical_warnings import clinical_warnings
    from pneumonet_gui.metadata_panel import metadata_rows

    # The RG1 case: no Patient's Age, but birth and study dates (the banner said 64, the panel "\u2014").
    metadata = {**PATIENT, "patient_age": "", "patient_birth_date": "1960-01-05", "study_date": "2024-03-15"}
    scan = a_scan(metadata=metadata)
    age = {label: value for _section, label, value in metadata_rows(scan, hide_identifiers=False)}["Age"]
    assert age == "64 years (from birth and study dates)"
    assert "64 years \u00b7 female" in corner_texts(scan, None, ViewState(), hide=False)[TOP_LEFT]
    assert any(w.startswith("Patient age 64 years (from birth and study dates)") for w in clinical_warnings(metadata, 500, 500))


def test_corner_texts_name_patient_study_series_and_view():
    header = DisplayHeader(pixel_spacing=(0.2, 0.2), spacing_source="Pixel Spacing", study_description="CHEST AP",
                           series_description="AP supine", series_number="3", instance_number="1", frames=12)
    view = ViewState(window=(40.0, 400.0), preset="Lung", zoom=0.5, inverted=True, orientation="Rotated 90\u00b0",
                     frame=(2, 12))
    texts = corner_texts(dataclasses.replace(a_scan(), raw=np.zeros((300, 200), np.float32)), header, view,
                         hide=False)
    assert texts[TOP_LEFT] == ["Doe, Jane", "ID PNT-7788 \u00b7 born 2021-03-01", "3 years \u00b7 female"]
    assert texts[TOP_RIGHT] == ["CHEST AP", "2024-03-15", "CR \u00b7 CHEST \u00b7 AP"]
    assert texts[BOTTOM_LEFT][:2] == ["AP supine \u00b7 Series 3", "Image 1 \u00b7 Frame 2/12"]
    assert texts[BOTTOM_RIGHT][:2] == ["W 400  L 40 (Lung)", "Zoom 50% \u00b7 Inverted \u00b7 Rotated 90\u00b0"]
    # A JPEG's window reads in its 0..255 grey levels, as whole numbers (not "W 1  L 0.5").
    jpeg = corner_texts(a_scan("film.jpeg", {}, "JPEG"), None, ViewState(window=(0.5, 1.0)), hide=False)
    assert jpeg[BOTTOM_RIGHT][0] == "W 255  L 128"
    hidden = corner_texts(a_scan(), header, view, hide=True).all_text()
    for identifier in ("Doe", "Jane", "PNT-7788", "2021-03-01"):
        assert identifier not in hidden
    assert "Patient identifiers hidden" in hidden and "3 years" in hidden
    # A PNG has no header: its file name stands in, de-identified when it names the patient.
    png = a_scan("Doe_Jane.png", {}, "PNG")
    assert corner_texts(png, None, ViewState(), hide=False)[TOP_LEFT] == ["Doe_Jane.png"]


def test_hiding_identifiers_covers_names_paths_and_free_text():
    path = Path("/data/Doe_Jane/Doe_Jane_chest.dcm")
    assert names_patient(path, PATIENT)
    assert screen_name(path, PATIENT, hide=False) == "Doe_Jane_chest.dcm"
    hidden_name = screen_name(path, PATIENT, hide=True)
    assert hidden_name.startswith("anon-") and hidden_name.endswith(".dcm")
    text = screen_text(f"{path.name}: PNEUMONIA for Doe, Jane ({path})", PATIENT, True, path)
    assert "Doe" not in text and "Jane" not in text and hidden_name in text
    shown = screen_metadata(PATIENT, hide=True)
    assert shown["patient_name"] == shown["patient_id"] == shown["patient_birth_date"] == HIDDEN
    assert shown["patient_age"] == "003Y"
    # Hidden, every name is its pseudonym, as in a de-identified export: no rule-matcher can
    # know every form an identifier takes in a file name.
    assert screen_name("IM-0001.dcm", PATIENT, hide=True).startswith("anon-")
    assert screen_name("IM-0001.dcm", PATIENT, hide=False) == "IM-0001.dcm"


def test_the_screen_hides_what_the_reports_hide_old_ages_and_absolute_paths():
    # One de-identifier (reports/deidentify.py): the screen generalises ages over 89 and
    # strips folders, as de-identified exports do.
    old = dict(PATIENT, patient_age="095Y")
    assert screen_metadata(old, hide=True)["patient_age"] == "90+"
    assert screen_metadata(old, hide=False)["patient_age"] == "095Y"
    text = screen_text("Could not read /srv/ward7/IM-0001.dcm, patient aged 95 years", old, True)
    assert "/srv/ward7" not in text and "IM-0001.dcm" in text and "90+ years" in text


def test_words_a_clinician_reads():
    assert age_text("003Y") == "3 years" and age_text("001Y") == "1 year" and age_text("018M") == "18 months"
    assert age_text("010W") == "10 weeks" and age_text("strange") == "strange" and age_text(None) is None
    assert sex_text("F") == "female" and sex_text("m") == "male" and sex_text("O") == "other"
    assert readable("patient_age", "004Y") == "4 years" and readable("modality", "CR") == "CR"


# --- what the viewer may claim -----------------------------------------------------------------


def result(label="PNEUMONIA", p=0.9, **kwargs) -> ScanResult:
    return ScanResult(path="x.png", probability=p, label=label, threshold=0.5, **kwargs)


def test_heat_maps_for_pneumonia_by_default_normal_on_request_never_when_withheld():
    assert heatmap_policy(result(), show_for_normal=False)[0]
    shown, why = heatmap_policy(result("NORMAL", 0.1), show_for_normal=False)
    assert not shown and "No pneumonia found" in why
    assert heatmap_policy(result("NORMAL", 0.1), show_for_normal=True)[0]
    flagged = result(out_of_distribution=True, ood_score=9.0, ood_reason="looks like a hand")
    assert flagged.withheld and not result().withheld
    for show_for_normal in (False, True):
        assert heatmap_policy(flagged, show_for_normal)[0] is False
    assert heatmap_policy(ScanResult.failed("x.png", "broken"), True)[0] is False
    assert "withheld" in WITHHELD_MESSAGE


# --- the study browser's folder --------------------------------------------------------------


def test_folder_scans_lists_in_natural_order_and_steps(tmp_path):
    for name in ("IM-10.dcm", "IM-2.dcm", "IM-1.png", "notes.txt", "b.JPEG"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in scans_in_folder(tmp_path)] == ["b.JPEG", "IM-1.png", "IM-2.dcm", "IM-10.dcm"]
    scans = FolderScans()
    assert scans.open(tmp_path / "IM-2.dcm") and not scans.open(tmp_path / "IM-2.dcm")
    assert scans.next_path(1).name == "IM-10.dcm" and scans.next_path(-1).name == "IM-1.png"
    scans.open(tmp_path / "IM-10.dcm")
    assert scans.next_path(1) is None
    scans.set_result(tmp_path / "IM-10.dcm", result())
    assert scans.result(tmp_path / "IM-10.dcm").label == "PNEUMONIA"


def test_a_long_session_never_runs_out_of_none():
    """PySide6 6.12 on Python < 3.12 drops a reference to None per void call; the guard
    in ``pneumonet_gui`` keeps a long session (here 300,000 calls) from aborting."""
    import subprocess
    import sys

    script = ("import gc, pneumonet_gui\nfrom PySide6.QtCore import QObject\nprobe = QObject()\n"
              "for _ in range(300_000):\n    probe.setObjectName('x')\ngc.collect()\nprint('still alive')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and "still alive" in done.stdout, done.stderr[-2000:]
