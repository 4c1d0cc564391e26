"""Grad-CAM: which regions of the scan drove the model's decision.

The heat map of the last convolutional block for the explained class (Selvaraju et al.,
2017), upsampled straight to the scan's original size. The model saw the scan squashed to
224 x 224, so stretching the map back to (height, width) undoes that squash and keeps it
aligned with the full-resolution image. Gradients need the backend's autodiff: TensorFlow
(the app) and JAX (the GPU machine) are supported.

Under TensorFlow one graph per model, compiled once for a fixed (1, 224, 224, 1) input,
returns the model's outputs *and* the class maps of every class in the same forward
pass (:func:`outputs_and_class_maps`): the probability and its heat map come together,
and explaining another class or another scan never retraces the graph. The gradient is
taken at the last feature map, so it only flows back through the head and the extra
classes cost next to nothing. Until the graph is compiled the same ops can run eagerly.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
from PIL import Image

#: Grad-CAM models built per classifier model, so repeated calls reuse the compiled graph.
_GRAD_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: The compiled TensorFlow step per Grad-CAM model.
_TF_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: The eager path's (backbone, head) per Grad-CAM model.
_SPLITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BUILD_LOCK = threading.Lock()


def gradcam_model(model, layer_name: str):
    """A model returning (feature map of ``layer_name``, prediction) for one forward pass."""
    import keras

    return keras.Model(model.inputs, [model.get_layer(layer_name).output, model.outputs[0]])


def _grad_model(model, layer_name: str):
    with _BUILD_LOCK:  # the warm-up and a first scan may ask at the same time
        per_model = _GRAD_MODELS.setdefault(model, {})
        grad_model = per_model.get(layer_name)
        if grad_model is None:
            grad_model = per_model[layer_name] = gradcam_model(model, layer_name)
        return grad_model


def _class_score(keras_ops, prediction, class_index: int, binary: bool):
    # For the sigmoid head, the NORMAL class score is the negated logit direction: use
    # 1 - p so that its gradient points toward "more normal".
    if binary:
        p = prediction[:, 0]
        return keras_ops.sum(p if class_index == 1 else 1.0 - p)
    return keras_ops.sum(prediction[:, class_index])


def _one_pass(grad_model, inputs, n_out: int, eager: bool = False):
    """TensorFlow ops: the outputs and the raw map of every class, inside a graph or eagerly.

    Eagerly, every op recorded on a tape costs Python time, so only the head is recorded:
    the backbone runs first without a tape (four times quicker for ResNet152V2).
    """
    import tensorflow as tf

    if eager:
        backbone, head = _split(grad_model)
        features = backbone(inputs, training=False)
        with tf.GradientTape(persistent=n_out > 1) as tape:
            tape.watch(features)
            prediction = head(features, training=False)
            scores = [prediction[:, k] for k in range(n_out)]
    else:
        with tf.GradientTape(persistent=n_out > 1) as tape:
            features, prediction = grad_model(inputs, training=False)
            scores = [prediction[:, k] for k in range(n_out)]
    maps = []
    for score in scores:
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads[0], axis=(0, 1))
        maps.append(tf.reduce_sum(features[0] * weights, axis=-1))
    if n_out == 1:  # sigmoid head: NORMAL's score is 1 - p, so its map is the negation
        maps = [-maps[0], maps[0]]
    return prediction, tf.stack(maps)


def _split(grad_model):
    """(backbone up to the Grad-CAM features, the head after them), built once per model."""
    with _BUILD_LOCK:
        parts = _SPLITS.get(grad_model)
        if parts is None:
            import keras

            parts = _SPLITS[grad_model] = (keras.Model(grad_model.inputs, grad_model.outputs[0]),
                                           _head_after_features(grad_model))
        return parts


def _tf_step(grad_model):
    """The one-pass graph, compiled for a fixed (1, 224, 224, 1) input: traced once per model."""
    step = _TF_STEPS.get(grad_model)
    if step is None:
        import tensorflow as tf

        shape = [1, *grad_model.inputs[0].shape[1:]]
        n_out = int(grad_model.outputs[1].shape[-1])
        step = tf.function(lambda inputs: _one_pass(grad_model, inputs, n_out),
                           input_signature=[tf.TensorSpec(shape, tf.float32)])
        _TF_STEPS[grad_model] = step
    return step


def compile_one_pass(model, layer_name: str) -> None:
    """Trace the one-pass graph without running it (seconds for ResNet152V2 on a CPU)."""
    _tf_step(_grad_model(model, layer_name)).get_concrete_function()


def is_compiled(model, layer_name: str) -> bool:
    grad_model = _GRAD_MODELS.get(model, {}).get(layer_name)
    step = _TF_STEPS.get(grad_model) if grad_model is not None else None
    return step is not None and step.experimental_get_tracing_count() > 0


def outputs_and_class_maps(model, layer_name: str, model_input: np.ndarray,
                           eager: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One forward pass: the model's outputs (K,) and the raw Grad-CAM maps of every class.

    The maps are (C, h, w) before ReLU and normalisation, C = 2 for a sigmoid head
    (NORMAL, PNEUMONIA) and K for a softmax head; :func:`finish_map` turns one into a
    heat map. ``eager`` runs the same ops one by one instead of through the compiled
    graph: slower per scan, but with nothing to trace, so an answer can come while the
    graph is still being compiled. TensorFlow only (see :func:`compute_gradcam`).
    """
    import tensorflow as tf

    grad_model = _grad_model(model, layer_name)
    x = tf.constant(np.asarray(model_input, dtype=np.float32)[None])
    if eager:
        prediction, maps = _one_pass(grad_model, x, int(grad_model.outputs[1].shape[-1]), eager=True)
    else:
        prediction, maps = _tf_step(grad_model)(x)
    return np.asarray(prediction)[0], np.asarray(maps)


