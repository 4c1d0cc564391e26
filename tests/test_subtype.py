"""The bacterial/viral second opinion: training, inference, outputs, evaluation and calibration."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SHARED_TRAIN, make_tiny_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(pneumonia model that calls every film PNEUMONIA, one that calls every film NORMAL, subtype model)."""
    folder = tmp_path_factory.mktemp("subtype-models")
    sick = make_tiny_model(folder / "sick.pneumonet", threshold=1e-6)
    well = make_tiny_model(folder / "well.pneumonet", threshold=1.0)
    subtype = make_tiny_model(folder / "subtype.pneumonet", labels="subtype", name="tiny-subtype")
    return sick, well, subtype


@pytest.fixture(scope="module")
def pneumonia_films() -> list[Path]:
    """Two bacterial and two viral training films, by name."""
    folder = SHARED_TRAIN / "PNEUMONIA"
    return sorted(folder.glob("*_bacteria_*.jpeg"))[:2] + sorted(folder.glob("*_virus_*.jpeg"))[:2]


def labelled_folder(root: Path, normal: int, bacteria: int, virus: int) -> Path:
    """A labelled folder of linked training films with subtypes in their names."""
    for label, pattern, count in (("NORMAL", "*.jpeg", normal), ("PNEUMONIA", "*_bacteria_*.jpeg", bacteria),
                                  ("PNEUMONIA", "*_virus_*.jpeg", virus)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for path in sorted((SHARED_TRAIN / label).glob(pattern))[:count]:
            (root / label / path.name).symlink_to(path)
    return root


def test_subtype_call_uses_the_threshold_and_the_uncertain_band():
    from pneumonet_core.inference.subtype import band_around, subtype_call

    assert band_around(0.5) == [0.35, 0.65]
    assert band_around(0.1) == [0.0, 0.25]
    assert subtype_call(0.9, 0.5, [0.35, 0.65]) == "VIRUS"
    assert subtype_call(0.1, 0.5, [0.35, 0.65]) == "BACTERIA"
    assert subtype_call(0.5, 0.5, [0.35, 0.65]) == "UNDETERMINED"
    assert subtype_call(0.5, 0.5, None) == "VIRUS"


def test_a_result_keeps_a_subtype_only_for_a_pneumonia_decision():
    from pneumonet_core.results import ScanResult

    sick = ScanResult(path="a.png", probability=0.9, label="PNEUMONIA", threshold=0.5, subtype="VIRUS",
                      viral_probability=0.8)
    assert sick.subtype_text == "looks viral (p = 0.80)"
    bacterial = ScanResult(path="a.png", probability=0.9, label="PNEUMONIA", threshold=0.5, subtype="BACTERIA",
                           viral_probability=0.1)
    assert bacterial.subtype_text == "looks bacterial (p = 0.90)"
    for other in (dict(probability=0.1, label="NORMAL"), dict(probability=0.9, label="PNEUMONIA",
                                                               out_of_distribution=True),
                  dict(probability=0.9, label="PNEUMONIA", error="unreadable")):
        result = ScanResult(path="a.png", threshold=0.5, subtype="VIRUS", viral_probability=0.8, **other)
        assert (result.subtype, result.viral_probability, result.subtype_text) == (None, None, "")


def test_the_classifier_adds_the_opinion_to_pneumonia_decisions_only(models, pneumonia_films):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.batch import classify_paths
    from pneumonet_core.inference.classifier import Classifier, load_subtype_model
    from pneumonet_core.preprocessing import preprocess

    sick, well, subtype = models
    classifier = Classifier.load(sick, subtype=subtype)
    scan = load_scan(pneumonia_films[0])
    one = classifier.classify(scan)
    expected = float(load_subtype_model(subtype).viral_probability(preprocess(scan.pixels)[None])[0])
    assert one.label == "PNEUMONIA"
    assert one.viral_probability == pytest.approx(expected, abs=1e-6)
    assert one.subtype in ("BACTERIA", "VIRUS", "UNDETERMINED")
    explained, heat = classifier.explain(scan)
    assert explained.viral_probability == pytest.approx(expected, abs=1e-6)
    batch = list(classify_paths(pneumonia_films, classifier, batch_size=3))
    assert batch[0].viral_probability == pytest.approx(expected, abs=1e-5)
    assert all(r.subtype is not None for r in batch)

    normal = list(classify_paths(pneumonia_films, Classifier.load(well, subtype=subtype), batch_size=3))
    assert all(r.label == "NORMAL" and r.subtype is None and r.viral_probability is None for r in normal)
    off = Classifier.load(sick, subtype="none").classify(scan)
    assert off.label == "PNEUMONIA" and off.subtype is None


def test_a_broken_subtype_model_leaves_the_decision_and_says_why(models, pneumonia_films, tmp_path):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier

    sick, _, _ = models
    broken = tmp_path / "broken.pneumonet"
    broken.write_bytes(b"not a model")
    result = Classifier.load(sick, subtype=broken).classify(load_scan(pneumonia_films[0]))
    assert result.label == "PNEUMONIA" and result.subtype is None
    assert any("bacterial/viral opinion unavailable" in w and "broken.pneumonet" in w for w in result.warnings)

    result = Classifier.load(sick, subtype=sick).classify(load_scan(pneumonia_films[0]))  # not a subtype model
    assert result.subtype is None
    assert any("is not a bacterial/viral model" in w for w in result.warnings)


def test_subtype_heat_maps_show_what_drove_each_side(models, pneumonia_films):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import load_subtype_model

    model = load_subtype_model(models[2])
    scan = load_scan(pneumonia_films[2])
    viral, bacterial = model.heatmap(scan, "VIRUS"), model.heatmap(scan, "BACTERIA")
    assert viral.shape == bacterial.shape == scan.shape
    assert 0.0 <= viral.min() and viral.max() <= 1.0
    assert not np.allclose(viral, bacterial)


def test_csv_json_and_report_carry_the_opinion_and_its_caveat(models, pneumonia_films, tmp_path, capsys):
    from pneumonet_cli.main import main
    from pneumonet_core.results import SUBTYPE_CAVEAT

    sick, _, subtype = models
    out_csv = tmp_path / "r.csv"
    code = main(["classify", *map(str, pneumonia_films), "--model", str(sick), "--subtype-model", str(subtype),
                 "--csv", str(out_csv), "--json"])
    assert code == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert all(r["subtype"] in ("BACTERIA", "VIRUS", "UNDETERMINED") and float(r["viral_probability"]) >= 0
               for r in rows)
    document = json.loads(capsys.readouterr().out)
    assert document["subtype_note"] == SUBTYPE_CAVEAT
    assert all(r["subtype"] and r["viral_probability"] is not None for r in document["results"])

    from pneumonet_core.reports.tables import read_csv

    back = [result for result, _ in read_csv(out_csv)]
    assert [r.subtype for r in back] == [r["subtype"] for r in rows]


def test_structured_report_codes_the_pneumonia_type(tmp_path, some_training_jpeg):
    from types import SimpleNamespace

    from pneumonet_core.dicom_node.answers import build_answers
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.results import SUBTYPE_CAVEAT, ScanResult
    from tests.test_pacs_answers import _content

    card = SimpleNamespace(name="m", version="1", hash="ab" * 32)
    scan = load_scan(some_training_jpeg)
    heat = np.zeros(scan.shape, np.float32)
    sick = ScanResult(path="x.jpeg", probability=0.9, label="PNEUMONIA", threshold=0.5, subtype="VIRUS",
                      viral_probability=0.77)
    content = _content(build_answers(scan, sick, heat, card).structured_report.ContentSequence)
    assert ("Pneumonia type", ("75570004", "Viral pneumonia")) in content
    assert ("Probability of viral pneumonia", pytest.approx(0.77)) in content
    assert ("Pneumonia type caveat", SUBTYPE_CAVEAT) in content
    normal = ScanResult(path="x.jpeg", probability=0.1, label="NORMAL", threshold=0.5)
    content = _content(build_answers(scan, normal, heat, card).structured_report.ContentSequence)
    assert not [name for name, _ in content if name.startswith(("Pneumonia type", "Probability of viral"))]


def test_evaluate_reports_the_subtype_beside_the_anchor(models, tmp_path, capsys):
    from pneumonet_cli.main import main

    sick, _, subtype = models
    data = labelled_folder(tmp_path / "data", normal=3, bacteria=4, virus=4)
    code = main(["evaluate", str(data), "--model", str(sick), "--subtype-model", str(subtype), "--json"])
    assert code == 0
    block = json.loads(capsys.readouterr().out)["subtype"]
    assert block["n"] == 8 and block["positive_class"] == "VIRUS"
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "ece"):
        assert block[key] is not None, key
    assert {"roc_auc", "accuracy", "sensitivity", "specificity"} <= set(block["anchor"])
    matrix = block["three_class"]["matrix"]
    assert block["three_class"]["labels"] == ["NORMAL", "BACTERIA", "VIRUS"]
    assert [sum(row) for row in matrix] == [3, 4, 4]
    assert all(row[0] == 0 for row in matrix)  # the model calls every film PNEUMONIA

    code = main(["evaluate", str(data), "--model", str(sick), "--subtype-model", "none", "--json"])
    assert json.loads(capsys.readouterr().out)["subtype"] is None

    # The subtype model alone is measured on the films whose names give the subtype, VIRUS positive.
    code = main(["evaluate", str(data), "--model", str(subtype), "--json"])
    alone = json.loads(capsys.readouterr().out)
    assert alone["n"] == 8 and alone["confusion_matrix"][0][0] + alone["confusion_matrix"][0][1] == 4


