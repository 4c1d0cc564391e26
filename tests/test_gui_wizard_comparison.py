"""The training wizard's comparison page, alone: the active model and a new one measured side by
side on the same films (held-out patients and external films), with a warning that cannot be
missed when the new model is worse. The bundled custom CNN is the good model; an untrained
tiny CNN is the bad one. (tests/test_gui_wizard.py goes through the page in a whole run.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumonet_core.data.discovery import find_labelled_images
from pneumonet_core.evaluation.comparison import COMPARED
from tests.helpers import SHARED_TRAIN, link_films, make_tiny_model, on_screen

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

WAIT_MS = 300_000
GOOD = Path(__file__).resolve().parents[1] / "resources" / "models" / "pneumonet-cnn.pneumonet"
EXTERNAL = SHARED_TRAIN.parent / "external"


@pytest.fixture(scope="module")
def films(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("films")
    data = link_films(root / "data", 16)
    source = EXTERNAL if (EXTERNAL / "NORMAL").is_dir() else SHARED_TRAIN
    patients = sorted({im.patient for im in find_labelled_images(data)})[::2]
    return {"data": data, "held_out": tuple(patients), "external": link_films(root / "external", 25, source)}


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("bad") / "untrained.pneumonet", name="untrained-cnn")


@pytest.fixture
def page(qtbot, qapp):
    from pneumonet_gui.theme import apply_theme
    from pneumonet_gui.wizard.comparison_page import ComparisonPage

    apply_theme(qapp)
    widget = on_screen(qtbot, ComparisonPage(), (1080, 640))
    yield widget
    widget.shutdown()


def compare(page, qtbot, films, new: Path, active: Path | None, external: bool = True) -> None:
    page.external.edit.setText(str(films["external"]) if external else "")
    page.compare(new_model=new, data_dir=films["data"], held_out=films["held_out"], active=active)
    assert page.busy and not page.isComplete()
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    assert page.error is None, page.error
    assert page.isComplete()


def column(table, header_start: str) -> dict[str, str]:
    """A table's column whose header starts with ``header_start``, as {figure: text}."""
    c = next(c for c in range(table.columnCount()) if table.horizontalHeaderItem(c).text().startswith(header_start))
    return {table.cell(r, 0): table.cell(r, c) for r in range(table.rowCount())}


def save(qapp, page, path: Path) -> None:
    for _ in range(5):
        qapp.processEvents()
    assert page.grab().save(str(path))


def test_a_worse_new_model_is_shown_beside_the_active_one_with_a_warning(page, qtbot, qapp, films, bad, shots):
    from pneumonet_gui.wizard.comparison_page import EXTERNAL as EXTERNAL_SET
    from pneumonet_gui.wizard.comparison_page import HELD_OUT, WORSE

    compare(page, qtbot, films, new=bad, active=GOOD)
    figures = page.result["figures"]
    for data_set in (HELD_OUT, EXTERNAL_SET):
        table = page.tables[data_set]
        active, new = column(table, "Active model"), column(table, "New model")
        # Both on the very same films, side by side, with the five figures.
        assert active["Films"] == new["Films"] == str(figures[data_set]["new"]["n"])
        for key, title in COMPARED:
            assert active[title] == f"{figures[data_set]['active'][key]:.3f}", (data_set, title)
            assert new[title] == f"{figures[data_set]['new'][key]:.3f}", (data_set, title)
    assert page.names_label.text() == ("Active model: <b>pneumonet-cnn</b> \u00b7 New model: <b>untrained-cnn</b>")
    assert column(page.tables[EXTERNAL_SET], "Active")["Films"] == "50"
    assert column(page.tables[HELD_OUT], "New")["Patients"] == str(len(films["held_out"]))
    # The warning that cannot be missed.
    assert page.warnings and any("ranks films worse than the active one" in w for w in page.warnings)
    assert page.worse_banner.isVisible() and page.worse_banner.kind == "error"
    assert page.worse_banner.text().splitlines() == [WORSE] + page.warnings
    # The same data set as the good model's training: it may have seen some held-out patients.
    assert "may have trained on" in page.notes.text()
    # not calibrated on these 50 external films: they are the fair comparison, and they lead
    assert not page.result["active_calibrated_on_external"]
    assert "external films are the fair comparison" in page.notes.text()
    assert "Not a fair comparison" not in page.notes.text()
    assert page.boxes[EXTERNAL_SET].x() < page.boxes[HELD_OUT].x()
    assert "not independent" in page.boxes[HELD_OUT].title()
    save(qapp, page, shots / "wizard-comparison-worse.png")


def test_a_comparison_on_films_the_active_model_was_calibrated_on_is_never_called_fair(
        page, qtbot, qapp, films, bad, tmp_path, shots):
    from pneumonet_core.evaluation.site_calibration import file_list_sha256
    from pneumonet_core.models.package import read_card, rewrite_package
    from pneumonet_gui.wizard.comparison_page import CALIBRATED_ON_EXTERNAL

    card = read_card(GOOD)  # the good model, calibrated (as its card tells) on exactly these external films
    listing = file_list_sha256(find_labelled_images(films["external"]))
    card.calibration = {**card.calibration, "fitted_on": {**card.calibration["fitted_on"], "file_list_sha256": listing}}
    active = tmp_path / "calibrated-here.pneumonet"
    rewrite_package(GOOD, active, card)
    compare(page, qtbot, films, new=bad, active=active)
    assert page.result["active_calibrated_on_external"]
    text = page.notes.text()
    assert CALIBRATED_ON_EXTERNAL.split(":")[0] in text and "calibrated on these very films" in text
    assert "fair comparison." not in text and "is the fair" not in text and "are the fair" not in text
    save(qapp, page, shots / "wizard-comparison-calibrated-on-external.png")


def test_a_better_new_model_gets_no_warning_and_without_an_active_model_it_stands_alone(page, qtbot, films, bad):
    from pneumonet_gui.wizard.comparison_page import EXTERNAL as EXTERNAL_SET
    from pneumonet_gui.wizard.comparison_page import HELD_OUT

    compare(page, qtbot, films, new=GOOD, active=bad)
    assert page.warnings == [] and "is not worse than the active one" in page.banner.text()
    assert not page.worse_banner.isVisible()

    compare(page, qtbot, films, new=bad, active=None, external=False)
    table = page.tables[HELD_OUT]
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == [
        "Figure", "New model"]
    assert page.warnings == [] and "no active model to compare with" in page.banner.text()
    assert "not measured" in page.tables[EXTERNAL_SET].cell(0, 0)


def test_the_external_folder_defaults_to_the_one_beside_the_checkout_then_the_one_used(page, films, tmp_path):
    from pneumonet_gui.data_folders import checkout_external_folder, default_external_folder

    if checkout_external_folder().is_dir():
        assert default_external_folder() == checkout_external_folder()
    page.external.edit.setText(str(films["external"]))
    page.compare(new_model=GOOD, data_dir=films["data"], held_out=films["held_out"], active=None)
    assert default_external_folder() == films["external"]  # remembered for the next time
