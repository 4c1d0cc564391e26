"""Page 6, Comparison: the active model and the new one side by side, on the same films.

A new model's own evaluation says nothing about whether it is better than the model in
use; the wizard once activated a model with ROC AUC 0.375. This page measures both on the
same films: the new model's held-out patients and an external folder of patients outside
the training split (by default ``shared/data/chest_xray/external`` beside the checkout, or
the folder used before). ``pneumonet_core.evaluation.comparison`` does the measuring in a
worker; the page shows ROC AUC, accuracy, sensitivity, specificity and ECE for both, and a
warning that cannot be missed when the new model is worse. The external films lead; the
held-out patients (a split of the training data set) come second and say so. When the
active model was calibrated on the external films (its card's
``calibration.fitted_on.file_list_sha256``), the page says the comparison there is not
fair and never calls it so. The user then chooses on the Save page, whose "make active"
box starts unchecked: the wizard never switches silently.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWizardPage

from pneumonet_gui import workers
from pneumonet_gui.banner import Banner
from pneumonet_gui.card_page import number
from pneumonet_gui.data_folders import default_external_folder, remember_external_folder
from pneumonet_gui.wizard.common import CountTable, FolderField, MessageLabel, push_button

ACTIVE, NEW = "active", "new"
WORSE = "The new model is worse than the active one. Keep the active model unless you have a reason:"
HELD_OUT, EXTERNAL = "the held-out patients", "the external films"
#: Said when the active model's calibration and threshold were fitted on the external films compared.
CALIBRATED_ON_EXTERNAL = ("Not a fair comparison on the external films: the active model was calibrated on these "
                          "very films (its threshold was chosen on them), so its figures there are flattered. "
                          "Choose external films it was not calibrated on; its card's cross-fitted figures are the "
                          "honest ones for these films.")


def compare_job(models: dict, data_sets: list, should_stop, progress) -> dict:
    """Both models on every data set, their names, and what the active one may have trained on (a worker)."""
    from pneumonet_core.evaluation.comparison import calibrated_on_films, compare_models, patients_seen_in_training
    from pneumonet_core.models.package import read_card

    cards = {}
    for key, path in models.items():
        try:
            cards[key] = read_card(path)
        except Exception:  # noqa: BLE001 - compare_models reports the unreadable model in its cells
            cards[key] = None
    held_out = next((d for d in data_sets if d.name == HELD_OUT), None)
    seen = None
    if cards.get(ACTIVE) is not None and held_out is not None and held_out.patients:
        seen = patients_seen_in_training(cards[ACTIVE], held_out.patients)
    figures = compare_models(models, data_sets, should_stop, progress)
    calibrated = cards.get(ACTIVE) is not None and calibrated_on_films(cards[ACTIVE], figures.get(EXTERNAL) or {})
    return {"figures": figures, "seen_in_training": seen, "active_calibrated_on_external": calibrated,
            "names": {key: (card.name if card else Path(models[key]).name) for key, card in cards.items()}}


class ComparisonPage(QWizardPage):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.result: dict | None = None
        self.warnings: list[str] = []
        self.error: str | None = None
        self._inputs: dict | None = None
        self._task: workers.Worker | None = None

        self.external = FolderField("External films (patients outside the training split)")
        self.external.chosen.connect(self._external_chosen)
        self.compare_button = push_button("Compare again", lambda: self._inputs and self.compare(**self._inputs))
        row = QHBoxLayout()
        row.addWidget(QLabel("External films"))
        row.addWidget(self.external, 1)
        row.addWidget(self.compare_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.banner = MessageLabel()
        self.worse_banner = Banner("error")
        self.names_label = QLabel()
        self.names_label.setWordWrap(True)
        self.notes = MessageLabel()
        self.tables: dict[str, CountTable] = {}
        self.boxes: dict[str, QGroupBox] = {}
        side_by_side = QHBoxLayout()
        for name in (EXTERNAL, HELD_OUT):  # independent patients lead
            box = QGroupBox(name[0].upper() + name[1:])
            table = CountTable()
            QVBoxLayout(box).addWidget(table)
            self.tables[name], self.boxes[name] = table, box
            side_by_side.addWidget(box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.worse_banner)
        layout.addWidget(self.banner)
        layout.addWidget(self.names_label)
        layout.addLayout(side_by_side)
        layout.addWidget(self.notes)
        layout.addStretch(1)
        self.setTitle("Compare with the active model")
        self.setSubTitle("The model in use and the new one, measured on the same films. You choose on the next page "
                         "whether the new model becomes active.")

    # --- running ------------------------------------------------------------------------
    def initializePage(self) -> None:
        from pneumonet_core.errors import PneumonetError
        from pneumonet_core.models import registry

        wizard = self.wizard()
        try:
            active = registry.active_model_path()
        except (PneumonetError, OSError):
            active = None
        card = wizard.evaluation_page.result["card"]
        if not self.external.text():
            start = default_external_folder()
            self.external.edit.setText(str(start) if start else "")
        self.compare(new_model=wizard.trained_model_path, data_dir=wizard.options.data_dir,
                     held_out=tuple(card.data.get("test_patients") or ()), active=active)

    def compare(self, new_model, data_dir, held_out: tuple[str, ...], active=None) -> workers.Worker:
        """Measure ``active`` (None: there is no active model) and ``new_model`` on the same films in a worker."""
        from pneumonet_core.evaluation.comparison import DataSet

        self.cleanupPage()
        self._inputs = {"new_model": new_model, "data_dir": data_dir, "held_out": held_out, "active": active}
        models = {NEW: Path(new_model)} if active is None else {ACTIVE: Path(active), NEW: Path(new_model)}
        data_sets = [DataSet(HELD_OUT, Path(data_dir), tuple(held_out))]
        external = Path(self.external.text()) if self.external.text() else None
        if external is not None:
            data_sets.append(DataSet(EXTERNAL, external))
            remember_external_folder(external)
        self.boxes[EXTERNAL].setTitle(f"External films: {external}" if external else "External films: none chosen")
        self.boxes[HELD_OUT].setTitle(f"Held-out patients ({len(held_out)}): training-data split, not independent")
        for table in self.tables.values():
            table.fill(["Figure"], [])
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.compare_button.setEnabled(False)
        who = "the active model and the new one" if active is not None else "the new model"
        self.banner.show_messages(notes=[f"Classifying the same films with {who}\u2026"])
        self.notes.show_messages()
        self._task = workers.start(compare_job, models, data_sets,
                                   _connect={"progress": lambda done, total: self.progress.setValue(done),
                                             "returned": self._show, "failed": self._failed,
                                             "finished": self._finished})
        self.completeChanged.emit()
        return self._task

    def cleanupPage(self) -> None:
        if self._task is not None:
            self._task.quit()
            self._task = None
        self.result, self.error, self.warnings = None, None, []
        self.worse_banner.clear()

    def shutdown(self, timeout: float = 30.0) -> None:
        task = self._task
        self.cleanupPage()
        if task is not None:
            task.wait(timeout)

    @property
    def busy(self) -> bool:
        return self._task is not None

    def isComplete(self) -> bool:
        return not self.busy

    def _external_chosen(self, folder: str) -> None:
        self.external.edit.setText(folder)
        if self._inputs is not None:
            self.compare(**self._inputs)

    def _failed(self, message: str) -> None:
        self.error = message
        self.banner.show_messages(message, refusal_title="The comparison failed:")

    def _finished(self) -> None:
        self._task = None
        self.progress.setVisible(False)
        self.compare_button.setEnabled(True)
        self.completeChanged.emit()

    # --- showing ------------------------------------------------------------------------
    def _show(self, result: dict) -> None:
        from pneumonet_core.evaluation.comparison import COMPARED, comparison_warnings

        self.result = result
        figures, names = result["figures"], result["names"]
        keys = [key for key in (ACTIVE, NEW) if key in names]
        headers = ["Figure"] + ["Active model" if k == ACTIVE else "New model" for k in keys]
        self.names_label.setText(" \u00b7 ".join(f"{'Active model' if k == ACTIVE else 'New model'}: <b>"
                                                  f"{html.escape(names[k])}</b>" for k in keys))
        errors = []
        for data_set, table in self.tables.items():
            by_model = figures.get(data_set)
            if by_model is None:
                table.fill(["Figure"], [["not measured: choose a folder of external films above"]])
                continue
            rows = [["Films"] + [number(by_model[k].get("n"), "int") for k in keys],
                    ["Patients"] + [number(by_model[k].get("patients"), "int") for k in keys]]
            rows += [[title] + [number(by_model[k].get(key)) for k in keys] for key, title in COMPARED]
            rows.append(["Threshold"] + [number(by_model[k].get("threshold"), "4") for k in keys])
            table.fill(headers, rows)
            errors += [f"{names[k]} on {data_set}: {by_model[k]['error']}" for k in keys if "error" in by_model[k]]
        self.warnings = comparison_warnings(figures, ACTIVE, NEW) if ACTIVE in keys else []
        self.worse_banner.set_lines([WORSE] + self.warnings if self.warnings else [])
        if self.warnings:
            self.banner.show_messages()
        elif ACTIVE in keys:
            self.banner.show_messages(notes=["The new model is not worse than the active one on these films "
                                             "(its ROC AUC is at most 0.01 lower, or higher)."])
        else:
            self.banner.show_messages(notes=["There is no active model to compare with: these are the new model's "
                                             "figures alone."])
        notes = ["Each model is measured at its own threshold; ECE is the calibration error (lower is better)."]
        calibrated = bool(result.get("active_calibrated_on_external"))
        if calibrated:
            errors.insert(0, CALIBRATED_ON_EXTERNAL)
        seen = result.get("seen_in_training")
        if seen:
            notes.insert(0, f"The active model may have trained on {seen} of these held-out patients (same data set): "
                            "its held-out figures are flattered."
                            + ("" if calibrated else " The external films are the fair comparison."))
        self.notes.show_messages(warnings=errors, notes=notes)
