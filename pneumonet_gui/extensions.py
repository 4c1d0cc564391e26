"""How the app's optional parts plug into the main window.

Each module in :data:`EXTENSION_MODULES` may define ``attach_to_main_window(window)``; a
module missing from a build is skipped, and one that breaks is reported on the info
banner without taking the viewer down. The window offers them ``file_menu``,
``view_menu``, ``model_menu``, ``add_panel``, ``show_scan``, ``set_model`` and
``active_model``; their dialogs open once per window (:func:`open_once`).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt

EXTENSION_MODULES = ("pneumonet_gui.model_manager", "pneumonet_gui.wizard", "pneumonet_gui.batch",
                     "pneumonet_gui.worklist", "pneumonet_gui.preferences")


def attach_extensions(window, names=EXTENSION_MODULES) -> None:
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # not part of this build
            _failed(window, name, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a broken add-on must not take the viewer down
            _failed(window, name, exc)
            continue
        attach = getattr(module, "attach_to_main_window", None)
        if attach is None:
            continue
        try:
            attach(window)
        except Exception as exc:  # noqa: BLE001
            _failed(window, name, exc)


def _failed(window, name: str, exc: BaseException) -> None:
    if sys.stderr is not None:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    window.info_banner.set_lines([f"{name} could not be loaded: {type(exc).__name__}: {exc}"])


def open_once(window, attribute: str, make: Callable, on_existing: Callable | None = None):
    """Show the window's dialog kept as ``window.<attribute>``, making it with ``make()`` unless one is open."""
    from shiboken6 import isValid

    existing = getattr(window, attribute, None)
    if existing is not None and isValid(existing) and existing.isVisible():
        if on_existing is not None:
            on_existing(existing)
        existing.raise_()
        existing.activateWindow()
        return existing
    dialog = make()
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    setattr(window, attribute, dialog)
    dialog.show()
    return dialog


class _OnClose(QObject):
    """Runs a callback when the watched window closes (a part's workers must not outlive it)."""

    def __init__(self, callback: Callable[[], None], parent):
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close:
            self._callback()
        return False


def on_close(window, callback: Callable[[], None]) -> None:
    """Call ``callback`` when ``window`` closes (stop a part's background work)."""
    window.installEventFilter(_OnClose(callback, window))


def add_hidden_panel(window, panel, title: str) -> tuple:
    """Dock ``panel`` at the bottom of ``window``, hidden until shown; return (dock, reveal)."""
    dock = window.add_panel(panel, title, Qt.DockWidgetArea.BottomDockWidgetArea)
    dock.hide()

    def reveal() -> None:
        dock.show()
        dock.raise_()

    return dock, reveal
