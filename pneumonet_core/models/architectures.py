"""The three approaches of the study: a custom CNN, transfer learning and fine-tuning.

Every model takes the one preprocessing's output (224 x 224 x 1, [0, 1]) and ends in a
float32 probability head, so mixed precision never reaches the output. The name of the
last convolutional feature map is recorded for Grad-CAM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

from pneumonet_core.models.approaches import APPROACH_DESCRIPTIONS, APPROACHES, LABEL_SETS  # noqa: F401
from pneumonet_core.models.layers import GrayToBackboneInput
from pneumonet_core.preprocessing import INPUT_SIZE

#: Name of the layer whose output Grad-CAM explains, per architecture family.
CNN_LAST_CONV = "last_conv"
RESNET_LAST_CONV = "post_relu"
#: ResNet152V2 stages in order; "unfreeze N" unfreezes the last N of these blocks.
RESNET_BLOCKS = tuple(
    [f"conv2_block{i}" for i in range(1, 4)]
    + [f"conv3_block{i}" for i in range(1, 9)]
    + [f"conv4_block{i}" for i in range(1, 37)]
    + [f"conv5_block{i}" for i in range(1, 4)]
)


@dataclass
class ModelSpec:
    """How a model was built: enough to rebuild it and to describe it in the card."""

    approach: str = "cnn"
    labels: str = "binary"
    weights: str = "none"  # "none", "imagenet", a weights file, or a Pneumonet model file
    unfreeze: int | str = 0  # finetune: last N ResNet blocks trainable, or "all"
    dropout: float = 0.3
    cnn_width: int = 32
    extra: dict = field(default_factory=dict)

    @property
    def class_names(self) -> tuple[str, ...]:
        return LABEL_SETS[self.labels]

    @property
    def backbone(self) -> str:
        return "custom-cnn" if self.approach == "cnn" else "ResNet152V2"

    @property
    def gradcam_layer(self) -> str:
        return CNN_LAST_CONV if self.approach == "cnn" else RESNET_LAST_CONV

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _head(features, spec: ModelSpec):
    x = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
    if spec.labels == "binary":
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="prediction")(x)
    return keras.layers.Dense(len(spec.class_names), activation="softmax", dtype="float32", name="prediction")(x)


def _conv_block(x, filters: int, name: str, last_name: str | None = None):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = keras.layers.Activation("relu", name=f"{name}_relu1")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn2")(x)
    return keras.layers.Activation("relu", name=last_name or f"{name}_relu2")(x)


def build_cnn(spec: ModelSpec) -> keras.Model:
    """A compact VGG-style CNN (about 0.3 M parameters at width 32) that trains on a CPU in minutes."""
    inputs = keras.Input((*INPUT_SIZE, 1), name="scan")
    x = GrayToBackboneInput(channels=1, scale=1.0, offset=0.0, name="normalize")(inputs)
    # A strided stem brings 224 px to 112 cheaply; the training films carry little detail
    # below that scale after the dataset's own resize.
    x = keras.layers.Conv2D(spec.cnn_width, 5, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.Activation("relu", name="stem_relu")(x)
    widths = [spec.cnn_width, spec.cnn_width * 2, spec.cnn_width * 4, spec.cnn_width * 4]
    for i, width in enumerate(widths):
        x = keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
        last = CNN_LAST_CONV if i == len(widths) - 1 else None
        x = _conv_block(x, width, f"block{i + 1}", last_name=last)
    return keras.Model(inputs, _head(x, spec), name="pneumonet_cnn")


def _resnet_backbone(x, weights: str | None):
    """ResNet152V2 without top, built on ``x`` so its layers are part of the outer graph."""
    return keras.applications.ResNet152V2(include_top=False, weights=weights, input_tensor=x)


def build_resnet(spec: ModelSpec) -> keras.Model:
    """ResNet152V2 backbone with a new head; which layers train is set by :func:`set_trainable`."""
    inputs = keras.Input((*INPUT_SIZE, 1), name="scan")
    x = GrayToBackboneInput(channels=3, scale=2.0, offset=-1.0, name="normalize")(inputs)
    weights = "imagenet" if spec.weights == "imagenet" else None
    backbone = _resnet_backbone(x, weights)
    model = keras.Model(inputs, _head(backbone.output, spec), name=f"pneumonet_{spec.approach}")
    weights_path = spec.weights
    if weights_path not in ("none", "imagenet", "", None):
        load_backbone_weights(model, Path(weights_path))
    set_trainable(model, spec)
    return model


def build_model(spec: ModelSpec) -> keras.Model:
    """Build the model an approach describes (weights as the spec says)."""
    if spec.approach not in APPROACHES:
        raise ValueError(f"unknown approach {spec.approach!r}; choose one of {', '.join(APPROACHES)}")
    if spec.labels not in LABEL_SETS:
        raise ValueError(f"unknown label set {spec.labels!r}; choose binary or three")
    return build_cnn(spec) if spec.approach == "cnn" else build_resnet(spec)


def _block_of(layer_name: str) -> str | None:
    for block in RESNET_BLOCKS:
        if layer_name.startswith(block + "_"):
            return block
    return None


def set_trainable(model: keras.Model, spec: ModelSpec) -> None:
    """Freeze the backbone for transfer learning; unfreeze its last N blocks for fine-tuning.

    BatchNormalization layers of frozen blocks stay frozen (inference mode), the usual
    Keras practice that keeps their statistics from drifting on a small data set.
    """
    if spec.approach == "cnn":
        return
    if spec.approach == "transfer":
        trainable_blocks: set[str] = set()
        train_post = False
    elif spec.unfreeze == "all":
        trainable_blocks = set(RESNET_BLOCKS)
        train_post = True
    else:
        n = int(spec.unfreeze)
        if not 0 <= n <= len(RESNET_BLOCKS):
            raise ValueError(f"unfreeze must be between 0 and {len(RESNET_BLOCKS)} or 'all'")
        trainable_blocks = set(RESNET_BLOCKS[len(RESNET_BLOCKS) - n :]) if n else set()
        train_post = n > 0
    head = {"gap", "head_dropout", "prediction", "normalize", "scan"}
    for layer in model.layers:
        if layer.name in head:
            layer.trainable = True
        elif layer.name.startswith("post_"):
            layer.trainable = train_post
        elif layer.name.startswith("conv1_") or layer.name == "conv1_pad" or layer.name.startswith("pool1"):
            layer.trainable = spec.unfreeze == "all" and spec.approach == "finetune"
        else:
            block = _block_of(layer.name)
            layer.trainable = block in trainable_blocks if block else layer.trainable


def load_backbone_weights(model: keras.Model, path: Path) -> None:
    """Load backbone weights from a Keras weights file or from an existing Pneumonet model.

    Layers are matched by name, so the head of the source is ignored: this is how a
    hospital adapts the bundled model to its own images.
    """
    from pneumonet_core.models.package import is_model_package, load_package

    if not path.exists():
        raise FileNotFoundError(f"{path}: weights file not found")
    if is_model_package(path):
        source = load_package(path).model
    else:
        source = keras.applications.ResNet152V2(include_top=False, weights=None, input_shape=(*INPUT_SIZE, 3))
        source.load_weights(str(path))
    by_name = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in model.layers:
        if layer.name in ("prediction",):
            continue
        other = by_name.get(layer.name)
        if other is not None and layer.weights and len(layer.weights) == len(other.weights):
            if all(tuple(a.shape) == tuple(b.shape) for a, b in zip(layer.weights, other.weights)):
                layer.set_weights(other.get_weights())
                copied += 1
    if copied == 0:
        raise ValueError(f"{path}: no backbone layer matched; is it a ResNet152V2 weights file?")
