"""Train one of the three approaches end to end and write a model package.

Steps: find the images, split them by patient, decode them once at model size, train with
class-balanced weights and on-device augmentation, keep the epoch with the best
validation AUC (stopping early), choose the threshold on validation patients, then
measure the saved (possibly compressed) package on the held-out test patients and write
those figures into its card. Backend-agnostic Keras 3: no ``tf.*`` here.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pneumonet_core import __version__
from pneumonet_core.atomic import atomic_path, write_text_atomic
from pneumonet_core.data.batches import class_weights, decode_inputs, make_training_batches
from pneumonet_core.data.discovery import LabelledImage, check_usable, find_labelled_images
from pneumonet_core.data.split import DataSplit, split_by_patient
from pneumonet_core.errors import CancelledError, DatasetError, PneumonetError
from pneumonet_core.evaluation.metrics import evaluate_predictions, headline
from pneumonet_core.inference.predict import predict_class_probabilities, pneumonia_probability
from pneumonet_core.models.architectures import ModelSpec, build_model
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.package import load_package, save_package
from pneumonet_core.models.threshold import choose_threshold
from pneumonet_core.preprocessing import INPUT_SIZE, PREPROCESSING_ID
from pneumonet_core.training.config import TrainConfig
from pneumonet_core.training.progress import EtaClock, ProgressFn


@dataclass
class TrainResult:
    """What a finished run produced."""

    out: Path
    card: ModelCard
    split: DataSplit
    history: list[dict]
    test_metrics: dict


def _subset(images: list[LabelledImage], limit: int, seed: int) -> list[LabelledImage]:
    """About ``limit`` images, whole patients, in the classes' proportions."""
    rng = np.random.default_rng(seed + 7919)
    patients: dict[str, list[LabelledImage]] = {}
    for im in images:
        patients.setdefault(im.patient, []).append(im)
    by_label: dict[str, list[str]] = {}
    for pid, items in patients.items():
        by_label.setdefault(items[0].label_for("three"), []).append(pid)
    chosen: list[LabelledImage] = []
    for label, pids in sorted(by_label.items()):
        quota = max(8, round(limit * sum(len(patients[p]) for p in pids) / len(images)))
        taken = 0
        for idx in rng.permutation(len(pids)):
            if taken >= quota:
                break
            chosen.extend(patients[pids[idx]])
            taken += len(patients[pids[idx]])
    return sorted(chosen, key=lambda im: str(im.path))


def _targets(images: list[LabelledImage], spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """(class index per image, binary pneumonia label per image)."""
    names = list(spec.class_names)
    index = np.array([names.index(im.label_for(spec.labels)) for im in images], dtype=np.int32)
    binary = np.array([im.label == "PNEUMONIA" for im in images], dtype=np.int32)
    return index, binary


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


def _make_callback(keras, core, val_x, val_binary, spec, config, emit, should_stop, steps_per_epoch, history):
    class Selection(keras.callbacks.Callback):
        """Validation AUC each epoch; keeps the best weights; early stop; cancel; progress."""

        def __init__(self):
            super().__init__()
            self.best_auc = -1.0
            self.best_epoch = 0
            self.best_weights = None
            self.wait = 0
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
            if config.time_limit_minutes and now - self.fit_start > config.time_limit_minutes * 60 and not self.time_limited:
                # A time budget (e.g. a lent GPU) ends training like early stopping: the
                # best epoch so far is kept and packaged.
                self.time_limited = True
                self.model.stop_training = True
                emit({"event": "warning", "message": f"time limit of {config.time_limit_minutes:g} min reached: stopping"})
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
            if self.cancelled:
                return
            if self.time_limited and self.best_weights is not None:
                return
            logs = logs or {}
            # Validation runs the core model (no augmentation) on the weights synced at epoch end.
            outputs = predict_class_probabilities(core, val_x, config.batch_size)
            p = pneumonia_probability(outputs, spec.class_names)
            from sklearn.metrics import log_loss, roc_auc_score

            auc = float(roc_auc_score(val_binary, p)) if len(np.unique(val_binary)) == 2 else float("nan")
            val_loss = float(log_loss(val_binary, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))
            val_acc = float(np.mean((p >= 0.5) == val_binary))
            improved = np.isfinite(auc) and auc > self.best_auc + 1e-4
            if improved or self.best_weights is None:
                self.best_auc, self.best_epoch, self.wait = (auc if np.isfinite(auc) else -1.0), epoch + 1, 0
                self.best_weights = [np.array(w) for w in core.get_weights()]
                if config.checkpoint:
                    _write_checkpoint(core, Path(config.checkpoint))
            else:
                self.wait += 1
            record = {
                "event": "epoch", "epoch": epoch + 1, "epochs": config.epochs,
                "loss": float(logs.get("loss", np.nan)),
                "accuracy": float(logs.get("accuracy", logs.get("sparse_categorical_accuracy", np.nan))),
                "auc": float(logs.get("auc", np.nan)),
                "val_loss": val_loss, "val_accuracy": val_acc, "val_auc": auc,
                "best": bool(improved), "best_epoch": self.best_epoch,
                "seconds": time.monotonic() - self.epoch_start,
                "eta_s": self.clock.eta((epoch + 1) * steps_per_epoch),
            }
            history.append(record)
            emit(record)
            if self.wait >= config.patience and epoch + 1 >= config.warmup_epochs + 2:
                emit({"event": "warning", "message": f"early stop: no validation AUC gain for {config.patience} epochs"})
                self.model.stop_training = True

    return Selection()


def _write_checkpoint(model, path: Path) -> None:
    """Save the best weights so far: never a half-written checkpoint."""
    with atomic_path(path, suffix=".weights.h5") as tmp:
        model.save_weights(str(tmp))


def _write_predictions(path: Path, items: list[LabelledImage], probability: np.ndarray, split: str) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["path", "patient", "label", "split", "probability"])
    for im, p in zip(items, probability):
        writer.writerow([f"{im.path.parent.name}/{im.path.name}", im.patient, im.label, split, f"{float(p):.6f}"])
    write_text_atomic(path, buf.getvalue())


