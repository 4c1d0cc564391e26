"""How the app's optional parts plug into the main window.

Each module in :data:`EXTENSION_MODULES` may define ``attach_to_main_window(window)``; a
module missing from a build is skipped, and one that breaks is reported on the info
banner without taking the viewer down. The window offers them the small interface
:class:`WindowHost` describes, and nothing else: they record what they attached as an
:class:`Extension` in ``window.extensions`` (rather than writing attributes onto the
window), take dropped folders through ``set_folder_handler``, and open their dialogs
once per window (:func:`open_once`, kept in ``window.dialogs``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, SignalInstance
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

if TYPE_CHECKING:  # for the annotations only: the window imports this module
    from pneumonet_gui.active_model import ActiveModel
    from pneumonet_gui.banner import Banner
    from pneumonet_gui.model_menu import ModelMenu

log = logging.getLogger(__name__)

EXTENSION_MODULES = ("pneumonet_gui.model_manager", "pneumonet_gui.wizard", "pneumonet_gui.batch",
                     "pneumonet_gui.worklist", "pneumonet_gui.preferences")


@dataclass(frozen=True)
class Extension:
    """What an extension attached to the window: its panel, the panel's dock, its menu entry."""

    widget: QWidget | None = None
    dock: QDockWidget | None = None
    action: QAction | None = None


class WindowHost(Protocol):
    """What the main window offers its extensions (:class:`~pneumonet_gui.main_window.MainWindow`)."""

    settings: QSettings
    active_model: ActiveModel
    file_menu: QMenu
    view_menu: QMenu
    model_menu: ModelMenu
    info_banner: Banner
    filesDropped: SignalInstance  # a Qt signal keeps Qt's spelling
    extensions: dict[str, Extension]
    dialogs: dict[str, QWidget]

    def add_panel(self, widget: QWidget, title: str, area: Qt.DockWidgetArea = ...) -> QDockWidget: ...

    def add_file_action(self, action: QAction, place: str) -> None: ...

    def set_folder_handler(self, handler: Callable[[list[Path]], None]) -> None: ...

    def show_scan(self, path) -> None: ...

    def set_model(self, path=None) -> None: ...

    def installEventFilter(self, watcher: QObject) -> None: ...  # Qt's own method


def attach_extensions(window: WindowHost, names=EXTENSION_MODULES) -> None:
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


def _failed(window: WindowHost, name: str, exc: BaseException) -> None:
    log.error("%s could not be loaded", name, exc_info=exc)
    window.info_banner.set_lines([f"{name} could not be loaded: {type(exc).__name__}: {exc}"])


def open_once(window: WindowHost, name: str, make: Callable, on_existing: Callable | None = None):
    """Show the window's dialog kept as ``window.dialogs[name]``, making it with ``make()`` unless one is open."""
    from shiboken6 import isValid

    existing = window.dialogs.get(name)
    if existing is not None and isValid(existing) and existing.isVisible():
        if on_existing is not None:
            on_existing(existing)
        existing.raise_()
        existing.activateWindow()
        return existing
    dialog = make()
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    window.dialogs[name] = dialog
    dialog.show()
    return dialog


class _OnClose(QObject):
    """Runs a callback when the watched window closes (a part's workers must not outlive it)."""

    def __init__(self, callback: Callable[[], None], parent):
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Close:
            self._callback()
        return False


def on_close(window: WindowHost, callback: Callable[[], None]) -> None:
    """Call ``callback`` when ``window`` closes (stop a part's background work)."""
    window.installEventFilter(_OnClose(callback, window))


def add_hidden_panel(window: WindowHost, panel: QWidget, title: str) -> tuple[QDockWidget, Callable[[], None]]:
    """Dock ``panel`` at the bottom of ``window``, hidden until shown; return (dock, reveal)."""
    dock = window.add_panel(panel, title, Qt.DockWidgetArea.BottomDockWidgetArea)
    dock.hide()

    def reveal() -> None:
        dock.show()
        dock.raise_()

    return dock, reveal
