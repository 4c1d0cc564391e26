"""Probability calibration, threshold rules, and ``pneumonet calibrate`` / ``evaluate`` on a site's films."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pneumonet_cli.main import main as cli_main
from pneumonet_core.models import calibration
from pneumonet_core.models.package import load_package, read_card
from pneumonet_core.models.threshold import choose_threshold, parse_rule
from tests.helpers import SHARED_TRAIN, make_tiny_model


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _miscalibrated(n=4000, seed=0):
    """Labels drawn from sigmoid(0.5 z - 1) while the 'model' says sigmoid(z): over-confident and shifted."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, n)
    y = (rng.random(n) < _sigmoid(0.5 * z - 1.0)).astype(int)
    return y, _sigmoid(z), np.array([f"p{i // 2}" for i in range(n)])


def test_platt_recovers_the_true_map_and_calibrates():
    y, p, _ = _miscalibrated()
    fitted = calibration.fit(y, p, "platt")
    assert fitted["slope"] == pytest.approx(0.5, abs=0.06) and fitted["intercept"] == pytest.approx(-1.0, abs=0.15)
    assert calibration.expected_calibration_error(y, p) > 0.1
    assert calibration.expected_calibration_error(y, calibration.apply(fitted, p)) < 0.03


def test_temperature_and_isotonic_are_monotone_maps_and_empty_is_the_identity():
    y, p, _ = _miscalibrated()
    grid = np.linspace(0.001, 0.999, 200)
    for method in ("temperature", "isotonic"):
        q = calibration.apply(calibration.fit(y, p, method), grid)
        assert np.all(np.diff(q) >= -1e-12) and q.min() >= 0 and q.max() <= 1
    assert calibration.fit(y, p, "temperature")["temperature"] > 1  # over-confident: softened
    np.testing.assert_array_equal(calibration.apply({}, grid), grid)
    with pytest.raises(ValueError, match="unknown calibration method"):
        calibration.fit(y, p, "magic")


def test_choose_keeps_the_simplest_method_that_is_as_good_and_reports_cross_fitted_scores():
    y, p, patients = _miscalibrated()
    fitted, scores = calibration.choose(y, p, patients)
    assert fitted["method"] == "platt"  # temperature cannot fix the shift; isotonic is no better
    assert set(scores) == {"none", "temperature", "platt", "isotonic"}
    assert scores["platt"]["ece"] < 0.03 < scores["none"]["ece"]
    assert fitted["cross_fitted"]["platt"]["brier"] == pytest.approx(scores["platt"]["brier"], abs=1e-4)


def test_patient_folds_keep_every_patient_in_one_fold():
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0] * 10)
    patients = np.array([f"p{i // 3}" for i in range(len(y))])
    fold = calibration.patient_folds(patients, y, 5)
    for pid in set(patients):
        assert len(set(fold[patients == pid])) == 1


@pytest.mark.parametrize("rule, kind, target", [("youden", "youden", None), ("sensitivity:0.95", "sensitivity", 0.95),
                                                ("sensitivity>=0.9", "sensitivity", 0.9),
                                                ("specificity:0.90", "specificity", 0.9)])
def test_threshold_rules_parse(rule, kind, target):
    assert parse_rule(rule) == (kind, target)


def test_threshold_rules_meet_their_target_and_bad_rules_are_refused():
    y, p, _ = _miscalibrated()
    sens = choose_threshold(y, p, "sensitivity:0.95", "site")
    assert sens.sensitivity >= 0.95 and "on site" in sens.rule
    assert np.mean(p[y == 1] >= sens.threshold) >= 0.95
    spec = choose_threshold(y, p, "specificity:0.90")
    assert spec.specificity >= 0.90 and np.mean(p[y == 0] < spec.threshold) >= 0.90
    for bad in ("sensitivity:2", "f1", "specificity:x"):
        with pytest.raises(ValueError, match="unknown threshold rule"):
            parse_rule(bad)


# --- the classifier applies the card's calibration -------------------------------------------------


def test_every_probability_the_classifier_gives_is_calibrated(tmp_path, some_training_jpeg):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.models.package import rewrite_package

    plain = make_tiny_model(tmp_path / "plain.pneumonet")
    card = read_card(plain)
    card.calibration = {"method": "platt", "slope": 0.5, "intercept": -1.0}
    rewrite_package(plain, tmp_path / "cal.pneumonet", card)
    scan = load_scan(some_training_jpeg)
    raw = Classifier.load(plain).classify(scan).probability
    result = Classifier.load(tmp_path / "cal.pneumonet").classify(scan)
    assert result.probability == pytest.approx(float(_sigmoid(0.5 * np.log(raw / (1 - raw)) - 1.0)), abs=1e-6)
    assert result.class_probabilities == {"PNEUMONIA": result.probability}


# --- pneumonet calibrate and evaluate on a small site -------------------------------------------------


