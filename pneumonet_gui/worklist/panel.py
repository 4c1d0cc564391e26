"""The Worklist panel: Pneumonet's DICOM listener in the background, and the studies it receives
in triage order (likely pneumonias first), each one a double-click away from the viewer.

Start runs :func:`pneumonet_gui.worklist.serve.serve` as a worker job with the app's one
classifier (``ActiveModel``: the viewer, batch runs and the listener share it, waiting for
it while it loads; a model switched to while listening is handed to the listener). Stop
cancels the job, which stops the listener. The settings (port, AE title, storage folder)
come from the app's settings (:mod:`pneumonet_gui.worklist.node_settings`, edited in File ▸
Preferences). Patient identifiers are hidden unless "Hide identifiers" is unticked.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pneumonet_gui import workers
from pneumonet_gui.active_model import NO_MODEL, ActiveModel
from pneumonet_gui.wizard.common import push_button
from pneumonet_gui.worklist import node_settings
from pneumonet_gui.worklist.serve import Started, serve
from pneumonet_gui.worklist.table_model import ROW_ROLE, WorklistTableModel, scan_path


class WorklistPanel(QWidget):
    """Start/Stop the listener; the incoming studies, sorted for triage; open one in the viewer."""

    #: A study was double-clicked: the received file to show.
    openRequested = Signal(str)
    #: The listener is listening: the port it bound.
    listening = Signal(int)
    #: The listener stopped: "" after Stop, else the one-line reason it could not run.
    stopped = Signal(str)
    #: Studies changed (after each batch of listener events).
    studiesChanged = Signal()
    #: "Settings…" was pressed (the main window opens its Preferences).
    settingsRequested = Signal()

    def __init__(self, model: ActiveModel, settings, parent=None):
        super().__init__(parent)
        self.setObjectName("worklistPanel")
        self.active_model = model
        self.settings = settings
        self.worker: workers.Worker | None = None
        self.listener = None
        self.port: int | None = None
        self._waiting_for_model = False
        self._error = ""

        self.start_button = push_button("Start listening", self.start, "Receive images from modalities and PACS, "
                                        "classify them, answer with SR and heat-map captures")
        self.stop_button = push_button("Stop", self.stop)
        self.settings_button = push_button("Settings\u2026", self.settingsRequested.emit,
                                           "Port, AE title and storage folder (File \u25b8 Preferences)")
        self.status_label = QLabel()
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)
        self.hide_box = QCheckBox("Hide identifiers")
        self.hide_box.setChecked(True)
        self.hide_box.setToolTip("Show patients as Patient 1, Patient 2\u2026 and mask IDs and study dates")
        top = QHBoxLayout()
        for widget in (self.start_button, self.stop_button, self.settings_button):
            top.addWidget(widget)
        top.addWidget(self.status_label, 1)
        top.addWidget(self.hide_box)

        self.model = WorklistTableModel(parent=self)
        self.hide_box.toggled.connect(self.model.set_hide_identifiers)
        self.table = QTableView()
        self.table.setObjectName("worklistTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._open)
        self.event_label = QLabel()
        self.event_label.setObjectName("muted")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.event_label)
        model.loaded.connect(self._model_loaded)
        model.failed.connect(self._model_failed)
        self._show_state()

    # --- public API --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None or self._waiting_for_model

    @property
    def rows(self):
        """The studies as the table shows them, likely pneumonias first."""
        return list(self.model.rows)

    def start(self) -> bool:
        """Start the listener with the saved settings (after the model has loaded); False if it cannot."""
        if self.running:
            return False
        try:
            node = node_settings.load(self.settings).checked()
        except ValueError as exc:
            return self._fail(f"the listener settings are wrong: {exc}")
        state = self.active_model.state
        if state == "loading":
            self._waiting_for_model = True
            self._show_state("Waiting for the model to load\u2026")
            return True
        if self.active_model.classifier is None:
            return self._fail(self.active_model.error or NO_MODEL)
        self._error = ""
        self.worker = workers.start(serve, node, self.active_model.classifier,
                                    _connect={"yielded": self._on_yielded, "failed": self._fail,
                                              "finished": self._on_finished})
        self._show_state(f"Starting: {node.describe()}\u2026")
        return True

    def stop(self) -> None:
        """Stop listening; what was received and not yet answered is done on the next start."""
        self._waiting_for_model = False
        if self.worker is not None:
            self.worker.quit()
            self.stop_button.setEnabled(False)
            self.status_label.setText("Stopping\u2026")
        else:
            self._show_state()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop and wait for the listener to end (the window is closing)."""
        self._waiting_for_model = False
        if self.worker is not None:
            worker = self.worker
            worker.quit()
            worker.wait(timeout)

    def refresh_state(self) -> None:
        """Say again what the listener does (after its settings changed)."""
        self._show_state()

    def select_row(self, row: int) -> None:
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def open_row(self, row: int) -> None:
        """Open a study in the viewer, as a double-click does."""
        self._open(self.model.index(row, 0))

    # --- the job (GUI thread) ----------------------------------------------------------
    def _on_yielded(self, value) -> None:
        if isinstance(value, Started):
            self.listener, self.port = value.listener, value.port
            self._show_state()
            self.listening.emit(value.port)
            return
        selected = self._selected_study()
        self.model.apply(value)
        if selected is not None and (row := self.model.row_of(selected)) >= 0:
            self.select_row(row)
        self.event_label.setText(value[-1].line())  # the log line names objects, never patients
        self.studiesChanged.emit()

    def _on_finished(self) -> None:
        self.worker, self.listener, self.port = None, None, None
        self._show_state(f"Stopped: {self._error}" if self._error else "Stopped.")
        self.stopped.emit(self._error)

    def _fail(self, message: str) -> bool:
        self._error = message
        self._waiting_for_model = False
        if self.worker is None:
            self._show_state(f"Stopped: {message}")
            self.stopped.emit(message)
        return False

    def _model_loaded(self, classifier) -> None:
        if self.listener is not None:
            self.listener.classifier = classifier  # the listener's next batch uses the model switched to
        if self._waiting_for_model:
            self._waiting_for_model = False
            self.start()

    def _model_failed(self, message: str) -> None:
        if self._waiting_for_model:
            self._fail(message)

    def _selected_study(self) -> str | None:
        index = self.table.selectionModel().currentIndex()
        return index.data(ROW_ROLE).study_uid if index.isValid() else None

    def _open(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        path = scan_path(index.data(ROW_ROLE))
        if path is not None:
            self.openRequested.emit(str(path))

    def _show_state(self, text: str | None = None) -> None:
        listening = self.port is not None
        self.start_button.setEnabled(not self.running)
        self.stop_button.setEnabled(self.running)
        if text is None:
            node = node_settings.load(self.settings)
            if listening:
                who = "the allowed callers on the network" if node.accept_remote else "this computer only"
                text = (f"Listening as {node.ae_title} on port {self.port} (calls from {who}); "
                        f"storing in {node.out_dir}.")
            else:
                text = f"Stopped. Start to listen with {node.describe()}."
        self.status_label.setText(text)
