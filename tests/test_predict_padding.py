"""Forward passes keep two input shapes (one scan, a full pass): each new shape is a new graph."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from pneumonet_core.runtime.predict import predict_class_probabilities, predict_padded


class RecordingModel:
    """Two outputs: the row's mean and its first pixel; records every batch shape it is given."""

    outputs = [SimpleNamespace(shape=(None, 1)), SimpleNamespace(shape=(None, 1))]

    def __init__(self):
        self.shapes = []

    def predict_on_batch(self, x):
        self.shapes.append(x.shape[0])
        return [x.reshape(len(x), -1).mean(axis=1, keepdims=True), x.reshape(len(x), -1)[:, :1]]


def test_any_number_of_scans_runs_in_passes_of_one_or_the_full_batch():
    model = RecordingModel()
    inputs = np.random.default_rng(0).random((11, 4, 4, 1)).astype(np.float32)
    for n in (1, 2, 3, 4, 5, 11):
        means, firsts = predict_padded(model, inputs[:n], batch_size=4)
        np.testing.assert_allclose(means[:, 0], inputs[:n].reshape(n, -1).mean(axis=1), rtol=1e-6)
        np.testing.assert_array_equal(firsts[:, 0], inputs[:n].reshape(n, -1)[:, 0])
    assert set(model.shapes) == {1, 4}


def test_uint8_inputs_are_scaled_and_nothing_in_gives_empty_outputs():
    model = RecordingModel()
    packed = np.full((3, 4, 4, 1), 255, np.uint8)
    np.testing.assert_allclose(predict_class_probabilities(model, packed, batch_size=4)[:, 0], 1.0)
    assert [o.shape for o in predict_padded(model, packed[:0], batch_size=4)] == [(0, 1), (0, 1)]


def test_the_pass_size_is_the_architectures_unless_the_caller_chooses(tmp_path):
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.models.architectures import ARCHITECTURES
    from tests.helpers import make_tiny_model

    tiny = make_tiny_model(tmp_path / "tiny.pneumonet")
    assert Classifier.load(tiny).batch_size == ARCHITECTURES["custom-cnn"].inference_batch == 16
    assert Classifier.load(tiny, batch_size=3).batch_size == 3
    assert ARCHITECTURES["ResNet152V2"].inference_batch == 4
