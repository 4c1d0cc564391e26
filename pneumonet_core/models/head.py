"""The classification head every Pneumonet model ends in: pooling, dropout and a float32
probability layer (so mixed precision never reaches the output)."""

from __future__ import annotations

import keras


def classification_head(features, spec):
    """Global average pooling, dropout, then a sigmoid (binary) or softmax (three labels)."""
    x = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
    if spec.labels == "binary":
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="prediction")(x)
    return keras.layers.Dense(len(spec.class_names), activation="softmax", dtype="float32", name="prediction")(x)


#: Layer names of the head and input, always trainable.
HEAD_LAYERS = ("gap", "head_dropout", "prediction", "normalize", "scan")