def test_calibrate_fits_a_subtype_model_and_its_uncertain_band(models, tmp_path):
    from pneumonet_core.evaluation.site_calibration import calibrate_package
    from pneumonet_core.models.archive import read_card

    data = labelled_folder(tmp_path / "data", normal=2, bacteria=12, virus=12)
    report = calibrate_package(data, models[2], tmp_path / "cal.pneumonet", "youden", force=True)
    card = read_card(tmp_path / "cal.pneumonet")
    assert report["site"]["per_class"] == {"BACTERIA": 12, "VIRUS": 12}
    from pneumonet_core.inference.subtype import band_around

    assert card.uncertain_band == band_around(card.threshold)
    assert card.calibration["fitted_on"]["per_class"] == {"BACTERIA": 12, "VIRUS": 12}


def test_a_subtype_model_never_decides_pneumonia(models, tmp_path, isolated_home, pneumonia_films, capsys,
                                                 monkeypatch):
    from pneumonet_cli.main import main

    monkeypatch.delenv("PNEUMONET_SUBTYPE_MODEL", raising=False)
    from pneumonet_core.errors import ModelPackageError
    from pneumonet_core.models import registry

    subtype = models[2]
    assert main(["classify", str(pneumonia_films[0]), "--model", str(subtype)]) != 0
    assert "is a bacterial/viral model" in capsys.readouterr().err
    with pytest.raises(ModelPackageError, match="bacterial/viral"):
        registry.set_active_model(subtype)
    with pytest.raises(ModelPackageError, match="not a bacterial/viral model"):
        registry.set_subtype_model(models[0])
    registry.set_subtype_model(subtype)
    from pneumonet_core.inference.subtype import chosen_subtype_path

    assert chosen_subtype_path() == subtype.resolve()
    registry.set_subtype_model("none")
    assert chosen_subtype_path() is None


