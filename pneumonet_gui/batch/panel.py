"""The batch panel: classify a folder on a worker, see every result in a sortable table, export.

A plain widget: the main window docks it and connects :attr:`BatchPanel.scanSelected` to
``show_scan``; tests drive it on its own.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QThread, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pneumonet_core.inference.batch import BatchProgress
from pneumonet_core.reports.summary import FILTER_TITLES, FILTERS, BatchSummary
from pneumonet_gui import theme
from pneumonet_gui.batch.table_model import (
    DECISION,
    FILE,
    PROBABILITY,
    RESULT_ROLE,
    THUMB,
    THUMB_SIZE,
    WARNINGS,
    BatchFilterProxy,
    BatchTableModel,
)
from pneumonet_gui.batch.worker import GUI_BATCH_SIZE, BatchWorker

EXPORT_KINDS = {"csv": "CSV (*.csv)", "json": "JSON (*.json)", "pdf": "PDF (*.pdf)"}


class ExportWorker(QThread):
    """Writes one export file off the GUI thread (a PDF of thousands of scans takes a while)."""

    done = Signal(str, str)  # path, error message ("" when written)

    def __init__(self, job, path: Path, parent=None):
        super().__init__(parent)
        self._job, self._path = job, Path(path)

    def run(self) -> None:
        try:
            self._job(self._path)
        except Exception as exc:  # noqa: BLE001 - a failed export is a message, not a crash
            from pneumonet_gui.analysis import error_message

            self.done.emit(str(self._path), error_message(exc, self._path))
            return
        self.done.emit(str(self._path), "")


class BatchPanel(QWidget):
    """Open a folder, watch the batch run, filter and sort the results, export them."""

    #: A row was selected: the scan's path (the main window shows it with its heat map).
    scanSelected = Signal(str)
    #: A run ended: True when cancelled.
    batchFinished = Signal(bool)
    #: An export ended: path, error message ("" when written).
    exportFinished = Signal(str, str)

    def __init__(self, classifier=None, model_path=None, batch_size: int = GUI_BATCH_SIZE, parent=None):
        super().__init__(parent)
        self.setObjectName("batchPanel")
        self.setAcceptDrops(True)
        self.classifier = classifier
        self.model_path = model_path
        self.batch_size = batch_size
        self.worker: BatchWorker | None = None
        self.progress: BatchProgress | None = None
        self.card = classifier.card if classifier is not None else None
        self.run_model_path = None
        self.cancelled = False
        self.total = 0
        self._exports: list[ExportWorker] = []
        self._build()
        self._set_running(False)

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
        top = QHBoxLayout()
        for w in (self.open_button, self.cancel_button):
            top.addWidget(w)
        top.addWidget(self.progress_bar, 1)
        top.addWidget(self.progress_label, 1)

        self.filter_box = QComboBox()
        for name in FILTERS:
            self.filter_box.addItem(FILTER_TITLES[name], name)
        self.filter_box.currentIndexChanged.connect(lambda _i: self.set_filter(self.filter_box.currentData()))
        self.deidentify_box = QCheckBox("De-identify exports")
        self.deidentify_box.setChecked(True)
        self.deidentify_box.setToolTip("Leave patient names, IDs and birth dates out of exported files and their names")
        self.export_buttons = {}
        second = QHBoxLayout()
        second.addWidget(QLabel("Show"))
        second.addWidget(self.filter_box)
        second.addStretch(1)
        second.addWidget(self.deidentify_box)
        second.addWidget(QLabel("Export"))
        for kind, text in (("csv", "CSV\u2026"), ("json", "JSON\u2026"), ("pdf", "PDF report\u2026")):
            button = QPushButton(text)
            button.clicked.connect(lambda _c=False, k=kind: self.choose_export(k))
            self.export_buttons[kind] = button
            second.addWidget(button)

        self.model = BatchTableModel(self)
        self.proxy = BatchFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("batchTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # arrival order until a header is clicked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 6)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in ((THUMB, THUMB_SIZE + 12), (FILE, 300), (PROBABILITY, 90), (DECISION, 100),
                           (WARNINGS, 220)):
            self.table.setColumnWidth(col, width)
        header.setStretchLastSection(True)
        self.table.setStyleSheet(
            f"QTableView {{ background: {theme.BASE}; alternate-background-color: #191a1d; color: {theme.TEXT};"
            f" border: 1px solid {theme.BORDER}; selection-background-color: #2d4f6c; }}")
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
        return self.worker is not None

    def set_classifier(self, classifier) -> None:
        """Use this loaded classifier for the next run."""
        self.classifier = classifier

    def set_model_path(self, path) -> None:
        """Use this model file for the next run (loaded then on the worker); None: the active model."""
        if path != self.model_path:
            self.model_path = path
            self.classifier = None

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Classify every scan in a folder")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder) -> bool:
        """Classify every scan in ``folder`` and its sub-folders; False when a run is already going."""
        return self.start([Path(folder)], root=Path(folder))

    def start(self, paths, root: Path | None = None) -> bool:
        """Classify files and folders (recursive) on the worker thread."""
        if self.running:
            self.status_label.setText("A batch is running: cancel it before starting another.")
            return False
        paths = [Path(p) for p in paths]
        if root is None and paths:
            root = paths[0] if len(paths) == 1 and paths[0].is_dir() else _common_parent(paths)
        self.model.clear(root)
        self.cancelled = False
        self.total = 0
        self.progress = None
        self.progress_bar.setRange(0, 0)  # busy until the files are counted
        self.progress_label.setText("Looking for scans\u2026")
        self.summary_label.setText("")
        self.status_label.setText(f"Classifying {root}" if root else "")
        worker = BatchWorker(paths, classifier=self.classifier, model_path=self.model_path,
                             batch_size=self.batch_size, parent=self)
        worker.found.connect(self._on_found)
        worker.resultReady.connect(self._on_result)
        worker.modelReady.connect(self._on_model_ready)
        worker.failed.connect(self._on_failed)
        worker.finishedRun.connect(self._on_finished)
        self.worker = worker
        self._set_running(True)
        worker.start()
        return True

    def cancel(self) -> None:
        """Stop after the model batch in progress; every result so far is kept."""
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling after the scans in progress\u2026")

    def set_filter(self, name: str) -> None:
        self.proxy.set_filter(name)
        index = self.filter_box.findData(name)
        if index != self.filter_box.currentIndex():
            self.filter_box.setCurrentIndex(index)

    def visible_results(self):
        """The results the table shows now, in its current order (after filter and sort)."""
        return [self.proxy.index(row, 0).data(RESULT_ROLE) for row in range(self.proxy.rowCount())]

    def select_row(self, row: int) -> None:
        """Select a row of the table as shown (emits :attr:`scanSelected`)."""
        index = self.proxy.index(row, FILE)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def summary(self) -> BatchSummary:
        return BatchSummary.of(self.model.results)

    # --- exports -----------------------------------------------------------------------
    def choose_export(self, kind: str) -> None:
        if not self.model.results or self.card is None:
            return
        start = str(self.model.root / f"pneumonet-batch.{kind}") if self.model.root else f"pneumonet-batch.{kind}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind.upper()}", start, EXPORT_KINDS[kind])
        if path:
            self.export(kind, Path(path))

    def export(self, kind: str, path: Path) -> bool:
        """Write the results as ``kind`` ("csv", "json" or "pdf") to ``path`` on a worker thread.

        :attr:`exportFinished` tells when the file is there (written atomically).
        """
        if not self.model.results or self.card is None:
            self.status_label.setText("Nothing to export yet: classify a folder first.")
            return False
        from pneumonet_core.reports import batch_pdf, tables

        results, card, deid = list(self.model.results), self.card, self.deidentify_box.isChecked()
        thumbs, model_path = dict(self.model.thumbnails), self.run_model_path
        note = self._interrupted_note()
        jobs = {
            "csv": lambda p: tables.write_csv(results, p, card, deidentify=deid),
            "json": lambda p: tables.write_json(results, p, card, deidentify=deid, model_path=model_path),
            "pdf": lambda p: batch_pdf.write_batch_report(p, results, card, thumbnails=thumbs, deidentify=deid,
                                                          title_note=note),
        }
        worker = ExportWorker(jobs[kind], path, self)
        worker.done.connect(self._on_export_done)
        worker.finished.connect(lambda w=worker: self._exports.remove(w) if w in self._exports else None)
        self._exports.append(worker)
        self.status_label.setText(f"Writing {path}\u2026")
        worker.start()
        return True

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Cancel a run and wait for the worker threads (the window is closing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(timeout_ms)
        for worker in list(self._exports):
            worker.wait(timeout_ms)

    # --- worker signals (GUI thread) ---------------------------------------------------
    def _on_found(self, total: int) -> None:
        self.total = total
        self.progress = BatchProgress(total)
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(0)
        self.progress_label.setText("Loading the model\u2026" if total else "No PNG, JPEG or DICOM files found.")

    def _on_model_ready(self, classifier) -> None:
        self.classifier = classifier
        self.card = classifier.card
        self.run_model_path = classifier.package.path
        if self.progress is not None:
            self.progress = BatchProgress(self.total)  # time left counts from here, not from the model load
        self.progress_label.setText(f"0 / {self.total} \u00b7 starting\u2026")

    def _on_result(self, result, thumbnail) -> None:
        self.model.append(result, thumbnail)
        if self.progress is not None:
            self.progress.advance()
            self.progress_bar.setValue(self.progress.done)
            self.progress_label.setText(self.progress.text())
        self.summary_label.setText(self.summary().line())

    def _on_failed(self, message: str) -> None:
        self.status_label.setText(f"<span style='color:{theme.ERROR_FG}'>Batch stopped: {message}</span>")

    def _on_finished(self, cancelled: bool) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        self.cancelled = cancelled
        done = len(self.model.results)
        self.progress_bar.setRange(0, max(1, self.total))
        self.progress_bar.setValue(done)
        if cancelled:
            self.progress_label.setText(f"Cancelled: {done} of {self.total} scans classified")
        elif self.total:
            elapsed = self.progress.elapsed if self.progress else 0.0
            self.progress_label.setText(f"Done: {done} scans in {elapsed:.1f} s")
        self.summary_label.setText(self.summary().line() if self.total else "")
        if not self.status_label.text().startswith("<span"):
            self.status_label.setText(self._interrupted_note() or "")
        self._set_running(False)
        self.batchFinished.emit(cancelled)

    def _on_export_done(self, path: str, error: str) -> None:
        self.status_label.setText(f"Export failed: {error}" if error else f"Saved {path}")
        self.exportFinished.emit(path, error)

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.scanSelected.emit(current.data(RESULT_ROLE).path)

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.scanSelected.emit(index.data(RESULT_ROLE).path)

    # --- helpers -----------------------------------------------------------------------
    def _interrupted_note(self) -> str | None:
        done = len(self.model.results)
        if self.cancelled and done < self.total:
            return f"Cancelled after {done} of {self.total} scans; the other files were not classified."
        return None

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

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped_paths(event.mimeData()) and not self.running:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = self._dropped_paths(event.mimeData())
        if paths and self.start(paths):
            event.acceptProposedAction()


def _common_parent(paths: list[Path]) -> Path | None:
    import os

    try:
        return Path(os.path.commonpath([str(p if p.is_dir() else p.parent) for p in paths]))
    except ValueError:
        return None
