"""The ``pneumonet`` command line: usage errors, info, models, evaluate and train."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pneumonet_cli.main import main
from tests.helpers import make_tiny_model

CNN = "resources/models/pneumonet-cnn.pneumonet"


@pytest.fixture()
def small_labelled_dir(tmp_path, shared_train_dir):
    """12 NORMAL and 12 PNEUMONIA shared images (symlinks) plus one unreadable file."""
    root = tmp_path / "data"
    for label in ("NORMAL", "PNEUMONIA"):
        (root / label).mkdir(parents=True)
        for src in sorted((shared_train_dir / label).glob("*.jpeg"))[:12]:
            (root / label / src.name).symlink_to(src)
    (root / "PNEUMONIA" / "broken.jpeg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


@pytest.mark.parametrize("command", ["classify", "evaluate", "train", "info", "scan-info", "gui", "models", "sign", "keygen"])
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "usage: pneumonet" in capsys.readouterr().out


def test_usage_errors_exit_2_with_one_line(capsys):
    assert main(["train", "somewhere"]) == 2  # --approach and --out missing
    assert "required" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["no-such-command"]) == 2


def test_info_prints_the_card_and_json(capsys):
    assert main(["info", "--model", CNN]) == 0
    out = capsys.readouterr().out
    assert "pneumonet-cnn" in out and "Threshold:" in out and "Held-out:" in out and "sha256:" in out
    assert main(["info", "--model", CNN, "--json", "--verify"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["approach"] == "cnn" and len(card["hash"]) == 64 and card["metrics"]["roc_auc"] > 0.9


def test_info_on_a_foreign_file_fails_with_one_line(tmp_path, capsys):
    bad = tmp_path / "notes.pneumonet"
    bad.write_text("hello")
    assert main(["info", "--model", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and "not a Pneumonet model" in err


def test_evaluate_json_matches_the_metrics_contract_and_reports_bad_files(small_labelled_dir, capsys):
    code = main(["evaluate", str(small_labelled_dir), "--model", CNN, "--json"])
    captured = capsys.readouterr()
    assert code == 3  # one unreadable file, the rest evaluated
    assert "broken.jpeg" in captured.err
    m = json.loads(captured.out)
    for key in ("n", "accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "threshold", "confusion_matrix"):
        assert key in m
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    assert m["n"] == 24 == tn + fp + fn + tp
    assert m["accuracy"] == pytest.approx((tn + tp) / 24)
    assert main(["evaluate", str(small_labelled_dir), "--model", CNN, "--json", "--threshold", "1.01"]) == 3
    assert json.loads(capsys.readouterr().out)["confusion_matrix"][1] == [12, 0]


def test_evaluate_draws_a_progress_bar_on_a_terminal(small_labelled_dir, tmp_path, capsys, monkeypatch):
    """Issue 28: a long evaluation is not silent; the bar is cleared before the figures."""
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    tiny = make_tiny_model(tmp_path / "tiny.pneumonet")
    assert main(["evaluate", str(small_labelled_dir), "--model", str(tiny), "--batch-size", "8"]) == 3
    drawn = terminal.getvalue()
    assert "\r\033[K[" in drawn and "/ 25" in drawn and "25 / 25" in drawn
    assert re.search(r"25 / 25[^\r\n]*\r\033\[Kpneumonet evaluate: skipped", drawn)  # cleared before it
    assert "model tiny-test-cnn" in capsys.readouterr().out


def test_evaluate_held_out_uses_only_the_cards_test_patients(small_labelled_dir, capsys):
    # These 24 images: the bundled CNN's card says which of their patients were held out.
    from pneumonet_core.data.discovery import find_labelled_images
    from pneumonet_core.models.package import read_card

    held = set(read_card(CNN).data["test_patients"])
    images = find_labelled_images(small_labelled_dir)
    expected = sum(1 for im in images if im.patient in held)
    assert expected and next(im for im in images if im.path.name == "broken.jpeg").patient not in held
    # The unreadable file is no held-out patient's, so it is never read: exit 0, not 3.
    assert main(["evaluate", str(small_labelled_dir), "--model", CNN, "--json", "--held-out"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n"] == expected and doc["errors"] == []


def test_models_use_switches_the_active_model_for_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PNEUMONET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PNEUMONET_MODEL", raising=False)
    tiny = make_tiny_model(tmp_path / "tiny.pneumonet")
    assert main(["models", "install", str(tiny)]) == 0
    installed = next((tmp_path / "home" / "models").glob("*.pneumonet"))
    assert main(["models", "use", str(installed)]) == 0
    capsys.readouterr()
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "tiny-test-cnn"
    assert main(["models", "use", "default"]) == 0
    capsys.readouterr()
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "pneumonet-resnet152v2"


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it;
# in a child pytest there, beside other children (pytest itself loads no TensorFlow here)
@pytest.mark.own_process("train-cli", gb=1.2)
def test_train_cli_writes_a_model_and_jsonl_progress(shared_train_dir, tmp_path):
    out = tmp_path / "cli.pneumonet"
    proc = subprocess.run(
        [sys.executable, "-m", "pneumonet_cli.main", "train", str(shared_train_dir), "--approach", "cnn",
         "--out", str(out), "--epochs", "1", "--batch-size", "16", "--limit", "120", "--cnn-width", "4",
         "--progress", "jsonl"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert {e["event"] for e in events} >= {"split", "start", "epoch", "saved"}
    assert events[-1]["event"] == "saved" and Path(events[-1]["path"]) == out and out.exists()


def test_models_rank_by_independent_patients_and_info_leads_with_them(tmp_path, monkeypatch, capsys):
    """Issue 23 item 5: the external (cross-fitted) figure first and as the rank; held-out second, labelled."""
    from pneumonet_core.models.package import read_card

    monkeypatch.setenv("PNEUMONET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PNEUMONET_MODEL", raising=False)
    tiny = make_tiny_model(tmp_path / "tiny.pneumonet")  # never measured on independent patients
    assert main(["models", "install", str(tiny)]) == 0
    capsys.readouterr()
    assert main(["models"]) == 0
    # Pneumonia models ranked first; the bacterial/viral model listed apart, after them.
    ranked, _, apart = capsys.readouterr().out.partition("bacterial/viral models")
    assert "pneumonet-subtype" in apart and "pneumonet-subtype" not in ranked
    lines = [line for line in ranked.splitlines() if ".pneumonet" in line]
    names = [line.split()[1] if line.startswith("*") else line.split()[0] for line in lines]
    # the CNN's cross-fitted external AUC (0.98) beats the ResNet152V2's (0.95), though its held-out AUC is lower
    assert names == ["pneumonet-cnn", "pneumonet-resnet152v2", "tiny-test-cnn"]
    cnn = read_card(CNN)
    assert f"independent AUC={cnn.external['after_cross_fitted']['roc_auc']:.4f} (cross-fitted)" in lines[0]
    assert lines[0].index("independent AUC") < lines[0].index("held-out AUC")
    assert "independent AUC=n/a" in lines[2]
    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    models = listing["models"]
    assert [m["name"] for m in models] == names
    assert [m["name"] for m in listing["subtype_models"]] == ["pneumonet-subtype"]
    assert models[0]["independent"]["kind"] == "cross-fitted" and models[2]["independent"] is None
    assert main(["info", "--model", CNN]) == 0
    out = capsys.readouterr().out
    assert out.index("cross-fitted by patient") < out.index("at the stored threshold (chosen on these films)")
    assert out.index("External:") < out.index("Held-out:") and "not independent" in out
