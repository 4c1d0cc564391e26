"""Choosing the epoch: validation AUC after every epoch, the best weights kept (and
checkpointed), early stopping, a time budget, cancellation between batches, and progress."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pneumonet_core.atomic import atomic_path
from pneumonet_core.runtime.predict import pneumonia_probability, predict_class_probabilities
from pneumonet_core.training.progress import EtaClock
from pneumonet_core.training.run_state import RunState


def write_checkpoint(model, path: Path) -> None:
    """Save the best weights so far: never a half-written checkpoint."""
    with atomic_path(path, suffix=".weights.h5") as tmp:
        model.save_weights(str(tmp))


def validation_figures(core, val_x, val_binary, class_names, batch_size: int) -> tuple[float, float, float]:
    """(AUC, log loss, accuracy at 0.5) of ``core`` on the validation images (no augmentation)."""
    from sklearn.metrics import log_loss, roc_auc_score

    p = pneumonia_probability(predict_class_probabilities(core, val_x, batch_size), class_names)
    auc = float(roc_auc_score(val_binary, p)) if len(np.unique(val_binary)) == 2 else float("nan")
    val_loss = float(log_loss(val_binary, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))
    return auc, val_loss, float(np.mean((p >= 0.5) == val_binary))


def training_figures(logs: dict) -> dict[str, float]:
    """The epoch's training loss, accuracy and AUC from Keras's logs (NaN when absent)."""
    return {"loss": float(logs.get("loss", np.nan)),
            "accuracy": float(logs.get("accuracy", logs.get("categorical_accuracy", np.nan))),
            "auc": float(logs.get("auc", np.nan))}


def selection_callback(core, val_x, val_binary, class_names, config, emit, should_stop, steps_per_epoch,
                       history: list, state: RunState | None = None, best_weights=None):
    """A Keras callback that validates ``core`` each epoch and keeps its best weights.

    With ``config.checkpoint``, ``state`` (a resumed run's, or a new one) is saved after
    every epoch so that ``--resume`` continues from there (:mod:`.run_state`).
    """
    import keras

    class Selection(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best_auc = state.best_auc if state else -1.0
            score = state.best_score if state else None
            self.best_score = -np.inf if score is None else score
            self.best_epoch = state.best_epoch if state else 0
            self.best_weights = best_weights
            self.wait = state.wait if state else 0
            self.cancelled = False
            self.clock = EtaClock(steps_per_epoch * config.epochs)
            self.epoch = 0
            self.last_emit = 0.0
            self.epoch_start = time.monotonic()
            self.fit_start = time.monotonic()
            self.time_limited = False

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.epoch_start = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            if should_stop():
                self.cancelled = True
                self.model.stop_training = True
                return
            now = time.monotonic()
            if config.time_limit and now - self.fit_start > config.time_limit * 60 and not self.time_limited:
                # A time budget (e.g. a lent GPU) ends training like early stopping: the
                # best epoch so far is kept and packaged.
                self.time_limited = True
                self.model.stop_training = True
                emit({"event": "warning", "message": f"time limit of {config.time_limit:g} min reached: stopping"})
            # Reading the loss synchronises the device: do it about once a second only.
            if now - self.last_emit >= 1.0 or batch + 1 == steps_per_epoch:
                self.last_emit = now
                done = self.epoch * steps_per_epoch + batch + 1
                emit({
                    "event": "batch", "epoch": self.epoch + 1, "epochs": config.epochs, "batch": batch + 1,
                    "batches": steps_per_epoch, "loss": float(logs.get("loss", np.nan)) if logs else float("nan"),
                    "eta_s": self.clock.eta(done),
                })

        def on_epoch_end(self, epoch, logs=None):
            if self.cancelled or (self.time_limited and self.best_weights is not None):
                return
            logs = logs or {}
            # Validation runs the core model on the weights synced at epoch end.
            auc, val_loss, val_acc = validation_figures(core, val_x, val_binary, class_names, config.batch_size)
            # Higher is better: the AUC, or the negated loss when selecting by loss.
            score = auc if config.select == "auc" else -val_loss
            improved = bool(np.isfinite(score) and score > self.best_score + 1e-4)
            if improved or self.best_weights is None:
                self.best_score = score if np.isfinite(score) else -np.inf
                self.best_auc, self.best_epoch, self.wait = (auc if np.isfinite(auc) else -1.0), epoch + 1, 0
                self.best_weights = [np.array(w) for w in core.get_weights()]
                if config.checkpoint:
                    write_checkpoint(core, Path(config.checkpoint))
            else:
                self.wait += 1
            record = {
                "event": "epoch", "epoch": epoch + 1, "epochs": config.epochs, **training_figures(logs),
                "val_loss": val_loss, "val_accuracy": val_acc, "val_auc": auc,
                "best": bool(improved), "best_epoch": self.best_epoch, "seconds": time.monotonic() - self.epoch_start,
                "eta_s": self.clock.eta((epoch + 1) * steps_per_epoch),
            }
            history.append(record)
            if config.checkpoint and state is not None:
                state.epochs_done, state.best_epoch, state.wait = epoch + 1, self.best_epoch, self.wait
                state.best_score = self.best_score if np.isfinite(self.best_score) else None
                state.best_auc, state.history = self.best_auc, list(history)
                state.save(Path(config.checkpoint), core)
            emit(record)
            if self.wait >= config.patience and epoch + 1 >= config.warmup_epochs + 2:
                emit({"event": "warning",
                      "message": f"early stop: no validation {config.select} gain for {config.patience} epochs"})
                self.model.stop_training = True

    return Selection()
