"""``pneumonet train`` in a child process, its JSON progress events as Qt signals, and Cancel.

The child writes its model into a private temporary folder; the wizard copies it into the
user's model folder only when asked to save. Cancel sends SIGTERM (the CLI stops at the
next batch and writes nothing), then kills the child if it has not exited within
``kill_after_ms``; either way the temporary folder is removed, so a cancelled or failed
run leaves no model file anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from pneumonet_core.training.config import TrainConfig, to_arguments
from pneumonet_gui.wizard.options import python_command, shell_line

#: Lines of the child's standard error that are library chatter, not news for a user.
_NOISE = ("oneDNN custom operations", "All log messages before absl", "cpu_feature_guard",
          "This TensorFlow binary is optimized", "To enable the following instructions", "rebuild TensorFlow")


class TrainingProcess(QObject):
    """One training run at a time; ``finished(ok, message)`` ends every run exactly once."""

    event = Signal(dict)
    log = Signal(str)
    finished = Signal(bool, str)

    def __init__(self, parent=None, kill_after_ms: int = 15000):
        super().__init__(parent)
        self.kill_after_ms = kill_after_ms
        self.process: QProcess | None = None
        self.workdir: Path | None = None
        self.output: Path | None = None  # the finished model (inside workdir) after a successful run
        self.command_line = ""
        self.cancelled = False
        self._stdout_buffer = b""
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._saved_event: dict | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    def is_running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, options: TrainConfig) -> None:
        """Start training ``options`` (discarding any earlier run's files)."""
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        self.discard()
        self.cancelled = False
        self._stdout_buffer = b""
        self._stderr_tail.clear()
        self._saved_event = None
        self.workdir = Path(tempfile.mkdtemp(prefix="pneumonet-training-"))
        target = self.workdir / "model.pneumonet"
        arguments = to_arguments(dataclasses.replace(options, out=target)) + ["--progress", "jsonl"]
        self.command_line = shell_line(arguments)
        program, args = python_command(arguments)
        if self.process is not None:
            self.process.deleteLater()  # the previous run's, finished
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("TF_CPP_MIN_LOG_LEVEL", "2")
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self.process = process
        self.log.emit(f"$ {self.command_line}")
        process.start(program, args)

    def cancel(self) -> None:
        """Ask the child to stop (SIGTERM), and kill it if it does not exit in time."""
        if not self.is_running():
            return
        self.cancelled = True
        self.log.emit("Cancelling: asking the training process to stop\u2026")
        self.process.terminate()
        self._kill_timer.start(self.kill_after_ms)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the child has exited (for closing the wizard)."""
        if not self.is_running():
            return True
        return self.process.waitForFinished(msecs)

    def discard(self) -> None:
        """Remove the temporary folder and whatever model it holds."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
        self.output = None

    # --- child output -----------------------------------------------------------------

    def _read_stdout(self) -> None:
        self._stdout_buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._stdout_buffer = self._stdout_buffer.split(b"\n")
        for raw in lines:
            self._handle_line(raw.decode("utf-8", "replace").strip())

    def _handle_line(self, line: str) -> None:
        if not line:
            return
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and "event" in event:
                if event["event"] == "saved":
                    self._saved_event = event
                self.event.emit(event)
                return
        self.log.emit(line)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            line = line.rstrip()
            if not line or any(noise in line for noise in _NOISE):
                continue
            self._stderr_tail.append(line)
            self.log.emit(line)

    # --- the end of a run ---------------------------------------------------------------

    def _kill(self) -> None:
        if self.is_running():
            self.log.emit("The training process did not stop in time: killing it.")
            self.process.kill()

    def _on_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish(False, f"could not start the training process ({self.process.errorString()})")

    def _on_finished(self, exit_code: int, exit_status) -> None:
        if self._stdout_buffer:
            self._handle_line(self._stdout_buffer.decode("utf-8", "replace").strip())
            self._stdout_buffer = b""
        self._kill_timer.stop()
        target = self.workdir / "model.pneumonet" if self.workdir else None
        if self.cancelled:
            self._finish(False, "Training cancelled; no model was written.")
        elif exit_code == 0 and exit_status == QProcess.ExitStatus.NormalExit and target and target.is_file():
            self.output = target
            self._finish(True, "Training finished.")
        else:
            errors = [line for line in self._stderr_tail if line.startswith("pneumonet")]
            reason = errors[-1] if errors else (self._stderr_tail[-1] if self._stderr_tail else
                                                 f"the training process exited with code {exit_code}")
            self._finish(False, f"Training failed: {reason}")

    def _finish(self, ok: bool, message: str) -> None:
        if not ok:
            self.discard()
        self.log.emit(message)
        self.finished.emit(ok, message)
