"""The results table: a Qt model over a plain list of ScanResult, and its sort/filter proxy."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QPixmap

from pneumonet_core.imaging.clinical_warnings import by_importance
from pneumonet_core.reports.summary import format_pair, matches
from pneumonet_core.results import ScanResult, decision_words
from pneumonet_gui import theme
from pneumonet_gui.qimage import gray_to_qimage
from pneumonet_gui.subtype_view import short_subtype, subtype_tooltip
from pneumonet_gui.table_base import WITHHELD, RowsTableModel

# Error before Warnings: why a film has no result matters more than a note on one that has.
COLUMNS = ("", "File", "Probability", "Decision", "Type", "Out of distribution", "Error", "Warnings")
THUMB, FILE, PROBABILITY, DECISION, TYPE, OOD, ERROR, WARNINGS = range(len(COLUMNS))
#: Decimals of a probability in the table (at least; more when it would read as the threshold).
PROBABILITY_DECIMALS = 4
#: The flag of such a scan when the guard gives no reason.
NOT_A_CHEST_XRAY = "not a chest X-ray this model knows"
#: Role holding the value a column sorts by (numbers for probability, text otherwise).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: Role holding the row's ScanResult.
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2

_LABEL_COLOURS = {"PNEUMONIA": QColor(theme.PNEUMONIA), "NORMAL": QColor(theme.NORMAL)}
_ERROR_COLOUR = QColor(theme.ERROR_FG)
_WARNING_COLOUR = QColor(theme.WARNING_FG)


def group_key(r: ScanResult) -> float:
    """What the probability and decision columns sort by: PNEUMONIA (by probability), then the
    withheld scans as one group (never by their hidden scores), then NORMAL (by probability),
    then errors; ascending, so a descending sort puts likely pneumonias first."""
    if r.withheld:
        return 1.5
    if not r.ok or r.probability is None:
        return -1.0
    return 2.0 + float(r.probability) if r.label == "PNEUMONIA" else float(r.probability)


class BatchTableModel(RowsTableModel):
    """Rows are :class:`ScanResult` objects in a plain Python list (``results``), in arrival order.

    Thumbnails (small uint8 arrays) are kept per path and turned into pixmaps only when a
    row is drawn, so thousands of rows cost little memory.
    """

    COLUMNS = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent)
        self.results: list[ScanResult] = []
        self.thumbnails: dict[str, np.ndarray] = {}
        self._pixmaps: dict[str, QPixmap] = {}
        self.root: Path | None = None

    # --- editing (GUI thread) ----------------------------------------------------------
    def clear(self, root: Path | None = None) -> None:
        self.beginResetModel()
        self.results, self.thumbnails, self._pixmaps = [], {}, {}
        self.root = root
        self.endResetModel()

    def append(self, result: ScanResult, thumbnail: np.ndarray | None = None) -> None:
        row = len(self.results)
        self.beginInsertRows(QModelIndex(), row, row)
        self.results.append(result)
        if thumbnail is not None:
            self.thumbnails[str(result.path)] = thumbnail  # keyed by text, as the batch PDF reads them
        self.endInsertRows()

    def result_at(self, row: int) -> ScanResult:
        return self.results[row]

    def display_name(self, result: ScanResult) -> str:
        """The file relative to the batch folder (full path when it lies elsewhere)."""
        if self.root is not None and result.path.is_relative_to(self.root):
            return os.path.relpath(result.path, self.root)
        return str(result.path)

    # --- Qt model API ------------------------------------------------------------------
    def items(self) -> list:
        return self.results

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.results[index.row()]
        col = index.column()
        if role == RESULT_ROLE:
            return r
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(r, col)
        if role == SORT_ROLE:
            return self._sort_key(r, col)
        if role == Qt.ItemDataRole.DecorationRole and col == THUMB:
            return self._pixmap(str(r.path))
        if role == Qt.ItemDataRole.ToolTipRole:
            if col in (THUMB, FILE):
                return str(r.path)
            if col == TYPE:  # the full opinion and its caveat
                return subtype_tooltip(r.subtype, r.viral_probability) or None
            if col == WARNINGS and r.warnings:
                return "\n".join(by_importance(r.warnings))  # every warning; the cell shows the first
            return self._text(r, col) or None
        if role == Qt.ItemDataRole.ForegroundRole:
            if col in (WARNINGS, OOD) or (col in (PROBABILITY, DECISION) and r.withheld):
                return _WARNING_COLOUR  # before the label's colour, which would tell the withheld decision
            if col == DECISION:
                return _LABEL_COLOURS.get(r.label, _ERROR_COLOUR if not r.ok else None)
            if col == ERROR:
                return _ERROR_COLOUR
        if role == Qt.ItemDataRole.TextAlignmentRole and col == PROBABILITY:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, r: ScanResult, col: int) -> str:
        if col == FILE:
            return self.display_name(r)
        if col in (PROBABILITY, DECISION) and r.withheld:
            return WITHHELD
        if col == PROBABILITY:
            if r.probability is None:
                return ""
            # Four decimals at least: the top of a triage list is often 0.98-something, and
            # 0.9843 above 0.9841 must read differently (and never equal to the threshold).
            return format_pair(r.probability, r.threshold if r.threshold is not None else 0.5, PROBABILITY_DECIMALS)[0]
        if col == DECISION:
            return decision_words(r.label) if r.ok else "ERROR"
        if col == TYPE:  # the bacterial/viral opinion: the core gives one for PNEUMONIA decisions only
            return short_subtype(r.subtype, r.viral_probability)
        if col == OOD:
            return f"\u26a0 {r.ood_reason or NOT_A_CHEST_XRAY}" if r.withheld else ""
        if col == WARNINGS:
            if not r.warnings:
                return ""
            first, more = by_importance(r.warnings)[0], len(r.warnings) - 1
            return first + (f"  (+{more} more)" if more else "")
        if col == ERROR:
            return r.error or ""
        return ""

    def _sort_key(self, r: ScanResult, col: int):
        if col in (PROBABILITY, DECISION):
            return group_key(r)
        if col == TYPE:  # bacterial to viral by the viral probability; rows without an opinion first
            return -1.0 if r.subtype is None or r.viral_probability is None else float(r.viral_probability)
        if col == THUMB:
            col = FILE  # the picture column sorts like the file names beside it
        return self._text(r, col).lower()

    def _pixmap(self, path: str) -> QPixmap | None:
        pixmap = self._pixmaps.get(path)
        if pixmap is None:
            thumb = self.thumbnails.get(path)
            if thumb is None:
                return None
            pixmap = self._pixmaps[path] = QPixmap.fromImage(gray_to_qimage(thumb))
        return pixmap


class BatchFilterProxy(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE` and keeps the rows that pass the chosen filter."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._filter = "all"
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def filter_name(self) -> str:
        return self._filter

    def set_filter(self, name: str) -> None:
        matches(ScanResult(path=""), name)  # raises on an unknown filter name
        self._filter = name
        self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        model = self.sourceModel()
        return matches(model.result_at(source_row), self._filter)