def build_training_models(spec: ModelSpec, config: TrainConfig):
    """(core model, training wrapper, precision policy) for one run.

    The wrapper takes uint8 input and scales and augments it on the device; only the core
    model is packaged. Layers are built under the mixed-precision policy when it applies.
    """
    import keras

    from pneumonet_core.models.layers import ChestAugment, UnitScale

    precision = _set_precision(config.mixed_precision)
    try:
        core = build_model(spec)
        inputs = keras.Input((*INPUT_SIZE, 1), dtype="uint8", name="scan_uint8")
        x = UnitScale(dtype="float32", name="unit_scale")(inputs)
        if config.augment:
            x = ChestAugment(seed=config.seed, dtype="float32", name="augment")(x)
        trainer_model = keras.Model(inputs, core(x), name="trainer")
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return core, trainer_model, precision


def train(config: TrainConfig, emit: ProgressFn = lambda e: None, should_stop: Callable[[], bool] = lambda: False) -> TrainResult:
    """Run one training and write ``config.out``; raise CancelledError if cancelled (nothing written)."""
    import keras

    started = time.monotonic()
    if config.checkpoint and not str(config.checkpoint).endswith(".weights.h5"):
        raise PneumonetError(f"{config.checkpoint}: a checkpoint file name must end in .weights.h5")
    keras.utils.set_random_seed(config.seed)
    images = find_labelled_images(config.data_dir)
    if config.limit:
        images = _subset(images, config.limit, config.seed)
    check_usable(images, config.labels)
    split = split_by_patient(images, config.validation_fraction, config.test_fraction, config.seed, config.labels)
    for name in ("train", "validation"):
        if not split.part(name):
            raise DatasetError(f"the {name} split is empty: use more images or other fractions")
    emit({"event": "split", "summary": split.summary()})

    spec = ModelSpec(
        approach=config.approach, labels=config.labels, weights=config.resolved_weights(),
        unfreeze=config.unfreeze, cnn_width=config.cnn_width,
    )
    decoded = {}
    for name in ("train", "validation", "test"):
        items = split.part(name)
        result = decode_inputs(
            [im.path for im in items],
            progress=lambda d, t, name=name: emit({"event": "decode", "split": name, "done": d, "total": t}),
            should_stop=should_stop,
        )
        for err in result.errors:
            emit({"event": "warning", "message": f"skipped unreadable image {err}"})
        decoded[name] = ([items[i] for i in result.kept], result.inputs)
    train_items, train_x = decoded["train"]
    val_items, val_x = decoded["validation"]
    test_items, test_x = decoded["test"]
    y_index, _ = _targets(train_items, spec)
    _, val_binary = _targets(val_items, spec)

    core, trainer_model, precision = build_training_models(spec, config)

    if config.resume and config.checkpoint and Path(config.checkpoint).exists():
        core.load_weights(str(config.checkpoint))
        emit({"event": "warning", "message": f"resumed from the checkpoint {config.checkpoint}"})

    n_classes = len(spec.class_names)
    cw = class_weights(y_index, n_classes)
    sample_w = cw[y_index]
    if spec.labels == "binary":
        targets = y_index.astype(np.float32)[:, None]
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    else:
        targets = y_index
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    batch_size = min(config.batch_size, len(train_x))
    batches = make_training_batches(train_x, targets, sample_w, batch_size, config.seed)
    steps = len(batches)
    lr = config.resolved_learning_rate()
    total_steps = steps * config.epochs
    warmup = min(steps * config.warmup_epochs, max(0, total_steps - 1))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr * 0.1 if warmup else lr, decay_steps=max(1, total_steps - warmup), alpha=0.02,
        warmup_target=lr if warmup else None, warmup_steps=warmup,
    )
    trainer_model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=1e-4),
        loss=loss, metrics=metrics,
        jit_compile=keras.backend.backend() == "jax",
    )
    emit({
        "event": "start",
        "message": f"{config.approach} ({spec.backbone}, weights {spec.weights}) on {len(train_x)} images, "
        f"{steps} batches of {batch_size} per epoch, {config.epochs} epochs, lr {lr:g}, {precision}, "
        f"backend {keras.backend.backend()} on {_device_name()}",
        "approach": config.approach, "epochs": config.epochs, "batches": steps, "batch_size": batch_size,
    })
    history: list[dict] = []
    selector = _make_callback(keras, core, val_x, val_binary, spec, config, emit, should_stop, steps, history)
    trainer_model.fit(batches, epochs=config.epochs, callbacks=[selector], verbose=0)
    if selector.cancelled or should_stop():
        emit({"event": "cancelled", "message": "training cancelled; no model was written"})
        raise CancelledError("training cancelled; no model was written")
    core.set_weights(selector.best_weights)

    # A float32 copy of the core model is what gets packaged, whatever precision trained it.
    spec_for_package = ModelSpec.from_dict({**spec.to_dict(), "weights": "none"})
    inference_model = build_model(spec_for_package)
    inference_model.set_weights(core.get_weights())
    trained_s = time.monotonic() - started

    card = ModelCard(
        name=config.name or f"pneumonet-{config.approach}-{_dt.date.today().isoformat()}",
        version="1",
        approach=config.approach,
        backbone=spec.backbone,
        spec=spec.to_dict(),
        input={"size": list(INPUT_SIZE), "channels": 1, "range": "0..1", "preprocessing": PREPROCESSING_ID},
        class_names=list(spec.class_names),
        gradcam_layer=spec.gradcam_layer,
        data={"folder": str(config.data_dir), "summary": split.summary(), "test_patients": split.patients("test"),
              "validation_patients": split.patients("validation")},
        training={
            "command": config.command, "seed": config.seed, "epochs": config.epochs,
            "epochs_run": len(history), "best_epoch": selector.best_epoch, "batch_size": batch_size,
            "learning_rate": lr, "augment": config.augment, "precision": precision,
            "backend": keras.backend.backend(), "keras": keras.__version__, "device": _device_name(),
            "duration_s": round(trained_s, 1), "history": history,
        },
        weights_init=_weights_statement(spec),
        code_version=f"pneumonet {__version__}",
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    emit({"event": "evaluate", "message": "measuring the saved package on validation and held-out test patients"})
    out = Path(config.out)
    with atomic_path(out, mode=0o644, suffix=".pneumonet") as tmp:
        save_package(inference_model, card, tmp, compression=config.resolved_compression())
        # Measure what ships: the reloaded (decompressed) package, not the training weights.
        package = load_package(tmp)
        val_p = pneumonia_probability(predict_class_probabilities(package.model, val_x, config.batch_size), spec.class_names)
        choice = choose_threshold(val_binary, val_p, config.threshold_rule)
        card = package.card
        card.threshold, card.threshold_rule = choice.threshold, choice.rule
        card.validation = headline(evaluate_predictions(val_binary, val_p, choice.threshold))
        card.validation["patients"] = len(split.patients("validation"))
        test_metrics: dict = {}
        if len(test_x):
            _, test_binary = _targets(test_items, spec)
            test_p = pneumonia_probability(predict_class_probabilities(package.model, test_x, config.batch_size), spec.class_names)
            test_metrics = evaluate_predictions(test_binary, test_p, choice.threshold)
            card.metrics = headline(test_metrics)
            card.metrics["patients"] = len(split.patients("test"))
            card.metrics["classification_report"] = test_metrics["classification_report"]
            if config.predictions_csv:
                _write_predictions(Path(config.predictions_csv), test_items, test_p, "test")
        else:
            card.notes.append("no held-out test patients: test fraction was 0")
        if should_stop():
            raise CancelledError("training cancelled; no model was written")
        from pneumonet_core.models.package import update_card

        update_card(tmp, card)
    emit({"event": "saved", "message": f"{out} (hash {card.short_hash}, held-out AUC {card.metrics.get('roc_auc')})",
          "path": str(out), "metrics": card.metrics, "threshold": card.threshold})
    return TrainResult(out=out, card=card, split=split, history=history, test_metrics=test_metrics)


def _weights_statement(spec: ModelSpec) -> str:
    if spec.approach == "cnn":
        return "random initialisation (custom CNN trained from scratch)"
    if spec.weights == "imagenet":
        return "ResNet152V2 backbone initialised from ImageNet weights"
    if spec.weights in ("none", "", None):
        return "ResNet152V2 backbone from random initialisation (no ImageNet weights)"
    return f"ResNet152V2 backbone initialised from {Path(spec.weights).name}"
