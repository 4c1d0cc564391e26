"""What the window shows of its scan work: the scan, its result and heat map, the model in
use, and what went wrong, in the viewer, the result panel, the banners and the status bar.

The viewer controller and the active model say what happened; this puts it on screen, so
the main window only assembles widgets and the controller knows no widget. It receives the
widgets and presenters it keeps in step as one :class:`~pneumonet_gui.window_parts.ScanParts`,
not the window, and asks the window for the rest through a signal (``scanOpenChanged``:
the commands enable their tools).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from pneumonet_core.results import WITHHELD_MESSAGE, decision_words
from pneumonet_gui.privacy import names_patient
from pneumonet_gui.subtype_heatmap import SubtypeHeatmap
from pneumonet_gui.subtype_view import subtype_model_note
from pneumonet_gui.window_parts import ScanParts

WAITING_FOR_MODEL = "Waiting for the model to load\u2026"
WAITING_FOR_RESULT = "Waiting for the result\u2026"


class ScanPresenter(QObject):
    """Connects the controller's and the model's signals to the window's widgets."""

    #: A scan is (True) or is no longer (False) on screen: the tools that act on one follow.
    scanOpenChanged = Signal(bool)

    def __init__(self, parts: ScanParts, parent: QObject | None = None):
        super().__init__(parent)
        self.parts = parts  # "w" below: the widgets and presenters it keeps in step
        self.model_note = ""  # after the model's name in the Model menu: where the choice came from
        self._model_error: str | None = None  # stays on the error banner until a model loads
        self._scan_error: str | None = None
        c, m = parts.controller, parts.active_model
        c.scanOpened.connect(self._on_scan_opened)
        c.scanFailed.connect(self._on_scan_failed)
        c.classified.connect(self._on_classified)
        c.analysisFailed.connect(self._on_analysis_failed)
        c.heatmapReady.connect(self._on_heatmap)
        c.heatmapFailed.connect(self._on_heatmap_failed)
        c.reanalysing.connect(self._on_reanalysing)
        c.finished.connect(self._on_finished)
        m.loading.connect(self._on_model_loading)
        m.loaded.connect(self._on_model_loaded)
        m.failed.connect(self._on_model_failed)
        #: The "Explain: bacterial/viral" heat map (after the connections above: a result shows first).
        self.subtype_heatmap = SubtypeHeatmap(c, m, parts.heatmap_presenter, parts.heatmap_controls, parent)

    # --- the scan -----------------------------------------------------------------------
    def opening(self, path: Path, decoded: bool = False) -> None:
        """A new scan replaces the old one on screen (``decoded``: it is in memory already)."""
        w = self.parts
        self.set_scan_error(None)
        w.warning_banner.clear()
        w.viewer.set_heatmap(None)
        w.heatmap_controls.set_status(WAITING_FOR_RESULT)
        w.heatmap_controls.set_legend_visible(False)
        w.view_presenter.opening(path)
        if not decoded:
            # The previous patient's image and data must not stay on screen under the new title.
            w.viewer.clear()
            self.set_scan_open(False)
            w.metadata_panel.clear()
            w.status_bar.showMessage(f"Opening {w.view_presenter.shown_name(path)}\u2026")
            w.result_panel.show_waiting(f"Opening {w.view_presenter.shown_name(path)}\u2026")
        self.update_busy()

    def _on_scan_opened(self, scan) -> None:
        w = self.parts
        header = w.controller.current.header
        w.viewer.set_scan(scan)
        w.invert_action.setChecked(False)
        w.stack.setCurrentWidget(w.viewer)
        self.set_scan_open(True)
        w.metadata_panel.set_scan(scan, header)
        w.warning_banner.set_lines(scan.warnings)
        if Path(scan.path).exists():
            w.recent.add(scan.path, identifying=names_patient(Path(scan.path).resolve(), scan.metadata))
        w.view_presenter.opened(scan, header)
        waiting = WAITING_FOR_MODEL if w.active_model.state == "loading" else "Analysing\u2026"
        w.result_panel.show_waiting(waiting)
        self._status(f"{Path(scan.path).name}: {waiting}")
        self.update_busy()

    def set_scan_open(self, is_open: bool) -> None:
        """Tools act on a scan: without one on screen they are disabled, and so is the heat map."""
        self.scanOpenChanged.emit(is_open)
        self.parts.heatmap_presenter.announce()

    def _on_scan_failed(self, message: str) -> None:
        w = self.parts
        w.viewer.clear()
        w.stack.setCurrentWidget(w.placeholder)
        self.set_scan_open(False)
        w.metadata_panel.clear()
        w.view_presenter.failed()
        self.set_scan_error(f"Could not open the scan: {message}")
        w.result_panel.show_error(message)
        w.heatmap_controls.set_status("")
        w.status_bar.showMessage(f"Could not open: {message}")

    def _on_classified(self, result) -> None:
        w = self.parts
        w.result_panel.show_result(result)
        w.thumbnails.set_result(result.path, result)
        w.heatmap_presenter.announce()
        if result.withheld:
            w.heatmap_controls.set_status("No heat map: the result is withheld for this scan.")
            self._status(f"{result.path.name}: {WITHHELD_MESSAGE}")
            return
        w.heatmap_controls.set_status("Computing the heat map\u2026")
        self._status(f"{result.path.name}: {decision_words(result.label)}, p = {result.probability:.3f}")

    def _on_analysis_failed(self, message: str) -> None:
        w = self.parts
        w.result_panel.show_error(message)
        w.heatmap_controls.set_status("")
        result = w.controller.current.result
        if result is not None:
            w.thumbnails.set_result(result.path, result)
        self.set_scan_error(f"Could not classify the scan: {message}")
        self._status(f"Could not classify: {message}")

    def _on_heatmap(self, _heat) -> None:
        self.parts.heatmap_presenter.apply()

    def _on_heatmap_failed(self, message: str) -> None:
        self.parts.heatmap_controls.set_status(f"Heat map unavailable: {message}")

    def _on_reanalysing(self) -> None:
        w = self.parts
        w.viewer.set_heatmap(None)
        w.heatmap_controls.set_legend_visible(False)
        self.set_scan_error(None)
        w.result_panel.show_waiting(WAITING_FOR_MODEL)
        w.heatmap_controls.set_status(WAITING_FOR_RESULT)
        w.heatmap_presenter.announce()
        self.update_busy()

    def _on_finished(self, _ok: bool) -> None:
        self.update_busy()
        self.parts.thumbnails.finished()

    def _status(self, message: str, timeout: int = 0) -> None:
        """A status-bar message about the open scan, as "Hide identifiers" allows."""
        w = self.parts
        w.status_bar.showMessage(w.view_presenter.shown_text(message, w.controller.current.path), timeout)

    # --- the model ----------------------------------------------------------------------
    def _on_model_loading(self, _path) -> None:
        w = self.parts
        w.status_fields.model.setText("Model: loading\u2026")
        w.result_panel.model.setText("Model: loading\u2026")
        w.status_bar.showMessage("Loading model\u2026")
        self.update_busy()

    def _on_model_loaded(self, classifier) -> None:
        w, card, path = self.parts, classifier.card, self.parts.active_model.path
        w.status_fields.model.setText(f"Model: {card.name} v{card.version}")
        w.status_fields.model.setToolTip(str(path))
        w.model_menu.set_active(card, path, self.model_note)
        w.result_panel.set_model(card, subtype_model_note(classifier))
        self._model_error = None
        self._refresh_error_banner()
        w.status_bar.showMessage(f"Model ready: {card.name} (version {card.version})", 5000)
        self.update_busy()

    def _on_model_failed(self, message: str) -> None:
        w = self.parts
        w.status_fields.model.setText("Model: none")
        w.model_menu.set_active(None, None, "No model loaded")
        w.result_panel.set_model(None)
        self._model_error = f"Model could not be loaded: {message}\nChoose another model in the Model menu."
        self._refresh_error_banner()
        w.status_bar.showMessage(f"Model could not be loaded: {message}")
        self.update_busy()

    # --- messages -----------------------------------------------------------------------
    def update_busy(self) -> None:
        current = self.parts.controller.current
        working = self.parts.active_model.state == "loading" or (current.path is not None and not current.done)
        self.parts.status_fields.busy.setVisible(working)

    def show_info(self, message: str) -> None:
        self.parts.info_banner.set_lines([message])
        self.parts.status_bar.showMessage(message, 10_000)

    def show_error(self, message: str) -> None:
        self.set_scan_error(message)
        self.parts.status_bar.showMessage(message, 10_000)

    def set_scan_error(self, message: str | None) -> None:
        self._scan_error = message
        self._refresh_error_banner()

    def _refresh_error_banner(self) -> None:
        """The model's error (until a model loads) and the current scan's, together."""
        self.parts.error_banner.set_lines([m for m in (self._model_error, self._scan_error) if m])
