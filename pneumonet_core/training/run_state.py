"""Where an interrupted training run stands, so ``--resume`` goes on where it stopped.

After every epoch the trainer writes, beside ``--checkpoint BEST.weights.h5`` (the best
epoch's weights), the last epoch's weights (``BEST.last.weights.h5``) and a small state file
(``BEST.state.json``): epochs done, the best epoch and its score, epochs without gain, the
history, and a digest of the options that must not change between chunks (data, split,
approach, schedule). A run killed mid-epoch loses only that epoch. On ``--resume`` the
weights, the selection state and the learning-rate schedule's position are restored; the
optimizer's moment estimates start again from zero (Keras does not save them with weights),
which the warm-up-free continuation of a cosine schedule tolerates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pneumonet_core.atomic import atomic_path, write_text_atomic
from pneumonet_core.errors import PneumonetError

#: Options that define the run; a chunk with other values cannot continue it.
_RUN_KEYS = ("data_dir", "approach", "labels", "weights", "unfreeze", "epochs", "batch_size", "learning_rate", "seed",
             "split_seed", "val_fraction", "test_fraction", "limit", "input_norm", "resolution", "crop", "cnn_width",
             "warmup_epochs", "balance", "mixup", "select")


def run_digest(config) -> str:
    """A digest of the options that must stay the same across the chunks of one run."""
    record = config.to_dict()
    picked = {k: record.get(k) for k in _RUN_KEYS}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, default=str).encode()).hexdigest()[:16]


def last_weights_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name.removesuffix(".weights.h5") + ".last.weights.h5")


def state_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name.removesuffix(".weights.h5") + ".state.json")


@dataclass
class RunState:
    """The selection state after ``epochs_done`` epochs."""

    digest: str
    epochs_done: int = 0
    best_epoch: int = 0
    best_score: float | None = None
    best_auc: float = -1.0
    wait: int = 0
    history: list = field(default_factory=list)

    def save(self, checkpoint: Path, model) -> None:
        """Write the last weights, then the state that points at them (both atomically)."""
        with atomic_path(last_weights_path(checkpoint), suffix=".weights.h5") as tmp:
            model.save_weights(str(tmp))
        write_text_atomic(state_path(checkpoint), json.dumps(self.__dict__, default=float) + "\n")

    @classmethod
    def load(cls, checkpoint: Path, digest: str) -> RunState | None:
        """The saved state of this run, None when there is none; an error for another run's state."""
        path = state_path(checkpoint)
        if not path.is_file() or not last_weights_path(checkpoint).is_file():
            return None
        try:
            data = json.loads(path.read_text()[:10_000_000])
            state = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError) as exc:
            raise PneumonetError(f"{path}: not a readable training state ({exc})") from exc
        if state.digest != digest:
            raise PneumonetError(f"{path}: saved by a run with other options (data, split, approach or schedule); "
                                 "starting a new run from its best weights")
        return state
