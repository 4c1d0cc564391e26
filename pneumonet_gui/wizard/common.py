"""Small widgets the wizard pages share: message boxes for warnings and refusals, tables."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from pneumonet_gui import theme


def message_html(refusal: str | None = None, warnings=(), notes=(), refusal_title: str = "Cannot train on this folder:"
                 ) -> str:
    """Refusal (red, after ``refusal_title``), warnings (amber) and notes (muted) as one block of rich text."""
    parts = []
    if refusal:
        parts.append(f'<p style="color:{theme.ERROR_FG}; margin:2px 0"><b>{html.escape(refusal_title)}</b> '
                     f"{html.escape(refusal)}</p>")
    for warning in warnings:
        parts.append(f'<p style="color:{theme.WARNING_FG}; margin:2px 0">\u26a0 {html.escape(warning)}</p>')
    for note in notes:
        parts.append(f'<p style="color:{theme.MUTED}; margin:2px 0">{html.escape(note)}</p>')
    return "".join(parts)


class MessageLabel(QLabel):
    """A wrapping rich-text label for :func:`message_html`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show_messages(self, refusal: str | None = None, warnings=(), notes=(),
                      refusal_title: str = "Cannot train on this folder:") -> None:
        self.setText(message_html(refusal, warnings, notes, refusal_title))
        self.setVisible(bool(refusal or warnings or notes))


class FolderField(QWidget):
    """A labelled folder (NORMAL/ and PNEUMONIA/): its path in ``edit`` and Browse…, which emits ``chosen``."""

    chosen = Signal(str)

    def __init__(self, caption: str, parent=None):
        super().__init__(parent)
        self.caption = caption
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Folder with NORMAL/ and PNEUMONIA/ \u2026")
        self.browse_button = QPushButton("Browse\u2026")
        self.browse_button.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse_button)

    def text(self) -> str:
        return self.edit.text().strip()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.caption, self.text())
        if folder:
            self.chosen.emit(folder)


class CountTable(QTableWidget):
    """A compact read-only table of counts; ``fill(rows, headers)`` with rows of (name, *values)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.verticalHeader().setVisible(False)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)

    def fill(self, headers: list[str], rows: list[list]) -> None:
        self.clear()
        self.setColumnCount(len(headers))
        self.setRowCount(len(rows))
        self.setHorizontalHeaderLabels(headers)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(str(value))
                side = Qt.AlignmentFlag.AlignLeft if c == 0 else Qt.AlignmentFlag.AlignRight
                align = Qt.AlignmentFlag.AlignVCenter | side
                item.setTextAlignment(align)
                if c == 0:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.setItem(r, c, item)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        height = header.height() + sum(self.rowHeight(r) for r in range(len(rows))) + 4
        self.setFixedHeight(max(height, 40))

    def cell(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item else ""


def push_button(text: str, slot, tip: str = "") -> QPushButton:
    """A button that calls ``slot`` (with no arguments) when clicked, with its tooltip."""
    button = QPushButton(text)
    if tip:
        button.setToolTip(tip)
    button.clicked.connect(lambda _checked=False: slot())
    return button


def monospace() -> QFont:
    font = QFont("DejaVu Sans Mono")
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


def heading(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("sectionTitle")
    return label
