"""Two models on the same films (the wizard's comparison), the reliability curves a calibrated
card stores, and the batch filter for scans the out-of-distribution guard flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumonet_core.data.discovery import find_labelled_images
from pneumonet_core.evaluation.comparison import DataSet, compare_models, comparison_warnings, measure
from pneumonet_core.evaluation.folder import predict_folder
from pneumonet_core.results import ScanResult
from tests.helpers import link_films, make_tiny_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return link_films(tmp_path_factory.mktemp("films"), 22)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"active": make_tiny_model(root / "a.pneumonet", seed=0),
            "new": make_tiny_model(root / "b.pneumonet", seed=1)}


def test_predict_folder_keeps_only_the_patients_asked_for(folder, models):
    from pneumonet_core.inference.classifier import Classifier

    patients = sorted({im.patient for im in find_labelled_images(folder)})[:5]
    found = predict_folder(folder, Classifier.load(models["new"]), patients=patients)
    assert set(found.patients) == set(patients) and len(found.images) >= 5


def test_compare_models_measures_both_models_on_the_same_films(folder, models):
    from pneumonet_core.inference.classifier import Classifier

    patients = tuple(sorted({im.patient for im in find_labelled_images(folder)})[::2])
    sets = [DataSet("held-out patients", folder, patients), DataSet("external", folder)]
    ticks = []
    results = compare_models(models, sets, progress=lambda done, total: ticks.append((done, total)))
    assert set(results) == {"held-out patients", "external"}
    held, whole = results["held-out patients"], results["external"]
    assert held["active"]["n"] == held["new"]["n"] < whole["active"]["n"] == whole["new"]["n"] == 44
    assert held["active"]["patients"] == len(patients)
    # The same figures the one measuring function gives for each model alone.
    alone = measure(Classifier.load(models["new"]), sets[1])
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "ece"):
        assert whole["new"][key] == pytest.approx(alone[key])
    assert ticks[-1] == (4000, 4000) and all(d <= t for d, t in ticks)


def test_a_model_or_folder_that_fails_is_an_error_in_its_cells_only(folder, models, tmp_path):
    broken = tmp_path / "broken.pneumonet"
    broken.write_bytes(b"not a model")
    results = compare_models({"active": broken, "new": models["new"]},
                             [DataSet("external", folder), DataSet("empty", tmp_path)])
    assert "broken.pneumonet" in results["external"]["active"]["error"]
    assert "roc_auc" in results["external"]["new"] and "error" in results["empty"]["new"]


def test_warnings_name_a_worse_or_worse_than_chance_new_model():
    results = {"external": {"old": {"roc_auc": 0.93}, "new": {"roc_auc": 0.375}},
               "held-out patients": {"old": {"roc_auc": 0.95}, "new": {"roc_auc": 0.945}}}
    warnings = comparison_warnings(results, "old", "new")
    assert warnings == ["On external, the new model ranks films worse than the active one (ROC AUC 0.375 against "
                        "0.930).", "On external, the new model is worse than chance (ROC AUC 0.375)."]
    assert comparison_warnings({"external": {"new": {"roc_auc": 0.9}}}, "old", "new") == []


def test_a_calibrated_card_stores_the_reliability_curves(folder, models, tmp_path):
    from pneumonet_core.evaluation.site_calibration import calibrate_package
    from pneumonet_core.models.package import read_card

    out = tmp_path / "calibrated.pneumonet"
    calibrate_package(folder, models["new"], out, force=True)
    external = read_card(out).external
    for key in ("before", "after", "after_cross_fitted"):
        curve = external[key]["reliability"]
        assert sum(curve["count"]) == 44, key
        assert len(curve["mean_probability"]) == len(curve["observed_rate"]) == len(curve["count"]) <= 10
        assert all(0 <= v <= 1 for v in curve["mean_probability"] + curve["observed_rate"])


def test_the_ood_filter_lists_flagged_scans_and_withholds_their_label():
    from pneumonet_core.reports.summary import FILTER_TITLES, FILTERS, matches

    flagged = ScanResult("/a.png", 0.9, "PNEUMONIA", 0.5, out_of_distribution=True, ood_reason="not a chest film")
    plain = ScanResult("/b.png", 0.8, "PNEUMONIA", 0.5, out_of_distribution=False)
    failed = ScanResult.failed("/c.png", "cannot read")
    assert "ood" in FILTERS and FILTER_TITLES["ood"] == "Only not-a-chest-X-ray"
    assert [r.path for r in (flagged, plain, failed) if matches(r, "ood")] == [Path("/a.png")]
    assert [r.path for r in (flagged, plain, failed) if matches(r, "pneumonia")] == [Path("/b.png")]


def test_patients_another_model_may_have_trained_on_are_counted_when_it_is_the_same_data_set():
    from pneumonet_core.evaluation.comparison import patients_seen_in_training
    from pneumonet_core.models.card import ModelCard

    old = ModelCard(data={"test_patients": ["N/1", "N/2"], "validation_patients": ["P/9"]})
    assert patients_seen_in_training(old, ["N/1", "P/9", "N/5", "P/7"]) == 2  # N/5 and P/7 were in its training split
    assert patients_seen_in_training(old, ["X/1", "X/2"]) is None  # another data set: unknown
    assert patients_seen_in_training(ModelCard(), ["N/1"]) is None
