"""What the wizard will ask ``pneumonet train`` to do, and the exact command line for it.

Plain Python (no Qt): the pages fill a :class:`TrainingOptions`; :func:`train_command`
turns it into the argument list the training process runs, so the wizard adds no
training logic of its own and a user can rerun the same command in a terminal.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.training.config import DEFAULT_LEARNING_RATES


@dataclass
class TrainingOptions:
    """The wizard's choices; field names follow ``pneumonet train``'s flags."""

    data_dir: Path | None = None
    approach: str = "cnn"
    labels: str = "binary"
    weights: str | None = None  # None: the CLI's default (none for cnn, imagenet otherwise)
    unfreeze: int | str = 10
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float | None = None
    augment: bool = True
    seed: int = 1
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    threshold_rule: str = "youden"
    cnn_width: int = 32
    patience: int = 6

    def default_learning_rate(self) -> float:
        if self.approach == "finetune" and self.weights == "none":
            return DEFAULT_LEARNING_RATES["finetune-scratch"]
        return DEFAULT_LEARNING_RATES[self.approach]


def train_arguments(options: TrainingOptions, out: Path) -> list[str]:
    """The ``pneumonet train`` arguments (after the program name) for ``options`` writing ``out``."""
    if options.data_dir is None:
        raise ValueError("no data folder chosen")
    args = [
        "train", str(options.data_dir), "--approach", options.approach, "--out", str(out),
        "--labels", options.labels, "--epochs", str(options.epochs), "--batch-size", str(options.batch_size),
        "--seed", str(options.seed), "--val-fraction", f"{options.val_fraction:g}",
        "--test-fraction", f"{options.test_fraction:g}", "--threshold-rule", options.threshold_rule,
        "--patience", str(options.patience), "--progress", "jsonl",
    ]
    if options.learning_rate:
        args += ["--learning-rate", f"{options.learning_rate:g}"]
    if not options.augment:
        args.append("--no-augment")
    if options.approach == "cnn":
        args += ["--cnn-width", str(options.cnn_width)]
    else:
        if options.weights:
            args += ["--weights", options.weights]
        if options.approach == "finetune":
            args += ["--unfreeze", str(options.unfreeze)]
    return args


def python_command(arguments: list[str]) -> tuple[str, list[str]]:
    """(program, arguments) that run the ``pneumonet`` CLI with this very Python interpreter.

    A frozen app (PyInstaller) has no interpreter to pass ``-m`` to; its executable runs
    ``pneumonet`` commands itself (see ``pneumonet_gui.app.entry_point``).
    """
    if getattr(sys, "frozen", False):
        return sys.executable, list(arguments)
    return sys.executable, ["-m", "pneumonet_core.cli.main", *arguments]


def shell_line(arguments: list[str]) -> str:
    """The command as a user would type it, for the log."""
    return "pneumonet " + " ".join(shlex.quote(a) for a in arguments)
