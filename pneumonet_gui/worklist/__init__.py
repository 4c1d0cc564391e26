"""The Worklist panel: the DICOM listener in the background and its studies in triage order.

:func:`attach_to_main_window` (called by the main window for its extension modules) docks
the panel (hidden until opened from View ▸ Worklist or File ▸ Worklist…), opens a study's
file in the viewer on a double-click, and stops the listener when the window closes.
"""

from pneumonet_gui.worklist.attach import attach_to_main_window
from pneumonet_gui.worklist.panel import WorklistPanel

__all__ = ["WorklistPanel", "attach_to_main_window"]
