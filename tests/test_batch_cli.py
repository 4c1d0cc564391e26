"""``pneumonet classify`` on a folder: CSV, JSON, PDF and heat maps, resume, de-identification, progress."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pneumonet_cli.main import main as cli_main
from tests.helpers import SHARED_TRAIN
from tests.test_batch_folder import IDENTIFIERS, PATIENT_ID, make_batch_folder, make_split_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_batch_folder(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def model(tmp_path_factory, folder) -> Path:
    return make_split_model(tmp_path_factory.mktemp("model"), folder.good)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, folder, model):
    """One CLI run with every output, shared by the tests that read them."""
    out = tmp_path_factory.mktemp("out")
    stdout, stderr = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli_main(["classify", str(folder.root), "--recursive", "--model", str(model), "--json",
                         "--csv", str(out / "r.csv"), "--report", str(out / "r.pdf"), "--heatmaps", str(out / "hm")])
    return {"code": code, "json": json.loads(stdout.getvalue()), "stderr": stderr.getvalue(), "out": out}


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_folder_with_bad_files_exits_3_and_reports_every_file(full_run, folder):
    assert full_run["code"] == 3  # some files failed, the others were classified
    doc = full_run["json"]
    assert set(doc["model"]) >= {"name", "hash", "threshold"}
    results = doc["results"]
    assert len(results) == len(folder.good) + len(folder.bad)
    for r in results:
        assert set(r) >= {"path", "probability", "label", "threshold", "warnings", "error", "source"}
        assert isinstance(r["warnings"], list)
        assert (r["error"] is None) == (r["probability"] is not None)
    errors = sorted(r["error"] for r in results if r["error"])
    assert len(errors) == len(folder.bad)
    assert any("empty" in e for e in errors) and any("no pixel data" in e for e in errors)
    labels = {r["label"] for r in results if not r["error"]}
    assert labels == {"PNEUMONIA", "NORMAL"}
    assert "11 scans · " in full_run["stderr"]  # the summary line
    # JSON keeps the class names; the terminal says what NORMAL means, and what the model does not look for
    assert " NORMAL (no pneumonia found) · " in full_run["stderr"]
    assert "NORMAL means no pneumonia found. The model assesses pneumonia only" in full_run["stderr"]


def test_csv_has_every_row_with_hash_and_model(full_run, folder, model):
    rows = read_rows(full_run["out"] / "r.csv")
    doc = full_run["json"]
    assert [r["path"] for r in rows] == [r["path"] for r in doc["results"]]
    for row, r in zip(rows, doc["results"]):
        assert row["model_name"] == doc["model"]["name"] and row["model_hash"] == doc["model"]["hash"]
        assert len(row["file_sha256"]) == 64
        if r["error"]:
            assert row["error"] == r["error"] and row["probability"] == ""
        else:
            assert float(row["probability"]) == pytest.approx(r["probability"], abs=1e-6)
            assert row["label"] == r["label"] and float(row["threshold"]) == pytest.approx(r["threshold"])


def test_deidentified_outputs_name_no_patient(full_run, folder):
    """The default run is de-identified: no name, ID or birth date in JSON, CSV, PDF or file names."""
    out = full_run["out"]
    texts = {
        "json": json.dumps(full_run["json"]),
        "csv": (out / "r.csv").read_text(),
        "pdf": subprocess.run(["pdftotext", str(out / "r.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout,
        "heat-map names": " ".join(p.name for p in (out / "hm").iterdir()),
    }
    for kind, text in texts.items():
        for word in IDENTIFIERS:
            assert word not in text, (kind, word)
    # The patient's DICOM is still there, under a hash name.
    assert any("anon-" in r["path"] and not r["error"] for r in full_run["json"]["results"])
    assert any(p.name.startswith("anon-") for p in (out / "hm").iterdir())


def test_heatmaps_are_written_per_good_scan(full_run, folder):
    from PIL import Image

    names = sorted(p.name for p in (full_run["out"] / "hm").iterdir())
    assert len(names) == len(folder.good) and all(n.endswith("-gradcam.png") for n in names)
    from pneumonet_core.reports.deidentify import pseudonym
    from pneumonet_core.results import file_sha256

    name = pseudonym("", file_sha256(folder.good[0])) + "-gradcam.png"  # de-identified: the file's pseudonym
    assert name in names
    with Image.open(full_run["out"] / "hm" / name) as im:
        assert im.mode == "RGB" and im.size == Image.open(folder.good[0]).size


def test_no_deidentify_keeps_patient_fields(tmp_path, folder, model, capsys):
    code = cli_main(["classify", str(folder.patient_files[0]), "--model", str(model), "--json", "--no-deidentify"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["results"][0]["path"].endswith("Doe_Jane_chest.dcm")
    assert doc["results"][0]["metadata"]["patient_id"] == PATIENT_ID


def test_resume_skips_files_already_classified(tmp_path, folder, model, monkeypatch, capsys):
    root = tmp_path / "batch"
    shutil.copytree(folder.root, root)
    first = tmp_path / "first.csv"
    assert cli_main(["classify", str(root), "--recursive", "--model", str(model), "--csv", str(first)]) == 3
    before = read_rows(first)
    # One file changes, one is new: only they (and the failed files) are decoded again.
    changed = root / "normal-IM-0117-0001.jpeg"
    changed.write_bytes(sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[10].read_bytes())
    new = root / "zz-new.jpeg"
    shutil.copy(sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))[10], new)
    import pneumonet_core.imaging as imaging

    decoded = []
    real_load = imaging.load_scan
    monkeypatch.setattr(imaging, "load_scan", lambda p: decoded.append(Path(p).name) or real_load(p))
    capsys.readouterr()
    second = tmp_path / "second.csv"
    code = cli_main(["classify", str(root), "--recursive", "--model", str(model), "--csv", str(second),
                     "--resume", str(first), "--json"])
    assert code == 3
    bad_names = {p.name for p in folder.bad}
    assert sorted(decoded) == sorted({changed.name, new.name} | bad_names)
    after = read_rows(second)
    assert len(after) == len(before) + 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in doc["results"]] == [r["path"] for r in after]
    from pneumonet_core.reports.deidentify import report_path
    from pneumonet_core.results import file_sha256

    old = {r["path"]: r for r in before}
    # Default exports name files by a pseudonym of their content, never by a path: the
    # changed file gets a new one, as does the new file.
    assert {r["path"] for r in after} - set(old) == {report_path(p, {}, True, file_sha256(p)) for p in (changed, new)}
    for row in after:
        assert "/" not in row["path"] and row["path"].startswith("anon-")
        if row["path"] in old and not row["error"]:
            # Carried rows, the de-identified DICOM included, keep their numbers exactly.
            assert row == old[row["path"]]


def test_resume_from_another_model_classifies_again(tmp_path, folder, model, capsys):
    from tests.helpers import make_tiny_model

    other = make_tiny_model(tmp_path / "other.pneumonet", seed=3)
    first = tmp_path / "first.csv"
    cli_main(["classify", str(folder.good[0]), "--model", str(other), "--csv", str(first)])
    capsys.readouterr()
    cli_main(["classify", str(folder.good[0]), "--model", str(model), "--resume", str(first)])
    assert "came from another model" in capsys.readouterr().err


def test_resume_with_a_file_that_is_not_our_csv_fails_in_one_line(tmp_path, folder, model, capsys):
    bogus = tmp_path / "bogus.csv"
    bogus.write_text("a,b\n1,2\n")
    assert cli_main(["classify", str(folder.good[0]), "--model", str(model), "--resume", str(bogus)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a Pneumonet results CSV" in err[0]


def test_progress_bar_only_on_a_terminal(folder, model, capsys):
    from pneumonet_cli.classify_cmd import ProgressBar

    cli_main(["classify", str(folder.good[0]), "--model", str(model)])
    assert "\r" not in capsys.readouterr().err  # stderr is captured, not a terminal: no bar
    stream = io.StringIO()
    bar = ProgressBar(4, stream=stream)
    bar.advance()
    bar.advance()
    assert "[" in stream.getvalue() and "2 / 4" in stream.getvalue()
    bar.clear()
    assert stream.getvalue().endswith("\r\033[K")


def test_ctrl_c_keeps_what_was_done_and_resume_finishes(tmp_path, folder, model, monkeypatch, capsys):
    """SIGINT stops after the batch in progress; the CSV holds those rows and --resume does the rest."""
    import signal

    from pneumonet_core.inference.classifier import Classifier

    real = Classifier.predict_inputs
    calls = []

    def interrupted_predict(self, inputs):
        calls.append(len(inputs))
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)  # as a user pressing Ctrl-C during the first batch
        return real(self, inputs)

    monkeypatch.setattr(Classifier, "predict_inputs", interrupted_predict)
    partial = tmp_path / "partial.csv"
    code = cli_main(["classify", str(folder.root), "--recursive", "--model", str(model), "--csv", str(partial),
                     "--batch-size", "4"])
    err = capsys.readouterr().err
    assert code == 130 and len(calls) == 1
    assert "interrupted" in err and f"--resume {partial}" in err
    rows = read_rows(partial)
    assert len(rows) == 4  # the batch that was running when Ctrl-C came

    monkeypatch.setattr(Classifier, "predict_inputs", real)
    final = tmp_path / "final.csv"
    assert cli_main(["classify", str(folder.root), "--recursive", "--model", str(model), "--csv", str(final),
                     "--resume", str(partial)]) == 3
    done = read_rows(final)
    assert len(done) == len(folder.good) + len(folder.bad)
    assert all(row in done for row in rows if not row["error"])  # carried unchanged
