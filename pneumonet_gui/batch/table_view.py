"""The results table as the panel shows it: thumbnails, sortable columns, one selected row."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from pneumonet_gui import theme
from pneumonet_gui.batch.run import THUMB_SIZE
from pneumonet_gui.batch.table_model import (
    DECISION,
    ERROR,
    FILE,
    OOD,
    PROBABILITY,
    RESULT_ROLE,
    THUMB,
    TYPE,
    WARNINGS,
    BatchFilterProxy,
    BatchTableModel,
)

#: Starting widths; after each batch the text columns fit their content (see ``fit_columns``).
COLUMN_WIDTHS = ((THUMB, THUMB_SIZE + 12), (FILE, 260), (PROBABILITY, 90), (DECISION, 130), (TYPE, 110),
                 (OOD, 150), (WARNINGS, 200), (ERROR, 80))
#: No text column grows wider than this: the cell's tooltip holds the rest.
MAX_COLUMN = 280


class BatchTableView(QTableView):
    """Shows ``model`` through a sort/filter ``proxy`` in triage order (likely pneumonias first,
    by probability, then withheld, then NORMAL, then errors) until a header is clicked."""

    def __init__(self, model: BatchTableModel, parent=None):
        super().__init__(parent)
        self.setObjectName("batchTable")
        self.proxy = BatchFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)  # a triage list, as the worklist
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a file name keeps its start and its end
        self.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 6)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in COLUMN_WIDTHS:
            self.setColumnWidth(column, width)
        header.setStretchLastSection(False)  # an empty Error column must not take the free width
        self.setStyleSheet(
            f"QTableView {{ background: {theme.BASE}; alternate-background-color: #191a1d; color: {theme.TEXT};"
            f" border: 1px solid {theme.BORDER}; selection-background-color: #2d4f6c; }}")

    def fit_columns(self) -> None:
        """Each text column as wide as its content and title (at most 280 px), so an empty Error
        column stays narrow and the decision, flag and warning columns are not cut."""
        header = self.horizontalHeader()
        for column in (FILE, PROBABILITY, DECISION, TYPE, OOD, WARNINGS, ERROR):
            title = header.fontMetrics().horizontalAdvance(str(self.model().headerData(
                column, Qt.Orientation.Horizontal))) + 24
            self.resizeColumnToContents(column)
            self.setColumnWidth(column, min(MAX_COLUMN, max(title, self.columnWidth(column))))

    def visible_results(self) -> list:
        """The results shown now, in their current order (after filter and sort)."""
        return [self.proxy.index(row, 0).data(RESULT_ROLE) for row in range(self.proxy.rowCount())]

    def select_row(self, row: int) -> None:
        """Select a row as shown (the panel then emits ``scanSelected``)."""
        index = self.proxy.index(row, FILE)
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
