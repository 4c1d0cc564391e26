"""CSV/JSON tables, reading a CSV back, atomic writes, de-identification rules and heat-map images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from pneumonet_core.errors import PneumonetError
from pneumonet_core.imaging.scan import SourceInfo
from pneumonet_core.models.card import ModelCard
from pneumonet_core.results import ScanResult

CARD = ModelCard(name="card-name", version="2", threshold=0.42, hash="ab" * 32)
PATIENT = {"patient_name": "Doe^Jane", "patient_id": "JD-778899", "patient_birth_date": "2019-07-04",
           "patient_age": "009Y", "study_date": "2024-03-15"}


def sample_results() -> list[ScanResult]:
    return [
        ScanResult(path="/data/a.png", probability=0.9, label="PNEUMONIA", threshold=0.42,
                   warnings=["small image", "colour; converted"], source=SourceInfo("PNG", 100, 80, "L"),
                   file_sha256="1" * 64),
        ScanResult(path="/data/b.jpeg", threshold=0.42, error="truncated or corrupt JPEG file", file_sha256="2" * 64),
        ScanResult(path="/data/ward/Doe_Jane.dcm", probability=0.1234567, label="NORMAL", threshold=0.42,
                   metadata=dict(PATIENT), source=SourceInfo("DICOM", 10, 10, "MONOCHROME2"),
                   file_sha256="3" * 64),
    ]


def test_csv_has_one_row_per_result_with_the_model(tmp_path):
    from pneumonet_core.reports.tables import CSV_COLUMNS, write_csv

    path = write_csv(sample_results(), tmp_path / "out" / "r.csv", CARD, deidentify=False)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    assert [r["path"] for r in rows] == ["/data/a.png", "/data/b.jpeg", "/data/ward/Doe_Jane.dcm"]
    assert rows[0]["probability"] == "0.900000" and rows[0]["label"] == "PNEUMONIA"
    assert rows[0]["warnings"] == "small image; colour; converted" and rows[0]["format"] == "PNG"
    assert rows[1]["probability"] == "" and rows[1]["error"].startswith("truncated")
    assert all(r["model_name"] == "card-name" and r["model_hash"] == CARD.hash for r in rows)
    assert all(r["threshold"] == "0.420000" for r in rows)


def test_csv_reads_back_for_resume(tmp_path):
    from pneumonet_core.reports.tables import read_csv, write_csv

    path = write_csv(sample_results(), tmp_path / "r.csv", CARD, deidentify=False)
    back = read_csv(path)
    assert [m for _, m in back] == [CARD.hash] * 3
    a, b, c = (r for r, _ in back)
    assert a.probability == 0.9 and a.label == "PNEUMONIA" and a.file_sha256 == "1" * 64
    # The CSV keeps format and size: a partial source, the rest not known (None), and written back as read.
    assert a.source == SourceInfo("PNG", 100, 80, None, inverted=None, frames=None) and a.source.partial
    assert a.source.to_dict() == {"format": "PNG", "width": 100, "height": 80} and b.source is None
    assert not b.ok and b.error.startswith("truncated") and b.probability is None
    assert c.probability == pytest.approx(0.123457)


def test_reading_a_foreign_or_missing_csv_fails_in_one_line(tmp_path):
    from pneumonet_core.reports.tables import read_csv

    (tmp_path / "other.csv").write_text("name,value\nx,1\n")
    (tmp_path / "bad.csv").write_bytes(b"path,file_sha256,probability,label,model_hash\na,b,notanumber,c,d\n")
    for name, words in (("other.csv", "not a Pneumonet results CSV"), ("bad.csv", "line 2"),
                        ("missing.csv", "cannot read")):
        with pytest.raises(PneumonetError) as info:
            read_csv(tmp_path / name)
        assert words in str(info.value) and "\n" not in str(info.value)


def test_json_document_matches_the_cli_contract(tmp_path):
    from pneumonet_core.reports.tables import write_json

    doc = json.loads(write_json(sample_results(), tmp_path / "r.json", CARD, deidentify=True).read_text())
    assert doc["model"]["name"] == "card-name" and doc["model"]["hash"] == CARD.hash
    assert doc["model"]["threshold"] == 0.42
    keys = {"path", "probability", "label", "threshold", "warnings", "error", "source"}
    assert all(keys <= set(r) for r in doc["results"])
    assert doc["results"][1]["error"] and doc["results"][1]["probability"] is None
    patient_row = doc["results"][2]
    assert "patient_name" not in patient_row["metadata"] and patient_row["metadata"]["patient_age"] == "009Y"
    assert "Doe" not in json.dumps(doc) and "JD-778899" not in json.dumps(doc)
    # No path component in a default export: a keyed pseudonym of the content hash, and the suffix.
    from pneumonet_core.reports.deidentify import pseudonym

    assert patient_row["path"] == pseudonym("", "3" * 64) + ".dcm"
    assert all(r["path"].startswith("anon-") and "/" not in r["path"] for r in doc["results"])
    assert "/data" not in json.dumps(doc) and "ward" not in json.dumps(doc)


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from pneumonet_core.atomic import atomic_path

    target = tmp_path / "r.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a ta")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_identifying_tokens_and_matching():
    from pneumonet_core.reports.deidentify import contains_identifier, identifiers, identifying_tokens

    tokens = identifiers(PATIENT)
    assert {"doe", "jane", "jd778899", "20190704"} <= set(identifying_tokens(PATIENT))
    assert contains_identifier("/scans/JANE_doe.dcm", tokens)
    assert contains_identifier("x_20190704_y", tokens) and contains_identifier("x_2019-07-04_y", tokens)
    assert not contains_identifier("/scans/IM-0001.dcm", tokens)
    short = identifiers({"patient_name": "Li^Wu"})
    assert not contains_identifier("clinic_wunderland.png", short)  # short names match whole words only
    assert contains_identifier("li_chest.png", short)
    assert identifying_tokens({}) == [] and not contains_identifier("anything", identifiers({}))


def test_paths_and_stems_are_always_pseudonymised_when_de_identifying():
    from pneumonet_core.reports.deidentify import pseudonym, report_path, safe_stem, scrub_text

    assert safe_stem("/a/Doe_Jane.dcm", PATIENT, True, "f" * 64) == pseudonym("", "f" * 64)
    assert safe_stem("/a/Doe_Jane.dcm", PATIENT, False, "f" * 64) == "Doe_Jane"
    assert safe_stem("/a/IM-0001.dcm", PATIENT, True, "f" * 64) == pseudonym("", "f" * 64)  # whatever it says
    shown = report_path("/data/Doe Jane/study/IM-1.dcm", PATIENT, True, "f" * 64, shown="Doe Jane/study/IM-1.dcm")
    assert shown == pseudonym("", "f" * 64) + ".dcm" and "study" not in shown
    assert shown == report_path("/elsewhere/IM-1.dcm", {}, True, "f" * 64)  # a stable pseudonym of the content
    unread = report_path("/data/x/IM-1.dcm", PATIENT, True, None, shown="x/IM-1.dcm")  # no content hash
    assert unread.startswith("anon-") and unread == report_path("/other/x/IM-1.dcm", {}, True, None, shown="x/IM-1.dcm")
    assert report_path("/data/x/IM-1.dcm", PATIENT, False) == "/data/x/IM-1.dcm"
    assert scrub_text("Patient DOE, Jane: bad header", PATIENT, True) == "Patient [removed]: bad header"


def test_overlay_colours_hot_regions_and_keeps_cool_ones_gray(tmp_path):
    from PIL import Image

    from pneumonet_core.imaging.scan import Scan
    from pneumonet_core.reports.heatmap_images import heatmap_file_name, thumbnail, write_heatmap_overlay

    pixels = np.full((60, 90), 0.5, dtype=np.float32)
    heat = np.zeros((60, 90), dtype=np.float32)
    heat[:, 60:] = 1.0
    scan = Scan(path=Path("/x/Doe_Jane.png"), pixels=pixels, source=SourceInfo("PNG", 90, 60, "L"),
                metadata=dict(PATIENT))
    out = write_heatmap_overlay(scan, heat, tmp_path, deidentify=True, file_hash="e" * 64)
    from pneumonet_core.reports.deidentify import pseudonym

    assert out.name == pseudonym("", "e" * 64) + "-gradcam.png" == heatmap_file_name(scan, True, "e" * 64)
    rgb = np.asarray(Image.open(out))
    assert rgb.shape == (60, 90, 3)
    cool, hot = rgb[30, 10].astype(int), rgb[30, 80].astype(int)
    assert abs(cool[0] - cool[2]) < 3 and abs(cool[0] - 128) < 3  # gray left alone where the map is 0
    assert hot[0] > hot[2] + 30 and hot[1] > hot[2] + 30  # the hot end of inferno (yellow) where the map is 1
    thumb = thumbnail(np.random.default_rng(0).random((900, 600), dtype=np.float32), 64)
    assert thumb.dtype == np.uint8 and max(thumb.shape) == 64 and thumb.shape[0] > thumb.shape[1]


def test_summary_counts_and_filters():
    from pneumonet_core.reports.summary import BatchSummary, format_pair, matches

    results = sample_results()
    s = BatchSummary.of(results)
    assert (s.total, s.labels, s.warnings, s.errors) == (3, {"PNEUMONIA": 1, "NORMAL": 1}, 1, 1)
    assert s.line() == "3 scans · 1 PNEUMONIA · 1 NORMAL (no pneumonia found) · 1 with warnings · 1 error"
    assert [r.path for r in results if matches(r, "errors")] == [Path("/data/b.jpeg")]
    assert [r.path for r in results if matches(r, "warnings")] == [Path("/data/a.png")]
    assert [r.path for r in results if matches(r, "normal")] == [Path("/data/ward/Doe_Jane.dcm")]
    with pytest.raises(ValueError):
        matches(results[0], "nonsense")
    assert format_pair(0.41234, 0.4121) == ("0.4123", "0.4121")
    assert format_pair(0.9, 0.42) == ("0.900", "0.420")
