"""One description per architecture and per training approach: the single place that says
what a model is built from, which layer Grad-CAM reads, which blocks fine-tuning can
unfreeze, and how each approach trains.

Plain data, no Keras import: the GUI reads these descriptions without loading TensorFlow.
Adding an architecture is one new :class:`Architecture` entry in :data:`ARCHITECTURES`
plus its builder module (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pneumonet_core.preprocessing import INPUT_SIZE, PREPROCESSING_ID

#: Each label set's class names. "subtype" is the second-stage model: pneumonia films only,
#: bacterial or viral, one sigmoid output for VIRUS (see :mod:`pneumonet_core.inference.subtype`).
LABEL_SETS = {
    "binary": ("NORMAL", "PNEUMONIA"),
    "three": ("NORMAL", "BACTERIA", "VIRUS"),
    "subtype": ("BACTERIA", "VIRUS"),
}
#: Label sets whose head is one sigmoid unit for the second class.
ONE_OUTPUT_LABELS = ("binary", "subtype")


@dataclass(frozen=True)
class Architecture:
    """What a network is: how to build it, what it reads, and which of its layers matter."""

    key: str  # stored as the card's ``backbone``
    display_name: str
    builder: str  # "module:function" that builds a keras.Model from a ModelSpec
    gradcam_layer: str  # the feature map Grad-CAM explains
    #: The feature map the out-of-distribution guard pools (:mod:`pneumonet_core.ood`): one at a
    #: quarter of the way down (28 x 28), which sets chest films apart from other images far
    #: better than the penultimate ``gap`` vector (benchmarks/results/bench_ood.txt).
    guard_layer: str = "gap"
    pretrained: bool = False  # can start from ImageNet weights
    blocks: tuple[str, ...] = ()  # blocks in network order; "unfreeze N" trains the last N
    input_size: tuple[int, int] = INPUT_SIZE
    preprocessing: str = PREPROCESSING_ID
    #: Scans per inference forward pass. ResNet152V2's passes add about 106 MiB at 4 scans and
    #: 207 MiB at 16 on the CPU: 4 keeps a batch run with it under 1.5 GB resident whatever
    #: the files (tests/test_hardening_inputs.py), at about 0.9x the images/s of 16
    #: (benchmarks/bench_pass_size.py).
    inference_batch: int = 16

    def build(self, spec: ModelSpec):
        """A new Keras model for ``spec`` (imports Keras)."""
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(spec)

    def input_block(self) -> dict:
        """The card's ``input`` block: what the model must be fed."""
        return {"size": list(self.input_size), "channels": 1, "range": "0..1", "preprocessing": self.preprocessing}

    def weights_statement(self, weights: str | None) -> str:
        """How the weights started, in words for the card."""
        if not self.pretrained:
            return f"random initialisation ({self.display_name} trained from scratch)"
        if weights == "imagenet":
            return f"{self.display_name} backbone initialised from ImageNet weights"
        if weights in ("none", "", None):
            return f"{self.display_name} backbone from random initialisation (no ImageNet weights)"
        return f"{self.display_name} backbone initialised from {Path(weights).name}"


_RESNET152V2_BLOCKS = tuple(
    [f"conv2_block{i}" for i in range(1, 4)]
    + [f"conv3_block{i}" for i in range(1, 9)]
    + [f"conv4_block{i}" for i in range(1, 37)]
    + [f"conv5_block{i}" for i in range(1, 4)]
)

ARCHITECTURES = {
    a.key: a
    for a in (
        Architecture(key="custom-cnn", display_name="Custom CNN", builder="pneumonet_core.models.cnn:build_cnn",
                     gradcam_layer="last_conv", guard_layer="block2_relu2"),
        Architecture(key="ResNet152V2", display_name="ResNet152V2",
                     builder="pneumonet_core.models.resnet:build_resnet", gradcam_layer="post_relu",
                     guard_layer="conv3_block8_out", pretrained=True, blocks=_RESNET152V2_BLOCKS,
                     inference_batch=4),
    )
}


