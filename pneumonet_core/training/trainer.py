"""Train one of the three approaches end to end and write a model package.

Steps: find the images and split them by patient (:mod:`.datasets`), decode them once at
model size, train with class balance (weights or sampling) and on-device augmentation, keep the epoch
with the best validation AUC (:mod:`.selection`), then save, reload and measure the
package (:mod:`.packaging`). Backend-agnostic Keras 3: no ``tf.*`` here.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumonet_core.atomic import atomic_path
from pneumonet_core.data.batches import class_weights, make_training_batches
from pneumonet_core.data.split import DataSplit
from pneumonet_core.errors import CancelledError, PneumonetError
from pneumonet_core.models.architectures import ModelSpec, build_model
from pneumonet_core.models.card import ModelCard
from pneumonet_core.training.config import TrainConfig
from pneumonet_core.training.datasets import SPLITS, decode_splits, split_images, targets
from pneumonet_core.training.distribution import TrainingDistribution, distribution_scope
from pneumonet_core.training.packaging import new_card, save_and_measure
from pneumonet_core.training.progress import ProgressFn
from pneumonet_core.training.run_state import RunState, last_weights_path, run_digest
from pneumonet_core.training.selection import selection_callback


@dataclass
class TrainResult:
    """What a finished run produced."""

    out: Path
    card: ModelCard
    split: DataSplit
    history: list[dict]
    test_metrics: dict


def _set_precision(mode: str) -> str:
    import keras

    if mode == "auto":
        mode = "float32"
        if keras.backend.backend() == "jax":
            import jax

            if jax.devices()[0].platform == "gpu":
                mode = "mixed_bfloat16"
    keras.mixed_precision.set_dtype_policy(mode)
    return mode


def _device_name() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        d = jax.devices()[0]
        return f"{d.platform}:{getattr(d, 'device_kind', '')}"
    return f"cpu:{platform.processor() or platform.machine()}"


def build_training_models(spec: ModelSpec, config: TrainConfig):
    """(core model, training wrapper, precision policy) for one run.

    The wrapper takes uint8 input and scales and augments it on the device; only the core
    model is packaged. Layers are built under the mixed-precision policy when it applies.
    """
    import keras  # Keras, and the layers module that imports it, load when a run starts, not with the wizard

    from pneumonet_core.models.layers import ChestAugment, UnitScale

    precision = _set_precision(config.mixed_precision)
    try:
        core = build_model(spec)
        # Mixup blends films, so its batches are float (0..255); otherwise uint8 travels.
        dtype = "float32" if config.mixup > 0 else "uint8"
        inputs = keras.Input((*spec.architecture.input_size, 1), dtype=dtype, name="scan_uint8")
        x = UnitScale(dtype="float32", name="unit_scale")(inputs)
        if config.augment:
            x = ChestAugment(**config.augmentation(), seed=config.seed, dtype="float32", name="augment")(x)
        trainer_model = keras.Model(inputs, core(x), name="trainer")
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return core, trainer_model, precision


def _resume(core, config: TrainConfig, history: list, emit: ProgressFn):
    """(run state, best weights so far) for ``--checkpoint``; restores a saved run on ``--resume``.

    A checkpoint without a state of this run (an older version's, or a run with other
    options) only seeds the weights of a new run, as ``--resume`` always did.
    """
    if not config.checkpoint:
        return None, None
    checkpoint = Path(config.checkpoint)
    digest = run_digest(config)
    state = None
    if config.resume:
        try:
            state = RunState.load(checkpoint, digest)
        except PneumonetError as exc:  # another run's state: its best weights still seed this one
            emit({"event": "warning", "message": str(exc)})
    if state is not None:
        core.load_weights(str(checkpoint))
        best = [np.array(w) for w in core.get_weights()]
        core.load_weights(str(last_weights_path(checkpoint)))
        history.extend(state.history)
        emit({"event": "warning", "message": f"resumed from the checkpoint {checkpoint} after epoch "
                                             f"{state.epochs_done} of {config.epochs} (best epoch {state.best_epoch})"})
        return state, best
    if config.resume and checkpoint.exists():
        core.load_weights(str(checkpoint))
        emit({"event": "warning", "message": f"resumed from the checkpoint {checkpoint} (weights only: no run state)"})
    return RunState(digest=digest), None


def train(config: TrainConfig, emit: ProgressFn = lambda e: None,
          should_stop: Callable[[], bool] = lambda: False) -> TrainResult:
    """Run one training and write ``config.out``; raise CancelledError if cancelled (nothing written).

    ``config.distribute`` "data-parallel" spreads every step over all devices (see
    :mod:`.distribution`); the models are built inside its scope.
    """
    with distribution_scope(config.distribute, config.batch_size) as distribution:
        return _train(distribution.process_config(config), emit, should_stop, distribution)


def _targets(spec: ModelSpec, y_index: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(training targets, per-sample loss weights) of the training images' class indices."""
    n_classes = len(spec.class_names)
    if config.balance == "weights":
        sample_w = class_weights(y_index, n_classes)[y_index]
    else:  # balanced batches carry the balance; every sample counts the same
        sample_w = np.ones(len(y_index), dtype=np.float32)
    if spec.one_output:
        return y_index.astype(np.float32)[:, None], sample_w
    # One-hot targets, so label smoothing and mixup work for three labels too.
    return np.eye(n_classes, dtype=np.float32)[y_index], sample_w


