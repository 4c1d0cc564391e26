"""The one definition of a training run's options.

The defaults are the recipe that held up best on patients outside the training split
(docs/generalization.md): strong geometric and photometric augmentation, random erasing
of the film's borders and corners, and each film standardised inside the model.

:class:`TrainConfig` is the single source: ``pneumonet train``'s flags are generated from
its fields (:func:`add_arguments`), the wizard fills one and runs it as a command line
(:func:`to_arguments`), and the model card records it (:meth:`TrainConfig.card_record`).
A new option is one new field here.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from pneumonet_core.models.architectures import APPROACHES, LABEL_SETS, SCRATCH_LEARNING_RATE, approach
from pneumonet_core.models.threshold import rule_argument
from pneumonet_core.training.distribution import DISTRIBUTIONS


def _unfreeze(value: str) -> int | str:
    return "all" if str(value) == "all" else int(value)


def _option(default, flag: str | None = None, help: str = "", **argparse_kwargs):
    """A field with its command-line flag (None: not a flag) and argparse settings."""
    metadata = {"flag": flag, "help": help, "argparse": argparse_kwargs}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """A training run; each field with a flag is one ``pneumonet train`` option."""

    data_dir: Path | None = _option(None, "DIR", "folder with NORMAL/ and PNEUMONIA/", type=Path)
    out: Path | None = _option(None, "--out", "model package to write (.pneumonet)", type=Path, metavar="FILE",
                               required=True)
    approach: str = _option("cnn", "--approach", "cnn (custom CNN), transfer or finetune (ResNet152V2)",
                            choices=APPROACHES, required=True)
    labels: str = _option("binary", "--labels", "binary (NORMAL/PNEUMONIA), three (NORMAL/BACTERIA/VIRUS) or subtype "
                          "(BACTERIA/VIRUS on the PNEUMONIA films only: the second-stage model)",
                          choices=tuple(LABEL_SETS))
    weights: str | None = _option(
        None, "--weights", "backbone weights: imagenet (default for transfer/finetune; downloaded once and cached "
        "by Keras), none (random initialisation), a Keras weights file, or a .pneumonet model")
    unfreeze: int | str = _option(10, "--unfreeze", "finetune: how many of the last backbone blocks to train (or all)",
                                  type=_unfreeze, metavar="N|all")
    epochs: int = _option(20, "--epochs", "most epochs to train", type=int)
    batch_size: int = _option(32, "--batch-size", "images per training step", type=int)
    learning_rate: float | None = _option(None, "--learning-rate", "peak learning rate (default: by approach)",
                                          type=float)
    seed: int = _option(1, "--seed", "seed of the weights, the augmentation and (unless --split-seed) the "
                        "patient split", type=int)
    split_seed: int | None = _option(None, "--split-seed", "seed of the patient split alone (models of one split "
                                     "can be ensembled)", type=int)
    val_fraction: float = _option(0.15, "--val-fraction", "share of patients for validation", type=float)
    test_fraction: float = _option(0.15, "--test-fraction", "share of patients held out for the test", type=float)
    augment: bool = _option(True, "--augment", "on-device augmentation (--no-augment turns it off)",
                            action=argparse.BooleanOptionalAction)
    aug_rotation: float = _option(10.0, "--aug-rotation", "augmentation: largest rotation, degrees", type=float)
    aug_zoom: float = _option(0.15, "--aug-zoom", "augmentation: largest zoom in or out (fraction)", type=float)
    aug_aspect: float = _option(0.1, "--aug-aspect", "augmentation: largest aspect change (log scale), a random "
                                "resized crop with --aug-zoom", type=float)
    aug_shift: float = _option(0.08, "--aug-shift", "augmentation: largest shift (fraction of the side)", type=float)
    aug_brightness: float = _option(0.12, "--aug-brightness", "augmentation: largest brightness change", type=float)
    aug_contrast: float = _option(0.25, "--aug-contrast", "augmentation: largest contrast change", type=float)
    aug_gamma: float = _option(0.25, "--aug-gamma", "augmentation: largest gamma change (log scale)", type=float)
    aug_noise: float = _option(0.03, "--aug-noise", "augmentation: largest Gaussian noise (standard deviation)",
                               type=float)
    aug_erase: float = _option(0.5, "--aug-erase", "augmentation: probability of erasing each of two rectangles on "
                               "the film's borders and corners (electrodes, text markers)", type=float)
    mixup: float = _option(0.0, "--mixup", "mixup alpha (0: off)", type=float)
    label_smoothing: float = _option(0.0, "--label-smoothing", "label smoothing of the loss", type=float)
    balance: str = _option("weights", "--balance", "class balance: weights (loss weights) or sampling (balanced "
                           "batches)", choices=("weights", "sampling"))
    select: str = _option("auc", "--select", "epoch chosen by the best validation auc or loss",
                          choices=("auc", "loss"))
    crop: float = _option(0.0, "--crop", "lung-field crop inside the model: fraction cut from each side", type=float)
    input_norm: str = _option("standardize", "--input-norm", "standardize: each film to zero mean and unit variance "
                              "inside the model; none: as it is", choices=("none", "standardize"))
    resolution: int = _option(0, "--resolution", "working resolution inside the model, pixels (0: 224)", type=int)
    dropout: float = _option(0.3, "--dropout", "dropout before the classification layer", type=float)
    weight_decay: float = _option(1e-4, "--weight-decay", "AdamW weight decay", type=float)
    patience: int = _option(6, "--patience", "epochs without validation AUC gain before stopping", type=int)
    warmup_epochs: int = _option(2, "--warmup-epochs", "epochs of learning-rate warm-up", type=int)
    threshold_rule: str = _option("youden", "--threshold-rule", "youden, sensitivity:0.95 or specificity:0.90 (on "
                                  "the validation patients)", type=rule_argument)
    compression: str = _option("auto", "--compression", "weights storage (auto: int8 for ResNet152V2, float32 for "
                               "the CNN)", choices=("auto", "float32", "float16", "int8"))
    name: str | None = _option(None, "--name", "model name for the card")
    limit: int | None = _option(None, "--limit", "train on a stratified subset of about N images", type=int)
    mixed_precision: str = _option("auto", "--mixed-precision", "auto, float32 or mixed_bfloat16")
    distribute: str = _option("none", "--distribute", "none, or data-parallel: every local accelerator (and host) "
                              "trains on its share of each batch (Keras DataParallel; needs KERAS_BACKEND=jax; "
                              "--batch-size must divide by the device count)", choices=DISTRIBUTIONS)
    cnn_width: int = _option(32, "--cnn-width", "cnn: filters of the first block", type=int)
    checkpoint: Path | None = _option(None, "--checkpoint", "write the best weights so far to this file at each "
                                      "new best epoch", type=Path, metavar="FILE.weights.h5")
    resume: bool = _option(False, "--resume", "start from --checkpoint when it exists", action="store_true")
    time_limit: float | None = _option(None, "--time-limit", "stop training after this long and keep the best "
                                       "epoch so far", type=float, metavar="MINUTES")
    predictions: Path | None = _option(None, "--predictions", "write the held-out test predictions of the saved "
                                       "package", type=Path, metavar="CSV")
    command: str = _option("")  # the command line that started the run, for the card

    def resolved_split_seed(self) -> int:
        return self.seed if self.split_seed is None else self.split_seed

    def resolved_weights(self) -> str:
        return self.weights or approach(self.approach).default_weights

    def resolved_learning_rate(self) -> float:
        if self.learning_rate:
            return float(self.learning_rate)
        if approach(self.approach).arch.pretrained and self.resolved_weights() == "none":
            return SCRATCH_LEARNING_RATE
        return approach(self.approach).learning_rate

    def resolved_compression(self) -> str:
        return approach(self.approach).compression if self.compression == "auto" else self.compression

    def augmentation(self) -> dict:
        """The ChestAugment settings of this run (empty when augmentation is off)."""
        if not self.augment:
            return {}
        return {"rotation_deg": self.aug_rotation, "zoom": self.aug_zoom, "aspect": self.aug_aspect,
                "shift": self.aug_shift, "brightness": self.aug_brightness, "contrast": self.aug_contrast,
                "gamma": self.aug_gamma, "noise": self.aug_noise, "erase": self.aug_erase}

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}

    def card_record(self) -> dict:
        """The options as the card records them: every option, no local output paths."""
        record = self.to_dict()
        for key in ("out", "checkpoint", "predictions", "command"):
            record.pop(key, None)
        if record.get("data_dir"):
            record["data_dir"] = Path(record["data_dir"]).name
        return record


def _flag_fields():
    return [f for f in dataclasses.fields(TrainConfig) if f.metadata.get("flag")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one argument per option of :class:`TrainConfig` to ``parser``."""
    for f in _flag_fields():
        flag, kwargs = f.metadata["flag"], dict(f.metadata["argparse"])
        if flag.startswith("--"):
            kwargs.setdefault("default", f.default if f.default is not dataclasses.MISSING else None)
            parser.add_argument(flag, dest=f.name, help=f.metadata["help"], **kwargs)
        else:
            kwargs.pop("required", None)
            parser.add_argument(f.name, metavar=flag, help=f.metadata["help"], **kwargs)


def from_arguments(args: argparse.Namespace, **extra) -> TrainConfig:
    """The config parsed by a parser that :func:`add_arguments` built."""
    values = {f.name: getattr(args, f.name) for f in _flag_fields() if hasattr(args, f.name)}
    return TrainConfig(**values, **extra)


def to_arguments(config: TrainConfig) -> list[str]:
    """``pneumonet train`` arguments (after the program name) that recreate ``config``.

    Options left at their default are not repeated, so the command reads as a user would
    type it.
    """
    args = ["train"]
    for f in _flag_fields():
        flag, value = f.metadata["flag"], getattr(config, f.name)
        if not flag.startswith("--"):
            if value is None:
                raise ValueError(f"no {flag} chosen")
            args.append(str(value))
            continue
        required = f.metadata["argparse"].get("required", False)
        if value is None or (value == f.default and not required):
            continue
        action = f.metadata["argparse"].get("action")
        if action is argparse.BooleanOptionalAction:
            args.append(flag if value else "--no-" + flag[2:])
        elif action == "store_true":
            args += [flag] if value else []
        else:
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return args
