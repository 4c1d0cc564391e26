"""The first and last stages every Pneumonet model shares: the input stage (optional
lung-field crop and per-film standardisation) and the classification head, which ends in
a float32 probability layer so mixed precision never reaches the output."""

from __future__ import annotations

import keras

from pneumonet_core.models.layers import CentralCrop, PerImageStandardize

#: Layer names of the input stage and the head; always trainable, never part of a backbone.
HEAD_LAYERS = ("scan", "crop", "resize", "standardize", "normalize", "gap", "head_dropout", "prediction")


def input_stage(inputs, spec):
    """The spec's crop, working resolution and standardisation on the (224, 224, 1) film in [0, 1]."""
    x = inputs
    if spec.crop > 0:
        x = CentralCrop(spec.crop, name="crop")(x)
    if spec.resolution and spec.resolution != x.shape[1]:
        x = keras.layers.Resizing(spec.resolution, spec.resolution, name="resize")(x)
    if spec.input_norm == "standardize":
        x = PerImageStandardize(name="standardize")(x)
    return x


def classification_head(features, spec):
    """Global average pooling, dropout, then a sigmoid (binary, subtype) or softmax (three labels)."""
    x = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
    if spec.one_output:
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="prediction")(x)
    return keras.layers.Dense(len(spec.class_names), activation="softmax", dtype="float32", name="prediction")(x)
