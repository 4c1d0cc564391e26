"""Wire the batch panel into the viewer's main window.

Adds File > "Open folder…" (Ctrl+Shift+O), docks the panel at the bottom (hidden until
the first batch), takes dropped folders (``window.open_folders``, which the window's drop
handler calls) and several dropped files, and shows the scan of a selected row in the
viewer. The panel classifies with the window's own model (``window.active_model``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence

from pneumonet_gui.batch.panel import BatchPanel
from pneumonet_gui.extensions import add_hidden_panel, on_close


def attach_to_main_window(window) -> BatchPanel:
    """Add the batch panel and its menu entry to ``window``; return the panel."""
    panel = BatchPanel(window.active_model)
    dock, reveal = add_hidden_panel(window, panel, "Batch")

    def open_folder() -> None:
        reveal()
        panel.choose_folder()

    def open_paths(paths) -> None:
        reveal()
        paths = [Path(p) for p in paths]
        if len(paths) == 1 and paths[0].is_dir():
            panel.open_folder(paths[0])
        else:
            panel.start(paths)

    action = QAction("Open &folder\u2026", window)
    action.setShortcut(QKeySequence("Ctrl+Shift+O"))
    action.setToolTip("Classify every scan in a folder and its sub-folders (Ctrl+Shift+O)")
    action.setStatusTip(action.toolTip())
    action.triggered.connect(open_folder)
    actions = window.file_menu.actions()
    after = actions.index(window.open_action) + 1
    window.file_menu.insertAction(actions[after] if after < len(actions) else None, action)
    window.open_folder_action = action

    on_close(window, panel.shutdown)  # a running batch's worker must not outlive the window
    window.open_folders = open_paths  # the window's drop handler sends folders here
    window.filesDropped.connect(open_paths)  # several files dropped: the first is shown, all are classified
    panel.scanSelected.connect(window.show_scan)
    window.batch_panel, window.batch_dock = panel, dock
    return panel
