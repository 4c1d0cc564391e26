"""The batch panel: classify a folder in a worker, see every result in a sortable table, export.

A plain widget over the app's :class:`~pneumonet_gui.active_model.ActiveModel`: a run uses
the classifier the viewer uses (waiting for it while it loads). The main window docks the
panel and connects :attr:`BatchPanel.scanSelected` to ``show_scan``; tests drive it alone.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pneumonet_core.reports.summary import FILTER_TITLES, FILTERS, BatchSummary
from pneumonet_gui import theme, workers
from pneumonet_gui.active_model import NO_MODEL, ActiveModel
from pneumonet_gui.batch.export import write_export
from pneumonet_gui.batch.run import GUI_BATCH_SIZE, BatchRun, classify_scans, common_parent
from pneumonet_gui.batch.table_model import RESULT_ROLE, BatchTableModel
from pneumonet_gui.batch.table_view import BatchTableView
from pneumonet_gui.export_dialog import ExportDialog


class BatchPanel(QWidget):
    """Open a folder, watch the batch run, filter and sort the results, export them."""

    #: A row was selected: the scan's path (the main window shows it with its heat map).
    scanSelected = Signal(str)
    #: A run ended: True when cancelled.
    batchFinished = Signal(bool)
    #: An export ended: path, error message ("" when written).
    exportFinished = Signal(str, str)

    def __init__(self, model: ActiveModel, batch_size: int = GUI_BATCH_SIZE, parent=None):
        super().__init__(parent)
        self.setObjectName("batchPanel")
        self.setAcceptDrops(True)
        self.active_model = model
        self.batch_size = batch_size
        self.run: BatchRun | None = None
        self.worker: workers.Worker | None = None
        self._waiting: list[Path] | None = None  # a run's paths while the model loads
        self._exports: list[workers.Worker] = []
        self._build()
        self._set_running(False)
        model.loaded.connect(lambda _classifier: self._start_waiting())
        model.failed.connect(lambda _message: self._start_waiting())

    # --- construction ------------------------------------------------------------------
    def _build(self) -> None:
        self.open_button = QPushButton("Open folder\u2026")
        self.open_button.setToolTip("Classify every PNG, JPEG and DICOM file in a folder and its sub-folders")
        self.open_button.clicked.connect(self.choose_folder)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the scans being classified now; keep every result so far")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setMinimumWidth(180)
        self.progress_label = QLabel("Open a folder to classify every scan in it.")
        self.progress_label.setObjectName("muted")
        self.progress_label.setWordWrap(True)  # a long status wraps rather than widening the window
        top = QHBoxLayout()
        for w in (self.open_button, self.cancel_button):
            top.addWidget(w)
        top.addWidget(self.progress_bar, 1)
        top.addWidget(self.progress_label, 1)

        self.filter_box = QComboBox()
        for name in FILTERS:
            self.filter_box.addItem(FILTER_TITLES[name], name)
        self.filter_box.currentIndexChanged.connect(lambda _i: self.set_filter(self.filter_box.currentData()))
        self.export_buttons = {}
        self.export_dialog: ExportDialog | None = None
        second = QHBoxLayout()
        second.addWidget(QLabel("Show"))
        second.addWidget(self.filter_box)
        second.addStretch(1)
        export_label = QLabel("Export, de-identified:")  # short: the long form made the panel 800 px wide
        export_label.setToolTip("Exports are de-identified unless you choose otherwise in the export dialog")
        second.addWidget(export_label)
        for kind, text in (("csv", "CSV\u2026"), ("json", "JSON\u2026"), ("pdf", "PDF report\u2026")):
            button = QPushButton(text)
            button.clicked.connect(lambda _c=False, k=kind: self.choose_export(k))
            self.export_buttons[kind] = button
            second.addWidget(button)

        self.model = BatchTableModel(self)
        self.table = BatchTableView(self.model)
        self.proxy = self.table.proxy
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.doubleClicked.connect(self._on_activated)

        self.summary_label = QLabel("")
        self.summary_label.setObjectName("batchSummary")
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel("")
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)

        # The app's stylesheet draws disabled buttons like enabled ones; say which are off.
        self.setStyleSheet("QPushButton:disabled { color: #65686e; border-color: #2a2c30; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.status_label)

    # --- public API --------------------------------------------------------------------
    @property
    def results(self):
        """Every result of the last run, in the order the files were classified."""
        return list(self.model.results)

    @property
    def running(self) -> bool:
        return self.worker is not None or self._waiting is not None

    @property
    def cancelled(self) -> bool:
        return self.run is not None and self.run.cancelled

    @property
    def card(self):
        """The card of the model the last run used."""
        return self.run.card if self.run is not None else None

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Classify every scan in a folder")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder) -> bool:
        """Classify every scan in ``folder`` and its sub-folders; False when a run is already going."""
        return self.start([Path(folder)], root=Path(folder))

    def start(self, paths, root: Path | None = None) -> bool:
        """Classify files and folders (recursive) in a worker, with the app's model."""
        if self.running:
            self.status_label.setText("A batch is running: cancel it before starting another.")
            return False
        paths = [Path(p) for p in paths]
        if root is None and paths:
            root = paths[0] if len(paths) == 1 and paths[0].is_dir() else common_parent(paths)
        self.model.clear(root)
        self.run = BatchRun(root)
        self.progress_bar.setRange(0, 0)  # busy until the files are counted
        self.progress_label.setText(self.run.progress_text())
        self.summary_label.setText("")
        self.status_label.setText(f"Classifying {root}" if root else "")
        self._waiting = paths
        self._set_running(True)
        self._start_waiting()
        return True

    def cancel(self) -> None:
        """Stop after the model batch in progress; every result so far is kept."""
        if not self.running:
            return
        self.cancel_button.setEnabled(False)
        if self.worker is None:  # still waiting for the model: nothing has started
            self._waiting = None
            self._finish(cancelled=True)
            return
        self.worker.quit()
        self.progress_label.setText("Cancelling after the scans in progress\u2026")

    def set_filter(self, name: str) -> None:
        self.proxy.set_filter(name)
        index = self.filter_box.findData(name)
        if index != self.filter_box.currentIndex():
            self.filter_box.setCurrentIndex(index)

    def visible_results(self):
        """The results the table shows now, in its current order (after filter and sort)."""
        return self.table.visible_results()

    def select_row(self, row: int) -> None:
        """Select a row of the table as shown (emits :attr:`scanSelected`)."""
        self.table.select_row(row)

    def summary(self) -> BatchSummary:
        return BatchSummary.of(self.model.results)

    # --- exports -----------------------------------------------------------------------
    def choose_export(self, kind: str) -> ExportDialog | None:
        """Open the export dialog for ``kind`` (a new one each time: "Include patient identifiers" starts off)."""
        if not self.model.results or self.card is None:
            return None
        start = self.model.root / f"pneumonet-batch.{kind}" if self.model.root else Path(f"pneumonet-batch.{kind}")
        if self.export_dialog is not None:
            self.export_dialog.close()
        dialog = self.export_dialog = ExportDialog(kind, start, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.accepted.connect(lambda: self.export(kind, dialog.path, include_identifiers=dialog.include_identifiers))
        dialog.destroyed.connect(lambda *_: self._forget_dialog(dialog))
        dialog.open()  # window-modal, without blocking the event loop
        return dialog

    def _forget_dialog(self, dialog) -> None:
        if self.export_dialog is dialog:
            self.export_dialog = None

    def export(self, kind: str, path: Path, include_identifiers: bool = False) -> bool:
        """Write the results as ``kind`` ("csv", "json" or "pdf") to ``path`` in a worker.

        De-identified unless ``include_identifiers`` (the export dialog's opt-in).
        :attr:`exportFinished` tells when the file is there (written atomically).
        """
        if not self.model.results or self.card is None:
            self.status_label.setText("Nothing to export yet: classify a folder first.")
            return False
        path = Path(path)
        run = self.run
        self._exports.append(workers.start(
            write_export, kind, path, list(self.model.results), run.card, not include_identifiers,
            thumbnails=dict(self.model.thumbnails), model_path=run.model_path,
            note=run.interrupted_note(len(self.model.results)), _error_path=path,
            _connect={"returned": lambda _path: self._on_export_done(path, ""),
                      "failed": lambda message: self._on_export_done(path, message),
                      "finished": self._forget_finished_exports}))
        self.status_label.setText(f"Writing {path}\u2026")
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel a run and wait for the workers (the window is closing)."""
        self._waiting = None
        if self.worker is not None:
            self.worker.quit()
            self.worker.wait(timeout)
        for worker in self._exports:
            worker.wait(timeout)

    # --- the run (GUI thread) -----------------------------------------------------------
    def _start_waiting(self) -> None:
        """Start the run that waits for the model, once the model's state is settled."""
        if self._waiting is None or self.worker is not None:
            return
        model = self.active_model
        if model.state == "loading":
            self.progress_label.setText("Waiting for the model to load\u2026")
            return
        paths, self._waiting = self._waiting, None
        if model.classifier is None:
            self._on_failed(model.error or NO_MODEL)
            self._finish(cancelled=False)
            return
        self.run.classifier = model.classifier
        self.worker = workers.start(
            classify_scans, paths, model.classifier, batch_size=self.batch_size,
            _connect={"progress": self._on_progress, "yielded": self._on_rows, "failed": self._on_failed,
                      "finished": self._on_finished})

    def _on_progress(self, done: int, total: int) -> None:
        self.run.count(done, total)
        self.progress_bar.setRange(0, max(1, self.run.total))
        self.progress_bar.setValue(done)
        self.progress_label.setText(self.run.progress_text())

    def _on_rows(self, rows) -> None:
        for result, thumbnail in rows:
            self.model.append(result, thumbnail)
        self.table.fit_columns()  # Qt measures at most 1,000 rows: cheap for any batch
        self.summary_label.setText(self.summary().line())

    def _on_failed(self, message: str) -> None:
        self.status_label.setText(f"<span style='color:{theme.ERROR_FG}'>Batch stopped: {message}</span>")
        self.run.stopped_by = message

    def _on_finished(self) -> None:
        worker, self.worker = self.worker, None
        self._finish(cancelled=worker is not None and worker.abort_requested)

    def _finish(self, cancelled: bool) -> None:
        run, done = self.run, len(self.model.results)
        run.cancelled = cancelled
        self.progress_bar.setRange(0, max(1, run.total))
        self.progress_bar.setValue(done)
        self.progress_label.setText(run.end_text(done))
        self.summary_label.setText(self.summary().line() if run.total else "")
        if run.stopped_by is None:
            self.status_label.setText(run.interrupted_note(done) or "")
        self._set_running(False)
        self.batchFinished.emit(cancelled)

    def _on_export_done(self, path: Path, error: str) -> None:
        self.status_label.setText(f"Export failed: {error}" if error else f"Saved {path}")
        self.exportFinished.emit(str(path), error)

    def _forget_finished_exports(self) -> None:
        self._exports = [worker for worker in self._exports if worker.is_running]

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.scanSelected.emit(str(current.data(RESULT_ROLE).path))

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.scanSelected.emit(str(index.data(RESULT_ROLE).path))

    def _set_running(self, running: bool) -> None:
        self.open_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        has_results = bool(self.model.results) and not running
        for button in self.export_buttons.values():
            button.setEnabled(has_results)

    # --- drops: a folder dropped on the panel is classified ------------------------------
    @staticmethod
    def _dropped_paths(mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event) -> None:
        if self._dropped_paths(event.mimeData()) and not self.running:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = self._dropped_paths(event.mimeData())
        if paths and self.start(paths):
            event.acceptProposedAction()
