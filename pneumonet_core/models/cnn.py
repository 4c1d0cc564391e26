"""The custom CNN of the study's first approach: a compact VGG-style network trained from scratch."""

from __future__ import annotations

import keras

from pneumonet_core.models.architectures import ARCHITECTURES
from pneumonet_core.models.layers import GrayToBackboneInput
from pneumonet_core.models.stages import classification_head, input_stage

ARCH = ARCHITECTURES["custom-cnn"]


def _conv_block(x, filters: int, name: str, last_name: str | None = None):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = keras.layers.Activation("relu", name=f"{name}_relu1")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn2")(x)
    return keras.layers.Activation("relu", name=last_name or f"{name}_relu2")(x)


def build_cnn(spec) -> keras.Model:
    """About 0.3 M parameters at width 32; trains on a CPU in minutes."""
    inputs = keras.Input((*ARCH.input_size, 1), name="scan")
    x = GrayToBackboneInput(channels=1, scale=1.0, offset=0.0, name="normalize")(input_stage(inputs, spec))
    # A strided stem brings 224 px to 112 cheaply; the training films carry little detail
    # below that scale after the dataset's own resize.
    x = keras.layers.Conv2D(spec.cnn_width, 5, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.Activation("relu", name="stem_relu")(x)
    widths = [spec.cnn_width, spec.cnn_width * 2, spec.cnn_width * 4, spec.cnn_width * 4]
    for i, width in enumerate(widths):
        x = keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
        last = ARCH.gradcam_layer if i == len(widths) - 1 else None
        x = _conv_block(x, width, f"block{i + 1}", last_name=last)
    return keras.Model(inputs, classification_head(x, spec), name="pneumonet_cnn")
