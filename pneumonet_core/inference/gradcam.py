"""Grad-CAM: which regions of the scan drove the model's decision.

The heat map of the last convolutional block for the predicted class (Selvaraju et al.,
2017), upsampled straight to the scan's original size. The model saw the scan squashed to
224 x 224, so stretching the map back to (height, width) undoes that squash and keeps it
aligned with the full-resolution image. Gradients need the backend's autodiff: TensorFlow
(the app) and JAX (the GPU machine) are supported.
"""

from __future__ import annotations

import weakref

import numpy as np
from PIL import Image


#: Grad-CAM models built per classifier model, so repeated calls reuse the compiled graph.
_GRAD_MODELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_TF_STEPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def gradcam_model(model, layer_name: str):
    """A model returning (feature map of ``layer_name``, prediction) for one forward pass."""
    import keras

    return keras.Model(model.inputs, [model.get_layer(layer_name).output, model.outputs[0]])


def _class_score(keras_ops, prediction, class_index: int, binary: bool):
    # For the sigmoid head, the NORMAL class score is the negated logit direction: use
    # 1 - p so that its gradient points toward "more normal".
    if binary:
        p = prediction[:, 0]
        return keras_ops.sum(p if class_index == 1 else 1.0 - p)
    return keras_ops.sum(prediction[:, class_index])


def _features_and_gradients(grad_model, x: np.ndarray, class_index: int, binary: bool):
    import keras
    from keras import ops

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # the app's backend; the training path never comes here

        step = _TF_STEPS.get(grad_model)
        if step is None:
            # Compiled once per model: eager ResNet152V2 costs several times a graph call.
            @tf.function(reduce_retracing=True)
            def step(inputs, class_index, binary):
                with tf.GradientTape() as tape:
                    features, prediction = grad_model(inputs, training=False)
                    score = _class_score(ops, prediction, class_index, binary)
                return features, tape.gradient(score, features), prediction

            _TF_STEPS[grad_model] = step
        features, grads, prediction = step(tf.convert_to_tensor(x), class_index, binary)
        return np.asarray(features), np.asarray(grads), np.asarray(prediction)
    if backend == "jax":
        import jax

        features, prediction = grad_model.predict_on_batch(x)
        head = _head_after_features(grad_model)
        head_vars = ([v.value for v in head.trainable_variables], [v.value for v in head.non_trainable_variables])

        def score_fn(f):
            pred, _ = head.stateless_call(*head_vars, f, training=False)
            return _class_score(ops, pred, class_index, binary)

        grads = jax.grad(score_fn)(features)
        return np.asarray(features), np.asarray(grads), np.asarray(prediction)
    raise NotImplementedError(f"Grad-CAM is not implemented for the {backend} backend")


def _head_after_features(grad_model):
    """The layers after the Grad-CAM feature map, as a model of their own (JAX path).

    In every Pneumonet model those are the head only (pooling, dropout, prediction), a
    plain chain, so rebuilding them on a new input is exact.
    """
    import keras

    features = grad_model.outputs[0]
    names = [layer.name for layer in grad_model.layers]
    start = names.index(features._keras_history.operation.name) + 1
    inp = keras.Input(features.shape[1:])
    x = inp
    for layer in grad_model.layers[start:]:
        x = layer(x)
    return keras.Model(inp, x)


def compute_gradcam(model, layer_name: str, model_input: np.ndarray, class_index: int, binary: bool = True,
                    output_shape: tuple[int, int] | None = None, crop_margin: float = 0.0) -> np.ndarray:
    """Heat map in [0, 1] for one preprocessed input (224, 224, 1), at ``output_shape`` (H, W).

    ``class_index`` is the class to explain (1 = pneumonia for the binary head). A model
    that crops the film (``crop_margin`` per side) sees only the central box, so the map
    is placed there and the cut borders stay 0.
    """
    per_model = _GRAD_MODELS.setdefault(model, {})
    grad_model = per_model.get(layer_name)
    if grad_model is None:
        grad_model = per_model[layer_name] = gradcam_model(model, layer_name)
    x = np.asarray(model_input, dtype=np.float32)[None]
    features, grads, _ = _features_and_gradients(grad_model, x, class_index, binary)
    weights = grads[0].mean(axis=(0, 1))
    cam = np.maximum((features[0] * weights).sum(axis=-1), 0.0).astype(np.float32)
    top = float(cam.max())
    cam = cam / top if top > 0 else cam
    if output_shape is not None:
        height, width = output_shape
        top, left = round(height * crop_margin), round(width * crop_margin)
        inner = (max(1, width - 2 * left), max(1, height - 2 * top))
        full = np.zeros((height, width), dtype=np.float32)
        full[top : top + inner[1], left : left + inner[0]] = np.asarray(
            Image.fromarray(cam, mode="F").resize(inner, Image.Resampling.BILINEAR), dtype=np.float32)
        cam = full
    return np.clip(cam, 0.0, 1.0)
