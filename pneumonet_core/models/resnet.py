"""ResNet152V2 for transfer learning and fine-tuning: the backbone, which blocks train, and
loading backbone weights from a Keras file or another Pneumonet model."""

from __future__ import annotations

from pathlib import Path

import keras

from pneumonet_core.models.architectures import ARCHITECTURES
from pneumonet_core.models.archive import is_model_package
from pneumonet_core.models.layers import GrayToBackboneInput
from pneumonet_core.models.package import load_package
from pneumonet_core.models.stages import HEAD_LAYERS, classification_head, input_stage

ARCH = ARCHITECTURES["ResNet152V2"]


def build_resnet(spec) -> keras.Model:
    """ResNet152V2 backbone with a new head; which layers train is set by :func:`set_trainable`."""
    inputs = keras.Input((*ARCH.input_size, 1), name="scan")
    # ResNetV2 expects 3 channels in [-1, 1] ("tf" mode).
    x = GrayToBackboneInput(channels=3, scale=2.0, offset=-1.0, name="normalize")(input_stage(inputs, spec))
    weights = "imagenet" if spec.weights == "imagenet" else None
    backbone = keras.applications.ResNet152V2(include_top=False, weights=weights, input_tensor=x)
    model = keras.Model(inputs, classification_head(backbone.output, spec), name=f"pneumonet_{spec.approach}")
    if spec.weights not in ("none", "imagenet", "", None):
        load_backbone_weights(model, Path(spec.weights))
    set_trainable(model, spec)
    return model


def _block_of(layer_name: str) -> str | None:
    for block in ARCH.blocks:
        if layer_name.startswith(block + "_"):
            return block
    return None


def set_trainable(model: keras.Model, spec) -> None:
    """Freeze the backbone for transfer learning; unfreeze its last N blocks for fine-tuning.

    BatchNormalization layers of frozen blocks stay frozen (inference mode), the usual
    Keras practice that keeps their statistics from drifting on a small data set.
    """
    blocks = ARCH.blocks
    if spec.approach == "transfer":
        trainable_blocks: set[str] = set()
        train_post = False
    elif spec.unfreeze == "all":
        trainable_blocks = set(blocks)
        train_post = True
    else:
        n = int(spec.unfreeze)
        if not 0 <= n <= len(blocks):
            raise ValueError(f"unfreeze must be between 0 and {len(blocks)} or 'all'")
        trainable_blocks = set(blocks[len(blocks) - n :]) if n else set()
        train_post = n > 0
    for layer in model.layers:
        if layer.name in HEAD_LAYERS:
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

    Layers are matched by name. A Pneumonet model's classification layer is copied too
    when its shape fits (same labels), so fine-tuning starts from the model's own answers;
    a Keras backbone file has no head and the new one starts at random.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path}: weights file not found")
    if is_model_package(path):
        source = load_package(path).model
    else:
        source = keras.applications.ResNet152V2(include_top=False, weights=None, input_shape=(*ARCH.input_size, 3))
        source.load_weights(str(path))
    by_name = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in model.layers:
        other = by_name.get(layer.name)
        if other is not None and layer.weights and len(layer.weights) == len(other.weights):
            if all(tuple(a.shape) == tuple(b.shape) for a, b in zip(layer.weights, other.weights)):
                layer.set_weights(other.get_weights())
                copied += 1
    if copied == 0:
        raise ValueError(f"{path}: no backbone layer matched; is it a {ARCH.display_name} weights file?")
