"""Grad-CAM for the bacterial/viral opinion, on request: the "Explain" choice beside the heat map.

The pneumonia map comes with the result (one pass of the model); the subtype map is
asked for: choosing "bacterial/viral" computes, in a worker, the subtype model's map of
the regions that drove its call (toward "viral" when it is undetermined) and shows it
with the same overlay and legend, which then says which question it explains. Choosing
"pneumonia" shows the pneumonia map again; a new scan, or a new result, starts from the
pneumonia map, and the choice is offered only for a result with an opinion.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from pneumonet_core.errors import PneumonetError
from pneumonet_gui.active_model import NO_MODEL
from pneumonet_gui.subtype_view import EXPLAIN_PNEUMONIA, EXPLAIN_SUBTYPE, SIDE_WORDS, heatmap_side, subtype_legend
from pneumonet_gui.workers import LatestJob

COMPUTING = "Computing the bacterial/viral heat map\u2026"


def subtype_heatmap(classifier, scan, toward: str):
    """The subtype model's Grad-CAM map of ``scan`` toward ``toward`` (runs in a worker)."""
    if classifier is None:
        raise PneumonetError(NO_MODEL)
    model = classifier.subtype.model()
    if model is None:
        raise PneumonetError(classifier.subtype.problem or "no bacterial/viral model is in use")
    return model.heatmap(scan, toward=toward)


class SubtypeHeatmap(QObject):
    """Keeps the "Explain" choice, computes the subtype map on request and hands it to the heat-map presenter."""

    def __init__(self, controller, active_model, heatmap_presenter, controls, parent=None):
        super().__init__(parent)
        self.controller, self.active_model = controller, active_model
        self.presenter, self.controls = heatmap_presenter, controls
        self._job = LatestJob()
        self._made = None  # (open scan, side, map): the last map made, reused when asked again
        controls.explainChanged.connect(self.set_explain)
        controller.classified.connect(self._on_classified)
        for ended in (controller.scanOpened, controller.scanFailed, controller.analysisFailed,
                      controller.reanalysing):
            ended.connect(lambda *_: self.reset())

    def reset(self) -> None:
        """Back to the pneumonia map, with bacterial/viral not offered (until a result has an opinion)."""
        self._job.cancel()
        self.controls.set_explain_available(False)  # back to "pneumonia", which clears the subtype map
        if self.presenter.subtype_map is not None:
            self.presenter.set_subtype_map(None, None)

    def _on_classified(self, result) -> None:
        self.reset()
        self.controls.set_explain_available(bool(getattr(result, "subtype", None)))

    def set_explain(self, choice: str) -> None:
        """``EXPLAIN_PNEUMONIA`` or ``EXPLAIN_SUBTYPE`` (the combo box, or a test)."""
        if choice != EXPLAIN_SUBTYPE:
            self._job.cancel()
            if self.presenter.subtype_map is not None:
                self.presenter.set_subtype_map(None, None)
            return
        current = self.controller.current
        if current.result is None or not current.result.subtype or current.scan is None:
            return
        toward = heatmap_side(current.result)
        if self._made is not None and self._made[0] is current and self._made[1] == toward:
            self.presenter.set_subtype_map(current, self._made[2], subtype_legend(toward))
            return
        self.controls.set_status(COMPUTING)
        self._job.start(subtype_heatmap, self.active_model.classifier, current.scan, toward,
                        _connect={"returned": lambda heat: self._on_map(current, toward, heat),
                                  "failed": self._on_failed})

    def _on_map(self, current, toward: str, heat) -> None:
        if self.controller.current is not current or self.controls.explain.currentText() != EXPLAIN_SUBTYPE:
            return  # asked for another scan, or switched back meanwhile
        self._made = (current, toward, heat)
        self.presenter.set_subtype_map(current, heat, subtype_legend(toward))

    def _on_failed(self, message: str) -> None:
        self.controls.explain.setCurrentText(EXPLAIN_PNEUMONIA)
        self.controls.set_status(f"Bacterial/viral heat map unavailable: {message}")

    def explaining(self) -> str:
        """Which side the map on screen explains ("viral", "bacterial"), or "pneumonia"."""
        current = self.controller.current
        if self.presenter.subtype_map is None or not self.presenter.explains_subtype(current):
            return EXPLAIN_PNEUMONIA
        return SIDE_WORDS[heatmap_side(current.result)]
