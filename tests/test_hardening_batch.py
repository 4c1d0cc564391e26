"""A batch that is stopped, misdirected or fed a doctored CSV (issue 12): SIGTERM keeps the
rows done and exits 143, output problems are found before the first scan, --resume checks
every row it carries, CSV cells cannot run as formulas, progress shows without a terminal."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pneumonet_cli.main import main
from tests.helpers import SHARED_TRAIN, make_tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.pneumonet")


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    """240 shared training images (links), enough for a run that can be stopped midway."""
    folder = tmp_path_factory.mktemp("many") / "scans"
    folder.mkdir()
    for src in sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))[:240]:
        (folder / src.name).symlink_to(src)
    return folder


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
@pytest.mark.timeout(300)
def test_sigterm_keeps_the_rows_done_exits_143_and_resume_finishes(many, tiny, tmp_path):
    out = tmp_path / "out.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pneumonet_cli.main", "classify", str(many), "--model", str(tiny),
               "--csv", str(out), "--batch-size", "4", "--workers", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for _ in range(8):  # let a few rows through, then stop it as a service manager would
        assert proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert time.monotonic() - sent < 10
    assert "terminated, stopped after" in stderr and f"--resume {out}" in stderr and "Traceback" not in stderr
    done = rows(out)
    assert 8 <= len(done) < 240 and all(r["label"] and r["row_check"] for r in done)
    assert not list(tmp_path.glob(".out.csv*"))  # no partial file left behind
    final = tmp_path / "final.csv"
    assert main(["classify", str(many), "--model", str(tiny), "--csv", str(final), "--resume", str(out)]) == 0
    assert len(rows(final)) == 240
    assert all(row in rows(final) for row in done)


def test_output_problems_are_found_before_the_first_scan_is_read(tmp_path, tiny, capsys, monkeypatch):
    import pneumonet_core.imaging as imaging

    scan = tmp_path / "a.jpeg"
    scan.write_bytes(sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[0].read_bytes())
    read = []
    monkeypatch.setattr(imaging, "load_scan", lambda p: read.append(p))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [
        (["--csv", str(scan)], "would overwrite an input scan"),
        (["--report", str(scan)], "would overwrite an input scan"),
        (["--csv", str(tmp_path)], "cannot write the --csv output"),
        (["--csv", str(tmp_path / "r.x"), "--report", str(tmp_path / "r.x")], "name the same file"),
        (["--heatmaps", str(scan)], "needs a folder"),
        # The --csv folder is a file: said so, not mkdir's "(File exists)" (issue 28).
        (["--csv", str(scan / "r.csv")], f"cannot write the --csv output ({scan} is a file, not a folder)"),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        cases.append((["--csv", str(locked / "r.csv")], "cannot write the --csv output"))
    for extra, words in cases:
        capsys.readouterr()
        assert main(["classify", str(scan), "--model", str(tiny), *extra]) == 1, extra
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and words in err, (extra, err)
    assert read == []
    assert scan.stat().st_size > 1000  # the input was not touched


def test_a_folder_without_scans_is_a_failed_command_not_some_failed_inputs(tmp_path, tiny, capsys):
    """Issue 28: exit 1 with one line, before the model loads; 3 means some scans failed."""
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert main(["classify", str(tmp_path / "empty"), "--model", str(tmp_path / "no-model.pneumonet")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"pneumonet: error: no PNG, JPEG or DICOM files found in {tmp_path / 'empty'} "
                   "(--recursive looks in subfolders)")


def test_resume_reclassifies_rows_that_were_edited(tmp_path, tiny, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    for src in sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:3]:
        (folder / src.name).write_bytes(src.read_bytes())
    first = tmp_path / "first.csv"
    assert main(["classify", str(folder), "--model", str(tiny), "--csv", str(first)]) == 0
    original = rows(first)
    text = first.read_text()
    # Make the first scan look confidently PNEUMONIA; the digest of its row no longer fits.
    doctored = original[0]["probability"]
    text = text.replace(f",{doctored},{original[0]['label']},", ",0.999999,PNEUMONIA,", 1)
    first.write_text(text)
    capsys.readouterr()
    second = tmp_path / "second.csv"
    assert main(["classify", str(folder), "--model", str(tiny), "--csv", str(second), "--resume", str(first)]) == 0
    err = capsys.readouterr().err
    assert "1 row(s)" in err and "could not be verified" in err and "2 scan(s) carried over" in err
    assert rows(second) == original  # the doctored row was classified again, the others carried


def test_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path, tiny, monkeypatch):
    folder = tmp_path / "scans"
    folder.mkdir()
    source = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[0].read_bytes()
    names = ["=HYPERLINK(1).jpeg", "+1.jpeg", "-2.jpeg", "@SUM(A1).jpeg"]
    for name in names:
        (folder / name).write_bytes(source)
    monkeypatch.chdir(folder)
    files = list(names)  # named one by one, relative: the cells start with the names
    out = tmp_path / "r.csv"
    # With identifiers (a de-identified export names files by pseudonyms, never by these names).
    assert main(["classify", "--model", str(tiny), "--csv", str(out), "--include-identifiers", "--", *files]) == 0
    cells = [r["path"] for r in rows(out)]
    assert sorted(cells) == sorted("'" + name for name in names)
    # and they still resume: the quote is undone when the CSV is read back
    assert main(["classify", "--model", str(tiny), "--csv", str(tmp_path / "2.csv"),
                 "--include-identifiers", "--resume", str(out), "--", *files]) == 0
    assert rows(tmp_path / "2.csv") == rows(out)


def test_progress_lines_when_stderr_is_not_a_terminal():
    from pneumonet_cli.progress import ProgressBar, ProgressLines, progress_for

    now = [0.0]
    stream = io.StringIO()
    lines = ProgressLines(100, stream, interval=10, prefix="pneumonet classify", clock=lambda: now[0])
    for _ in range(50):
        now[0] += 0.5
        lines.advance()
    text = stream.getvalue().splitlines()
    assert len(text) == 2 and text[0].startswith("pneumonet classify: 20 / 100") and "\r" not in stream.getvalue()
    assert text[0].endswith(" left"), text[0]  # no stray word after the estimate
    assert isinstance(progress_for(5, io.StringIO()), ProgressLines)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(progress_for(5, Tty()), ProgressBar) and progress_for(0, Tty()) is None
