"""The batch panel, driven through its real widgets (offscreen Qt, pytest-qt).

The panel classifies the mixed folder the CLI tests use and must give the same numbers;
it filters, sorts, selects, cancels (keeping what was done) and exports de-identified
files unless the export dialog opts in (each time). A scan the out-of-distribution guard flagged is
withheld, marked and filtered. The last test wires it into the real main window. Screenshots go to
``$PNEUMONET_SCREENSHOTS`` (or the test's folder).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QDialogButtonBox

from pneumonet_cli.main import main as cli_main
from pneumonet_core.reports.summary import BatchSummary
from pneumonet_core.results import ScanResult
from pneumonet_gui import theme
from pneumonet_gui.active_model import ActiveModel
from pneumonet_gui.batch import BatchPanel
from pneumonet_gui.batch.table_model import DECISION, ERROR, FILE, OOD, PROBABILITY
from pneumonet_gui.theme import apply_theme
from tests.helpers import SHARED_TRAIN, on_screen
from tests.test_batch_folder import IDENTIFIERS, make_batch_folder, make_split_model

# User settings, models and the viewer's INI file live in the test's folder.
pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

WAIT_MS = 120_000  # generous for 2-core CI; each wait ends as soon as its condition holds


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_batch_folder(tmp_path_factory.mktemp("gui"))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, folder) -> Path:
    return make_split_model(tmp_path_factory.mktemp("model"), folder.good)


@pytest.fixture(scope="module")
def classifier(model_path):
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(model_path)


@pytest.fixture
def models():
    """``make(classifier=None) -> ActiveModel``, each shut down when the test ends, as the
    main window does on close: a load's warm-up left compiling would outlive the test, and a
    thread inside TensorFlow when the interpreter exits aborts it (exit 134)."""
    made: list[ActiveModel] = []

    def make(classifier=None) -> ActiveModel:
        made.append(ActiveModel(classifier))
        return made[-1]

    yield make
    for model in made:
        model.shutdown()


@pytest.fixture
def panel(qtbot, qapp, classifier, models):
    apply_theme(qapp)
    widget = on_screen(qtbot, BatchPanel(models(classifier)), (1100, 640))
    yield widget
    widget.shutdown()


def run_folder(qtbot, panel: BatchPanel, root: Path) -> None:
    with qtbot.waitSignal(panel.batchFinished, timeout=WAIT_MS):
        assert panel.open_folder(root)


def export(qtbot, panel: BatchPanel, kind: str, path: Path) -> Path:
    with qtbot.waitSignal(panel.exportFinished, timeout=WAIT_MS) as blocker:
        assert panel.export(kind, path)
    assert blocker.args == [str(path), ""], blocker.args
    return path


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def cell(panel: BatchPanel, row: int, column: int) -> str:
    return panel.proxy.index(row, column).data() or ""


def test_panel_gives_the_cli_numbers_and_lists_failures(qtbot, panel, folder, model_path, tmp_path, shots):
    run_folder(qtbot, panel, folder.root)
    total = len(folder.good) + len(folder.bad)
    assert len(panel.results) == total and not panel.cancelled
    assert panel.progress_bar.value() == panel.progress_bar.maximum() == total
    summary = BatchSummary.of(panel.results)
    assert panel.summary_label.text() == summary.line()
    assert summary.errors == len(folder.bad) and summary.warnings == 1
    assert f"{summary.labels['PNEUMONIA']} PNEUMONIA" in summary.line()

    # Every failing file is a row with its reason; the good files were still classified.
    errors = {Path(r.path): r.error for r in panel.results if not r.ok}
    assert set(errors) == set(folder.bad)
    for path, word in folder.bad.items():
        assert word.lower() in errors[path].lower()
    shown_errors = {cell(panel, row, ERROR) for row in range(panel.proxy.rowCount())} - {""}
    assert shown_errors == set(errors.values())

    # The same folder through the CLI: identical rows.
    cli_csv = tmp_path / "cli.csv"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli_main(["classify", str(folder.root), "--recursive", "--model", str(model_path),
                         "--csv", str(cli_csv)]) == 3
    gui_rows = read_rows(export(qtbot, panel, "csv", tmp_path / "gui.csv"))
    cli_rows = read_rows(cli_csv)
    assert [r["path"] for r in gui_rows] == [r["path"] for r in cli_rows]
    for g, c in zip(gui_rows, cli_rows):
        for key in ("file_sha256", "label", "threshold", "warnings", "error", "model_hash"):
            assert g[key] == c[key], (g["path"], key)
        if c["probability"]:
            assert float(g["probability"]) == pytest.approx(float(c["probability"]), abs=1e-5)
    panel.table.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)
    panel.select_row(0)
    assert panel.grab().save(str(shots / "batch-panel.png"))


def test_filters_and_sorting(qtbot, panel, folder):
    run_folder(qtbot, panel, folder.root)
    summary = BatchSummary.of(panel.results)
    expected = {"all": summary.total, "pneumonia": summary.labels["PNEUMONIA"], "normal": summary.labels["NORMAL"],
                "errors": summary.errors, "warnings": summary.warnings}
    for name, count in expected.items():
        panel.filter_box.setCurrentIndex(panel.filter_box.findData(name))  # as a user picks it
        shown = panel.visible_results()
        assert len(shown) == panel.proxy.rowCount() == count, name
        if name == "pneumonia":
            assert {cell(panel, row, DECISION) for row in range(count)} == {"Pneumonia"}
        if name == "errors":
            assert all(not r.ok for r in shown)
        if name == "warnings":
            assert [Path(r.path) for r in shown] == [folder.patient_files[0]]
    panel.set_filter("all")
    panel.table.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)
    shown = panel.visible_results()
    probabilities = [r.probability for r in shown if r.ok]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(not r.ok for r in shown[len(probabilities):])  # failures sort below every probability
    panel.table.sortByColumn(FILE, Qt.SortOrder.AscendingOrder)
    names = [cell(panel, row, FILE).lower() for row in range(panel.proxy.rowCount())]
    assert names == sorted(names)


def test_clicking_a_row_emits_its_path(qtbot, panel, folder):
    run_folder(qtbot, panel, folder.root)
    panel.set_filter("errors")
    index = panel.proxy.index(1, FILE)
    rect = panel.table.visualRect(index)
    with qtbot.waitSignal(panel.scanSelected, timeout=5000) as blocker:
        QTest.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [str(panel.visible_results()[1].path)]  # the signal carries text


def test_cancel_stops_after_the_batch_in_progress_and_keeps_results(qtbot, panel, classifier, monkeypatch, tmp_path,
                                                                   shots):
    paths = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:120]
    gate = threading.Event()
    calls = []
    real = classifier.predict_inputs

    def slow_predict(inputs):  # the model holds the second batch until the test has pressed Cancel
        calls.append(len(inputs))
        if len(calls) >= 2:
            gate.wait(30)
        return real(inputs)

    monkeypatch.setattr(classifier, "predict_inputs", slow_predict)
    with qtbot.waitSignal(panel.batchFinished, timeout=WAIT_MS) as finished:
        panel.start(paths)
        qtbot.waitUntil(lambda: len(panel.results) >= panel.batch_size and len(calls) == 2, timeout=WAIT_MS)
        # One batch done: no rate or time left yet, since that batch's time includes loading and
        # compiling the model (issue 28: the first estimate was several times too long).
        assert panel.progress_label.text() == f"{panel.batch_size} / {len(paths)}"
        assert panel.grab().save(str(shots / "batch-panel-running.png"))
        QTest.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        assert not panel.cancel_button.isEnabled()
        gate.set()
    assert finished.args == [True] and panel.cancelled
    kept = panel.results
    # What was done is kept: the first batch, and the one the model was running at Cancel.
    assert len(kept) == 2 * panel.batch_size < len(paths)
    assert len(calls) == 2  # no batch was started after Cancel
    assert [r.path for r in kept] == [Path(p) for p in paths[: len(kept)]]
    assert f"Cancelled: {len(kept)} of {len(paths)}" in panel.progress_label.text()
    assert panel.open_button.isEnabled() and panel.export_buttons["pdf"].isEnabled()
    rows = read_rows(export(qtbot, panel, "csv", tmp_path / "partial.csv"))
    assert len(rows) == len(kept)
    pdf = export(qtbot, panel, "pdf", tmp_path / "partial.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"Cancelled after {len(kept)} of {len(paths)} scans" in " ".join(text.split())


def test_exports_are_deidentified_unless_the_export_dialog_opts_in_each_time(qtbot, qapp, panel, folder, tmp_path,
                                                                          shots):
    run_folder(qtbot, panel, folder.root)
    out = tmp_path / "exports"
    csv_text = export(qtbot, panel, "csv", out / "b.csv").read_text()
    json_doc = json.loads(export(qtbot, panel, "json", out / "b.json").read_text())
    pdf_text = subprocess.run(["pdftotext", str(export(qtbot, panel, "pdf", out / "b.pdf")), "-"],
                              capture_output=True, text=True, check=True).stdout
    for kind, text in (("csv", csv_text), ("json", json.dumps(json_doc)), ("pdf", pdf_text)):
        for word in IDENTIFIERS:
            assert word not in text, (kind, word)
    assert len(json_doc["results"]) == len(panel.results)
    assert json_doc["model"]["hash"] == panel.card.hash
    # Every file by its pseudonym: no folder, no name (a rule cannot know every form of a name).
    assert all(r["path"].startswith("anon-") and "/" not in r["path"] for r in json_doc["results"])

    # The export dialog: "Include patient identifiers" is off whenever it opens; ticking it names
    # the patients in that one file.
    assert panel.findChildren(QCheckBox) == []  # no lasting switch on the panel
    panel.export_buttons["csv"].click()
    dialog = panel.export_dialog
    assert dialog.isVisible() and not dialog.identifiers_box.isChecked()
    assert dialog.path == folder.root / "pneumonet-batch.csv" and "De-identified" in dialog.note.text()
    dialog.path_edit.setText(str(out / "plain.csv"))
    dialog.identifiers_box.setChecked(True)
    assert "patient names, IDs and birth dates" in dialog.note.text()
    for _ in range(5):
        qapp.processEvents()
    assert dialog.grab().save(str(shots / "batch-export-dialog.png"))
    with qtbot.waitSignal(panel.exportFinished, timeout=WAIT_MS) as done:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert done.args == [str(out / "plain.csv"), ""]
    assert "Doe_Jane_chest.dcm" in (out / "plain.csv").read_text()

    panel.export_buttons["csv"].click()
    again = panel.export_dialog
    assert again is not dialog and not again.identifiers_box.isChecked()
    again.path_edit.setText(str(out / "again.csv"))
    with qtbot.waitSignal(panel.exportFinished, timeout=WAIT_MS):
        again.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    text = (out / "again.csv").read_text()
    assert not any(word in text for word in IDENTIFIERS)
    panel.export_buttons["pdf"].click()
    panel.export_dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert not (folder.root / "pneumonet-batch.pdf").exists()  # cancelled: nothing written


def test_a_flagged_scan_is_withheld_marked_and_has_its_own_filter(qtbot, qapp, panel, shots):
    flagged = ScanResult("/ward/knee.png", 0.97, "PNEUMONIA", 0.5, out_of_distribution=True, ood_score=3.2,
                         ood_reason="not a chest film")
    unknown = ScanResult("/ward/odd.png", 0.10, "NORMAL", 0.5, out_of_distribution=True)
    results = [ScanResult("/ward/a.png", 0.81, "PNEUMONIA", 0.5, out_of_distribution=False), flagged,
               ScanResult("/ward/b.png", 0.12, "NORMAL", 0.5, out_of_distribution=False), unknown,
               ScanResult.failed("/ward/broken.png", "cannot read")]
    panel.model.clear(Path("/ward"))
    for result in results:
        panel.model.append(result)
    row = {Path(r.path).name: i for i, r in enumerate(panel.visible_results())}
    assert [cell(panel, row["knee.png"], c) for c in (PROBABILITY, DECISION, OOD)] == [
        "withheld", "withheld", "\u26a0 not a chest film"]
    assert cell(panel, row["odd.png"], OOD) == "\u26a0 not a chest X-ray this model knows"
    assert cell(panel, row["a.png"], PROBABILITY) == "0.8100" and cell(panel, row["a.png"], OOD) == ""
    assert "0.97" not in " ".join(cell(panel, row["knee.png"], c) for c in range(panel.proxy.columnCount()))
    colours = {panel.proxy.index(row[name], DECISION).data(Qt.ItemDataRole.ForegroundRole).name()
               for name in ("knee.png", "odd.png")}
    assert colours == {theme.WARNING_FG.lower()}  # not the colour of the withheld decision either

    titles = [panel.filter_box.itemText(i) for i in range(panel.filter_box.count())]
    assert titles[-1] == "Only not-a-chest-X-ray"
    panel.filter_box.setCurrentIndex(panel.filter_box.findText("Only not-a-chest-X-ray"))
    assert [Path(r.path).name for r in panel.visible_results()] == ["knee.png", "odd.png"]
    panel.set_filter("pneumonia")
    assert [Path(r.path).name for r in panel.visible_results()] == ["a.png"]  # a withheld decision is not listed
    panel.set_filter("all")
    assert flagged.probability is None and flagged.label == "WITHHELD"  # withheld at the source
    assert cell(panel, row["b.png"], DECISION) == "No pneumonia found"
    panel.table.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)
    # withheld rows are their own group, after PNEUMONIA and before NORMAL, never by their hidden scores
    # (knee's 0.97 would put it first, odd's 0.10 below b.png)
    assert [Path(r.path).name for r in panel.visible_results()] == [
        "a.png", "knee.png", "odd.png", "b.png", "broken.png"]
    panel.table.sortByColumn(DECISION, Qt.SortOrder.DescendingOrder)
    assert [Path(r.path).name for r in panel.visible_results()] == [
        "a.png", "knee.png", "odd.png", "b.png", "broken.png"]
    panel.table.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)
    assert [Path(r.path).name for r in panel.visible_results()][:2] == ["broken.png", "b.png"]
    assert [Path(r.path).name for r in panel.visible_results()][-1] == "a.png"
    panel.table.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)
    for _ in range(5):
        qapp.processEvents()
    assert panel.grab().save(str(shots / "batch-panel-out-of-distribution.png"))


def test_main_window_open_folder_drop_and_selection(qtbot, qapp, model_path, folder, shots, monkeypatch):
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_gui.main_window import MainWindow

    loads = []
    real_load = Classifier.load
    monkeypatch.setattr(Classifier, "load", classmethod(lambda cls, *a, **k: loads.append(a) or real_load(*a, **k)))
    apply_theme(qapp)
    window = MainWindow(model=model_path)
    qtbot.addWidget(window)
    window.resize(1280, 960)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.model_card is not None, timeout=WAIT_MS)
    panel = window.extensions["batch"].widget
    action = window.extensions["batch"].action
    assert action in window.file_menu.actions() and action.shortcut().toString() == "Ctrl+Shift+O"
    assert not window.extensions["batch"].dock.isVisible()
    assert panel.active_model is window.active_model  # one model for the viewer and the batch

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder.root))])
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(panel.batchFinished, timeout=WAIT_MS):
        window.dropEvent(drop)  # Qt delivers a synthetic drop only to the handler itself
    assert window.extensions["batch"].dock.isVisible()
    assert window.current.path is None  # the folder went to the batch, not to the viewer
    assert len(panel.results) == len(folder.good) + len(folder.bad)
    assert panel.run.classifier is window.active_model.classifier  # the viewer's instance, not a second load
    assert len(loads) == 1
    assert panel.card.hash == window.model_card.hash

    panel.table.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)
    target = next(r for r in panel.visible_results() if r.path == folder.patient_files[0])
    panel.select_row(panel.visible_results().index(target))
    assert window.current.path == target.path  # the viewer opens the selected scan
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.result.label == target.label
    assert window.current.result.probability == pytest.approx(target.probability, abs=1e-5)
    assert window.grab().save(str(shots / "batch-in-main-window.png"))

    # File > Export report… on the scan the batch row opened: the single-study PDF, de-identified
    # unless the user opts in (even while the viewer itself shows the identifiers).
    report = window.export_report(folder.root.parent / "s-deid.pdf")
    text = subprocess.run(["pdftotext", str(report), "-"], capture_output=True, text=True, check=True).stdout
    assert target.label in text and not any(word in text for word in IDENTIFIERS)
    report = window.export_report(folder.root.parent / "s.pdf", include_identifiers=True)
    text = " ".join(subprocess.run(["pdftotext", str(report), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert target.label in text and "Doe" in text
    window.close()


def test_a_run_uses_the_model_the_user_switched_to(qtbot, qapp, classifier, model_path, folder, models):
    model = models(classifier)
    widget = BatchPanel(model)
    qtbot.addWidget(widget)
    model.load(model_path)  # another copy of the same file: a new instance
    with qtbot.waitSignal(widget.batchFinished, timeout=WAIT_MS):
        widget.open_folder(folder.root)  # waits for the load
    assert model.classifier is not classifier and widget.run.classifier is model.classifier
    assert len(widget.results) == len(folder.good) + len(folder.bad)


def test_a_model_that_cannot_load_is_a_message_not_a_crash(qtbot, qapp, folder, tmp_path, models):
    broken = tmp_path / "broken.pneumonet"
    broken.write_bytes(b"not a model")
    model = models()
    widget = BatchPanel(model)
    qtbot.addWidget(widget)
    model.load(broken)
    with qtbot.waitSignal(widget.batchFinished, timeout=WAIT_MS):
        widget.open_folder(folder.root)  # waits for the model, which then fails
    assert widget.results == [] and "Batch stopped:" in widget.status_label.text()
    assert "broken.pneumonet" in widget.status_label.text()
    assert widget.open_button.isEnabled() and not widget.cancel_button.isEnabled()


def test_an_empty_folder_says_so(qtbot, panel, tmp_path):
    (tmp_path / "empty").mkdir()
    run_folder(qtbot, panel, tmp_path / "empty")
    assert panel.results == [] and "No PNG, JPEG or DICOM files found" in panel.progress_label.text()