def test_card_refuses_an_uncertain_band_that_misses_the_threshold():
    from pneumonet_core.models.card import ModelCard
    from pneumonet_core.models.card_validation import CardError, validate_card

    validate_card(ModelCard(class_names=["BACTERIA", "VIRUS"], threshold=0.5, uncertain_band=[0.35, 0.65]), {})
    with pytest.raises(CardError, match="uncertain_band"):
        validate_card(ModelCard(class_names=["BACTERIA", "VIRUS"], threshold=0.5, uncertain_band=[0.6, 0.9]), {})


@pytest.mark.slow
def test_training_with_subtype_labels_learns_from_pneumonia_films_only(tmp_path):
    from pneumonet_core.models.archive import read_card
    from pneumonet_core.training.config import TrainConfig
    from pneumonet_core.training.trainer import train

    data = labelled_folder(tmp_path / "data", normal=20, bacteria=24, virus=24)
    config = TrainConfig(data_dir=data, out=tmp_path / "s.pneumonet", approach="cnn", labels="subtype",
                         epochs=1, batch_size=8, cnn_width=4, patience=1)
    train(config, lambda event: None)
    card = read_card(tmp_path / "s.pneumonet")
    assert card.is_subtype and card.class_names == ["BACTERIA", "VIRUS"]
    per_class = card.data["summary"]["train"]["per_class"]
    assert set(per_class) == {"BACTERIA", "VIRUS"}


