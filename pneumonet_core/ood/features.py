"""The features the guard reads, taken in the same forward pass as the model's outputs.

A second Keras model with two outputs, (the model's prediction, the guard layer's output
averaged over the image), shares the loaded model's layers and weights, so probability
and features cost one forward pass. The guard layer is named by the architecture
(:attr:`~pneumonet_core.models.architectures.Architecture.guard_layer`): a feature map at
28 x 28, a quarter of the way down the network, whose channel means describe textures and
structures of a film; every Pneumonet model also has the penultimate pooled vector
``gap`` (before dropout and ``prediction``), the fallback. Measured on the bundled models,
the mid-network map separates photos, documents, CT slices and other anatomy from chest
films far better than ``gap``, whose features are shaped for the pneumonia decision only.

Batches are padded to one static shape, as in :mod:`pneumonet_core.runtime.predict`, so
compiled backends compile once. Plain Keras: it runs under TensorFlow and JAX alike.
"""

from __future__ import annotations

import numpy as np

from pneumonet_core.runtime.predict import predict_padded

#: The penultimate pooled features every Pneumonet model has: the fallback guard layer.
FEATURE_LAYER = "gap"


def guard_layer(card) -> str:
    """The layer the guard of a model with this card reads by default (its architecture's)."""
    from pneumonet_core.models.architectures import ARCHITECTURES

    architecture = ARCHITECTURES.get(card.backbone)
    return architecture.guard_layer if architecture is not None else FEATURE_LAYER


def _holder(model, layer: str):
    """The model that holds ``layer``: ``model`` itself, or an ensemble's first member (see
    :mod:`pneumonet_core.models.ensemble`), whose features stand for the ensemble's."""
    from pneumonet_core.models.ensemble import members

    for candidate in [model, *members(model)]:
        if any(found.name == layer for found in candidate.layers):
            return candidate
    return None


def has_layer(model, layer: str) -> bool:
    """True when ``model`` (or an ensemble's first member) has a layer of that name."""
    return _holder(model, layer) is not None


def check_layer(model, layer: str, dimensions: int) -> None:
    """Raise ValueError unless ``model`` has ``layer`` with ``dimensions`` channels (what a reference was fitted on)."""
    holder = _holder(model, layer)
    if holder is None:
        raise ValueError(f"the model has no layer {layer!r} for its reference")
    channels = int(holder.get_layer(layer).output.shape[-1])
    if channels != dimensions:
        raise ValueError(f"layer {layer!r} has {channels} channels, the reference {dimensions}")


def feature_model(model, layer: str = FEATURE_LAYER):
    """A Keras model with two outputs, (model output, ``layer``'s output averaged over the image).

    It shares ``model``'s layers and weights; a 2-D output (``gap``) is taken as it is. In
    an ensemble the layer is read in the first member, run on the same input.
    """
    import keras

    holder = _holder(model, layer) or model
    if holder is model:
        features = model.get_layer(layer).output
    else:
        features = keras.Model(holder.inputs, holder.get_layer(layer).output)(model.inputs[0])
    if len(features.shape) == 4:
        features = keras.layers.GlobalAveragePooling2D(name="guard_pool", dtype="float32")(features)
    return keras.Model(model.inputs, [model.outputs[0], features], name="outputs_and_features")


def features_only_model(model, layer: str = FEATURE_LAYER):
    """The network cut at ``layer`` with its output averaged over the image: the guard's
    features without the rest of the forward pass (the viewer's one-pass Grad-CAM gives
    the outputs already)."""
    import keras

    holder = _holder(model, layer) or model
    features = holder.get_layer(layer).output
    if len(features.shape) == 4:
        features = keras.layers.GlobalAveragePooling2D(name="guard_pool", dtype="float32")(features)
    return keras.Model(holder.inputs, features, name="guard_features")


def predict_with_features(two_outputs, inputs: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(outputs (N, classes), features (N, D)) for model inputs, in padded static-shape passes."""
    outputs, features = predict_padded(two_outputs, inputs, batch_size)
    return outputs, features