def _site(root: Path, normal: int, pneumonia: int) -> Path:
    for label, n in (("NORMAL", normal), ("PNEUMONIA", pneumonia)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for path in sorted((SHARED_TRAIN / label).glob("*.jpeg"))[:n]:
            (root / label / path.name).symlink_to(path)
    return root


@pytest.fixture(scope="module")
def site_and_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    return _site(root / "hospital", 24, 30), make_tiny_model(root / "tiny.pneumonet", seed=3)


def test_calibrate_writes_a_new_verified_package_with_the_site_and_leaves_the_input(site_and_model, tmp_path, capsys):
    site, model = site_and_model
    before = model.read_bytes()
    out = tmp_path / "site.pneumonet"
    code = cli_main(["calibrate", str(site), "--model", str(model), "--out", str(out), "--rule", "sensitivity:0.9",
                     "--json", "--force"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["forced"] and "24" in report["warnings"][0] and report["min_per_class"] == 50
    assert model.read_bytes() == before and read_card(model).calibration == {}
    card = load_package(out).card
    assert card.hash == report["hash"] != read_card(model).hash
    assert card.threshold == pytest.approx(report["threshold"]) and "sensitivity >= 0.9 on hospital" in card.threshold_rule
    assert card.calibration["method"] in calibration.METHODS
    e = card.external
    assert (e["images"], e["per_class"], e["data_set"]) == (54, {"NORMAL": 24, "PNEUMONIA": 30}, "hospital")
    assert len(e["file_list_sha256"]) == 64 and e["date"] and e["rule"] == "sensitivity:0.9"
    for block in ("before", "after", "after_cross_fitted"):
        assert 0 <= e[block]["roc_auc"] <= 1 and 0 <= e[block]["ece"] <= 1
    assert e["after"]["sensitivity"] >= 0.9


@pytest.mark.parametrize("normal, pneumonia, force, message", [
    (49, 60, False, "NORMAL has 49; at least 50 readable films per class are needed; use --force"),
    (9, 30, True, "NORMAL has 9; at least 10 readable films per class are needed; even when forced"),
    (0, 30, False, "only PNEUMONIA films")])
def test_calibrate_refuses_a_site_that_is_too_small_or_has_one_class(tmp_path, capsys, normal, pneumonia, force,
                                                                      message):
    site = _site(tmp_path / "small", normal, pneumonia)
    if normal == 0:
        (site / "NORMAL").rmdir()
    model = make_tiny_model(tmp_path / "m.pneumonet")
    code = cli_main(["calibrate", str(site), "--model", str(model), "--out", str(tmp_path / "o.pneumonet")]
                    + (["--force"] if force else []))
    err = capsys.readouterr().err.strip()
    assert code == 1 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.pneumonet").exists()


def test_calibrate_shows_intervals_by_patient_and_says_what_the_rule_traded(site_and_model, tmp_path, capsys):
    from pneumonet_core.models import registry

    site, model = site_and_model
    active = registry.active_model_path()
    out = tmp_path / "traded.pneumonet"
    code = cli_main(["calibrate", str(site), "--model", str(model), "--out", str(out), "--rule", "sensitivity:0.95",
                     "--force"])
    captured = capsys.readouterr()
    assert code == 0 and "warning: forced on few films" in captured.err
    text = captured.out
    report_card = load_package(out).card.external
    before, after = report_card["before"], report_card["after"]
    for block in ("before", "after", "after_cross_fitted"):
        for key in ("sensitivity", "specificity"):
            low, high = report_card[block][f"{key}_ci"]
            assert 0 <= low <= report_card[block][key] <= high <= 1, (block, key)
    assert f"sensitivity {after['sensitivity']:.4f} [{after['sensitivity_ci'][0]:.3f}-" in text
    trade = next(line for line in text.splitlines() if line.startswith("\u201cSensitivity at least 0.95\u201d"))
    assert f"the threshold from {before['threshold']:.3f} to {after['threshold']:.3f}" in trade
    assert "on 54 films" in trade and "95% CI" in trade and "cross-fitted" in trade
    assert ("raised sensitivity" in trade or "lowered sensitivity" in trade or "kept sensitivity" in trade)
    assert "not in use" in text and "pneumonet models use" in text  # said how to use it
    assert registry.active_model_path() == active  # nothing activated silently


def test_patient_bootstrap_resamples_patients_not_films():
    from pneumonet_core.evaluation.metrics import patient_bootstrap_intervals

    y = np.array([1] * 40 + [0] * 40)
    decision = np.array([True] * 30 + [False] * 10 + [False] * 36 + [True] * 4)
    # one patient per film, then 4 films per patient: same rates, fewer independent patients, wider intervals
    per_film = patient_bootstrap_intervals(y, decision, [f"f{i}" for i in range(80)])
    per_patient = patient_bootstrap_intervals(y, decision, [f"p{i // 4}" for i in range(80)])
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert per_film["sensitivity"][0] < 0.75 < per_film["sensitivity"][1]
    assert width(per_patient["sensitivity"]) > width(per_film["sensitivity"]) * 1.3
    assert width(per_patient["specificity"]) > width(per_film["specificity"]) * 1.3


def test_calibrate_refuses_to_overwrite_its_input_and_a_bad_rule(site_and_model, capsys):
    site, model = site_and_model
    assert cli_main(["calibrate", str(site), "--model", str(model), "--out", str(model)]) == 1
    assert "must differ from --model" in capsys.readouterr().err
    assert cli_main(["calibrate", str(site), "--model", str(model), "--out", "x.pneumonet", "--rule", "f1"]) == 2
    assert "unknown threshold rule 'f1'" in capsys.readouterr().err


def test_evaluate_reports_ece_and_brier_and_writes_plots_and_predictions(site_and_model, tmp_path, capsys):
    site, model = site_and_model
    preds, plots = tmp_path / "p.csv", tmp_path / "plots"
    code = cli_main(["evaluate", str(site), "--model", str(model), "--json", "--predictions", str(preds),
                     "--plots", str(plots)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert 0 <= doc["ece"] <= 1 and 0 <= doc["brier"] <= 1 and doc["n"] == 54
    rows = preds.read_text().splitlines()
    assert rows[0] == "path,patient,label,probability,out_of_distribution,withheld_probability_not_for_use"
    assert len(rows) == 55
    for name in ("roc.png", "reliability.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli_main(["evaluate", str(site), "--model", str(model)]) == 0
    text = capsys.readouterr().out
    assert "ece" in text and "brier" in text
