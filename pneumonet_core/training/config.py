"""What a training run is asked to do: data, approach, hyper-parameters and output."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

#: Learning rates by approach; fine-tuning a pretrained backbone wants a lower one.
DEFAULT_LEARNING_RATES = {"cnn": 1e-3, "transfer": 1e-3, "finetune": 1e-4, "finetune-scratch": 1e-3}


@dataclass
class TrainConfig:
    """A training run; the CLI's ``pneumonet train`` flags map one to one onto these fields."""

    data_dir: Path
    out: Path
    approach: str = "cnn"
    labels: str = "binary"
    weights: str | None = None  # None: "none" for cnn, "imagenet" for the ResNet approaches
    unfreeze: int | str = 10
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float | None = None
    seed: int = 1
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    augment: bool = True
    patience: int = 6
    threshold_rule: str = "youden"
    compression: str = "auto"  # int8 for ResNet (fits 60 MB), float32 for the CNN
    name: str | None = None
    limit: int | None = None  # use a stratified subset of about this many images
    mixed_precision: str = "auto"  # "auto": bfloat16 on a GPU, float32 elsewhere
    cnn_width: int = 32
    predictions_csv: Path | None = None
    warmup_epochs: int = 2
    checkpoint: Path | None = None  # best weights so far, rewritten (atomically) at each new best epoch
    resume: bool = False  # start from ``checkpoint`` when it exists
    time_limit_minutes: float | None = None  # stop training (keeping the best epoch) after this long
    command: str = ""

    def resolved_weights(self) -> str:
        if self.weights:
            return self.weights
        return "none" if self.approach == "cnn" else "imagenet"

    def resolved_learning_rate(self) -> float:
        if self.learning_rate:
            return float(self.learning_rate)
        if self.approach == "finetune" and self.resolved_weights() == "none":
            return DEFAULT_LEARNING_RATES["finetune-scratch"]
        return DEFAULT_LEARNING_RATES[self.approach]

    def resolved_compression(self) -> str:
        if self.compression != "auto":
            return self.compression
        return "float32" if self.approach == "cnn" else "int8"

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
