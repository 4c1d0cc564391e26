"""One ``pneumonet train`` run for the wizard, as plain Python: the command, its private
folder, and what the child's output lines mean.

The pages fill a :class:`~pneumonet_core.training.config.TrainConfig`, whose
:func:`~pneumonet_core.training.config.to_arguments` gives the arguments, so the wizard
adds no training logic of its own and a user can rerun the same command in a terminal.
The child writes its model into a private temporary folder; the wizard copies it into the
user's model folder only when asked to save, and :meth:`TrainingRun.discard` removes the
folder of a cancelled or failed run, so such a run leaves no model file anywhere. The
training page runs the command with :func:`pneumonet_gui.workers.start_process`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections import deque
from pathlib import Path

from pneumonet_core.training.config import TrainConfig, to_arguments

#: Output lines that are library chatter, not news for a user.
NOISE = ("oneDNN custom operations", "All log messages before absl", "cpu_feature_guard",
         "This TensorFlow binary is optimized", "To enable the following instructions", "rebuild TensorFlow")


def python_command(arguments: list[str]) -> list[str]:
    """The command line that runs the ``pneumonet`` CLI with this very Python interpreter.

    A frozen app (PyInstaller) has no interpreter to pass ``-m`` to; its executable runs
    ``pneumonet`` commands itself (see ``app_entry_point`` in the CLI's main module).
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, *arguments]
    return [sys.executable, "-m", "pneumonet_cli.main", *arguments]


def shell_line(arguments: list[str]) -> str:
    """The command as a user would type it, for the log."""
    return "pneumonet " + " ".join(shlex.quote(a) for a in arguments)


class TrainingRun:
    """``pneumonet train --progress jsonl`` for ``config``, writing into a new temporary folder."""

    def __init__(self, config: TrainConfig):
        self.workdir: Path | None = Path(tempfile.mkdtemp(prefix="pneumonet-training-"))
        self.target = self.workdir / "model.pneumonet"
        arguments = to_arguments(dataclasses.replace(config, out=self.target)) + ["--progress", "jsonl"]
        self.command_line = shell_line(arguments)
        self.command = python_command(arguments)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.output: Path | None = None  # the finished model (inside workdir) after a successful run
        self._log_tail: deque[str] = deque(maxlen=40)

    def read(self, line: str) -> dict | str | None:
        """An output line as a progress event (a dict), a log line, or None for nothing to show."""
        line = line.strip()
        if not line or any(noise in line for noise in NOISE):
            return None
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and "event" in event:
                return event
        self._log_tail.append(line)
        return line

    def finish(self, exit_code: int | None, cancelled: bool, error: str | None = None) -> tuple[bool, str]:
        """(ok, message) for the run's end; a run that did not produce its model is discarded."""
        if cancelled:
            ok, message = False, "Training cancelled; no model was written."
        elif error is not None:
            ok, message = False, f"Training failed: could not start the training process ({error})"
        elif exit_code == 0 and self.target.is_file():
            self.output = self.target
            ok, message = True, "Training finished."
        else:
            errors = [line for line in self._log_tail if line.startswith("pneumonet")]
            reason = errors[-1] if errors else (self._log_tail[-1] if self._log_tail else
                                                 f"the training process exited with code {exit_code}")
            ok, message = False, f"Training failed: {reason}"
        if not ok:
            self.discard()
        return ok, message

    def discard(self) -> None:
        """Remove the temporary folder and whatever model it holds."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
        self.output = None
