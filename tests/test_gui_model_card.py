"""The readable model card (Model ▸ card, and the model manager's right side), its raw JSON
behind a button, and its reliability diagrams: stored in a calibrated card, or measured on a
folder in a worker when the card has none.

The card with external figures is the bundled custom CNN calibrated (by the core, as
``pneumonet calibrate`` does) on films of the external folder beside the checkout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from pneumonet_core.models.card import calibration_text, strip_folders
from pneumonet_core.models.package import read_card
from pneumonet_gui.card_page import readable_date
from tests.helpers import SHARED_TRAIN, link_films, make_tiny_model, on_screen

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

WAIT_MS = 120_000
REPO = Path(__file__).resolve().parents[1]
EXTERNAL = SHARED_TRAIN.parent / "external"


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> Path:
    from pneumonet_core.evaluation.site_calibration import calibrate_package

    root = tmp_path_factory.mktemp("calibrated")
    source = EXTERNAL if (EXTERNAL / "NORMAL").is_dir() else SHARED_TRAIN
    films = link_films(root / "external", 40, source)
    out = root / "pneumonet-cnn-external.pneumonet"
    calibrate_package(films, REPO / "resources" / "models" / "pneumonet-cnn.pneumonet", out, force=True)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.pneumonet")


@pytest.fixture
def card_dialog(qtbot, qapp):
    """``card_dialog(path)``: Model ▸ card's dialog for the model file, shown; its jobs end at teardown."""
    from pneumonet_gui.model_menu import ModelCardDialog
    from pneumonet_gui.theme import apply_theme

    apply_theme(qapp)
    dialogs = []

    def show(path: Path):
        dialogs.append(on_screen(qtbot, ModelCardDialog(read_card(path), path)))
        return dialogs[-1]

    yield show
    while dialogs:
        dialogs.pop().view.shutdown()


def table_row(text: str, title: str, cells: int) -> list[str]:
    """The ``cells`` values after a row title in a page's text (each table cell is a line)."""
    lines = text.splitlines()
    start = lines.index(title)
    return lines[start + 1: start + 1 + cells]


def settle(qapp) -> None:
    for _ in range(5):
        qapp.processEvents()


