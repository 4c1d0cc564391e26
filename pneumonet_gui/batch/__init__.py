"""Batch classification in the app: the batch panel, its run and exports, and its results table.

:func:`attach_to_main_window` (called by the main window for its extension modules) adds
"Open folder…" (Ctrl+Shift+O) to the File menu, docks the panel, sends folder drops to
it, and shows the scan of a selected row in the viewer.
"""

from pneumonet_gui.batch.attach import attach_to_main_window
from pneumonet_gui.batch.panel import BatchPanel

__all__ = ["BatchPanel", "attach_to_main_window"]
