"""Which heat map the reader sees, and where: over the scan, beside it, or not at all.

The heat map is drawn when the reader asks for it (H) *and* the result allows it (see
:func:`pneumonet_gui.trust.heatmap_policy`: PNEUMONIA decisions, NORMAL ones on request,
never a withheld result) *and* the first frame, the one classified, is on screen. In
"side by side" mode it moves from the scan to the compare pane. The legend shows with it.
"""

from __future__ import annotations

from pneumonet_gui.compare_view import HEATMAP
from pneumonet_gui.trust import heatmap_policy


class HeatmapPresenter:
    """Applies the heat-map rules to the viewer, the compare pane and the controls."""

    def __init__(self, window):
        self.w = window
        self.show_for_normal = False
        self.side_by_side = False
        self._drawn = None  # the heat map the viewer has rendered (re-rendering a large one is slow)

    @property
    def allowed(self) -> tuple[bool, str]:
        current = self.w.current
        if current.heatmap is None:
            return False, ""
        return heatmap_policy(current.result, self.show_for_normal)

    def set_show_for_normal(self, show: bool) -> None:
        self.show_for_normal = bool(show)
        w = self.w
        for box in (w.heatmap_controls.normal_box, w.normal_heatmap_action):
            if box.isChecked() != self.show_for_normal:
                box.setChecked(self.show_for_normal)
        self.apply()

    def set_side_by_side(self, on: bool) -> None:
        self.side_by_side = bool(on)
        if self.w.compare_heatmap_action.isChecked() != self.side_by_side:
            self.w.compare_heatmap_action.setChecked(self.side_by_side)
        if not self.side_by_side and self.w.compare_pane.mode == HEATMAP:
            self.w.compare_pane.stop()
        self.apply()

    def apply(self) -> None:
        """Put the heat map where the rules say, and say why when it is not there."""
        w, current = self.w, self.w.current
        allowed, note = self.allowed
        wanted = w.heatmap_action.isChecked()
        first_frame = w.cine_bar.index == 0
        heat = current.heatmap if allowed else None
        if heat is None and w.viewer.has_heatmap():
            w.viewer.set_heatmap(None)
        elif heat is not None and (heat is not self._drawn or not w.viewer.has_heatmap()):
            w.viewer.set_heatmap(heat)
        self._drawn = heat
        w.viewer.set_overlay_visible(allowed and wanted and first_frame and not self.side_by_side)
        if self.side_by_side and current.scan is not None:
            w.compare_pane.show_heatmap(current.scan, current.heatmap if allowed else None,
                                        w.viewer.colormap, w.viewer.overlay_opacity, "" if allowed else "none shown")
        shown = allowed and (wanted or self.side_by_side)
        w.heatmap_controls.set_legend_visible(shown)
        if current.heatmap is not None or note:
            if allowed and not first_frame:
                note = "The heat map belongs to frame 1, the frame the model classified."
            elif allowed and not shown:
                note = "Heat map hidden (H shows it)."
            w.heatmap_controls.set_status(note)