@dataclass(frozen=True)
class Approach:
    """One of the study's three ways to train, on one architecture."""

    key: str
    title: str
    description: str
    architecture: str  # key into ARCHITECTURES
    learning_rate: float
    default_weights: str  # "none" or "imagenet"
    compression: str  # storage that keeps a package under 60 MB with its figures
    #: Images/s on a 2-core CPU (Keras 3.15, TensorFlow 2.21, float32, batch 32): a training
    #: step and the validation pass, for the wizard's time estimate; start-up seconds (importing
    #: TensorFlow, building and compiling the network in the training process); and the
    #: finish's fixed seconds (saving, reloading and sealing the package; the guard's fit and
    #: the measuring passes are counted by image).
    cpu_rates: dict = field(default_factory=dict)
    startup_s: float = 15.0
    finish_s: float = 5.0

    @property
    def arch(self) -> Architecture:
        return ARCHITECTURES[self.architecture]


APPROACH_LIST = (
    Approach("cnn", "Custom CNN", "Custom CNN trained from scratch: small, fast, needs no pretrained weights.",
             "custom-cnn", 1e-3, "none", "float32", {"train": 95.0, "predict": 850.0}, 15.0, 5.0),
    Approach("transfer", "Transfer learning",
             "Transfer learning: a frozen ResNet152V2 backbone as feature extractor with a new classification head.",
             "ResNet152V2", 1e-3, "imagenet", "int8", {"train": 12.0, "predict": 11.0}, 45.0, 30.0),
    Approach("finetune", "Fine-tuning",
             "Fine-tuning: ResNet152V2 with its last blocks unfrozen, trained at a lower learning rate.",
             "ResNet152V2", 1e-4, "imagenet", "int8", {"train": 5.0, "predict": 7.0}, 45.0, 30.0),
)
APPROACH_BY_KEY = {a.key: a for a in APPROACH_LIST}
APPROACHES = tuple(APPROACH_BY_KEY)
#: A backbone trained from random weights learns faster with the from-scratch rate.
SCRATCH_LEARNING_RATE = 1e-3


def approach(key: str) -> Approach:
    if key not in APPROACH_BY_KEY:
        raise ValueError(f"unknown approach {key!r}; choose one of {', '.join(APPROACHES)}")
    return APPROACH_BY_KEY[key]


def architecture_named(key: str) -> Architecture:
    """The architecture a card's ``backbone`` names."""
    if key not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {key!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[key]


@dataclass
class ModelSpec:
    """How a model was built: enough to rebuild it and to describe it in the card."""

    approach: str = "cnn"
    labels: str = "binary"
    weights: str = "none"  # "none", "imagenet", a weights file, or a Pneumonet model file
    unfreeze: int | str = 0  # finetune: last N blocks trainable, or "all"
    dropout: float = 0.3
    cnn_width: int = 32
    crop: float = 0.0  # lung-field crop: fraction cut from each side of the film, inside the model
    input_norm: str = "none"  # "standardize": each film to zero mean and unit variance, inside the model
    resolution: int = 0  # working resolution inside the model (0: the input size)
    members: int = 1  # more than 1: an ensemble of that many such models (pneumonet ensemble)
    extra: dict = field(default_factory=dict)

    @property
    def class_names(self) -> tuple[str, ...]:
        return LABEL_SETS[self.labels]

    @property
    def one_output(self) -> bool:
        """True when the head is one sigmoid unit (the probability of the second class)."""
        return self.labels in ONE_OUTPUT_LABELS

    @property
    def architecture(self) -> Architecture:
        return approach(self.approach).arch

    @property
    def backbone(self) -> str:
        return self.architecture.key

    @property
    def gradcam_layer(self) -> str:
        return self.architecture.gradcam_layer

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def build_model(spec: ModelSpec):
    """Build the Keras model a spec describes (weights as the spec says)."""
    approach(spec.approach)  # a one-line error for an unknown approach
    if spec.labels not in LABEL_SETS:
        raise ValueError(f"unknown label set {spec.labels!r}; choose one of {', '.join(LABEL_SETS)}")
    return spec.architecture.build(spec)