def test_card_page_shows_held_out_and_external_figures_side_by_side_and_why_they_differ(
        card_dialog, calibrated, qtbot, qapp, shots):
    card = read_card(calibrated)
    dialog = card_dialog(calibrated)
    view = dialog.view
    qtbot.waitUntil(lambda: set(view.images) == {"before", "after_cross_fitted"}, timeout=WAIT_MS)
    text = view.toPlainText()
    # What it is.
    for words in ("pneumonet-cnn", "version 1", "custom-cnn", "random initialisation", str(calibrated)):
        assert words in text, words
    # Held-out and external figures side by side, with the sentence on why they differ.
    # Independent patients lead (cross-fitted first: the threshold was chosen on these films); the
    # held-out split of the training data comes last, labelled as such.
    columns = ("External, cross-fitted by patient", "External, at the stored threshold (chosen on these films)",
               "External, before calibration", "Held-out split of the training data (same hospital)")
    positions = [text.index(column) for column in columns]
    assert positions == sorted(positions)
    external = card.external
    assert table_row(text, "ROC AUC", 4) == [f"{v:.3f}" for v in (
        external["after_cross_fitted"]["roc_auc"], external["after"]["roc_auc"], external["before"]["roc_auc"],
        card.metrics["roc_auc"])]
    assert "Why the columns differ: held-out patients come from the same hospital" in text
    assert f"{external['images']} films of {external['patients']} patients" in text
    # The threshold, its rule and where it was chosen; the calibration and its scores.
    assert f"{card.threshold:.4f} \u2014 rule: {card.threshold_rule}" in text
    assert f"On the {external['after']['n']} films of external that chose it" in text
    assert calibration_text(card.calibration) in text
    assert f"{card.calibration['method']} \u2190 in use" in text
    # The guard, the data, the training record, the hash.
    assert "OUT-OF-DISTRIBUTION GUARD" in text and "feature distance (layer block2_relu2" in text
    assert "flags 0.5% of the films it was fitted on" in text
    assert "3,700" in text and "Split by patient" in text
    # The training machine's folders are reduced to names; dates and switches read as words.
    assert strip_folders(card.training["command"]) in text
    assert "/tmp/pneumonet-recipes" not in text and card.data["folder"] not in text and "True" not in text
    assert "Option augment\non" in text and card.created not in text and readable_date(card.created) in text
    assert "INTENDED USE" in text and "children aged 1 to 5 years" in text and "anterior-posterior" in text
    assert "pneumonia only" in text and "not a diagnosis" in text
    # The reliability diagrams are dark, like the window around them.
    from pneumonet_gui.qimage import qimage_to_array

    chart = qimage_to_array(view.images["before"])[..., :3]
    assert chart.mean() < 80, chart.mean()
    assert f"sha256:{card.hash}" in text and "not signed" in text
    assert not view.raw.isVisible()
    dialog.resize(980, 760)
    settle(qapp)
    assert dialog.grab().save(str(shots / "model-card.png"))
    view.browser.scrollToAnchor("")
    view.browser.verticalScrollBar().setValue(view.browser.verticalScrollBar().maximum() // 2)
    settle(qapp)
    assert dialog.grab().save(str(shots / "model-card-reliability.png"))


def test_the_raw_json_is_behind_a_button(card_dialog, calibrated, qtbot):
    view = card_dialog(calibrated).view
    view.raw_button.click()
    assert view.raw.isVisible() and not view.browser.isVisible()
    assert json.loads(view.toPlainText()) == json.loads(read_card(calibrated).to_json())
    assert view.raw_button.text() == "Readable card"
    view.raw_button.click()
    assert view.browser.isVisible() and "HOW WELL IT DOES" in view.toPlainText()


def test_a_card_without_a_reliability_curve_measures_one_on_a_folder_in_a_worker(
        card_dialog, tiny, tmp_path, qtbot, qapp, monkeypatch, shots):
    from pneumonet_gui.data_folders import default_external_folder

    folder = link_films(tmp_path / "films", 12)
    view = card_dialog(tiny).view
    text = view.toPlainText()
    assert "stores no reliability curve" in text and "Not yet measured on patients outside" in text
    assert "Not set: this model does not say when a film is not a chest X-ray it knows." in text
    assert view.images == {} and view.measure_button.isEnabled()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    with qtbot.waitSignal(view.measureFinished, timeout=WAIT_MS) as finished:
        view.measure_button.click()
        assert view.progress.isVisible() and view.cancel_button.isVisible()
    assert finished.args == [""]
    assert set(view.images) == {"measured"} and not view.images["measured"].isNull()
    text = view.toPlainText()
    assert "MEASURED NOW ON FILMS" in text and "Not stored in the card" in text and "Measured on films" in text
    assert "24 films" in view.status.text() and not view.progress.isVisible()
    assert read_card(tiny).external == {}  # nothing is written into the card
    assert default_external_folder() == folder  # offered first next time
    view.browser.verticalScrollBar().setValue(view.browser.verticalScrollBar().maximum() // 3)
    settle(qapp)
    assert view.window().grab().save(str(shots / "model-card-measured.png"))


def test_measuring_can_be_cancelled_and_a_bad_folder_is_one_line(card_dialog, tiny, tmp_path, qtbot):
    view = card_dialog(tiny).view
    with qtbot.waitSignal(view.measureFinished, timeout=WAIT_MS) as finished:
        view.measure(tmp_path)  # no NORMAL/ or PNEUMONIA/
    assert finished.args[0] and "Could not measure:" in view.status.text()
    assert "\n" not in view.status.text() and view.images == {}
    folder = link_films(tmp_path / "films", 30)
    with qtbot.waitSignal(view.measureFinished, timeout=WAIT_MS) as finished:
        assert view.measure(folder) is not None
        view.cancel_button.click()
    assert finished.args == ["cancelled"] and view.status.text() == "Cancelled."
    assert view.measure_button.isEnabled() and "measured" not in view.images
