"""What the app's flat table models share: a list of rows under fixed column titles."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

#: The invalid index Qt passes for "the table itself" (one, rather than one per call).
_ROOT = QModelIndex()

#: A table cell's short word for a result the guard withheld (``ScanResult.withheld``);
#: the full sentence is ``pneumonet_core.results.WITHHELD_MESSAGE``.
WITHHELD = "withheld"


class RowsTableModel(QAbstractTableModel):
    """A table of ``len(self.items())`` rows and ``COLUMNS`` columns (their titles are the header)."""

    COLUMNS: tuple[str, ...] = ()

    def items(self) -> list:
        raise NotImplementedError

    def rowCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self.items())

    def columnCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None
