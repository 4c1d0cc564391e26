"""Page 4, Training: ``pneumonet train`` in a separate process with live curves and Cancel.

Training starts when the page opens. The window stays responsive because the work is in
another process, started and watched as a worker job (:func:`workers.start_process`); its
JSON events drive the curves, the progress bar (with the time left) and the log. Cancel
stops it (SIGTERM, then SIGKILL) and leaves no model file; "Train again" starts over.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWizardPage

from pneumonet_core.training.progress import format_seconds
from pneumonet_gui import workers
from pneumonet_gui.wizard.charts import TrainingCurves
from pneumonet_gui.wizard.common import heading, monospace
from pneumonet_gui.wizard.training_run import TrainingRun

#: How long a cancelled child may take to stop before it is killed.
KILL_AFTER_S = 15.0


class TrainingPage(QWizardPage):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Training")
        self.setSubTitle("The model trains in a separate process; keep working, or cancel at any time "
                         "(a cancelled run writes no model).")
        self.run: TrainingRun | None = None
        self.worker: workers.ProcessWorker | None = None
        self._start_error: str | None = None
        self.events: list[dict] = []
        self.split_summary: dict | None = None

        self.curves = TrainingCurves()
        self.status_label = QLabel("Waiting to start\u2026")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFormat("%p%")
        self.time_label = QLabel()
        self.time_label.setObjectName("muted")
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.clicked.connect(self.cancel)
        self.restart_button = QPushButton("Train again")
        self.restart_button.clicked.connect(self.start)
        self.restart_button.setEnabled(False)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setFont(monospace())
        self.log_view.setMaximumBlockCount(2000)
        self.log_view.setMinimumHeight(90)

        bar_row = QHBoxLayout()
        bar_row.addWidget(self.progress_bar, 1)
        bar_row.addWidget(self.time_label)
        bar_row.addWidget(self.cancel_button)
        bar_row.addWidget(self.restart_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.curves, 3)
        layout.addWidget(self.status_label)
        layout.addLayout(bar_row)
        layout.addWidget(heading("Log"))
        layout.addWidget(self.log_view, 1)

    # --- running ------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.start()

    def cleanupPage(self) -> None:
        """Going back stops a run in progress and forgets its result."""
        self.discard()

    def start(self) -> None:
        if self.running:
            return
        wizard = self.wizard()
        wizard.reset_results()
        self.discard()
        self.events = []
        self.split_summary = None
        self.curves.clear()
        self.log_view.clear()
        self.progress_bar.setValue(0)
        self.time_label.setText("")
        self.status_label.setText("Starting the training process\u2026")
        self.cancel_button.setEnabled(True)
        self.restart_button.setEnabled(False)
        self.run = run = TrainingRun(wizard.options)
        self._start_error = None
        self._append_log(f"$ {run.command_line}")
        self.worker = workers.start_process(run.command, run.env, KILL_AFTER_S, _connect={
            "yielded": lambda line: self._on_line(run, line),
            "failed": lambda message: self._on_failed(run, message),
            "finished": lambda: self._on_finished(run)})
        self.completeChanged.emit()

    def cancel(self) -> None:
        if self.running:
            self.status_label.setText("Cancelling\u2026")
            self.cancel_button.setEnabled(False)
            self._append_log("Cancelling: asking the training process to stop\u2026")
            self.worker.quit()

    def stop(self, wait: bool = True) -> None:
        """Cancel and, if asked, wait for the process to exit and settle the run (closing the wizard)."""
        if not self.running:
            return
        self.cancel()
        if wait:
            self.worker.wait(KILL_AFTER_S + 5)
            self._on_finished(self.run)  # now: its folder must be gone when this returns

    def discard(self) -> None:
        """Stop a run in progress and remove its temporary folder and model."""
        self.stop(wait=True)
        self.worker = None  # whatever it still sends is about a run that is gone
        if self.run is not None:
            self.run.discard()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.is_running

    @property
    def trained_model(self):
        """The finished model in the run's temporary folder (None before a run succeeds)."""
        return self.run.output if self.run is not None else None

    def isComplete(self) -> bool:
        return self.trained_model is not None and not self.running

    # --- events ---------------------------------------------------------------------------

    def _on_line(self, run: TrainingRun, line: str) -> None:
        if run is not self.run:
            return
        item = run.read(line)
        if isinstance(item, dict):
            self._on_event(item)
        elif item:
            self._append_log(item)

    def _on_failed(self, run: TrainingRun, message: str) -> None:
        if run is self.run:
            self._start_error = message

    def _on_event(self, event: dict) -> None:
        self.events.append(event)
        kind = event.get("event")
        if kind == "split":
            self.split_summary = event["summary"]
            s = self.split_summary
            self._append_log("Split by patient: " + ", ".join(
                f"{name} {s[name]['images']} images / {s[name]['patients']} patients"
                for name in ("train", "validation", "test")))
            self.status_label.setText("Reading the images\u2026")
        elif kind == "decode":
            self.status_label.setText(f"Reading the {event['split']} images: {event['done']} of {event['total']}")
        elif kind == "start":
            self._append_log(event.get("message", ""))
            self.status_label.setText(f"Training: epoch 1 of {event.get('epochs')}")
        elif kind == "batch":
            epochs, batches = event["epochs"], event["batches"]
            done = (event["epoch"] - 1) * batches + event["batch"]
            self.progress_bar.setValue(int(1000 * done / max(1, epochs * batches)))
            self.status_label.setText(f"Training: epoch {event['epoch']} of {epochs}, batch {event['batch']} of "
                                      f"{batches}, loss {event['loss']:.4f}")
            self._show_eta(event.get("eta_s"))
        elif kind == "epoch":
            self.curves.add_epoch(event)
            best = "  (best so far)" if event.get("best") else ""
            self._append_log(
                f"epoch {event['epoch']}/{event['epochs']}: loss {event['loss']:.4f} accuracy {event['accuracy']:.4f} "
                f"| validation loss {event['val_loss']:.4f} accuracy {event['val_accuracy']:.4f} "
                f"AUC {_fmt(event['val_auc'])}{best}")
            self.progress_bar.setValue(int(1000 * event["epoch"] / max(1, event["epochs"])))
            self._show_eta(event.get("eta_s"))
        elif kind == "evaluate":
            self.status_label.setText("Choosing the threshold on validation patients and measuring the held-out "
                                      "patients\u2026")
            self._append_log(event.get("message", ""))
        elif kind == "saved":
            self.progress_bar.setValue(1000)
            self.time_label.setText("")
        elif kind in ("warning", "cancelled", "error"):
            self._append_log(f"{kind}: {event.get('message', '')}")

    def _show_eta(self, eta) -> None:
        if eta is not None and math.isfinite(eta):
            self.time_label.setText(f"about {format_seconds(eta)} left")

    def _append_log(self, line: str) -> None:
        if line:
            self.log_view.appendPlainText(line)

    def _on_finished(self, run: TrainingRun) -> None:
        worker = self.worker
        if run is not self.run or worker is None:
            return  # settled already, or a run that was discarded
        self.worker = None
        process = worker.process
        ok, message = run.finish(None if process is None else process.returncode, worker.cancelled,
                                 self._start_error if process is None else None)
        self._append_log(message)
        self.cancel_button.setEnabled(False)
        self.restart_button.setEnabled(True)
        self.time_label.setText("")
        if ok:
            self.status_label.setText("Training finished. Next: the evaluation on held-out patients.")
        else:
            self.status_label.setText(message)
            self.progress_bar.setValue(0)
        self.completeChanged.emit()


def _fmt(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"