def test_pdf_reports_state_the_opinion_with_its_caveat(tmp_path, some_training_jpeg):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.models.card import ModelCard
    from pneumonet_core.reports.batch_pdf import write_batch_report
    from pneumonet_core.reports.study_pdf import write_study_report
    from pneumonet_core.results import ScanResult
    from tests.test_reports_pdf import pdf_text

    scan = load_scan(some_training_jpeg)
    card = ModelCard(name="m", hash="ab" * 32, threshold=0.5)
    sick = ScanResult(path=str(some_training_jpeg), probability=0.9, label="PNEUMONIA", threshold=0.5,
                      subtype="BACTERIA", viral_probability=0.2)
    text = " ".join(pdf_text(write_study_report(tmp_path / "s.pdf", scan, sick, None, card)).split())
    assert "Bacterial or viral: looks bacterial (p = 0.80)" in text
    assert "A film alone cannot establish the cause" in text
    normal = ScanResult(path=str(some_training_jpeg), probability=0.1, label="NORMAL", threshold=0.5)
    text = " ".join(pdf_text(write_study_report(tmp_path / "n.pdf", scan, normal, None, card)).split())
    assert "Bacterial or viral" not in text and "looks" not in text
    text = " ".join(pdf_text(write_batch_report(tmp_path / "b.pdf", [sick, normal], card)).split())
    assert "looks bacterial (p = 0.80)" in text and "A film alone cannot establish the cause" in text


def test_the_bundled_subtype_model_is_the_default_and_tells_external_films_apart(monkeypatch, isolated_home):
    """The README's external AUC (0.986 on these 172 films) holds for the bundled file."""
    from sklearn.metrics import roc_auc_score

    from pneumonet_core.data.batches import decode_inputs
    from pneumonet_core.inference.classifier import load_subtype_model
    from pneumonet_core.inference.subtype import BUNDLED_SUBTYPE, chosen_subtype_path
    from pneumonet_core.models.registry import bundled_models_dir

    monkeypatch.delenv("PNEUMONET_SUBTYPE_MODEL", raising=False)
    assert chosen_subtype_path() == bundled_models_dir() / BUNDLED_SUBTYPE
    external = SHARED_TRAIN.parent / "external" / "PNEUMONIA"
    films = sorted(external.glob("*_bacteria_*.jpeg")) + sorted(external.glob("*_virus_*.jpeg"))
    model = load_subtype_model(chosen_subtype_path())
    assert model.band and model.band[0] <= model.threshold <= model.band[1]
    viral = model.viral_probability(decode_inputs(films).inputs)
    y = np.array(["_virus_" in f.name for f in films])
    assert len(films) == 172
    assert roc_auc_score(y, viral) == pytest.approx(0.9856, abs=0.002)
    calls = np.array([model.call(float(p)) for p in viral])
    assert np.mean(calls[calls != "UNDETERMINED"] == np.where(y, "VIRUS", "BACTERIA")[calls != "UNDETERMINED"]) > 0.95


def test_info_names_the_bacterial_viral_model_in_use(models, capsys, monkeypatch, isolated_home):
    from pneumonet_cli.main import main

    sick, _, subtype = models
    assert main(["info", "--model", str(sick), "--subtype-model", str(subtype)]) == 0
    assert f"Bacterial/viral: {subtype}, threshold 0.5000" in capsys.readouterr().out
    assert main(["info", "--model", str(sick), "--subtype-model", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["subtype_model"]["path"] is None
    assert main(["info", "--model", str(subtype), "--json"]) == 0  # a subtype model gets no opinion itself
    assert json.loads(capsys.readouterr().out)["subtype_model"] is None
