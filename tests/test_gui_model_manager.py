"""The model manager: installed models and their cards, the active model, deleting user models.

Tiny untrained packages stand in for real models: one "bundled" (in a tmp resources
folder) and two of the user's (in ``PNEUMONET_HOME``). The active model chosen here must
be the one ``pneumonet models`` reports and the one the viewer loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from pneumonet_cli.main import main as cli_main
from pneumonet_core.models import registry
from tests.helpers import link_films, make_tiny_model

pytestmark = pytest.mark.gui

WAIT_MS = 120_000


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("packages")
    return {name: make_tiny_model(folder / f"{name}.pneumonet", seed=i, name=name)
            for i, name in enumerate(("bundled-cnn", "mine-a", "mine-b"))}


@pytest.fixture
def installed(tmp_path, monkeypatch, packages) -> dict[str, Path]:
    """A bundled model and two user models, each in its own tmp folder."""
    monkeypatch.setenv("PNEUMONET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PNEUMONET_MODEL", raising=False)
    resources = tmp_path / "resources"
    (resources / "models").mkdir(parents=True)
    bundled = resources / "models" / "pneumonet-cnn.pneumonet"
    bundled.write_bytes(packages["bundled-cnn"].read_bytes())
    monkeypatch.setenv("PNEUMONET_RESOURCES", str(resources))
    return {"bundled": bundled, "a": registry.install_user_model(packages["mine-a"]),
            "b": registry.install_user_model(packages["mine-b"])}


@pytest.fixture
def manager(qtbot, qapp, installed):
    from pneumonet_gui.model_manager import ModelManagerDialog
    from pneumonet_gui.theme import apply_theme

    apply_theme(qapp)
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def cli_models(capsys) -> list[dict]:
    capsys.readouterr()
    assert cli_main(["models", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["models"]


def answer(monkeypatch, button) -> list[str]:
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_lists_bundled_and_user_models_with_their_cards(manager, installed, shots):
    assert [m.path for m in manager.models] == [installed["bundled"], installed["a"], installed["b"]]
    assert [m.bundled for m in manager.models] == [True, False, False]
    assert manager.list.count() == 3
    # The bundled default is active until the user chooses: starred, its card shown, not deletable.
    assert manager.list.item(0).text().startswith("\u2605 bundled-cnn")
    card_text = manager.card_view.toPlainText()
    assert "Active model" in card_text and "bundled-cnn version 1" in card_text
    assert "cannot be deleted" in card_text
    assert not manager.delete_button.isEnabled() and not manager.use_button.isEnabled()
    manager.select_path(installed["b"])
    text = manager.card_view.toPlainText()  # the readable card of the selected model
    card = manager.models[2].card
    for words in ("mine-b version 1", "In your model folder", str(installed["b"]), "HOW WELL IT DOES",
                  f"{card.threshold:.4f} \u2014 rule: {card.threshold_rule}", f"sha256:{card.hash}"):
        assert words in text, words
    assert manager.delete_button.isEnabled() and manager.use_button.isEnabled()
    assert manager.grab().save(str(shots / "model-manager.png"))


def test_use_switches_the_active_model_for_the_cli_and_signals_it(manager, installed, qtbot, capsys):
    manager.select_path(installed["a"])
    with qtbot.waitSignal(manager.activeModelChanged) as changed:
        manager.use_button.click()
    assert Path(changed.args[0]) == installed["a"].resolve()
    assert registry.active_model_path() == installed["a"].resolve()
    assert [m["name"] for m in cli_models(capsys) if m["active"]] == ["mine-a"]
    assert manager.selected.path == installed["a"] and manager.selected.active
    assert manager.list.item(1).text().startswith("\u2605 mine-a")
    assert not manager.list.item(0).text().startswith("\u2605")
    assert not manager.use_button.isEnabled() and manager.default_button.isEnabled()
    with qtbot.waitSignal(manager.activeModelChanged) as changed:
        manager.default_button.click()
    assert Path(changed.args[0]) == installed["bundled"]
    assert [m["name"] for m in cli_models(capsys) if m["active"]] == ["bundled-cnn"]


def test_delete_removes_a_user_model_after_confirmation(manager, installed, qtbot, monkeypatch):
    manager.select_path(installed["b"])
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    manager.delete_button.click()
    assert asked and "mine-b" in asked[0] and installed["b"].exists()

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    manager.delete_button.click()
    assert not installed["b"].exists()
    assert [m.path for m in manager.models] == [installed["bundled"], installed["a"]]


def test_deleting_the_active_model_falls_back_to_the_default(manager, installed, qtbot, monkeypatch):
    manager.select_path(installed["a"])
    manager.use_button.click()
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    manager.select_path(installed["a"])
    with qtbot.waitSignal(manager.activeModelChanged) as changed:
        manager.delete_button.click()
    assert not installed["a"].exists()
    assert Path(changed.args[0]) == installed["bundled"] == registry.active_model_path()


def test_bundled_models_cannot_be_deleted(manager, installed, monkeypatch):
    manager.select_path(installed["bundled"])
    assert not manager.delete_button.isEnabled()
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    manager.delete_selected()  # even if called directly
    assert not asked and installed["bundled"].exists()


def test_import_installs_a_copy_and_refuses_a_non_model(manager, installed, packages, tmp_path, qtbot):
    with qtbot.waitSignal(manager.importFinished, timeout=WAIT_MS) as imported:
        assert manager.import_file(packages["mine-a"]) is not None  # a worker copies the file
    target = Path(imported.args[0])
    assert target.parent == registry.user_models_dir() and target.name == "mine-a-2.pneumonet"
    assert manager.selected.path == target
    fake = tmp_path / "fake.pneumonet"
    fake.write_text("not a model")
    with qtbot.waitSignal(manager.importFinished, timeout=WAIT_MS) as refused:
        manager.import_file(fake)
    assert refused.args == [""]
    assert "could not import the model" in manager.messages.text() and "fake.pneumonet" in manager.messages.text()
    assert len(manager.models) == 4


def test_the_viewer_menu_opens_the_manager_and_reloads_the_chosen_model(qtbot, qapp, installed):
    from pneumonet_gui.main_window import MainWindow

    window = MainWindow(extensions=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model_card is not None, timeout=WAIT_MS)
    assert window.model_card.name == "bundled-cnn"
    assert window.model_menu.manage_action.isEnabled()
    window.model_menu.manage_action.trigger()
    dialog = window.dialogs["model_manager"]
    assert dialog.isVisible()
    dialog.select_path(installed["b"])
    dialog.use_button.click()
    qtbot.waitUntil(lambda: window.model_card is not None and window.model_card.name == "mine-b", timeout=WAIT_MS)
    assert Path(window.model_path).resolve() == installed["b"].resolve()
    dialog.close()


# --- Calibrate to local data… ------------------------------------------------------------


def test_calibrate_installs_a_new_model_shows_before_and_after_and_activates_only_when_asked(
        manager, installed, tmp_path, qtbot, qapp, shots, capsys):
    from pneumonet_core.models.package import read_card

    films = link_films(tmp_path / "site", {"NORMAL": 24, "PNEUMONIA": 24})
    manager.select_path(installed["a"])
    assert manager.calibrate_button.isEnabled()
    manager.calibrate_button.click()
    dialog = manager.calibrate_dialog
    qtbot.waitExposed(dialog)
    assert [dialog.rule_box.itemData(i) for i in range(dialog.rule_box.count())] == [
        "youden", "sensitivity:0.95", "specificity:0.90"]
    progress = []
    dialog.progress.valueChanged.connect(progress.append)
    # 24 films per class: refused, with its reason, until "Calibrate anyway" is ticked
    with qtbot.waitSignal(dialog.finishedRun, timeout=WAIT_MS) as refused:
        dialog.start(films, "sensitivity:0.95")
    assert "at least 50 readable films per class" in refused.args[0] and dialog.report is None
    assert "NORMAL has 24, PNEUMONIA has 24" in dialog.messages.text()
    assert sorted(p.name for p in registry.user_models_dir().iterdir()) == ["mine-a.pneumonet", "mine-b.pneumonet"]
    progress.clear()
    dialog.force_box.click()  # the explicit override, as a person gives it
    assert dialog.force_box.isChecked()
    with qtbot.waitSignal(dialog.finishedRun, timeout=WAIT_MS) as finished:
        dialog.start(films, "sensitivity:0.95")
        assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    assert finished.args == [""], dialog.messages.text()
    assert progress and max(progress) == 48
    report = dialog.report
    target = Path(report["installed"])
    assert target.parent == registry.user_models_dir() and target.name == "mine-a-site.pneumonet"
    # Before, after and after cross-fitted, as the core reported them.
    assert [dialog.table.horizontalHeaderItem(c).text() for c in range(4)] == [
        "Figure", "Before", "After (these films)", "After (cross-fitted)"]
    auc_row = next(r for r in range(dialog.table.rowCount()) if dialog.table.cell(r, 0) == "ROC AUC")
    assert [dialog.table.cell(auc_row, c) for c in (1, 2, 3)] == [
        f"{report[k]['roc_auc']:.3f}" for k in ("before", "after", "after_cross_fitted")]
    assert "sensitivity" in report["rule"] and str(target) in dialog.summary.text()
    # sensitivity and specificity with their 95% intervals by patient; the trade in words
    sens_row = next(r for r in range(dialog.table.rowCount()) if dialog.table.cell(r, 0) == "Sensitivity")
    for c, block in zip((1, 2, 3), ("before", "after", "after_cross_fitted")):
        low, high = report[block]["sensitivity_ci"]
        assert dialog.table.cell(sens_row, c) == f"{report[block]['sensitivity']:.3f} ({low:.3f}\u2013{high:.3f})"
    trade = dialog.trade.text()
    assert trade.startswith("\u201cSensitivity at least 0.95\u201d") and "on 48 films" in trade
    assert f"threshold from {report['before']['threshold']:.3f} to {report['after']['threshold']:.3f}" in trade
    assert "Warning: forced on few films" in trade and dialog.trade.isVisible()
    card = read_card(target)
    assert card.name == "mine-a-site" and card.external["after"]["n"] == 48
    # Installed and listed, but not active: the user decides.
    assert manager.selected.path == target and not manager.selected.active
    assert registry.active_model_path() == installed["bundled"]
    settle_and_save(qapp, dialog, shots / "calibrate-dialog.png")
    # asked first, with the trade; "No" leaves the active model as it was
    dialog.use_button.click()
    assert dialog.confirm.isVisible() and trade in dialog.confirm.informativeText()
    settle_and_save(qapp, dialog.confirm, shots / "calibrate-confirm.png")
    dialog.confirm.button(QMessageBox.StandardButton.No).click()
    assert registry.active_model_path() == installed["bundled"] and dialog.use_button.isEnabled()
    dialog.use_button.click()
    with qtbot.waitSignal(manager.activeModelChanged) as changed:
        dialog.confirm.button(QMessageBox.StandardButton.Yes).click()
    assert Path(changed.args[0]) == target.resolve() == registry.active_model_path()
    assert [m["name"] for m in cli_models(capsys) if m["active"]] == ["mine-a-site"]
    dialog.close()


@pytest.mark.parametrize("per_class, reason", [
    ({"NORMAL": 6, "PNEUMONIA": 55}, "too few films to calibrate (NORMAL has 6; at least 50 readable films per class"),
    ({"NORMAL": 25}, "only NORMAL films: calibration needs both NORMAL and PNEUMONIA"),
])
def test_calibrate_refuses_too_few_films_or_one_class_in_one_line(manager, installed, tmp_path, qtbot, per_class,
                                                                 reason):
    films = link_films(tmp_path / "site", per_class)
    manager.select_path(installed["b"])
    dialog = manager.calibrate_selected()
    with qtbot.waitSignal(dialog.finishedRun, timeout=WAIT_MS) as finished:
        dialog.start(films)
    assert reason in finished.args[0] and "\n" not in finished.args[0]
    assert "Cannot calibrate:" in dialog.messages.text() and reason in dialog.messages.text()
    assert dialog.report is None and not dialog.use_button.isEnabled() and dialog.start_button.isEnabled()
    assert sorted(p.name for p in registry.user_models_dir().iterdir()) == ["mine-a.pneumonet", "mine-b.pneumonet"]
    dialog.close()


def test_calibrate_can_be_cancelled_and_installs_nothing(manager, installed, tmp_path, qtbot):
    films = link_films(tmp_path / "site", {"NORMAL": 60, "PNEUMONIA": 60})
    dialog = manager.calibrate_selected()
    with qtbot.waitSignal(dialog.finishedRun, timeout=WAIT_MS) as finished:
        dialog.start(films)
        dialog.cancel_button.click()
    assert finished.args == ["cancelled"] and "nothing was installed" in dialog.progress_label.text()
    assert len(list(registry.user_models_dir().iterdir())) == 2 and dialog.start_button.isEnabled()
    dialog.close()


def settle_and_save(qapp, widget, path: Path) -> None:
    for _ in range(5):
        qapp.processEvents()
    assert widget.grab().save(str(path))
