"""Page 1, Data: choose a labelled folder; see what it holds and what is wrong with it.

Counting comes from file names at once; a worker then decodes every file with the one
loader to list the unreadable ones. A folder ``pneumonet train`` would refuse (no images,
a class missing, too few images in a class) keeps Next disabled and says why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QProgressBar, QVBoxLayout, QWizardPage

from pneumonet_core.data.report import DatasetReport, find_unreadable, inspect_folder, record_unreadable
from pneumonet_gui import workers
from pneumonet_gui.wizard.common import CountTable, FolderField, MessageLabel, heading, monospace


class DataPage(QWizardPage):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Training data")
        self.setSubTitle("Choose a folder holding NORMAL/ and PNEUMONIA/ subfolders of chest X-rays "
                         "(PNG, JPEG or DICOM). Patients are read from the file names.")
        self.report: DatasetReport | None = None
        self._check: workers.Worker | None = None

        self.folder = FolderField("Training data folder")
        self.folder_edit = self.folder.edit
        self.folder_edit.editingFinished.connect(self._edited)
        self.folder.chosen.connect(self.set_folder)

        self.table = CountTable()
        self.table.setMaximumWidth(520)
        self.labels_label = QLabel()
        self.labels_label.setWordWrap(True)
        self.messages = MessageLabel()
        self.check_bar = QProgressBar()
        self.check_bar.setTextVisible(True)
        self.check_label = QLabel()
        self.check_label.setObjectName("muted")
        self.unreadable_view = QPlainTextEdit()
        self.unreadable_view.setReadOnly(True)
        self.unreadable_view.setFont(monospace())
        self.unreadable_view.setMaximumHeight(110)

        layout = QVBoxLayout(self)
        layout.addWidget(self.folder)
        layout.addSpacing(6)
        layout.addWidget(heading("What was found"))
        layout.addWidget(self.table)
        layout.addWidget(self.labels_label)
        layout.addWidget(self.messages)
        layout.addSpacing(6)
        layout.addWidget(heading("Readable files"))
        layout.addWidget(self.check_label)
        layout.addWidget(self.check_bar)
        layout.addWidget(self.unreadable_view)
        layout.addStretch(1)
        self._show_report()

    # --- choosing ---------------------------------------------------------------------

    def _edited(self) -> None:
        text = self.folder_edit.text().strip()
        # editingFinished also fires on focus changes: inspect only a new folder.
        if self.report is None or not text or Path(text) != self.report.folder:
            self.set_folder(text)

    def set_folder(self, folder) -> None:
        """Inspect ``folder`` (names only, immediate) and start checking that its files decode."""
        text = str(folder).strip()
        self.folder_edit.setText(text)
        self._stop_check()
        self.report = inspect_folder(Path(text)) if text else None
        self._show_report()
        if self.report is not None and self.report.images:
            self._start_check()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.report is not None and self.report.usable

    def validatePage(self) -> bool:
        if not self.isComplete():
            return False
        self.wizard().options.data_dir = self.report.folder
        return True

    # --- checking files -----------------------------------------------------------------

    def _start_check(self) -> None:
        paths = [im.path for im in self.report.images]
        report = self.report
        self.check_bar.setRange(0, len(paths))
        self.check_bar.setValue(0)
        self.check_bar.setVisible(True)
        self.check_label.setText(f"Decoding all {len(paths)} files with the scan loader to find unreadable ones "
                                 "(you can go on meanwhile; training skips unreadable files)\u2026")
        self._check = workers.start(
            find_unreadable, paths,
            _connect={"progress": lambda done, total: self.check_bar.setValue(done),
                      "returned": lambda result, report=report: self._check_done(report, result),
                      "failed": lambda message, report=report: self._check_failed(report, message)},
        )

    def _check_failed(self, report: DatasetReport, message: str) -> None:
        if report is self.report:
            self._check = None
            self._show_report()
            self.check_label.setText(f"Could not check the files: {message}")

    def _stop_check(self) -> None:
        if self._check is not None:
            self._check.quit()
            self._check = None

    def _check_done(self, report: DatasetReport, result) -> None:
        if report is not self.report:
            return  # a check of a folder no longer shown
        unreadable, checked = result
        record_unreadable(report, unreadable, checked)
        self._check = None
        self._show_report()
        self.completeChanged.emit()

    @property
    def checking(self) -> bool:
        return self._check is not None

    def cleanup(self) -> None:
        """Stop the background check (the wizard is closing)."""
        if self._check is not None:
            worker = self._check
            self._stop_check()
            worker.wait(10)

    # --- showing ------------------------------------------------------------------------

    def _show_report(self) -> None:
        report = self.report
        has_images = report is not None and bool(report.images)
        self.table.setVisible(has_images)
        self.labels_label.setVisible(has_images)
        if report is None:
            self.messages.show_messages(notes=["No folder chosen yet."])
        else:
            if has_images:
                counts, patients = report.counts(), report.patients()
                rows = [[name, counts[name], patients[name]] for name in counts]
                rows.append(["Total", len(report.images), len({im.patient for im in report.images})])
                self.table.fill(["Class", "Images", "Patients"], rows)
                self.labels_label.setText(f"Labels found: {report.labels_found}.")
            self.messages.show_messages(report.refusal, report.warnings)
        checking = self._check is not None
        self.check_bar.setVisible(checking)
        if not checking:
            if report is None or not report.images:
                self.check_label.setText("")
            elif report.checked:
                bad = len(report.unreadable)
                outcome = f"{bad} cannot be read (training skips them)." if bad else "all can be read."
                self.check_label.setText(f"Checked {report.checked} of {len(report.images)} files: {outcome}")
        self.unreadable_view.setVisible(bool(report and report.unreadable))
        if report and report.unreadable:
            lines = (f"{path}: {reason}" for path, reason in report.unreadable[:500])
            self.unreadable_view.setPlainText("\n".join(lines))
