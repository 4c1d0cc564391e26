"""The population check (issue 23): adult films, turned films and header ages are withheld.

A tiny model's guard is fitted here (``fit_folder``, what ``pneumonet guard fit --adults``
runs) on 200 training films of children and 40 adult films of ``../shared/data/adult_cxr``
laid out as two "sites"; the other 14 adult films are classified as a new site's would be.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumonet_cli.main import main as cli_main
from tests.conftest import SHARED_TRAIN_DIR
from tests.helpers import make_tiny_model

ADULTS = SHARED_TRAIN_DIR.parents[1] / "adult_cxr" / "images"
EXTERNAL = SHARED_TRAIN_DIR.parent / "external"
pytestmark = pytest.mark.skipif(not ADULTS.is_dir(), reason="needs ../shared/data/adult_cxr")


@pytest.fixture(scope="module")
def adult_films() -> list[Path]:
    return sorted(ADULTS.glob("*.png"))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, adult_films) -> dict:
    from pneumonet_core.ood.fitting import fit_folder

    folder = tmp_path_factory.mktemp("population")
    for cls in ("NORMAL", "PNEUMONIA"):
        (folder / "train" / cls).mkdir(parents=True)
        for film in sorted((SHARED_TRAIN_DIR / cls).glob("*.jpeg"))[::10][:100]:
            (folder / "train" / cls / film.name).symlink_to(film)
    for i, film in enumerate(adult_films[:40]):  # two "sites", so the detection rate is leave-one-site-out
        site = folder / "adults" / ("site_a" if i % 2 else "site_b")
        site.mkdir(parents=True, exist_ok=True)
        (site / film.name).symlink_to(film)
    source = make_tiny_model(folder / "tiny.pneumonet", seed=0)
    out = folder / "tiny-population.pneumonet"
    report = fit_folder(folder / "train", source, out, adults=[folder / "adults"])
    return {"out": out, "report": report, "held_out": adult_films[40:], "source": source, "folder": folder}


@pytest.fixture(scope="module")
def children() -> list[Path]:
    """12 external films of children (not fitted on)."""
    return [f for cls in ("NORMAL", "PNEUMONIA") for f in sorted((EXTERNAL / cls).glob("*.jpeg"))[::11][:6]]


def classify_json(capsys, model: Path, *args) -> list[dict]:
    capsys.readouterr()
    code = cli_main(["classify", "--json", "--model", str(model), *map(str, args)])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)["results"]


def turned_copy(film: Path, folder: Path, degrees: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{film.stem}-{degrees}.png"
    with Image.open(film) as image:
        image.convert("L").rotate(degrees, expand=True).save(path)
    return path


def test_guard_fit_records_the_population_check_and_stores_its_models(fitted):
    from pneumonet_core.models.package import load_package

    package = load_package(fitted["out"])
    block = package.card.ood["population"]
    assert set(package.extras) >= {"population.npz"} and len(package.extras["population.npz"]) < 1 << 20
    assert block["ages_years"] == [1, 5] and block["children"] == 200
    adult = block["adult"]
    assert adult["sites"] == 2 and adult["adult_detection_how"].startswith("leave-one-site-out")
    assert adult["fitted_on"]["adult_films"] == 40 and 0.0 <= adult["children_flag_rate"] <= 0.05
    assert adult["threshold"] > adult["children_median"]
    assert block["orientation"]["fitted_on_children"] == 150 and block["orientation"]["checked_on_children"] == 50
    assert "adult-like film" in next(line for line in package.card.summary_lines() if line.startswith("OOD guard"))


def test_guard_fit_cli_takes_the_adult_folders_and_reports_the_check(fitted, capsys):
    folder = fitted["folder"]
    code = cli_main(["guard", "fit", str(folder / "train"), "--model", str(fitted["source"]), "--out",
                     str(folder / "cli.pneumonet"), "--adults", str(folder / "adults" / "site_a"),
                     "--adults", str(folder / "adults" / "site_b"), "--population-percentile", "99"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "adult-like films: " in out and "leave-one-site-out" in out
    from pneumonet_core.models.package import read_card

    adult = read_card(folder / "cli.pneumonet").ood["population"]["adult"]
    assert adult["percentile"] == 99.0 and adult["sites"] == 2
    assert set(adult["adult_detection_per_set"]) == {"site_a", "site_b"}


def test_adult_films_of_a_new_site_are_withheld_with_the_reason_through_the_cli(capsys, fitted, children):
    results = classify_json(capsys, fitted["out"], *fitted["held_out"])
    flagged = [r for r in results if r["out_of_distribution"]]
    assert len(flagged) >= 0.8 * len(results), [r["ood_score"] for r in results]
    for r in flagged:
        assert "looks like an adult's chest film; the model was trained on children aged 1 to 5 years" in r["ood_reason"]
    kids = classify_json(capsys, fitted["out"], *children)  # fitted on 200 children only: one may be flagged
    assert sum(r["out_of_distribution"] for r in kids) <= 1, [(r["path"], r["ood_reason"]) for r in kids]


def test_an_adult_film_is_withheld_in_a_scan_result(fitted):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier

    classifier = Classifier.load(fitted["out"])
    result = classifier.classify(load_scan(fitted["held_out"][0]))
    assert result.withheld and result.out_of_distribution and "adult" in result.ood_reason
    assert classifier.guard.population is not None  # without the check: not withheld (see the rate above)


@pytest.mark.parametrize("degrees, words", [(180, "upside down"), (90, "turned 90 degrees"),
                                            (270, "turned 90 degrees")])
def test_a_turned_film_is_withheld_and_an_upright_one_is_not(capsys, fitted, children, tmp_path, degrees, words):
    films = children[::3]
    upright = classify_json(capsys, fitted["out"], *films)
    assert not any(r["out_of_distribution"] for r in upright)
    turned = classify_json(capsys, fitted["out"], *[turned_copy(f, tmp_path, degrees) for f in films])
    for r in turned:
        assert r["out_of_distribution"] is True, (r["path"], r["ood_score"])
        assert f"the film looks {words}" in r["ood_reason"], r["ood_reason"]
        assert "turn it upright" in r["ood_reason"]


@pytest.fixture
def aged(tmp_path, children):
    """The same child's film as DICOM with a header age of 45 years, and one with a birth date only."""
    from tests.dicom_factory import make_dicom_from_image

    return {
        "age": make_dicom_from_image(children[0], tmp_path, name="adult-age.dcm", PatientAge="045Y"),
        "birth": make_dicom_from_image(children[0], tmp_path, name="adult-birth.dcm", PatientAge="",
                                       PatientBirthDate="19700101", StudyDate="20200101"),
        "child": make_dicom_from_image(children[0], tmp_path, name="child.dcm", PatientAge="003Y"),
    }


