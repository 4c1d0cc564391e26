"""The worklist table: a Qt model over the core's triage :class:`Worklist` (likely pneumonias first).

``pneumonet_core.dicom_node.worklist.Worklist`` keeps the studies and their order; this
model only shows its rows. Patient fields are masked unless ``hide_identifiers`` is off: a
masked study shows "Patient 1", "Patient 2"... numbered in order of arrival in this session,
which tells studies of one patient apart without deriving anything from the identifiers.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor

from pneumonet_core.dicom_node.worklist import DONE, FAILED, Worklist, WorklistRow
from pneumonet_core.reports.deidentify import HIDDEN
from pneumonet_core.results import WITHHELD as CORE_WITHHELD
from pneumonet_core.results import decision_words
from pneumonet_gui import theme
from pneumonet_gui.subtype_view import short_subtype, subtype_tooltip
from pneumonet_gui.table_base import WITHHELD, RowsTableModel

COLUMNS = ("Received", "Patient", "Patient ID", "Study date", "Probability", "Decision", "Type",
           "Out of distribution", "Images", "Status")
RECEIVED, PATIENT, PATIENT_ID, STUDY_DATE, PROBABILITY, DECISION, TYPE, OOD, IMAGES, STATUS = range(len(COLUMNS))
#: Columns masked while identifiers are hidden.
IDENTIFYING = (PATIENT_ID, STUDY_DATE)
#: Role holding the row's WorklistRow.
ROW_ROLE = Qt.ItemDataRole.UserRole + 1

_COLOURS = {"PNEUMONIA": QColor(theme.PNEUMONIA), "NORMAL": QColor(theme.NORMAL)}


def scan_path(row: WorklistRow):
    """The received file a double-click opens: the study's most suspicious image, else its first."""
    images = [i for i in row.images if i.path is not None]
    if not images:
        return None
    scored = [i for i in images if i.outcome is not None and i.outcome.probability is not None]
    return max(scored, key=lambda i: i.outcome.probability).path if scored else images[0].path


def study_subtype(row: WorklistRow):
    """The bacterial/viral opinion a PNEUMONIA study shows: that of its most suspicious image with one; else None."""
    if row.label != "PNEUMONIA":
        return None
    given = [i.outcome for i in row.images if i.outcome is not None and i.outcome.subtype is not None
             and i.outcome.probability is not None]
    return max(given, key=lambda o: o.probability) if given else None


class WorklistTableModel(RowsTableModel):
    """Shows ``worklist.rows()`` as they are after each :meth:`apply` (the core's triage order)."""

    COLUMNS = COLUMNS

    def __init__(self, worklist: Worklist | None = None, parent=None):
        super().__init__(parent)
        self.worklist = worklist or Worklist()
        self.rows: list[WorklistRow] = []
        self.hide_identifiers = True
        self._pseudonyms: dict[str, int] = {}

    def apply(self, events) -> None:
        """Take listener events into the worklist and show its new order."""
        for event in events:
            self.worklist.apply(event)
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self.rows = self.worklist.rows()
        for row in sorted(self.rows, key=lambda r: r.received_at):
            self._pseudonyms.setdefault(row.patient_id or row.study_uid, len(self._pseudonyms) + 1)
        self.endResetModel()

    def set_hide_identifiers(self, hide: bool) -> None:
        self.hide_identifiers = bool(hide)
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))

    def row_of(self, study_uid: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.study_uid == study_uid), -1)

    # --- Qt model API ------------------------------------------------------------------
    def items(self) -> list:
        return self.rows

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == ROW_ROLE:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            text = self.text(row, col)
            if role == Qt.ItemDataRole.ToolTipRole and col == STATUS and row.reasons:
                return "\n".join(row.reasons)
            if role == Qt.ItemDataRole.ToolTipRole and col == TYPE and (opinion := study_subtype(row)):
                return subtype_tooltip(opinion.subtype, opinion.viral_probability)
            return text
        if role == Qt.ItemDataRole.ForegroundRole:
            if (col in (PROBABILITY, DECISION) and row.label == CORE_WITHHELD) or (col == OOD and row.out_of_distribution):
                return QColor(theme.WARNING_FG)  # a withheld study has no decision colour
            if col == DECISION:
                return _COLOURS.get(row.label)
            if col == STATUS and row.status == FAILED:
                return QColor(theme.ERROR_FG)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (PROBABILITY, IMAGES):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def text(self, row: WorklistRow, col: int) -> str:
        """What a cell shows."""
        if col == RECEIVED:
            return row.received_at.strftime("%H:%M:%S")
        if col == PATIENT:
            if self.hide_identifiers:
                return f"Patient {self._pseudonyms.get(row.patient_id or row.study_uid, '?')}"
            return row.patient_name or "(no name)"
        if col in IDENTIFYING:
            if self.hide_identifiers:
                return HIDDEN
            return (row.patient_id if col == PATIENT_ID else row.study_date) or ""
        if col == PROBABILITY:
            if row.label == CORE_WITHHELD:
                return WITHHELD
            return "" if row.probability is None else f"{row.probability:.4f}"  # the top of the list must order
        if col == DECISION:
            return WITHHELD if row.label == CORE_WITHHELD else decision_words(row.label)
        if col == TYPE:
            opinion = study_subtype(row)
            return short_subtype(opinion.subtype, opinion.viral_probability) if opinion else ""
        if col == OOD:
            if not row.out_of_distribution:
                return ""
            reasons = [i.outcome.ood_reason for i in row.images if i.outcome and i.outcome.ood_reason]
            return f"\u26a0 {reasons[0] if reasons else 'not a chest X-ray this model knows'}"
        if col == IMAGES:
            return str(len(row.images))
        if col == STATUS:
            if row.status == FAILED:
                return f"failed: {row.reasons[0]}" if row.reasons else "failed"
            return "answered" if row.status == DONE else "waiting"
        return ""
