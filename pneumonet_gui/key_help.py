"""Help > Mouse and keys: the mouse gestures, then every menu command that has keys, read
from the menus themselves so the help can never disagree with them."""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from pneumonet_gui.trust import GRADCAM_EXPLAINED

MOUSE = (
    ("Left-drag", "pan"),
    ("Wheel", "zoom at the cursor"),
    ("Right-drag", "window (left/right) and level (up/down)"),
    ("Double-click", "fit the scan to the window"),
    ("Drag a measurement's end", "move it; click a line to select it"),
    ("Drop files or a folder", "open them; a folder is listed in the study browser"),
)


def keys_text(action) -> str:
    """All of an action's shortcuts as the platform writes them, e.g. "Ctrl++, +"."""
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())


def shortcut_rows(window) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every menu command with a shortcut, in menu order."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu, title: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{title} \u25b8 {action.menu().title().replace('&', '')}")
            elif action.shortcuts() and id(action) not in seen:
                seen.add(id(action))
                rows.append((title, action.text().replace("&", "").rstrip("\u2026"), keys_text(action)))

    for action in window.menuBar().actions():
        if action.menu() is not None:
            walk(action.menu(), action.menu().title().replace("&", ""))
    return rows


def help_html(window) -> str:
    mouse = "".join(f"<tr><td><b>{escape(a)}</b></td><td>{escape(b)}</td></tr>" for a, b in MOUSE)
    keys = "".join(f"<tr><td><b>{escape(k)}</b></td><td>{escape(c)}</td><td><i>{escape(m)}</i></td></tr>"
                   for m, c, k in shortcut_rows(window))
    return (f"<h3>Mouse</h3><table cellspacing='4'>{mouse}</table>"
            f"<h3>Keys</h3><table cellspacing='4'>{keys}</table>"
            f"<h3>The heat map</h3><p>{escape(GRADCAM_EXPLAINED)}</p>")


class KeyHelpDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Mouse and keys")
        self.resize(560, 620)
        self.text = QTextBrowser()
        self.text.setHtml(help_html(window))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