def test_a_header_age_outside_the_card_ages_is_withheld_and_a_setting_or_flag_widens_them(
        capsys, fitted, aged, monkeypatch, tmp_path):
    by_age, by_birth, child = classify_json(capsys, fitted["out"], aged["age"], aged["birth"], aged["child"])
    assert by_age["out_of_distribution"] and "DICOM patient age 45 years" in by_age["ood_reason"]
    assert "outside the ages this model accepts (1 to 5 years)" in by_age["ood_reason"]
    assert by_birth["out_of_distribution"] and "DICOM patient age 50 years" in by_birth["ood_reason"]
    assert child["out_of_distribution"] is False

    wide = classify_json(capsys, fitted["out"], "--accept-ages", "0-99", aged["age"], aged["birth"])
    assert [r["out_of_distribution"] for r in wide] == [False, False]

    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"accepted_ages": "18-60"}))
    monkeypatch.setenv("PNEUMONET_HOME", str(home))
    by_setting, child_now = classify_json(capsys, fitted["out"], aged["age"], aged["child"])
    assert by_setting["out_of_distribution"] is False
    assert child_now["out_of_distribution"] and "3 years" in child_now["ood_reason"]


def test_a_bad_age_range_is_a_usage_error(capsys, fitted, children):
    code = cli_main(["classify", "--accept-ages", "5-1", "--model", str(fitted["out"]), str(children[0])])
    assert code == 2 and "not an age range" in capsys.readouterr().err


def test_a_mistyped_age_setting_is_named_and_ignored(monkeypatch, tmp_path):
    from pneumonet_core.settings import load_settings

    (tmp_path / "settings.json").write_text(json.dumps({"accepted_ages": "adults"}))
    monkeypatch.setenv("PNEUMONET_HOME", str(tmp_path))
    settings = load_settings()
    assert "accepted_ages" not in settings.values and "accepted_ages" in settings.problem_line()


def test_an_edited_population_model_is_refused(fitted, tmp_path):
    import io
    import zipfile

    from pneumonet_core.errors import ModelPackageError
    from pneumonet_core.models.package import load_package

    edited = tmp_path / "edited.pneumonet"
    with zipfile.ZipFile(fitted["out"]) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("population.npz"):
                with np.load(io.BytesIO(data)) as npz:
                    arrays = dict(npz)
                arrays["adult_intercept"] = np.float32(-100.0)  # would let every adult through
                buf = io.BytesIO()
                np.savez(buf, **arrays)
                data = buf.getvalue()
            dst.writestr(item, data)
    with pytest.raises(ModelPackageError, match="population.npz was modified"):
        load_package(edited)


def test_population_features_barely_change_when_the_same_film_is_enlarged(children):
    from pneumonet_core.ood.population import image_features
    from pneumonet_core.preprocessing import preprocess

    with Image.open(children[0]) as image:
        small = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        large = np.asarray(image.convert("L").resize((768, 1000), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    a, b = image_features(np.stack([preprocess(small), preprocess(large)]))
    assert np.corrcoef(a, b)[0, 1] > 0.95


@pytest.mark.gui
@pytest.mark.usefixtures("isolated_home")
def test_the_viewer_withholds_an_adult_film_and_a_turned_film_and_says_why(qtbot, qapp, fitted, children, tmp_path):
    from pneumonet_gui.main_window import MainWindow

    window = MainWindow(model=fitted["out"], extensions=False)
    qtbot.addWidget(window)
    window.show()
    for path, words in ((fitted["held_out"][0], "adult's chest film"),
                        (turned_copy(children[0], tmp_path, 180), "upside down")):
        window.show_scan(path)
        qtbot.waitUntil(lambda: window.current.done, timeout=120_000)
        assert window.current.result.withheld and words in window.current.result.ood_reason
        panel = window.result_panel
        assert panel.shown_label() != window.current.result.label  # no NORMAL / PNEUMONIA on screen
        assert words in panel.details.text()


@pytest.mark.gui
def test_the_model_card_page_shows_the_population_checks_rates(fitted):
    from pneumonet_core.models.package import read_card
    from pneumonet_gui.card_page import ood_section

    card = read_card(fitted["out"])
    text = ood_section(card)
    adult = card.ood["population"]["adult"]
    assert "Population check: adult films flagged" in text and f"{adult['adult_detection_rate']:.1%}" in text
    assert "leave-one-site-out" in text and "turned 90/180/270 degrees flagged" in text
