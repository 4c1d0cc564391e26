"""Calibrate to local data…: ``pneumonet calibrate`` for one model, from the model manager.

The user picks a labelled folder of the site's own films (NORMAL/ and PNEUMONIA/) and the
threshold rule; ``pneumonet_core.evaluation.site_calibration.calibrate_package`` runs in a
worker (progress bar, Cancel), writing into a private temporary folder. The new package is
then installed among the user's models, named after the model and the site, and the
figures before and after are shown. The new model becomes active only when the user
presses "Use the calibrated model" and confirms, in a question that says what the rule
traded: never silently. A folder the core refuses (fewer than 50 films per class, one
class only) gets its one-line reason; "Calibrate anyway" is the explicit override for a
small site (down to 10 films per class), and the report then says so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from pneumonet_gui import workers
from pneumonet_gui.card_page import FIGURE_ROWS, number, per_class_text
from pneumonet_gui.data_folders import default_external_folder, remember_external_folder
from pneumonet_gui.wizard.common import CountTable, FolderField, MessageLabel, heading

#: The threshold rules offered: (rule as ``pneumonet calibrate --rule`` takes it, what it means).
#: Each says what it sets, not what it promises: the report says what it traded.
RULES = (("youden", "Youden's J: balance sensitivity and specificity"),
         ("sensitivity:0.95", "Sensitivity at least 0.95 on these films (specificity pays for it)"),
         ("specificity:0.90", "Specificity at least 0.90 on these films (sensitivity pays for it)"))
#: Films per class a site must give, and the least "Calibrate anyway" accepts (as
#: ``pneumonet_core.evaluation.site_calibration`` says; not imported here, which would load
#: scikit-learn when the model manager opens).
MIN_PER_CLASS, FORCED_MIN_PER_CLASS = 50, 10
#: The report's blocks, as the columns of the figures table.
COLUMNS = (("before", "Before"), ("after", "After (these films)"), ("after_cross_fitted", "After (cross-fitted)"))


def calibrate_and_install(data_dir, model_path, rule: str, name: str, should_stop, progress,
                          force: bool = False) -> dict:
    """Calibrate into a private temporary folder, install the result as ``name`` (runs in a worker).

    Returns ``calibrate_package``'s report with ``installed``, the path among the user's models.
    """
    from pneumonet_core.errors import CancelledError
    from pneumonet_core.evaluation.site_calibration import calibrate_package
    from pneumonet_core.models import registry
    from pneumonet_core.models.package import read_card, update_card

    with tempfile.TemporaryDirectory(prefix="pneumonet-calibration-") as folder:
        out = Path(folder) / "calibrated.pneumonet"
        report = calibrate_package(Path(data_dir), Path(model_path), out, rule, should_stop=should_stop,
                                   progress=progress, force=force)
        if should_stop():
            raise CancelledError("cancelled")
        card = read_card(out)
        card.name = name
        update_card(out, card)  # the name is not part of the content hash
        report["installed"] = str(registry.install_user_model(out, name))
    return report


def with_interval(block: dict, key: str, kind: str) -> str:
    """A figure, with its 95% interval (bootstrapped by patient) when the report has one."""
    text = number(block.get(key), kind)
    low, high = block.get(f"{key}_ci") or (None, None)
    return text if low is None or text == "n/a" else f"{text} ({low:.3f}\u2013{high:.3f})"


class CalibrateDialog(QDialog):
    """Calibrate ``model_path`` (whose card is ``card``) to a folder of local films."""

    #: The calibrated model was installed: its path.
    installed = Signal(str)
    #: The user asked to make the calibrated model the active one: its path.
    activateRequested = Signal(str)
    #: A run ended: "" when installed, else the one-line reason ("cancelled" after Cancel).
    finishedRun = Signal(str)

    def __init__(self, model_path, card, parent=None):
        super().__init__(parent)
        self.model_path, self.card = Path(model_path), card
        self.report: dict | None = None
        self.worker: workers.Worker | None = None
        self._failure = ""
        self.setWindowTitle(f"Calibrate to local data \u2014 {card.name}")
        self.resize(860, 700)

        intro = QLabel(f"Classifies your site's labelled films (NORMAL/ and PNEUMONIA/ sub-folders, at least "
                       f"{MIN_PER_CLASS} readable films per class), refits the probability calibration and chooses "
                       "the threshold by the rule below. The weights do not change; the calibrated model is "
                       "installed beside this one, and this one is left as it is.")
        intro.setWordWrap(True)
        self.folder = FolderField("Your site's labelled films")
        self.folder_edit = self.folder.edit
        start = default_external_folder()
        if start is not None:
            self.folder_edit.setText(str(start))
        self.folder_edit.textChanged.connect(self._suggest_name)
        self.folder.chosen.connect(self.folder_edit.setText)
        self.rule_box = QComboBox()
        for rule, text in RULES:
            self.rule_box.addItem(text, rule)
        self.name_edit = QLineEdit()
        self.force_box = QCheckBox(f"Calibrate anyway with fewer than {MIN_PER_CLASS} films per class "
                                   f"(down to {FORCED_MIN_PER_CLASS}; the threshold is then uncertain)")
        form = QFormLayout()
        form.addRow("Local films", self.folder)
        form.addRow("Threshold rule", self.rule_box)
        form.addRow("New model's name", self.name_edit)
        form.addRow("", self.force_box)

        self.start_button = QPushButton("Calibrate")
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("muted")
        run_row = QHBoxLayout()
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.progress_label, 1)
        self.messages = MessageLabel()
        self.messages.setVisible(False)
        self.table = CountTable()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setVisible(False)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.trade = QLabel()  # what the rule traded, in words, above the numbers' fine print
        self.trade.setWordWrap(True)
        self.trade.setTextInteractionFlags(self.trade.textInteractionFlags() | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.confirm: QMessageBox | None = None
        self.use_button = QPushButton("Use the calibrated model")
        self.use_button.setToolTip("Make it the active model for the viewer and \u201cpneumonet\u201d commands")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.use_button)
        bottom.addStretch(1)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.messages)
        layout.addWidget(heading("Figures on these films"))
        layout.addWidget(self.trade)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addLayout(bottom)
        self._suggest_name()
        self._set_running(False)

    # --- running -------------------------------------------------------------------------
    def start(self, folder=None, rule: str | None = None, force: bool | None = None) -> workers.Worker | None:
        """Calibrate on ``folder`` (default: the one typed) by ``rule`` (default: the one chosen);
        ``force`` ticks "Calibrate anyway"."""
        if self.worker is not None:
            return None
        if folder is not None:
            self.folder_edit.setText(str(folder))
        if rule is not None:
            self.rule_box.setCurrentIndex(self.rule_box.findData(rule))
        if force is not None:
            self.force_box.setChecked(force)
        folder = Path(self.folder_edit.text().strip())
        name = self.name_edit.text().strip() or self.card.name
        if not self.folder_edit.text().strip() or not folder.is_dir():
            self.messages.show_messages(f"{folder}: not a folder", refusal_title="Cannot calibrate:")
            return None
        remember_external_folder(folder)
        self.report, self._failure = None, ""
        self.table.setVisible(False)
        self.summary.setText("")
        self.trade.setText("")
        self.use_button.setEnabled(False)
        self.messages.show_messages()
        self.progress.setRange(0, 0)
        self.progress_label.setText(f"Classifying the films of {folder.name}\u2026")
        self._set_running(True)
        self.worker = workers.start(calibrate_and_install, folder, self.model_path, self.rule_box.currentData(), name,
                                    force=self.force_box.isChecked(), _error_path=folder,
                                    _connect={"progress": self._progress, "returned": self._done,
                                              "failed": self._failed, "finished": self._ended})
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling\u2026")

    def shutdown(self, timeout: float = 30.0) -> None:
        if self.worker is not None:
            self.worker.quit()
            self.worker.wait(timeout)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        if done >= total:
            self.progress_label.setText("Fitting the calibration and choosing the threshold\u2026")
        else:
            self.progress_label.setText(f"Classifying: {done} of {total} films")

    def _done(self, report: dict) -> None:
        self.report = report
        self.show_report(report)
        self.use_button.setEnabled(True)
        self.installed.emit(report["installed"])

    def _failed(self, message: str) -> None:
        self._failure = message
        self.messages.show_messages(message, refusal_title="Cannot calibrate:")

    def _ended(self) -> None:
        """The run is over, whatever happened: the buttons again, then :attr:`finishedRun`."""
        worker, self.worker = self.worker, None
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.report else 0)
        if worker is not None and worker.cancelled:
            self.progress_label.setText("Cancelled: nothing was installed.")
            self.finishedRun.emit("cancelled")
        else:
            self.progress_label.setText("Done." if self.report else "")
            self.finishedRun.emit("" if self.report else self._failure)

    # --- showing -------------------------------------------------------------------------
    def show_report(self, report: dict) -> None:
        rows = []
        for key, title, kind in FIGURE_ROWS:
            if key == "patients":
                continue
            values = [with_interval(report[block], key, kind) for block, _ in COLUMNS]
            if any(v != "n/a" for v in values):
                rows.append([title] + values)
        self.table.fill(["Figure"] + [title for _, title in COLUMNS], rows)
        self.table.setVisible(True)
        site, cal = report["site"], report["calibration"]
        from pneumonet_core.models.card import calibration_text

        skipped = f" {len(report['errors'])} unreadable files were skipped." if report["errors"] else ""
        forced = "".join(f"\nWarning: {w}." for w in report.get("warnings", []))
        self.trade.setText(report["trade"] + forced)
        self.summary.setText(
            f"{site['images']} films of {site['patients']} patients ({per_class_text(site['per_class'])}). Calibration: "
            f"{calibration_text(cal)}; threshold {report['threshold']:.4f} ({report['rule']}).{skipped}\n"
            f"Installed as {report['installed']}. \u201cCross-fitted\u201d fits on other patients than those "
            "measured: expect that on new patients of this site. Sensitivity and specificity show their 95% "
            "interval, bootstrapped by patient.")

    def _use(self) -> None:
        """Ask, with what the rule traded, before the calibrated model becomes active."""
        if self.report is None:
            return
        box = self.confirm = QMessageBox(QMessageBox.Icon.Question, "Use the calibrated model?",
                                         f"Make {Path(self.report['installed']).stem} the active model for the "
                                         "viewer and \u201cpneumonet\u201d commands?", parent=self)
        box.setInformativeText(self.trade.text())
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.finished.connect(self._confirmed)
        box.open()

    def _confirmed(self, answer: int) -> None:
        if answer == QMessageBox.StandardButton.Yes and self.report is not None:
            self.activateRequested.emit(self.report["installed"])
            self.use_button.setEnabled(False)
            self.use_button.setText("The calibrated model is active")

    def _suggest_name(self) -> None:
        site = Path(self.folder_edit.text().strip()).name
        self.name_edit.setText(f"{self.card.name}-{site}" if site else f"{self.card.name}-calibrated")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running or self.report is not None)

    def done(self, result: int) -> None:
        """Closing cancels a calibration in progress (nothing is installed) and waits for it."""
        self.shutdown()
        super().done(result)
