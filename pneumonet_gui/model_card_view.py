"""The model card widget: the readable page, the raw JSON behind a button, and the reliability
diagram, measured on a folder in a worker when the card stores none.

The Model ▸ card dialog and the model manager both show cards with it. The page itself is
built by :mod:`pneumonet_gui.card_page`; the diagrams are ``pneumonet_core.reports.charts``
PNGs, drawn in a worker (matplotlib would stall the window), then shown in the page.
"Measure on a folder…" classifies a labelled folder with the card's model through
``pneumonet_core.evaluation.comparison.measure``: the figures and the diagram are shown
for the session and never written into the card.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from pneumonet_gui import theme, workers
from pneumonet_gui.card_page import card_html, measured_section, reliability_charts
from pneumonet_gui.data_folders import default_external_folder, remember_external_folder
from pneumonet_gui.wizard.common import monospace, push_button

CHART_SIZE_IN, CHART_DPI = 3.0, 100
#: The diagrams in the app's dark colours (the PDFs keep theirs for paper).
CHART_COLOURS = {"face": theme.BASE, "text": theme.TEXT, "muted": theme.MUTED, "line": theme.ACCENT,
                 "diagonal": theme.MUTED}


def render_reliability(curves: list[tuple[str, dict, float | None]]) -> dict[str, bytes]:
    """PNG bytes of each (key, curve, ECE) reliability diagram (runs in a worker)."""
    from pneumonet_core.reports.charts import reliability_png

    return {key: reliability_png(curve, ece, size_in=CHART_SIZE_IN, dpi=CHART_DPI, colours=CHART_COLOURS)
            for key, curve, ece in curves}


def measure_on_folder(model_path, folder, should_stop, progress) -> tuple[dict, dict[str, bytes]]:
    """The card's model on a labelled folder: its figures and its reliability diagram (runs in a worker)."""
    from pneumonet_core.evaluation.comparison import DataSet, measure
    from pneumonet_core.inference.classifier import Classifier

    folder = Path(folder)
    figures = measure(Classifier.load(model_path), DataSet(folder.name, folder), should_stop, progress)
    return figures, render_reliability([("measured", figures["reliability"], figures.get("ece"))])


