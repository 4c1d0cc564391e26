"""Batched forward passes with one static batch shape, and the pneumonia probability."""

from __future__ import annotations

import numpy as np

from pneumonet_core.data.batches import padded_batches


def as_float_inputs(inputs: np.ndarray) -> np.ndarray:
    """Accept packed uint8 or float [0, 1] model inputs; return float32."""
    if inputs.dtype == np.uint8:
        return inputs.astype(np.float32) / 255.0
    return np.asarray(inputs, dtype=np.float32)


def predict_padded(model, inputs: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Each of ``model``'s outputs, (N, width) float32, from passes padded to ``batch_size``.

    Padding keeps the input shapes to two, one scan and a full batch: every new shape is
    traced and compiled again (seconds, and tens of megabytes kept per ResNet152V2 graph).
    """
    n = len(inputs)
    if n == 0:
        return [np.zeros((0, int(t.shape[-1])), np.float32) for t in model.outputs]
    if n == 1:  # one scan (the viewer, a single file): not worth a batch of blanks
        batch_size = 1
    parts: list[list[np.ndarray]] = [[] for _ in model.outputs]
    for start, stop in padded_batches(n, batch_size):
        x = as_float_inputs(inputs[start:stop])
        if len(x) < batch_size:
            x = np.concatenate([x, np.zeros((batch_size - len(x), *x.shape[1:]), np.float32)])
        y = model.predict_on_batch(x)
        for part, output in zip(parts, y if isinstance(y, (list, tuple)) else [y]):
            part.append(np.asarray(output, np.float32)[: stop - start])
    return [np.concatenate(part).reshape(n, -1) for part in parts]


def predict_class_probabilities(model, inputs: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Return (N, n_outputs) model outputs, in padded static-shape passes (:func:`predict_padded`)."""
    return predict_padded(model, inputs, batch_size)[0]


def pneumonia_probability(outputs: np.ndarray, class_names) -> np.ndarray:
    """P(pneumonia) from model outputs: the sigmoid, or 1 - P(NORMAL) for the three-label head."""
    outputs = np.asarray(outputs, dtype=np.float32)
    if outputs.shape[-1] == 1:
        return outputs[:, 0]
    normal = list(class_names).index("NORMAL")
    return 1.0 - outputs[:, normal]


def predict_pneumonia(model, class_names, inputs: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Pneumonia probability for each input, batched."""
    return pneumonia_probability(predict_class_probabilities(model, inputs, batch_size), class_names)
