"""Where an export goes (a batch's CSV, JSON or PDF, or one study's report), and whether it may name patients.

Exports are de-identified unless the user opts in for this one file: "Include patient
identifiers" is a checkbox of this dialog, which is made anew, unchecked, every time an
export starts (as ``--include-identifiers`` must be typed on each command line). Checking
it says plainly what the file will then hold.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from pneumonet_gui.wizard.common import MessageLabel

EXPORT_KINDS = {"csv": "CSV (*.csv)", "json": "JSON (*.json)", "pdf": "PDF (*.pdf)"}
KIND_TITLES = {"csv": "CSV", "json": "JSON", "pdf": "PDF report"}
IDENTIFIERS_WARNING = ("The file will hold patient names, IDs and birth dates, and file names that name patients: "
                       "keep it where patient data may be kept.")


class ExportDialog(QDialog):
    """Choose the file of a ``kind`` export ("csv", "json" or "pdf"); identifiers stay out unless checked."""

    def __init__(self, kind: str, suggested: Path, parent=None, title: str | None = None):
        super().__init__(parent)
        self.kind = kind
        self.setWindowTitle(f"{title or 'Export ' + KIND_TITLES[kind]} \u2014 Pneumonet")
        self.resize(640, 200)
        self.path_edit = QLineEdit(str(suggested))
        self.path_edit.textChanged.connect(self._update)
        choose = QPushButton("Choose\u2026")
        choose.clicked.connect(self._choose)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(choose)
        self.identifiers_box = QCheckBox("Include patient identifiers (names, IDs, birth dates)")
        self.identifiers_box.setChecked(False)
        self.identifiers_box.setToolTip("Off: the export is de-identified, as every export is by default")
        self.identifiers_box.toggled.connect(self._update)
        self.note = MessageLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Save as"))
        layout.addLayout(row)
        layout.addWidget(self.identifiers_box)
        layout.addWidget(self.note)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self._update()

    @property
    def path(self) -> Path:
        return Path(self.path_edit.text().strip())

    @property
    def include_identifiers(self) -> bool:
        return self.identifiers_box.isChecked()

    def _choose(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export {KIND_TITLES[self.kind]}", self.path_edit.text(),
                                              EXPORT_KINDS[self.kind])
        if path:
            self.path_edit.setText(path)

    def _update(self) -> None:
        if self.include_identifiers:
            self.note.show_messages(warnings=[IDENTIFIERS_WARNING])
        else:
            self.note.show_messages(notes=["De-identified: no patient names, IDs or birth dates, in the file or in "
                                           "the file names it lists."])
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(bool(self.path_edit.text().strip()))
