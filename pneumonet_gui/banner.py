"""A coloured strip above the scan for what must not be missed: loader warnings and errors."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from pneumonet_gui import theme

_STYLES = {
    "warning": (theme.WARNING_BG, theme.WARNING_FG, "#8a6a20", "\u26a0"),
    "error": (theme.ERROR_BG, theme.ERROR_FG, "#8c3434", "\u2716"),
    "info": (theme.PANEL, theme.TEXT, theme.BORDER, "\u2139"),
}


class Banner(QFrame):
    """Hidden until given lines; warnings stay until the next scan, errors can be dismissed."""

    def __init__(self, kind: str = "warning", dismissable: bool = False, parent=None):
        super().__init__(parent)
        background, foreground, border, icon = _STYLES[kind]
        self.kind = kind
        self.setObjectName(f"{kind}Banner")
        self.setStyleSheet(
            f"QFrame#{kind}Banner {{ background: {background}; border: 1px solid {border}; border-radius: 4px; }}"
            f"QLabel {{ color: {foreground}; background: transparent; }}"
            f"QToolButton {{ color: {foreground}; border: 0; font-weight: bold; }}"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self._icon = QLabel(icon)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        font = self._icon.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self._icon.setFont(font)
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = self._text.font()
        bold.setBold(True)
        self._text.setFont(bold)
        layout.addWidget(self._icon)
        layout.addWidget(self._text, 1)
        if dismissable:
            close = QToolButton()
            close.setText("\u2715")
            close.setToolTip("Dismiss")
            close.clicked.connect(self.clear)
            layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def set_lines(self, lines) -> None:
        lines = [str(line) for line in lines if str(line).strip()]
        self._text.setText("\n".join(lines))
        self.setVisible(bool(lines))

    def text(self) -> str:
        return self._text.text() if not self.isHidden() else ""

    def clear(self) -> None:
        self.set_lines([])
