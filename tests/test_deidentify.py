"""De-identified exports, HIPAA Safe Harbor style (issue 12): no name in any usual form, no
ID, accession number, institution, birth date or absolute path, ages over 89 as 90+, in the
JSON, CSV, PDF and file names alike; --include-identifiers is the only way to keep them."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess

import numpy as np
import pytest

from pneumonet_cli.main import main
from tests.dicom_factory import make_dicom_from_image
from tests.helpers import make_tiny_model

HEADER = {
    "PatientName": "Li^Wei", "PatientID": "MRN-00457812", "AccessionNumber": "ACC99812",
    "InstitutionName": "St Mary Hospital", "InstitutionAddress": "12 Harbour Road, Springfield",
    "ReferringPhysicianName": "House^Gregory", "PatientBirthDate": "19300215", "PatientAge": "094Y",
    "StudyDate": "20240315",
}
#: File and folder names carrying the scan's own identifying values, in the forms people use.
NAMES = {
    "Li^Wei.dcm": {}, "LiWei_chest.dcm": {}, "Wei Li.dcm": {}, "wli-cxr.dcm": {},
    "MRN00457812.dcm": {}, "mrn-00457812_pa.dcm": {}, "ACC99812.dcm": {}, "1930-02-15.dcm": {},
    "15.02.1930.dcm": {}, "StMaryHospital/IM-1.dcm": {}, "St Mary Hospital/IM-2.dcm": {},
    "JDoe_cxr.dcm": {"PatientName": "Doe^John"},
    "山田太郎.dcm": {"PatientName": "Yamada^Tarou=山田^太郎", "SpecificCharacterSet": "ISO_IR 192"},
    "Иванов_снимок.dcm": {"PatientName": "Иванов^Пётр", "SpecificCharacterSet": "ISO_IR 192"},
}
#: What must not appear in any default export (case-insensitive; whole words for short ones).
LEAKS = ["liwei", "00457812", "acc99812", "99812", "st mary", "stmary", "harbour", "springfield",
         "gregory", "1930", "19300215", "094y", "jdoe", "yamada", "tarou", "山田", "太郎", "иванов", "пётр"]
LEAK_WORDS = ["li", "wli", "wei", "doe", "mrn", "mary", "house"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("deid") / "incoming"
    files = []
    for i, (name, extra) in enumerate(NAMES.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.full((256, 256), 40 + 10 * i, np.uint8)
        pixels[64:192, 64:192] = 200
        made = make_dicom_from_image(pixels, path.parent, name=path.name, **{**HEADER, **extra})
        files.append(made)
    model = make_tiny_model(tmp_path_factory.mktemp("m") / "tiny.pneumonet")
    out = tmp_path_factory.mktemp("out")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["classify", str(root), "--recursive", "--model", str(model), "--json", "--csv",
                     str(out / "r.csv"), "--report", str(out / "r.pdf"), "--heatmaps", str(out / "maps")])
    return {"root": root, "files": files, "model": model, "out": out, "code": code, "json": stdout.getvalue()}


def _without_hashes(text: str) -> str:
    return re.sub(r"[0-9a-f]{12,}", "#", text)


def _leaks(text: str) -> list[str]:
    low = _without_hashes(text).lower()
    found = [word for word in LEAKS if word in low]
    found += [word for word in LEAK_WORDS if re.search(rf"(?<![^\W_]){word}(?![^\W_])", low)]
    return found


def test_default_exports_carry_no_identifier_in_any_form(study):
    out = study["out"]
    assert study["code"] == 0
    texts = {
        "json": json.dumps(json.loads(study["json"]), ensure_ascii=False),
        "csv": (out / "r.csv").read_text(encoding="utf-8"),
        "pdf": subprocess.run(["pdftotext", str(out / "r.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout,
        "heat-map names": " ".join(p.name for p in (out / "maps").iterdir()),
    }
    for kind, text in texts.items():
        assert _leaks(text) == [], kind
        assert str(study["root"].parent) not in text, kind  # no absolute path
    doc = json.loads(study["json"])
    assert len(doc["results"]) == len(NAMES) and "/" not in doc["model"]["path"]
    for result in doc["results"]:
        assert not result["path"].startswith("/") and "incoming" not in result["path"]
        assert result["metadata"]["patient_age"] == "90+" and result["metadata"]["study_date"] == "2024"
        assert not {"patient_name", "patient_id", "accession_number", "institution_name",
                    "referring_physician", "patient_birth_date"} & set(result["metadata"])
    shown = sorted(r["path"] for r in doc["results"])
    assert all(p.startswith("anon-") and "/" not in p for p in shown) and len(set(shown)) == len(shown)


def test_pseudonyms_are_stable_between_runs(study, capsys):
    capsys.readouterr()
    main(["classify", str(study["root"]), "--recursive", "--model", str(study["model"]), "--json"])
    again = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in again["results"]] == [r["path"] for r in json.loads(study["json"])["results"]]


def test_include_identifiers_is_the_explicit_opt_in(study, capsys):
    for flag in ("--include-identifiers", "--no-deidentify"):
        capsys.readouterr()
        assert main(["classify", str(study["files"][0]), "--model", str(study["model"]), "--json", flag]) == 0
        result = json.loads(capsys.readouterr().out)["results"][0]
        assert result["path"] == str(study["files"][0])
        assert result["metadata"]["patient_name"] == "Li, Wei" and result["metadata"]["accession_number"] == "ACC99812"
        assert result["metadata"]["patient_age"] == "094Y"


def test_study_report_is_de_identified_unless_asked(study, tmp_path):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.reports.study_pdf import study_report_name, write_study_report

    classifier = Classifier.load(study["model"])
    scan = load_scan(study["files"][0])
    result = classifier.classify(scan)
    default = write_study_report(tmp_path / "default.pdf", scan, result, None, classifier.card)
    named = write_study_report(tmp_path / "named.pdf", scan, result, None, classifier.card, deidentify=False)
    text = {p.stem: subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True).stdout
            for p in (default, named)}
    assert _leaks(text["default"]) == [] and "90+" in text["default"]
    assert "Li, Wei" in text["named"] and "ACC99812" in text["named"]
    assert study_report_name(scan, True).startswith("anon-")


def test_screen_helpers_hide_identifiers_everywhere(study):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.reports.deidentify import screen_metadata, screen_text

    scan = load_scan(study["files"][1])  # LiWei_chest.dcm
    hidden = screen_metadata(scan.metadata, hide=True)
    assert hidden["patient_name"] == "hidden" and hidden["institution_name"] == "hidden"
    assert hidden["patient_age"] == "90+" and screen_metadata(scan.metadata, hide=False) == scan.metadata
    title = f"Pneumonet — {scan.path} — Li, Wei (MRN-00457812)"
    shown = screen_text(title, scan.metadata, hide=True, path=scan.path)
    assert _leaks(shown) == [] and str(study["root"]) not in shown and "anon-" in shown
    assert screen_text(title, scan.metadata, hide=False) == title


def test_ages_over_89_and_free_text():
    from pneumonet_core.reports.deidentify import generalise_age, scrub_metadata, scrub_text

    assert [generalise_age(a) for a in ("089Y", "090Y", "112Y", "004Y", None)] == ["089Y", "90+", "90+", "004Y", None]
    text = "Patient age 94 years is outside the training population (children 1 to 5 years)"
    assert scrub_text(text, {}, True) == "Patient age 90+ years is outside the training population (children 1 to 5 years)"
    assert scrub_text("cannot read /home/alice/Li_Wei/x.dcm: bad", {"patient_name": "Li^Wei"}, True) == \
        "cannot read x.dcm: bad"
    assert scrub_metadata({"study_date": "2024-03-15", "patient_age": "091Y"}, True) == \
        {"study_date": "2024", "patient_age": "90+"}


def test_display_paths_are_relative_to_the_inputs(tmp_path):
    from pneumonet_core.reports.deidentify import display_paths

    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    files = [tmp_path / "a" / "sub" / "x.png", tmp_path / "b" / "y.png", tmp_path / "z.png"]
    assert display_paths(files[:1], [tmp_path / "a"]) == {str(files[0]): "sub/x.png"}
    several = display_paths(files, [tmp_path / "a", tmp_path / "b", files[2]])
    assert list(several.values()) == ["a/sub/x.png", "b/y.png", "z.png"]
    assert display_paths(files[:2]) == {str(files[0]): "a/sub/x.png", str(files[1]): "b/y.png"}
