"""The training wizard end to end on a small slice of the real training images (offscreen Qt).

One run goes through all seven pages with the custom CNN for two epochs: the data report,
the split, the approach and estimate, training in a child process (cancelled once, then
started again and finished), the held-out evaluation (checked against ``pneumonet
evaluate --held-out``), the comparison with the active (bundled) model on the same films,
and saving into the user's model folder, made active only when ticked; the saved model then
appears in the model manager and classifies a scan in the viewer. Screenshots of every
page go to ``$PNEUMONET_SCREENSHOTS`` (or the test's tmp folder).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from pneumonet_core.data.discovery import find_labelled_images, patient_and_subtype
from pneumonet_core.data.split import split_by_patient
from tests.helpers import SHARED_TRAIN

pytestmark = [pytest.mark.gui, pytest.mark.slow]  # trains in child processes

WAIT_MS = 600_000  # generous for 2 busy CI cores; every wait ends as soon as its condition holds
PER_CLASS = 60
BUNDLED = Path(__file__).resolve().parents[1] / "resources" / "models" / "pneumonet-cnn.pneumonet"


# --- fixtures ------------------------------------------------------------------------


def whole_patients(folder: Path, label: str, n: int) -> list[Path]:
    """The first ``n`` files by name, extended to the end of the last patient's files."""
    files = sorted(folder.glob("*.jpeg"))
    if len(files) < n:
        pytest.fail(f"training images not found under {folder}")
    chosen = files[:n]
    last = patient_and_subtype(chosen[-1], label)[0]
    for path in files[n:]:
        if patient_and_subtype(path, label)[0] != last:
            break
        chosen.append(path)
    return chosen


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """About 60 NORMAL and 60 PNEUMONIA shared JPEGs (whole patients), linked into a tmp folder."""
    root = tmp_path_factory.mktemp("small-data")
    for label in ("NORMAL", "PNEUMONIA"):
        (root / label).mkdir()
        for path in whole_patients(SHARED_TRAIN / label, label, PER_CLASS):
            (root / label / path.name).symlink_to(path)
    return root


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Path:
    # The training runs' temporary folders go under this test's folder, so "nothing left
    # behind" is checked here and not disturbed by other runs sharing the machine's /tmp.
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    home = tmp_path / "home"
    monkeypatch.setenv("PNEUMONET_HOME", str(home))
    monkeypatch.delenv("PNEUMONET_MODEL", raising=False)
    # One bundled model, the custom CNN: the active model the wizard compares the new one with.
    resources = tmp_path / "resources"
    (resources / "models").mkdir(parents=True)
    (resources / "models" / BUNDLED.name).symlink_to(BUNDLED)
    monkeypatch.setenv("PNEUMONET_RESOURCES", str(resources))
    return home


@pytest.fixture
def themed(qapp):
    """The app's dark theme, as the viewer tests use it."""
    from pneumonet_gui.theme import apply_theme

    apply_theme(qapp)
    return qapp


@pytest.fixture
def make_wizard(qtbot, themed):
    from pneumonet_gui.wizard import TrainingWizard

    made = []

    def make(**kwargs) -> TrainingWizard:
        wizard = TrainingWizard(**kwargs)
        wizard.show()
        qtbot.waitExposed(wizard)
        made.append(wizard)
        return wizard

    yield make
    for wizard in made:
        destroy_wizard(wizard)


def destroy_wizard(wizard) -> None:
    """Close and delete a wizard now (not later): Qt crashes when the app's style is set again
    while a closed QWizard still exists under a style sheet, which the next test's theme does."""
    import shiboken6

    if shiboken6.isValid(wizard):
        wizard.training_page.stop(wait=True)
        wizard.close()
        wizard.training_page.discard()
        wizard.data_page.cleanup()
        wizard.explore_page.cleanup()
        shiboken6.delete(wizard)


def save(widget, folder: Path, name: str) -> None:
    from PySide6.QtWidgets import QApplication

    for _ in range(5):  # let the layout settle after the last change, as it does on screen
        QApplication.processEvents()
    assert widget.grab().save(str(folder / name)), f"could not save {name}"


def training_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("pneumonet-training-*"))


def model_files(*roots: Path) -> list[Path]:
    """Model files written under ``roots`` (the bundled model linked into the resources is not one)."""
    return [p for root in roots for p in root.rglob("*.pneumonet") if not p.is_symlink()]