def finish_map(raw_map: np.ndarray, output_shape: tuple[int, int] | None = None,
               crop_margin: float = 0.0) -> np.ndarray:
    """A raw class map as a heat map in [0, 1] with its maximum at 1, at ``output_shape`` (H, W).

    A model that crops the film (``crop_margin`` per side) sees only the central box, so
    the map is placed there and the cut borders stay 0. The map is scaled to 1 again after
    resizing (bilinear resizing can lower the peak), so every path that explains a scan
    gives the same map.
    """
    cam = np.maximum(np.asarray(raw_map, dtype=np.float32), 0.0)
    top = float(cam.max())
    cam = cam / top if top > 0 else cam
    if output_shape is not None:
        height, width = output_shape
        top, left = round(height * crop_margin), round(width * crop_margin)
        inner = (max(1, width - 2 * left), max(1, height - 2 * top))
        full = np.zeros((height, width), dtype=np.float32)
        full[top : top + inner[1], left : left + inner[0]] = np.asarray(
            Image.fromarray(cam, mode="F").resize(inner, Image.Resampling.BILINEAR), dtype=np.float32)
        top = float(full.max())
        cam = full / top if top > 0 else full
    return np.clip(cam, 0.0, 1.0)


def _jax_features_and_gradients(grad_model, x: np.ndarray, class_index: int, binary: bool):
    import jax
    from keras import ops

    features, _prediction = grad_model.predict_on_batch(x)
    head = _head_after_features(grad_model)
    head_vars = ([v.value for v in head.trainable_variables], [v.value for v in head.non_trainable_variables])

    def score_fn(f):
        pred, _ = head.stateless_call(*head_vars, f, training=False)
        return _class_score(ops, pred, class_index, binary)

    grads = jax.grad(score_fn)(features)
    return np.asarray(features), np.asarray(grads)


def _head_after_features(grad_model):
    """The layers after the Grad-CAM feature map, as a model of their own (JAX, eager paths).

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

    ``class_index`` is the class to explain (1 = pneumonia for the binary head).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        _, maps = outputs_and_class_maps(model, layer_name, model_input)
        return finish_map(maps[class_index], output_shape, crop_margin)
    if backend != "jax":
        raise NotImplementedError(f"Grad-CAM is not implemented for the {backend} backend")
    x = np.asarray(model_input, dtype=np.float32)[None]
    features, grads = _jax_features_and_gradients(_grad_model(model, layer_name), x, class_index, binary)
    weights = grads[0].mean(axis=(0, 1))
    return finish_map((features[0] * weights).sum(axis=-1), output_shape, crop_margin)
