"""The last line of defence: an unexpected exception is shown to the user, never a crash.

Qt calls Python slots from its event loop; an exception escaping one would, with the
default hook, print a traceback and (under PySide6) may abort. The hook prints the
traceback for the log and shows a non-modal message, and the app goes on.
"""

from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

_open_boxes: list[QMessageBox] = []


def show_error(title: str, message: str, details: str = "", parent=None) -> QMessageBox | None:
    """A non-modal error box (the event loop keeps running; tests never block on it)."""
    if QApplication.instance() is None:
        return None
    box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Close, parent)
    box.setWindowModality(Qt.WindowModality.NonModal)
    if details:
        box.setDetailedText(details)
    box.finished.connect(lambda *_: _open_boxes.remove(box) if box in _open_boxes else None)
    _open_boxes.append(box)
    box.show()
    return box


def open_error_boxes() -> list[QMessageBox]:
    return list(_open_boxes)


def excepthook(exc_type, exc, tb) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        QApplication.quit()
        return
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    if sys.stderr is not None:  # a windowed (no console) build has no stderr
        print(details, file=sys.stderr, flush=True)
    first = (str(exc).strip().splitlines() or [exc_type.__name__])[0]
    show_error("Pneumonet: unexpected error",
               f"Something went wrong: {exc_type.__name__}: {first}\n\nThe app keeps running; "
               "you can go on working. If this happens again, please report it with the details.",
               details)


def install_excepthook() -> None:
    sys.excepthook = excepthook