def cli_evaluate(data: Path, model: Path, capsys) -> dict:
    """``pneumonet evaluate DATA --model MODEL --held-out --json`` (the command's own code, in
    this process: a second process would only add a TensorFlow start)."""
    from pneumonet_cli.main import main

    capsys.readouterr()
    code = main(["evaluate", str(data), "--model", str(model), "--held-out", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    return json.loads(out)


# --- the whole wizard ------------------------------------------------------------------


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
def test_wizard_trains_evaluates_saves_and_the_model_is_usable(make_wizard, qtbot, small_data, isolated_home,
                                                                 tmp_path, shots, capsys):
    from pneumonet_core.models import registry
    from pneumonet_core.models.package import read_card

    before = training_dirs()
    wizard = make_wizard()
    next_button = wizard.button(QWizard.WizardButton.NextButton)

    # 1. Data: counts per class and patients, labels found, every file checked.
    page = wizard.data_page
    assert not next_button.isEnabled()  # no folder yet
    page.set_folder(small_data)
    images = find_labelled_images(small_data)
    report = page.report
    assert report.usable and next_button.isEnabled()
    assert report.counts() == {"NORMAL": sum(im.label == "NORMAL" for im in images),
                               "PNEUMONIA": sum(im.label == "PNEUMONIA" for im in images)}
    assert page.table.cell(0, 0) == "NORMAL" and page.table.cell(0, 1) == str(report.counts()["NORMAL"])
    assert page.table.cell(1, 2) == str(report.patients()["PNEUMONIA"])
    assert "binary" in page.labels_label.text() and "three labels" in page.labels_label.text()
    qtbot.waitUntil(lambda: not page.checking, timeout=WAIT_MS)
    assert report.checked == len(images) and report.unreadable == []
    assert "all can be read" in page.check_label.text()
    save(wizard, shots, "wizard-1-data.png")

    # 2. Exploration: the chart, the thumbnails, and split_by_patient's own counts.
    wizard.next()
    page = wizard.explore_page
    assert wizard.currentPage() is page
    assert page.chart.counts == report.counts()
    page.validation_spin.setValue(0.2)
    page.seed_spin.setValue(3)
    expected = split_by_patient(images, 0.2, 0.15, 3).summary()
    assert page.split.summary() == expected
    for row, name in enumerate(("train", "validation", "test")):
        assert page.split_table.cell(row, 1) == str(expected[name]["images"])
        assert page.split_table.cell(row, 2) == str(expected[name]["patients"])
        assert page.split_table.cell(row, 3) == str(expected[name]["per_class"]["NORMAL"])
    qtbot.waitUntil(lambda: page.thumbnails_loaded == 12, timeout=WAIT_MS)
    save(wizard, shots, "wizard-2-exploration.png")

    # 3. Approach: the custom CNN, small and fast; the estimate is shown.
    wizard.next()
    page = wizard.approach_page
    assert wizard.currentPage() is page
    page.configure("finetune")
    assert page.weights_box.isEnabled() and "internet" in page.weights_combo.currentText()
    assert page.unfreeze_spin.isVisible() and not page.width_spin.isVisible()
    assert page.lr_spin.value() == pytest.approx(1e-4)
    assert "finetune on a CPU" in page.estimate_basis.text()
    save(wizard, shots, "wizard-3-approach-finetune.png")
    page.configure("cnn", epochs=2, batch_size=16, cnn_width=8)
    assert not page.weights_box.isEnabled() and page.width_spin.isVisible() and not page.unfreeze_spin.isVisible()
    assert page.lr_spin.value() == pytest.approx(1e-3)
    assert "On this machine: about" in page.estimate_label.text()
    save(wizard, shots, "wizard-3-approach.png")

    # 4. Training: cancel the first run once it is training; nothing is left behind.
    wizard.next()
    page = wizard.training_page
    assert wizard.currentPage() is page
    assert wizard.options.epochs == 2 and wizard.options.cnn_width == 8 and wizard.options.seed == 3
    assert "--cnn-width 8" in page.run.command_line and "--val-fraction 0.2" in page.run.command_line
    qtbot.waitUntil(lambda: any(e["event"] == "batch" for e in page.events) or not page.running, timeout=WAIT_MS)
    assert page.running, page.log_view.toPlainText()
    workdir = page.run.workdir
    page.cancel_button.click()
    qtbot.waitUntil(lambda: not page.running and page.restart_button.isEnabled(), timeout=WAIT_MS)
    assert "cancelled" in page.status_label.text().lower()
    assert not workdir.exists() and training_dirs() == before
    assert model_files(tmp_path) == []
    assert not page.isComplete() and not next_button.isEnabled()
    save(wizard, shots, "wizard-4-training-cancelled.png")

    # ... and start again, to the end.
    page.restart_button.click()
    qtbot.waitUntil(lambda: not page.running and page.restart_button.isEnabled(), timeout=WAIT_MS)
    assert page.isComplete(), page.log_view.toPlainText()[-3000:]
    epochs = [e for e in page.events if e["event"] == "epoch"]
    assert len(epochs) == 2
    assert page.curves.points("loss") == [e["loss"] for e in epochs]
    assert page.curves.points("val_auc") == [e["val_auc"] for e in epochs]
    assert len(page.curves.points("accuracy")) == len(page.curves.points("val_accuracy")) == 2
    assert page.progress_bar.value() == page.progress_bar.maximum()
    trained = wizard.trained_model_path
    assert trained.is_file() and trained.parent.name.startswith("pneumonet-training-")
    save(wizard, shots, "wizard-4-training-done.png")

    # 5. Evaluation: the same numbers as `pneumonet evaluate --held-out` on the same patients.
    wizard.next()
    page = wizard.evaluation_page
    qtbot.waitUntil(lambda: page.result is not None or page.error is not None, timeout=WAIT_MS)
    assert page.error is None, page.error
    shown = page.result["metrics"]
    cli = cli_evaluate(small_data, trained, capsys)
    assert page.confusion.matrix == cli["confusion_matrix"] == shown["confusion_matrix"]
    assert shown["n"] == cli["n"] == expected["test"]["images"]
    for key in ("accuracy", "sensitivity", "specificity", "roc_auc", "threshold"):
        assert shown[key] == pytest.approx(cli[key], abs=1e-9), key
    assert page.roc.auc == pytest.approx(cli["roc_auc"], abs=1e-9) and len(page.roc.fpr) >= 2
    assert page.metric_labels["accuracy"].text() == f"{cli['accuracy']:.3f}"
    card = read_card(trained)
    assert f"{card.threshold:.4f}" in page.threshold_label.text()
    assert "validation patients" in page.threshold_label.text() and "sensitivity" in page.threshold_label.text()
    report = page.report_view.cells()  # a table, not monospaced text
    assert [row[0] for row in report] == ["NORMAL", "PNEUMONIA", "macro average", "weighted average"]
    assert report[1][2] == f"{cli['sensitivity']:.3f}" and int(report[0][4]) + int(report[1][4]) == cli["n"]
    save(wizard, shots, "wizard-5-evaluation.png")

    # 6. Comparison: the active (bundled) model and the new one on the same films, side by side.
    wizard.next()
    page = wizard.comparison_page
    assert wizard.currentPage() is page
    assert page.busy and not next_button.isEnabled()
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    assert page.error is None and next_button.isEnabled()
    figures = page.result["figures"]
    held_out = figures["the held-out patients"]
    assert held_out["active"]["n"] == held_out["new"]["n"] == shown["n"]  # the new model's held-out patients
    assert held_out["new"]["roc_auc"] == pytest.approx(shown["roc_auc"], abs=1e-3)
    external = page.external.text()
    if external:  # ../shared/data/chest_xray/external beside the checkout
        assert figures["the external films"]["active"]["n"] == figures["the external films"]["new"]["n"] > 0
    headers = [page.tables["the held-out patients"].horizontalHeaderItem(c).text() for c in range(3)]
    assert headers == ["Figure", "Active model", "New model"]
    assert page.names_label.text() == f"Active model: <b>pneumonet-cnn</b> \u00b7 New model: <b>{card.name}</b>"
    # A two-epoch CNN on 120 films is worse than the bundled one, and the page says so.
    assert page.warnings and page.worse_banner.isVisible()
    save(wizard, shots, "wizard-6-comparison.png")

    # 7. Save: into the user's model folder; "make active" starts unchecked and the warning is repeated.
    wizard.next()
    page = wizard.save_page
    assert wizard.currentPage() is page
    assert not page.active_check.isChecked()
    assert page.worse_banner.isVisible() and wizard.comparison_page.warnings[0] in page.worse_banner.text()
    page.name_edit.setText("wizard test model")
    save(wizard, shots, "wizard-7-save.png")
    page.active_check.setChecked(True)  # the user's choice, made knowingly
    with qtbot.waitSignal(wizard.modelSaved, timeout=WAIT_MS) as saved:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    path = Path(saved.args[0])
    assert saved.args[1] is True
    assert path.parent == registry.user_models_dir() and path.is_file()
    assert registry.active_model_path() == path.resolve()
    card = read_card(path)
    assert card.name == "wizard test model"
    assert card.metrics["roc_curve"]["fpr"] == pytest.approx(shown["roc_curve"]["fpr"], abs=1e-4)
    assert not trained.exists() and training_dirs() == before
    assert model_files(tmp_path) == [path]

    # The model manager lists it as the active model.
    from pneumonet_gui.model_manager import ModelManagerDialog

    manager = ModelManagerDialog()
    qtbot.addWidget(manager)
    manager.show()
    assert [m.path for m in manager.models] == [isolated_home.parent / "resources" / "models" / BUNDLED.name, path]
    assert manager.models[1].active and not manager.models[1].bundled
    assert "wizard test model" in manager.card_view.toPlainText()
    assert manager.delete_button.isEnabled()
    save(manager, shots, "wizard-8-model-manager.png")

    # The viewer classifies a scan with it, as the CLI's classifier does.
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_gui.main_window import MainWindow

    scan_path = sorted((small_data / "PNEUMONIA").iterdir())[0]
    expected_prediction = Classifier.load(path).classify(load_scan(scan_path))
    window = MainWindow(model=None, extensions=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model_card is not None or window.active_model.state == "failed",
                    timeout=WAIT_MS)
    assert window.model_card is not None, window.error_banner.text()
    assert window.model_card.name == "wizard test model" and Path(window.model_path).resolve() == path.resolve()
    assert window.model_menu.manage_action.isEnabled() and window.model_menu.train_action.isEnabled()
    window.show_scan(scan_path)
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.result.classified, window.current.error
    assert window.current.result.probability == pytest.approx(expected_prediction.probability, abs=1e-6)
    assert window.current.result.label == expected_prediction.label
    save(window, shots, "wizard-9-viewer-with-trained-model.png")


# --- stopping and failing ---------------------------------------------------------------


def to_training_page(wizard, small_data, qtbot):
    wizard.data_page.set_folder(small_data)
    wizard.next()
    wizard.next()
    wizard.approach_page.configure("cnn", epochs=2, batch_size=16, cnn_width=8)
    wizard.next()
    assert wizard.currentPage() is wizard.training_page
    qtbot.waitUntil(lambda: any(e["event"] in ("decode", "start") for e in wizard.training_page.events)
                    or not wizard.training_page.running, timeout=WAIT_MS)
    assert wizard.training_page.running, wizard.training_page.log_view.toPlainText()


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
def test_closing_or_going_back_stops_training_and_leaves_nothing(make_wizard, qtbot, small_data, tmp_path):
    before = training_dirs()
    wizard = make_wizard()
    to_training_page(wizard, small_data, qtbot)
    workdir = wizard.training_page.run.workdir
    assert workdir.is_dir()
    wizard.back()  # going back cancels the run
    assert wizard.currentPage() is wizard.approach_page
    assert not wizard.training_page.running and not workdir.exists()

    wizard.next()  # a fresh run starts ...
    qtbot.waitUntil(lambda: any(e["event"] in ("decode", "start") for e in wizard.training_page.events),
                    timeout=WAIT_MS)
    workdir = wizard.training_page.run.workdir
    wizard.reject()  # ... and closing the wizard stops it
    assert not wizard.isVisible() and not wizard.training_page.running
    assert not workdir.exists() and training_dirs() == before
    assert model_files(tmp_path) == []


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
def test_a_failing_training_run_reports_the_cli_error_and_writes_nothing(qtbot, tmp_path):
    from pneumonet_core.training.config import TrainConfig
    from pneumonet_gui import workers
    from pneumonet_gui.wizard.training_run import TrainingRun

    before = training_dirs()
    data = tmp_path / "one-class"
    (data / "NORMAL").mkdir(parents=True)
    for path in sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:12]:
        (data / "NORMAL" / path.name).symlink_to(path)
    run = TrainingRun(TrainConfig(data_dir=data, epochs=1, cnn_width=8))
    assert run.command_line.startswith("pneumonet train ") and run.workdir.is_dir()
    lines, ended = [], []
    worker = workers.start_process(run.command, run.env,
                                   _connect={"yielded": lines.append, "finished": lambda: ended.append(True)})
    qtbot.waitUntil(lambda: bool(ended), timeout=WAIT_MS)
    logs = [run.read(line) for line in lines]
    ok, message = run.finish(worker.process.returncode, worker.cancelled)
    assert not ok and worker.process.returncode != 0
    assert message.startswith("Training failed: pneumonet: error:") and "class PNEUMONIA has no images" in message
    assert message.removeprefix("Training failed: ") in logs
    assert run.output is None and run.workdir is None and training_dirs() == before
