"""Exports tried as an attacker (or an unlucky archive) would (issue 24, items 5 and 6): file
names with undecodable bytes or a newline, and identifiers in forms no rule could list
(ASCII spellings, MRN variants, dates, folders named after other patients, a file whose
header cannot be read). A de-identified export carries no path component at all; every
export carries every row."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from pneumonet_cli.main import main
from tests.helpers import make_tiny_model

LEAKS = ("garcia", "maria", "44556677", "mrn", "123456", "doe", "john", "19800101", "smith", "jane", "1975",
         "muller", "jurgen", "123987", "1931", "20230515", "img002", "\\xff")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("attack-exports") / "tiny.pneumonet")


@pytest.fixture
def archive(tmp_path, some_training_jpeg, make_dicom_from_image) -> Path:
    root = tmp_path / "incoming"
    jpeg = some_training_jpeg.read_bytes()
    for relative in ("Garcia_Maria_44556677/img002.jpeg", "MRN123456_Doe_John_19800101.jpeg",
                     "Smith_Jane_DOB_1975-12-24.jpg", "20230515/chest.jpeg"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(jpeg)
    made = make_dicom_from_image(some_training_jpeg, tmp_path, PatientName="Müller^Jürgen",
                                 PatientID="MRN-00123987", PatientAge="095", name="Muller_Jurgen.dcm")
    made.rename(root / "123987.dcm")
    (root / "birth_3.4.1931_scan.dcm").write_bytes(b"DICM but not really a DICOM file")
    Path(os.fsdecode(os.fsencode(root) + b"/\xff\xfe-Doe.jpeg")).write_bytes(jpeg)
    Path(root, "ok.jpeg\nforged.jpeg: NORMAL p=0.0001 (threshold 0.5000).jpeg").write_bytes(jpeg)
    return root


def run_classify(capsys, archive: Path, tiny: Path, out: Path, *extra) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["classify", str(archive), "--recursive", "--model", str(tiny), "--csv", str(out / "r.csv"),
                 "--heatmaps", str(out / "maps"), "--workers", "1", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.filterwarnings("ignore:Invalid value for VR AS")  # the archive's own malformed age
def test_a_default_export_carries_no_path_component(archive, tiny, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, _ = run_classify(capsys, archive, tiny, out)
    assert code == 3  # the file that is not a DICOM
    capsys.readouterr()
    assert main(["classify", str(archive), "--recursive", "--model", str(tiny), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader((out / "r.csv").open(encoding="utf-8")))
    assert len(rows) == len(doc["results"]) == 8
    texts = {"csv": (out / "r.csv").read_text(encoding="utf-8"), "json": json.dumps(doc, ensure_ascii=False),
             "maps": " ".join(p.name for p in (out / "maps").iterdir())}
    for kind, text in texts.items():
        low = text.lower()
        assert [leak for leak in LEAKS if leak in low] == [], kind
    for result in doc["results"]:
        assert result["path"].startswith("anon-") and "/" not in result["path"]
    ages = {r["metadata"].get("patient_age") for r in doc["results"] if r["metadata"]}
    assert "90+" in ages and "095" not in json.dumps(doc)


@pytest.mark.filterwarnings("ignore:Invalid value for VR AS")  # the archive's own malformed age
def test_names_with_undecodable_bytes_and_newlines_keep_every_row(archive, tiny, tmp_path, capsys):
    out = tmp_path / "named"
    code, stdout, stderr = run_classify(capsys, archive, tiny, out, "--include-identifiers", "--report",
                                        str(out / "r.pdf"))
    assert code == 3 and "Traceback" not in stderr and "UnicodeEncodeError" not in stderr
    lines = stdout.splitlines()
    assert len(lines) == 8  # one line per file: a newline in a name cannot add one
    assert sum("forged.jpeg" in line for line in lines) == 1
    assert not any(line.startswith("forged.jpeg") for line in lines)
    rows = list(csv.DictReader((out / "r.csv").open(encoding="utf-8")))
    assert len(rows) == 8
    assert any(r["path"].endswith("\\xff\\xfe-Doe.jpeg") for r in rows)
    assert all("\n" not in r["path"] for r in rows)
    pdf = subprocess.run(["pdftotext", str(out / "r.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert "\\xff\\xfe-Doe.jpeg" in pdf
    capsys.readouterr()
    assert main(["classify", str(archive), "--recursive", "--model", str(tiny), "--json",
                 "--include-identifiers"]) == 3
    assert len(json.loads(capsys.readouterr().out)["results"]) == 8