class ModelCardView(QWidget):
    """Show one card (:meth:`show_card`); ``toPlainText()`` is what a person reads now."""

    #: The stored reliability diagrams are drawn and shown.
    chartsReady = Signal()
    #: "Measure on a folder…" ended: "" when measured, else the error (cancelled: "cancelled").
    measureFinished = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.card = None
        self.path: Path | None = None
        self.images: dict[str, QImage] = {}
        self.measured: tuple[str, dict] | None = None
        self._banner: tuple[str, ...] = ()
        self._charts: list[tuple[str, str]] = []
        self._render_job: workers.Worker | None = None
        self._measure_job: workers.Worker | None = None

        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setFont(monospace())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.browser)
        self.stack.addWidget(self.raw)
        self.raw_button = QPushButton("Raw JSON")
        self.raw_button.setCheckable(True)
        self.raw_button.setToolTip("The card exactly as stored in the model file (card.json)")
        self.raw_button.toggled.connect(self.show_raw)
        self.measure_button = push_button("Measure on a folder\u2026", self.choose_folder,
                                          "Classify a labelled folder (NORMAL/ and PNEUMONIA/) with this model and "
                                          "draw its reliability diagram; nothing is written into the card")
        self.cancel_button = push_button("Cancel", self.cancel_measure)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.raw_button)
        buttons.addWidget(self.measure_button)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.status, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self._set_measuring(False)

    # --- showing -----------------------------------------------------------------------
    def show_card(self, card, path=None, banner=()) -> None:
        """Show ``card`` (of the model file ``path``), with ``banner`` lines under its name."""
        self.cancel_measure()
        self.card, self.path, self._banner = card, (Path(path) if path else None), tuple(banner)
        self.images, self.measured = {}, None
        self.raw.setPlainText(card.to_json())
        stored = reliability_charts(card)
        self._charts = [(key, title) for key, title, _, _ in stored]
        self.measure_button.setEnabled(self.path is not None)
        self.status.setText("")
        self.refresh()
        if stored:
            self._render_job = workers.start(render_reliability, [(k, c, e) for k, _, c, e in stored],
                                             _connect={"returned": lambda pngs, c=card: self._rendered(c, pngs)})

    def show_message(self, text: str) -> None:
        """No card to show: say why."""
        self.cancel_measure()
        self.card = self.path = None
        self.browser.setPlainText(text)
        self.raw.setPlainText("")
        self.measure_button.setEnabled(False)

    def refresh(self) -> None:
        """Lay the page out again (after a chart or a measurement arrived), keeping the scroll position."""
        if self.card is None:
            return
        charts = list(self._charts)
        extra = ""
        if self.measured is not None:
            folder, figures = self.measured
            charts.append(("measured", f"Measured on {folder}"))
            extra = measured_section(folder, figures)
        document = self.browser.document()
        for key, image in self.images.items():
            document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"chart:{key}"), image)
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml(card_html(self.card, self.path, self._banner, charts, extra))
        self.browser.verticalScrollBar().setValue(scroll)

    def show_raw(self, raw: bool) -> None:
        self.stack.setCurrentIndex(1 if raw else 0)
        self.raw_button.setText("Readable card" if raw else "Raw JSON")
        if self.raw_button.isChecked() != raw:
            self.raw_button.setChecked(raw)

    def toPlainText(self) -> str:  # reads like the text widgets it replaces
        return self.stack.currentWidget().toPlainText()

    def _rendered(self, card, pngs: dict[str, bytes]) -> None:
        if card is not self.card:
            return  # another card is shown now
        for key, png in pngs.items():
            self.images[key] = QImage.fromData(png)
        self.refresh()
        self.chartsReady.emit()

    # --- measuring ---------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = default_external_folder()
        folder = QFileDialog.getExistingDirectory(self, "Measure the model on a labelled folder",
                                                  str(start) if start else "")
        if folder:
            self.measure(folder)

    def measure(self, folder) -> workers.Worker | None:
        """Classify ``folder`` with the card's model in a worker; :attr:`measureFinished` tells the end."""
        if self.card is None or self.path is None or self._measure_job is not None:
            return None
        folder, card = Path(folder), self.card
        remember_external_folder(folder)
        self.status.setText(f"Classifying {folder} with {card.name}\u2026")
        self.progress.setRange(0, 0)
        self._set_measuring(True)
        self._measure_job = workers.start(
            measure_on_folder, self.path, folder, _error_path=folder,
            _connect={"progress": self._progress,
                      "returned": lambda result: self._measured(card, folder, result),
                      "failed": lambda message: self._measure_ended(card, f"Could not measure: {message}", message)})
        return self._measure_job

    def cancel_measure(self) -> None:
        if self._measure_job is not None:
            self._measure_job.quit()
            self._measure_job = None
            self._set_measuring(False)
            self.status.setText("Cancelled.")
            self.measureFinished.emit("cancelled")

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _measured(self, card, folder: Path, result) -> None:
        figures, pngs = result
        if card is not self.card:
            return
        self.images["measured"] = QImage.fromData(pngs["measured"])
        self.measured = (folder.name, figures)
        self.refresh()
        self._measure_ended(card, f"Measured on {figures['n']} films of {folder}; shown below the figures.", "")

    def _measure_ended(self, card, text: str, outcome: str) -> None:
        if card is not self.card:
            return
        self._measure_job = None
        self._set_measuring(False)
        self.status.setText(text)
        self.measureFinished.emit(outcome)

    def _set_measuring(self, measuring: bool) -> None:
        self.progress.setVisible(measuring)
        self.cancel_button.setVisible(measuring)
        self.measure_button.setEnabled(not measuring and self.path is not None)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a measurement and wait for the jobs (the dialog is closing)."""
        for job in (self._measure_job, self._render_job):
            if job is not None:
                job.quit()
                job.wait(timeout)