def _compile(trainer_model, spec: ModelSpec, config: TrainConfig, steps: int) -> float:
    """Compile with the label set's loss and metrics and AdamW on a warm-up + cosine schedule; the peak rate."""
    import keras

    if spec.one_output:
        loss = keras.losses.BinaryCrossentropy(label_smoothing=config.label_smoothing)
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    else:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    lr = config.resolved_learning_rate()
    total_steps = steps * config.epochs
    warmup = min(steps * config.warmup_epochs, max(0, total_steps - 1))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr * 0.1 if warmup else lr, decay_steps=max(1, total_steps - warmup), alpha=0.02,
        warmup_target=lr if warmup else None, warmup_steps=warmup,
    )
    trainer_model.compile(optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay),
                          loss=loss, metrics=metrics, jit_compile=keras.backend.backend() == "jax")
    return lr


def _train(config: TrainConfig, emit: ProgressFn, should_stop: Callable[[], bool],
           distribution: TrainingDistribution) -> TrainResult:
    import keras

    started = time.monotonic()
    if config.checkpoint and not str(config.checkpoint).endswith(".weights.h5"):
        raise PneumonetError(f"{config.checkpoint}: a checkpoint file name must end in .weights.h5")
    keras.utils.set_random_seed(config.seed)
    split = split_images(config, emit)
    spec = ModelSpec(approach=config.approach, labels=config.labels, weights=config.resolved_weights(),
                     unfreeze=config.unfreeze, cnn_width=config.cnn_width, dropout=config.dropout, crop=config.crop,
                     input_norm=config.input_norm, resolution=config.resolution)
    decoded = decode_splits(split, emit, should_stop)
    (train_items, train_x), (val_items, val_x), (test_items, test_x) = (decoded[k] for k in SPLITS)
    y_index, _ = targets(train_items, spec.labels, spec.class_names)
    _, val_binary = targets(val_items, spec.labels, spec.class_names)
    _, test_binary = targets(test_items, spec.labels, spec.class_names)

    core, trainer_model, precision = build_training_models(spec, config)
    history: list[dict] = []
    state, best_weights = _resume(core, config, history, emit)

    y, sample_w = _targets(spec, y_index, config)
    batch_size = distribution.batch_size(min(config.batch_size, len(train_x)))
    batches = distribution.process_batches(make_training_batches(
        train_x, y, sample_w, batch_size, config.seed,
        balanced_classes=y_index if config.balance == "sampling" else None, mixup=config.mixup))
    steps = len(batches)
    lr = _compile(trainer_model, spec, config, steps)
    emit({
        "event": "start",
        "message": f"{config.approach} ({spec.backbone}, weights {spec.weights}) on {len(train_x)} images, "
        f"{steps} batches of {batch_size} per epoch, {config.epochs} epochs, lr {lr:g}, {precision}, "
        f"backend {keras.backend.backend()} on {_device_name()}, {distribution.describe()}",
        "approach": config.approach, "epochs": config.epochs, "batches": steps, "batch_size": batch_size,
    })
    done = state.epochs_done if state else 0
    if done:
        # The learning-rate schedule goes on from where the saved run stood.
        trainer_model.optimizer.build(trainer_model.trainable_variables)
        trainer_model.optimizer.iterations.assign(done * steps)
    selector = selection_callback(core, val_x, val_binary, spec.class_names, config, emit, should_stop, steps,
                                  history, state, best_weights)
    trainer_model.fit(batches, epochs=config.epochs, initial_epoch=min(done, config.epochs), callbacks=[selector],
                      verbose=0)
    if selector.cancelled or should_stop():
        emit({"event": "cancelled", "message": "training cancelled; no model was written"})
        raise CancelledError("training cancelled; no model was written")
    core.set_weights(selector.best_weights)

    # A float32 copy of the core model is what gets packaged, whatever precision trained it.
    inference_model = build_model(ModelSpec.from_dict({**spec.to_dict(), "weights": "none"}))
    inference_model.set_weights(core.get_weights())
    card = new_card(config, spec, split, {
        "seed": config.seed, "epochs": config.epochs, "epochs_run": len(history),
        "best_epoch": selector.best_epoch, "batch_size": batch_size, "learning_rate": lr, "augment": config.augment,
        "precision": precision, "backend": keras.backend.backend(), "keras": keras.__version__,
        "device": _device_name(), "distribution": distribution.record(),
        "duration_s": round(time.monotonic() - started, 1), "history": history,
    })
    emit({"event": "evaluate", "message": "measuring the saved package on validation and held-out test patients, "
                                          "fitting its out-of-distribution guard on the training patients"})
    if config.out is None:
        raise PneumonetError("no file to write the model to (--out)")
    out = Path(config.out)
    with atomic_path(out, mode=0o644, suffix=".pneumonet") as tmp:
        card, test_metrics = save_and_measure(inference_model, card, tmp, config, split,
                                              (val_items, val_x, val_binary), (test_items, test_x, test_binary),
                                              train_x=train_x)
        if should_stop():
            raise CancelledError("training cancelled; no model was written")
    emit({"event": "saved", "message": f"{out} (hash {card.short_hash}, held-out AUC {card.metrics.get('roc_auc')})",
          "path": str(out), "metrics": card.metrics, "threshold": card.threshold})
    return TrainResult(out=out, card=card, split=split, history=history, test_metrics=test_metrics)
