"""Wire the Worklist panel into the viewer's main window.

Docks the panel at the bottom (hidden until View ▸ Worklist or File ▸ Worklist… shows it),
opens a double-clicked study in the viewer (``window.show_scan``), opens Preferences from
its Settings… button, and stops the listener when the window closes. It is recorded as
``window.extensions["worklist"]``.
"""

from __future__ import annotations

from PySide6.QtGui import QAction

from pneumonet_gui.extensions import Extension, WindowHost, add_hidden_panel, on_close
from pneumonet_gui.worklist.panel import WorklistPanel


def attach_to_main_window(window: WindowHost) -> WorklistPanel:
    panel = WorklistPanel(window.active_model, window.settings)
    dock, reveal = add_hidden_panel(window, panel, "Worklist")

    def open_settings() -> None:
        from pneumonet_gui.preferences import open_preferences

        open_preferences(window)

    action = QAction("&Worklist (DICOM listener)\u2026", window)
    action.setToolTip("Receive studies from modalities and PACS; read the likely pneumonias first")
    action.setStatusTip(action.toolTip())
    action.triggered.connect(reveal)
    window.add_file_action(action, "export")
    panel.openRequested.connect(window.show_scan)
    panel.settingsRequested.connect(open_settings)
    on_close(window, panel.shutdown)  # the listener must not outlive the window
    window.extensions["worklist"] = Extension(panel, dock, action)
    return panel
