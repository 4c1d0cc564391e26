"""Grad-CAM: a real, scan-shaped, 0..1 map that follows the model's decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumonet_core.imaging import load_scan
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.models.package import read_card, update_card

CNN = "resources/models/pneumonet-cnn.pneumonet"


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load(CNN)


@pytest.fixture(scope="module")
def single_cnn(tmp_path_factory) -> Path:
    """One network (the bundled CNN is an ensemble, explained member by member): the one-pass graph's case."""
    from tests.helpers import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("single") / "single.pneumonet", width=8)


@pytest.fixture(scope="module")
def wide_scan(tmp_path_factory, shared_train_dir):
    """A PNEUMONIA training image stretched to 600 x 400, like a full-size film."""
    src = sorted((shared_train_dir / "PNEUMONIA").glob("*.jpeg"))[3]
    path = tmp_path_factory.mktemp("scan") / "wide.png"
    Image.open(src).convert("L").resize((600, 400), Image.Resampling.BILINEAR).save(path)
    return load_scan(path)


def test_heatmap_has_the_scans_shape_and_is_a_real_map(classifier, wide_scan):
    prediction = classifier.classify(wide_scan)
    heat = classifier.heatmap(wide_scan, prediction)
    assert heat.shape == wide_scan.pixels.shape == (400, 600)
    assert heat.dtype == np.float32 and heat.min() >= 0.0 and heat.max() <= 1.0
    assert heat.max() > 0.95  # normalised at 7 x 7, then smoothly upsampled
    assert heat.std() > 0.05  # not constant


def test_heatmap_changes_when_the_decision_changes(classifier, wide_scan, tmp_path):
    before = classifier.classify(wide_scan)
    heat_before = classifier.heatmap(wide_scan, before)
    # Same weights, threshold moved past this scan's probability: the decision flips and
    # Grad-CAM now explains the other class.
    path = tmp_path / "moved-threshold.pneumonet"
    path.write_bytes(Path(CNN).read_bytes())
    card = read_card(path)
    card.threshold = before.probability + 1e-4 if before.label == "PNEUMONIA" else before.probability - 1e-4
    update_card(path, card)
    moved = Classifier.load(path)
    after = moved.classify(wide_scan)
    assert after.probability == pytest.approx(before.probability, abs=1e-6)
    assert after.label != before.label
    heat_after = moved.heatmap(wide_scan, after)
    assert heat_after.shape == heat_before.shape
    assert np.abs(heat_after - heat_before).mean() > 0.05


def test_explain_gives_the_classify_result_and_its_heat_map_in_one_pass(single_cnn, wide_scan):
    classifier = Classifier.load(single_cnn)  # one network: explain() takes the one-pass graph
    result, heat = classifier.explain(wide_scan)
    expected = classifier.classify(wide_scan)
    assert result.probability == pytest.approx(expected.probability, abs=1e-6)
    assert result.label == expected.label and result.threshold == expected.threshold
    assert heat.max() == pytest.approx(1.0)  # a real map, not an empty one
    np.testing.assert_allclose(heat, classifier.heatmap(wide_scan, expected), atol=1e-5)


def test_the_one_pass_graph_is_traced_once_per_model(single_cnn, wide_scan, shared_train_dir):
    """Another class, another scan, another size: the compiled graph is reused, never retraced."""
    from pneumonet_core.inference import gradcam

    classifier = Classifier.load(single_cnn)
    classifier.warm_up()
    step = gradcam._tf_step(gradcam._grad_model(classifier.model, classifier.architecture.gradcam_layer))
    assert step.experimental_get_tracing_count() == 1
    scans = [wide_scan] + [load_scan(sorted((shared_train_dir / c).glob("*.jpeg"))[1]) for c in ("NORMAL", "PNEUMONIA")]
    for scan in scans:
        result, heat = classifier.explain(scan)
        for class_index in (0, 1):  # both classes explained, as a flipped decision would be
            other = gradcam.compute_gradcam(classifier.model, classifier.architecture.gradcam_layer,
                                            np.full((224, 224, 1), scan.pixels.mean(), np.float32), class_index,
                                            output_shape=scan.shape)
            assert other.shape == scan.shape
        assert heat.shape == scan.shape
    assert step.experimental_get_tracing_count() == 1


def test_while_the_graph_compiles_a_scan_is_explained_eagerly_with_the_same_answer(single_cnn, wide_scan):
    """The app's first scan does not wait for the compilation: the same ops run one by one."""
    import threading

    from pneumonet_core.inference import gradcam

    fresh = Classifier.load(single_cnn)  # its own model: nothing compiled yet
    layer = fresh.architecture.gradcam_layer
    fresh.warming = True  # what the app sets when it starts the warm-up
    eager_result, eager_heat = fresh.explain(wide_scan)
    assert not gradcam.is_compiled(fresh.model, layer)  # answered without tracing
    warm = threading.Thread(target=fresh.warm_up, kwargs={"idle_s": 0.1})
    warm.start()
    warm.join(120)
    assert gradcam.is_compiled(fresh.model, layer) and not fresh.warming
    result, heat = fresh.explain(wide_scan)
    assert result.probability == pytest.approx(eager_result.probability, abs=1e-6)
    assert result.label == eager_result.label
    np.testing.assert_allclose(heat, eager_heat, atol=1e-5)
