"""Wire the batch panel into the viewer's main window.

Adds File > "Open folder…" (Ctrl+Shift+O), docks the panel at the bottom (hidden until
the first batch), takes dropped folders (``window.set_folder_handler``) and several
dropped files, and shows the scan of a selected row in the viewer. The panel classifies
with the window's own model (``window.active_model``); it is recorded as
``window.extensions["batch"]``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence

from pneumonet_gui.batch.panel import BatchPanel
from pneumonet_gui.extensions import Extension, WindowHost, add_hidden_panel, on_close


def attach_to_main_window(window: WindowHost) -> BatchPanel:
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
    window.add_file_action(action, "open")

    on_close(window, panel.shutdown)  # a running batch's worker must not outlive the window
    window.set_folder_handler(open_paths)  # dropped folders are classified here
    window.filesDropped.connect(open_paths)  # several files dropped: the first is shown, all are classified
    panel.scanSelected.connect(window.show_scan)
    window.extensions["batch"] = Extension(panel, dock, action)
    return panel
