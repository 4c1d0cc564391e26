"""The out-of-distribution guard (issue 15): what it flags, how it is stored, and how results carry it.

Two guards are tested: the image statistics and DICOM tags alone (an untrained tiny model
without a feature reference), and the full guard of the bundled custom CNN fitted here on
60 training films. The non-chest inputs come from tests/ood_samples.py; the chest films
are patients of the shared ``external`` folder, as JPEG and as DICOM.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pneumonet_cli.main import main as cli_main
from tests.conftest import SHARED_TRAIN_DIR
from tests.helpers import make_tiny_model
from tests.ood_samples import write_chest_dicoms, write_ood_samples

EXTERNAL = SHARED_TRAIN_DIR.parent / "external"
BUNDLED_CNN = Path(__file__).resolve().parents[1] / "resources" / "models" / "pneumonet-cnn.pneumonet"
OOD_FIELDS = ("out_of_distribution", "ood_score", "ood_reason")


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def classify(classifier, paths) -> list:
    from pneumonet_core.inference.batch import classify_paths

    return list(classify_paths(paths, classifier, batch_size=8))


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, list[Path]]:
    return write_ood_samples(tmp_path_factory.mktemp("ood"), per_category=6)


@pytest.fixture(scope="module")
def chest(tmp_path_factory) -> dict[str, list[Path]]:
    """24 external chest films (12 per class) as JPEG, and the same films as DICOM (CR, CHEST)."""
    films = [f for cls in ("NORMAL", "PNEUMONIA") for f in sorted((EXTERNAL / cls).glob("*.jpeg"))[::9][:12]]
    return {"jpeg": films, "dicom": write_chest_dicoms(films, tmp_path_factory.mktemp("chest-dicom"))}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.pneumonet"))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, shared_train_dir) -> dict:
    """The bundled CNN with its guard fitted on 60 training films (a labelled folder of links)."""
    from pneumonet_core.ood.fitting import fit_folder

    folder = tmp_path_factory.mktemp("fit")
    for cls in ("NORMAL", "PNEUMONIA"):
        (folder / "train" / cls).mkdir(parents=True)
        for film in sorted((shared_train_dir / cls).glob("*.jpeg"))[::40][:30]:
            (folder / "train" / cls / film.name).symlink_to(film)
    source = folder / "cnn.pneumonet"
    shutil.copy(BUNDLED_CNN, source)
    before = source.read_bytes()
    out = folder / "cnn-guarded.pneumonet"
    report = fit_folder(folder / "train", source, out)
    return {"source": source, "before": before, "out": out, "report": report}


@pytest.fixture(scope="module")
def guarded(fitted):
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(fitted["out"])


# --- the guard without a feature reference: image statistics and tags ------------------------

@pytest.mark.parametrize("category, words", [
    ("photo", "colour image"), ("screenshot", ""), ("document", ""), ("blank", ""),
    ("ct_mr_dicom", "DICOM Modality"), ("anatomy_dicom", "DICOM Body Part Examined"),
])
def test_statistics_and_tags_flag_non_chest_inputs_without_a_feature_reference(tiny, samples, category, words):
    assert tiny.card.ood == {} and not tiny.guard.needs_features
    results = classify(tiny, samples[category])
    for r in results:
        assert r.ok and r.out_of_distribution is True and r.ood_score >= 1.0, (r.path, r.ood_score)
        assert r.ood_reason and words in r.ood_reason, (r.path, r.ood_reason)
        assert r.withheld and r.classified and r.probability is None and r.label == "WITHHELD"  # no answer
        assert r.withheld_probability_not_for_use is not None  # kept for measuring, under its name


def test_statistics_and_tags_pass_chest_films_as_jpeg_and_dicom(tiny, chest):
    results = classify(tiny, chest["jpeg"] + chest["dicom"])
    assert all(r.ok and r.out_of_distribution is False and r.ood_reason is None for r in results)
    assert max(r.ood_score for r in results) < 0.8  # well below the limit, not just under it


def test_a_failed_scan_has_no_verdict(tiny, tmp_path):
    bad = tmp_path / "notes.dcm"
    bad.write_text("not an image")
    (r,) = classify(tiny, [bad])
    assert not r.ok and r.out_of_distribution is None and r.ood_score is None and r.ood_reason is None
    assert not r.withheld
    assert set(OOD_FIELDS) <= set(r.to_dict())


# --- the fitted guard: feature distance + statistics + tags -----------------------------------

def test_guard_fit_writes_a_verified_package_and_leaves_the_input_untouched(fitted):
    from pneumonet_core.models.package import load_package, read_card

    assert fitted["source"].read_bytes() == fitted["before"]
    source, package = read_card(fitted["source"]), load_package(fitted["out"])
    ood = package.card.ood
    assert ood["method"] == "mahalanobis-pca-ledoit-wolf" and ood["layer"] == "block2_relu2"
    assert ood["percentile"] == 99.5 and ood["threshold"] > 0 and ood["components"] <= ood["dimensions"]
    assert ood["fitted_on"]["images"] == 60 and ood["fitted_on"]["per_class"] == {"NORMAL": 30, "PNEUMONIA": 30}
    assert set(ood["image_statistics"]) >= {"dark_fraction", "entropy", "edge_fraction"}
    assert 0.0 <= ood["fit_flag_rate"] <= 0.05
    assert set(package.extras) == {"ood.npz", "population.npz"} and len(package.extras["ood.npz"]) < 2 << 20
    assert package.card.hash != source.hash  # the guard is part of the model's identity
    assert package.card.threshold == source.threshold and package.card.calibration == source.calibration
    code, out, _ = run_cli("info", "--model", fitted["out"], "--verify")
    assert code == 0 and "OOD guard:" in out and "block2_relu2" in out
    code, _, err = run_cli("guard", "fit", fitted["out"].parent / "train", "--model", fitted["out"],
                           "--out", fitted["out"])
    assert code == 1 and "untouched" in err


def test_an_edited_reference_is_refused(fitted, tmp_path):
    from pneumonet_core.errors import ModelPackageError
    from pneumonet_core.models.package import load_package

    edited = tmp_path / "edited.pneumonet"
    with zipfile.ZipFile(fitted["out"]) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "extra/ood.npz":
                buf = io.BytesIO(data)
                arrays = dict(np.load(buf))
                arrays["location"] = arrays["location"] + 1.0  # moves the reference: accepts strange images
                out = io.BytesIO()
                np.savez(out, **arrays)
                data = out.getvalue()
            dst.writestr(info, data)
    with pytest.raises(ModelPackageError, match="extra/ood.npz was modified"):
        load_package(edited)


@pytest.mark.parametrize("change, message", [
    ({"layer": "no_such_layer"}, "no layer 'no_such_layer'"),
    ({"layer": "block3_relu2"}, "channels"),
    ({"method": "some-future-method"}, "unknown method"),
])
def test_a_guard_that_does_not_fit_its_model_is_refused(fitted, tmp_path, change, message):
    """A consistent, sealed package whose guard cannot work is refused on load, not half-guarded."""
    from pneumonet_core.errors import ModelPackageError
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.models.package import read_card, rewrite_package

    card = read_card(fitted["out"])
    card.ood = {**card.ood, **change}
    rewrite_package(fitted["out"], tmp_path / "odd.pneumonet", card)
    with pytest.raises(ModelPackageError, match=message):
        Classifier.load(tmp_path / "odd.pneumonet")


def test_the_fitted_guard_flags_what_the_pixels_alone_cannot(guarded, tiny, samples):
    """Other anatomy, grayscale photos and CT/MR slices without tags: the feature distance catches them."""
    for category in ("anatomy_image", "photo_gray", "ct_mr_image"):
        results = classify(guarded, samples[category])
        assert all(r.out_of_distribution for r in results), [(Path(r.path).name, r.ood_score) for r in results]
        assert any("unlike the chest X-rays" in r.ood_reason for r in results)
    missed = [r for r in classify(tiny, samples["photo_gray"] + samples["anatomy_image"]) if not r.out_of_distribution]
    assert missed  # the statistics alone let some through: the feature part is doing the work


def test_the_fitted_guard_passes_chest_films(guarded, chest):
    jpeg, dicom = classify(guarded, chest["jpeg"]), classify(guarded, chest["dicom"])
    assert sum(r.out_of_distribution for r in jpeg) <= 1  # 60 fitting films make a rough threshold
    assert not any(r.out_of_distribution for r in dicom)  # a CR CHEST header confirms a borderline film
    assert all(0.0 < r.ood_score for r in jpeg)


def test_probability_and_features_come_from_one_forward_pass(guarded, chest, monkeypatch):
    from pneumonet_core.imaging import load_scan

    guarded.forward(np.zeros((1, 224, 224, 1), np.float32))  # builds the two-output model once
    two_outputs, calls = guarded._two_outputs, []
    original = two_outputs.predict_on_batch
    monkeypatch.setattr(guarded.model, "predict_on_batch", lambda x: calls.append("plain"))
    monkeypatch.setattr(two_outputs, "predict_on_batch", lambda x: calls.append("both") or original(x))
    result = guarded.classify(load_scan(chest["jpeg"][0]))
    assert calls == ["both"] and result.out_of_distribution is False and 0.0 <= result.probability <= 1.0
    assert guarded._two_outputs is two_outputs  # built once per loaded model


def test_reference_file_round_trip_and_refusals():
    from pneumonet_core.ood.reference import FeatureReference, fit_reference

    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 2048)).astype(np.float32) * rng.uniform(0.1, 3, 2048)
    reference = fit_reference(features, 64)
    data = reference.to_bytes()
    assert len(data) < 2 << 20  # 2048-d features at 64 components stay small
    again = FeatureReference.from_bytes(data)
    probe = rng.normal(size=(5, 2048)) * 3
    np.testing.assert_allclose(again.distances(probe), reference.distances(probe), rtol=1e-4)
    assert np.median(reference.distances(features)) < np.min(again.distances(probe * 10))
    with pytest.raises(ValueError, match="unreadable"):
        FeatureReference.from_bytes(b"not an npz")
    buf = io.BytesIO()
    np.savez(buf, mean=np.zeros(3), components=np.zeros((2, 4)), location=np.zeros(2), precision=np.eye(2),
             residual_scale=np.float32(1))
    with pytest.raises(ValueError, match="inconsistent"):
        FeatureReference.from_bytes(buf.getvalue())


# --- what every output carries ------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory, tiny, samples, chest) -> dict:
    """``pneumonet classify`` on two chest films, a photo and a document, with every output."""
    folder = tmp_path_factory.mktemp("mixed")
    for path in chest["jpeg"][:2] + samples["photo"][:1] + samples["document"][:1]:
        shutil.copy(path, folder / path.name)
    out = tmp_path_factory.mktemp("out")
    model = str(tiny.package.path)
    code, stdout, stderr = run_cli("classify", folder, "--model", model, "--json", "--csv", out / "r.csv",
                                   "--report", out / "r.pdf", "--heatmaps", out / "hm")
    text_code, text, _ = run_cli("classify", folder, "--model", model)
    from pneumonet_core.reports.deidentify import report_path
    from pneumonet_core.results import file_sha256

    # De-identified exports name files by pseudonyms: what each stands for.
    names = {report_path(p, {}, True, file_sha256(p)): p.name for p in folder.iterdir()}
    return {"code": code, "json": json.loads(stdout), "stderr": stderr, "out": out, "text": text,
            "text_code": text_code, "names": names}


def test_classify_exits_0_with_flagged_scans_and_json_carries_the_verdict(mixed_run):
    assert mixed_run["code"] == 0 and mixed_run["text_code"] == 0  # flagged scans are results, not errors
    results = mixed_run["json"]["results"]
    assert len(results) == 4
    for r in results:
        assert set(OOD_FIELDS) <= set(r)
        assert isinstance(r["out_of_distribution"], bool) and isinstance(r["ood_score"], float)
        assert (r["ood_reason"] is None) != r["out_of_distribution"]
        if r["out_of_distribution"]:  # a withheld result has no answer a program could read as one
            assert r["probability"] is None and r["label"] == "WITHHELD" and r["class_probabilities"] is None
            assert isinstance(r["withheld_probability_not_for_use"], float)
        else:
            assert r["probability"] is not None and r["label"] in ("NORMAL", "PNEUMONIA")
            assert r["withheld_probability_not_for_use"] is None
    flagged = {mixed_run["names"][r["path"]] for r in results if r["out_of_distribution"]}
    assert flagged == {"photo_00.jpg", "document_00.png"}
    assert "ood_guard" in mixed_run["json"]["model"]


def test_text_lines_and_summary_say_withheld(mixed_run):
    lines = mixed_run["text"].splitlines()
    withheld = [line for line in lines if "Not a chest X-ray this model knows - result withheld" in line]
    assert len(withheld) == 2 and all("p=" not in line for line in withheld)
    assert sum(" p=" in line for line in lines) == 2
    assert "2 withheld (not a chest X-ray this model knows)" in mixed_run["stderr"]


def test_summary_and_filters_keep_withheld_scans_apart(mixed_run):
    from pneumonet_core.reports.summary import BatchSummary, matches
    from pneumonet_core.reports.tables import read_csv

    results = [r for r, _ in read_csv(mixed_run["out"] / "r.csv")]
    summary = BatchSummary.of(results)
    assert summary.withheld == 2 and sum(summary.labels.values()) == 2 and summary.total == 4
    assert not any(r.withheld for r in results if matches(r, "pneumonia") or matches(r, "normal"))


def test_csv_appends_the_guard_columns_and_reads_back(mixed_run):
    from pneumonet_core.reports.tables import CSV_COLUMNS, read_csv

    with open(mixed_run["out"] / "r.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    assert CSV_COLUMNS[-7:] == (*OOD_FIELDS, "withheld_probability_not_for_use", "subtype", "viral_probability",
                                "row_check")
    assert CSV_COLUMNS[:12] == ("path", "file_sha256", "probability", "label", "threshold", "warnings", "error",
                                "model_name", "model_hash", "format", "width", "height")
    assert sorted(row["out_of_distribution"] for row in rows) == ["false", "false", "true", "true"]
    assert all((row["ood_reason"] == "") == (row["out_of_distribution"] == "false") for row in rows)
    for row in rows:  # withheld: no label a program could act on, no probability
        withheld = row["out_of_distribution"] == "true"
        assert (row["label"] == "WITHHELD") == withheld and (row["probability"] == "") == withheld
        assert (row["withheld_probability_not_for_use"] != "") == withheld
    back = {mixed_run["names"][str(r.path)]: r for r, _ in read_csv(mixed_run["out"] / "r.csv")}
    assert back["photo_00.jpg"].out_of_distribution is True and "colour" in back["photo_00.jpg"].ood_reason
    assert back["photo_00.jpg"].ood_score >= 1.0
    assert back["photo_00.jpg"].label == "WITHHELD" and back["photo_00.jpg"].probability is None
    assert back["photo_00.jpg"].classified and back["photo_00.jpg"].withheld_probability_not_for_use is not None


def test_no_heat_map_for_a_flagged_scan(mixed_run):
    written = sorted(p.name for p in (mixed_run["out"] / "hm").iterdir())
    assert len(written) == 2 and not any("photo" in n or "document" in n for n in written)
    assert mixed_run["stderr"].count("no heat map: not a chest X-ray this model knows") == 2


def test_batch_pdf_marks_flagged_rows(mixed_run):
    from tests.test_reports_pdf import pdf_text

    flat = " ".join(pdf_text(mixed_run["out"] / "r.pdf").split())
    assert "WITHHELD" in flat and flat.count("Not a chest X-ray this model knows") >= 2
    assert "colour" in flat and "Guard out-of-distribution:" in flat


def test_study_pdf_withholds_the_result_and_the_heat_map(tiny, samples, tmp_path):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.reports.study_pdf import write_study_report
    from tests.test_reports_pdf import pdf_text

    scan = load_scan(samples["photo"][0])
    result = tiny.classify(scan)
    assert result.withheld
    pdf = write_study_report(tmp_path / "s.pdf", scan, result, tiny.heatmap(scan, result), tiny.card)
    flat = " ".join(pdf_text(pdf).split())
    assert "Not a chest X-ray this model knows - result withheld" in flat
    assert result.probability is None and result.label == "WITHHELD"
    assert "No heat map: result withheld" in flat
    assert f"{result.withheld_probability_not_for_use * 100:.1f} %" not in flat
    assert "NORMAL" not in flat and "No pneumonia found" not in flat
    assert "PNEUMONIA" not in flat.replace("PROBABILITY OF PNEUMONIA", "")  # the header alone, over "withheld"
    assert "a colour image" in flat


def test_evaluate_predictions_and_json_carry_the_flag(guarded, fitted, tmp_path):
    folder = tmp_path / "labelled"
    for cls in ("NORMAL", "PNEUMONIA"):
        (folder / cls).mkdir(parents=True)
        for film in sorted((EXTERNAL / cls).glob("*.jpeg"))[:4]:
            (folder / cls / film.name).symlink_to(film)
    code, out, _ = run_cli("evaluate", folder, "--model", fitted["out"], "--json",
                           "--predictions", tmp_path / "p.csv")
    assert code == 0
    doc = json.loads(out)
    assert doc["out_of_distribution"]["n"] == 8 and 0 <= doc["out_of_distribution"]["flagged"] <= 8
    with open(tmp_path / "p.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == ["path", "patient", "label", "probability", "out_of_distribution",
                                 "withheld_probability_not_for_use"]
    assert len(rows) == 8 and {row["out_of_distribution"] for row in rows} <= {"true", "false"}
    for row in rows:  # a flagged film's score only under the column that says it is not for use
        flagged = row["out_of_distribution"] == "true"
        assert (row["probability"] == "") == flagged and (row["withheld_probability_not_for_use"] != "") == flagged


def test_guard_check_reports_the_flag_rate(fitted, samples):
    code, out, _ = run_cli("guard", "check", samples["photo"][0].parent, "--model", fitted["out"], "--json")
    doc = json.loads(out)
    assert code == 0 and doc["flagged"] == doc["assessed"] == 6 and doc["flag_rate"] == 1.0
    assert all(item["ood_reason"] for item in doc["flagged_files"])


def test_machine_outputs_keep_class_names_while_people_read_words(mixed_run):
    """Issue 23 item 3 through the CLI: JSON/CSV keep NORMAL/PNEUMONIA; the PDF says what the model assesses."""
    from tests.test_reports_pdf import pdf_text

    given = [r for r in mixed_run["json"]["results"] if not r["out_of_distribution"]]
    assert given and all(r["label"] in ("NORMAL", "PNEUMONIA") for r in given)
    lines = mixed_run["text"].splitlines()
    assert all(" p=" not in line for line in lines if "withheld" in line)
    flat = " ".join(pdf_text(mixed_run["out"] / "r.pdf").split())
    assert "The model assesses pneumonia only" in flat and "TB, nodules or devices" in flat
    assert "NO PNEUMONIA" in flat and " NORMAL " not in f" {flat} "
    if any(r["label"] == "NORMAL" for r in given):  # the terminal says it once, on stderr
        assert "NORMAL means no pneumonia found. The model assesses pneumonia only" in mixed_run["stderr"]


def test_a_training_runs_end_measures_and_fits_the_guard_on_one_pass_per_set(tiny, monkeypatch):
    """save_and_measure's PackagePasses: the validation and test films give the probabilities
    and the guard's features in one pass each, the same outputs the plain model gives."""
    from pneumonet_core.ood.fitting import PackagePasses, fit_package_guard
    from pneumonet_core.runtime.predict import predict_class_probabilities

    rng = np.random.default_rng(0)
    train, val, test = (rng.integers(0, 256, (n, 224, 224, 1), dtype=np.uint8) for n in (24, 6, 5))
    package = tiny.package
    expected = predict_class_probabilities(package.model, val, 8)
    passes = PackagePasses(package, 8)
    calls = []
    original = passes.model.predict_on_batch
    monkeypatch.setattr(package.model, "predict_on_batch", lambda x: calls.append("plain"))
    monkeypatch.setattr(passes.model, "predict_on_batch", lambda x: calls.append(len(x)) or original(x))
    outputs, features = passes.run(val)
    np.testing.assert_allclose(outputs, expected, atol=1e-6)
    assert features is not None and len(features) == 6
    passes.run(test)
    assert calls == [8, 8]  # one padded batch each
    card, extras = fit_package_guard(package, train, 8, held_out={"validation": val, "test": test}, passes=passes)
    assert calls == [8, 8, 8, 8, 8]  # the training films' three batches, nothing again for the held-out sets
    assert set(card.ood["held_out_flag_rate"]) == {"validation", "test"} and extras["ood.npz"] is not None
    passes.run(val.copy())  # another array of the same films: passed again, never mistaken for a kept one
    assert calls[-1] == 8 and len(calls) == 6
