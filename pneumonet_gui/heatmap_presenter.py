"""Which heat map the reader sees, and where: over the scan, beside it, or not at all.

The heat map is drawn when the reader asks for it (H) *and* the result allows it (see
:func:`pneumonet_gui.trust.heatmap_policy`: PNEUMONIA decisions, NORMAL ones on request,
never a withheld result) *and* the first frame, the one classified, is on screen. In
"side by side" mode it moves from the scan to the compare pane. The legend shows with it.

The presenter holds the reader's three choices (shown, also for NORMAL, side by side) and
says when one changes, so the window keeps its keys, menus and check boxes in step. The
"Heat map" button and "Show heat map" box never claim a map that is not there: where the
rules hide it (no scan, no result yet, a NORMAL decision, a withheld one) they read off,
disabled, and ``availabilityChanged`` carries the reason for their tooltip.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from pneumonet_gui.cine import CineBar
from pneumonet_gui.compare_view import HEATMAP, SCAN, ComparePane
from pneumonet_gui.heatmap_controls import HeatmapControls
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.trust import heatmap_policy
from pneumonet_gui.viewer_controller import OpenScan


class HeatmapPresenter(QObject):
    """Applies the heat-map rules to the viewer, the compare pane and the controls."""

    visibleChanged = Signal(bool)
    showForNormalChanged = Signal(bool)
    sideBySideChanged = Signal(bool)
    #: (may a map be shown now, is it shown, why not): the window's button and box follow it.
    availabilityChanged = Signal(bool, bool, str)

    def __init__(self, current: Callable[[], OpenScan], viewer: ScanView, compare_pane: ComparePane,
                 controls: HeatmapControls, cine_bar: CineBar, parent=None):
        super().__init__(parent)
        self._current = current
        self.viewer, self.compare_pane, self.controls, self.cine_bar = viewer, compare_pane, controls, cine_bar
        self.visible = True
        self.show_for_normal = False
        self.side_by_side = False
        self._drawn = None  # the heat map the viewer has rendered (re-rendering a large one is slow)
        #: The bacterial/viral map shown instead of the pneumonia one, the open scan it belongs
        #: to, and its legend (:meth:`set_subtype_map`, from :mod:`pneumonet_gui.subtype_heatmap`).
        self.subtype_map, self._subtype_scan, self.subtype_legend = None, None, ""
        controls.opacityChanged.connect(viewer.set_overlay_opacity)
        controls.colormapChanged.connect(viewer.set_colormap)
        for signal in (controls.opacityChanged, controls.colormapChanged):  # the compare pane follows too
            signal.connect(lambda *_: self.apply() if self.side_by_side or compare_pane.mode == SCAN else None)

    @property
    def allowed(self) -> tuple[bool, str]:
        current = self._current()
        if self._heat_of(current) is None:
            return False, ""
        return heatmap_policy(current.result, self.show_for_normal)

    def _heat_of(self, current: OpenScan):
        """The map on offer: the bacterial/viral one when it was asked for, else the pneumonia one."""
        return self.subtype_map if self.explains_subtype(current) else current.heatmap

    def explains_subtype(self, current: OpenScan) -> bool:
        # Only for the scan it was made for: another scan (or a re-analysis) never shows it.
        return self.subtype_map is not None and self._subtype_scan is current

    def set_subtype_map(self, current: OpenScan | None, heat, legend: str = "") -> None:
        """Show the bacterial/viral ``heat`` map of ``current`` instead of the pneumonia one (None: back to it)."""
        self.subtype_map, self._subtype_scan, self.subtype_legend = heat, current, legend
        self.apply()

    def set_visible(self, visible: bool) -> None:
        """The H key, the View menu and the check box beside the result."""
        self.visible = bool(visible)
        self.visibleChanged.emit(self.visible)
        self.apply()

    def set_show_for_normal(self, show: bool) -> None:
        self.show_for_normal = bool(show)
        self.showForNormalChanged.emit(self.show_for_normal)
        self.apply()

    def set_side_by_side(self, on: bool) -> None:
        self.side_by_side = bool(on)
        self.sideBySideChanged.emit(self.side_by_side)
        if not self.side_by_side and self.compare_pane.mode == HEATMAP:
            self.compare_pane.stop()
        self.apply()

    def apply(self) -> None:
        """Put the heat map where the rules say, and say why when it is not there."""
        current, viewer = self._current(), self.viewer
        self.compare_pane.set_heatmap_choice(self.visible, self.show_for_normal)  # a compared scan, same rules
        allowed, note = self.allowed
        first_frame = self.cine_bar.index == 0
        heat = self._heat_of(current) if allowed else None
        if allowed and self.explains_subtype(current):
            note = self.subtype_legend  # says which question the map explains
        if heat is None and viewer.has_heatmap():
            viewer.set_heatmap(None)
        elif heat is not None and (heat is not self._drawn or not viewer.has_heatmap()):
            viewer.set_heatmap(heat)
        self._drawn = heat
        viewer.set_overlay_visible(allowed and self.visible and first_frame and not self.side_by_side)
        if self.side_by_side and current.scan is not None:
            self.compare_pane.show_heatmap(current.scan, heat,
                                           viewer.colormap, viewer.overlay_opacity, "" if allowed else "none shown")
        shown = allowed and (self.visible or self.side_by_side)
        self.controls.set_legend_visible(shown)
        if self._heat_of(current) is not None or note:
            if allowed and not first_frame:
                note = "The heat map belongs to frame 1, the frame the model classified."
            elif allowed and not shown:
                note = "Heat map hidden (H shows it)."
            self.controls.set_status(note)
        self.announce()

    def announce(self) -> None:
        """Say whether a heat map can be shown for the scan on screen, and why not."""
        current = self._current()
        allowed, note = self.allowed
        if allowed:
            why = ""
        elif current.scan is None:
            why = "No scan open"
        elif current.heatmap is None and not (current.result is not None and current.result.withheld):
            why = "No heat map yet for this scan"
        else:
            why = note or "No heat map for this scan"
        self.availabilityChanged.emit(allowed, allowed and self.visible, why)
