"""The LiteRT runtime: same answers as TensorFlow, one pass, CAM = Grad-CAM, and only graphs a
verified package vouches for.

The rest of the suite runs the TensorFlow path (tests/conftest.py pins it, so each test's
fresh home does not derive a graph); this module runs LiteRT, deriving the bundled CNN
ensemble's graph once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pneumonet_core.imaging import load_scan
from pneumonet_core.inference import gradcam, litert_cache
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.inference.litert_export import DEFAULT_VARIANT, head_of
from pneumonet_core.inference.litert_runtime import (
    LiteClassifier,
    chosen_runtime,
    class_maps,
    load_lite,
)
from pneumonet_core.models.package import read_card
from pneumonet_core.preprocessing import preprocess

ROOT = Path(__file__).resolve().parents[1]
CNN = ROOT / "resources/models/pneumonet-cnn.pneumonet"
EXTERNAL = ROOT.parent / "shared" / "data" / "chest_xray" / "external"

# In a child pytest (tests/own_process.py): deriving graphs leaves TensorFlow's converter state
# in the suite's process.
pytestmark = pytest.mark.own_process(gb=2.1)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One user home for the module: the graph is derived once, then read from its cache.

    The resources folder has the bundled models but no derived graphs (as after a test
    install), whatever ``tools/install.sh`` left in the checkout's ``resources/litert``.
    """
    folder = tmp_path_factory.mktemp("home")
    resources = tmp_path_factory.mktemp("resources")
    (resources / "models").symlink_to(ROOT / "resources" / "models")
    saved = {name: os.environ.get(name) for name in ("PNEUMONET_HOME", "PNEUMONET_RESOURCES")}
    os.environ["PNEUMONET_HOME"], os.environ["PNEUMONET_RESOURCES"] = str(folder), str(resources)
    yield folder
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def lite(home) -> LiteClassifier:
    return load_lite(CNN)


@pytest.fixture(scope="module")
def keras_cnn() -> Classifier:
    return Classifier.load(CNN, runtime="tensorflow")


@pytest.fixture(scope="module")
def films():
    paths = sorted(EXTERNAL.glob("*/*.jpeg"))[::24][:12]
    return [load_scan(p) for p in paths]


def test_a_fresh_home_derives_the_graph_and_caches_it_sealed(lite, home):
    assert lite.graph_source == "derived" and lite.runtime == "litert"
    key = litert_cache.graph_key(lite.card.hash, DEFAULT_VARIANT)
    sidecar = json.loads((home / "cache/litert" / f"{key}.json").read_text())
    assert sidecar["mac"] and sidecar["meta"]["members"] == 3
    again = load_lite(CNN)
    assert again.graph_source == "cache"


def test_same_answers_as_tensorflow_with_the_guard_and_one_pass(lite, keras_cnn, films):
    inputs = np.stack([preprocess(s.pixels) for s in films])
    lite_out, lite_features = lite.forward(inputs)
    tf_out, tf_features = keras_cnn.forward(inputs)
    assert lite_features is not None and lite_features.shape == tf_features.shape
    assert np.abs(lite_out - tf_out).max() <= 0.01
    for scan in films:
        got, heat = lite.explain(scan)
        want = keras_cnn.classify(scan)
        assert abs(got.probability - want.probability) <= 0.01
        assert got.label == want.label and got.out_of_distribution == want.out_of_distribution
        assert heat is not None and heat.shape == scan.shape and heat.max() == pytest.approx(1.0)
        # An ensemble's map is the mean of its members' CAMs, close to TensorFlow's Grad-CAM.
        assert np.abs(heat - keras_cnn.heatmap(scan, want)).max() < 0.1


def test_the_default_graph_is_int8_after_the_guard_layer_and_float_up_to_it(lite, home):
    """mixed-int8: every convolution the guard's features depend on keeps float32 weights,
    the head too; the convolutions after the guard layer are int8 (dynamic range)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from pneumonet_core.inference.litert_export import _guard_ancestors

    assert DEFAULT_VARIANT == "mixed-int8"
    data, meta = litert_cache.from_cache(litert_cache.graph_key(lite.card.hash, DEFAULT_VARIANT))
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    graph = model.subgraphs[0]
    outputs = {m.name.decode() if isinstance(m.name, bytes) else m.name: m.tensorIndex
               for m in model.signatureDefs[0].outputs}
    guard = _guard_ancestors(graph, outputs)
    kinds = {}
    for i, op in enumerate(graph.operators):
        name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
        if name in ("CONV_2D", "FULLY_CONNECTED"):
            kinds.setdefault((name, i in guard), []).append(graph.tensors[op.inputs[1]].type)
    assert set(kinds[("CONV_2D", True)]) == {schema.TensorType.FLOAT32}
    assert all(t == schema.TensorType.FLOAT32 for (name, _), types in kinds.items() if name == "FULLY_CONNECTED"
               for t in types)
    int8 = kinds[("CONV_2D", False)].count(schema.TensorType.INT8)
    assert int8 == meta["int8_weights"] > 0


def test_the_guard_reads_float_features_in_the_default_graph(lite, keras_cnn, films):
    """The layers before the guard are float32, so its features match TensorFlow's closely
    (int8 activations there would move them by about 1e-2)."""
    inputs = np.stack([preprocess(s.pixels) for s in films])
    got, want = lite.guard_features(inputs), keras_cnn.guard_features(inputs)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, float(np.abs(want).max()))


@pytest.mark.parametrize("labels", ["binary", "three"])
def test_cam_equals_gradient_gradcam_for_the_pooling_dense_head(tmp_path, films, labels):
    import keras

    from tests.helpers import make_tiny_model

    classifier = Classifier.load(make_tiny_model(tmp_path / "m.pneumonet", labels=labels, width=8),
                                 runtime="tensorflow")
    layer = classifier.architecture.gradcam_layer
    head = head_of(classifier.model, layer)
    assert head["cam"] and head["activation"] == ("sigmoid" if labels == "binary" else "softmax")
    cut = keras.Model(classifier.model.inputs, classifier.model.get_layer(layer).output)
    for scan in films[:4]:
        x = preprocess(scan.pixels)
        _, grad_maps = gradcam.outputs_and_class_maps(classifier.model, layer, x)
        cam = class_maps(np.asarray(cut(x[None]))[0], head)
        assert cam.shape == grad_maps.shape
        for a, b in zip(grad_maps, cam):
            assert np.abs(gradcam.finish_map(a) - gradcam.finish_map(b)).max() <= 1e-4


def test_a_head_cam_does_not_explain_keeps_tensorflows_map(lite, keras_cnn, films):
    import keras

    inputs = keras.Input((7, 7, 4))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(keras.layers.Activation("relu", name="last_conv")(inputs))
    x = keras.layers.Dense(3, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    assert head_of(model, "last_conv")["cam"] is False
    scan = films[0]
    result = lite.classify(scan)
    heads = lite.heads
    try:
        lite.heads = [{"cam": False}] * len(heads)
        assert not lite.cam_exact
        assert np.allclose(lite.heatmap(scan, result), keras_cnn.heatmap(scan, result), atol=1e-5)
    finally:
        lite.heads = heads


def test_a_tampered_cached_graph_is_never_loaded(lite, home, monkeypatch):
    key = litert_cache.graph_key(lite.card.hash, DEFAULT_VARIANT)
    graph = home / "cache/litert" / f"{key}.tflite"
    good = graph.read_bytes()
    sidecar = graph.with_suffix(".json").read_bytes()
    # A graph and its seal copied in under another package's key fail the seal.
    other = litert_cache.graph_key("0" * 64, DEFAULT_VARIANT)
    (graph.parent / f"{other}.tflite").write_bytes(good)
    (graph.parent / f"{other}.json").write_bytes(sidecar)
    assert litert_cache.from_cache(other) is None
    # So do a changed graph and changed metadata (the CAM weights, say).
    graph.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert litert_cache.from_cache(key) is None
    graph.write_bytes(good)
    assert litert_cache.from_cache(key) is not None
    edited = json.loads(sidecar)
    edited["meta"]["heads"][0]["kernel"][0][0] += 1.0
    graph.with_suffix(".json").write_text(json.dumps(edited))
    assert litert_cache.from_cache(key) is None
    derived = []
    monkeypatch.setattr(litert_cache, "derive", lambda *a, **k: derived.append(1) or (good, lite.meta))
    assert load_lite(CNN).graph_source == "derived" and derived == [1]
    assert litert_cache.from_cache(key) is not None  # and sealed again


def test_a_bundled_graph_is_used_only_as_its_index_lists_it(lite, home, tmp_path, monkeypatch):
    key = litert_cache.graph_key(lite.card.hash, DEFAULT_VARIANT)
    data, meta = litert_cache.from_cache(key)
    bundle = tmp_path / "resources" / "litert"
    bundle.mkdir(parents=True)
    (bundle / f"{key}.tflite").write_bytes(data)
    import hashlib

    index = {"graphs": {key: {"sha256": hashlib.sha256(data).hexdigest(), "meta": meta}}}
    (bundle / "index.json").write_text(json.dumps(index))
    monkeypatch.setenv("PNEUMONET_RESOURCES", str(tmp_path / "resources"))
    assert load_lite(CNN).graph_source == "bundle"
    (bundle / f"{key}.tflite").write_bytes(data + b"\0")
    assert litert_cache.from_bundle(key) is None
    assert load_lite(CNN).graph_source == "cache"


def test_runtime_choice(monkeypatch):
    monkeypatch.delenv("PNEUMONET_RUNTIME", raising=False)
    assert chosen_runtime() == "litert"
    assert chosen_runtime(precision="bfloat16") == "tensorflow"
    monkeypatch.setenv("PNEUMONET_RUNTIME", "tensorflow")
    assert chosen_runtime() == "tensorflow" and chosen_runtime("litert") == "litert"
    with pytest.raises(ValueError):
        chosen_runtime("onnx")


def test_cli_classify_answers_without_importing_tensorflow(lite, home, films, keras_cnn):
    """``pneumonet classify`` runs LiteRT by default and never imports TensorFlow;
    ``--runtime tensorflow`` runs the Keras model and gives the same answers."""
    folder = EXTERNAL / "NORMAL"
    code = ("import sys, json; from pneumonet_cli.main import main; "
            "rc = main(sys.argv[1:]); print(json.dumps({'rc': rc, 'tf': 'tensorflow' in sys.modules}), file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PNEUMONET_HOME": str(home)}
    env.pop("PNEUMONET_RUNTIME", None)
    runs = {}
    for runtime in ("litert", "tensorflow"):
        done = subprocess.run([sys.executable, "-c", code, "classify", "--model", str(CNN), "--runtime", runtime,
                               "--json", str(folder)], capture_output=True, text=True, env=env, timeout=600, check=False)
        status = json.loads(done.stderr.strip().splitlines()[-1])
        assert status["rc"] == 0, done.stderr[-2000:]
        assert status["tf"] == (runtime == "tensorflow")
        # A film the guard withholds has no probability: its score is compared, and its flag.
        runs[runtime] = {r["path"]: (r["probability"] if r["probability"] is not None
                                     else r["withheld_probability_not_for_use"], r["out_of_distribution"])
                         for r in json.loads(done.stdout)["results"]}
    assert runs["litert"].keys() == runs["tensorflow"].keys() and len(runs["litert"]) > 100
    assert max(abs(runs["litert"][k][0] - runs["tensorflow"][k][0]) for k in runs["litert"]) <= 0.01
    assert all(runs["litert"][k][1] == runs["tensorflow"][k][1] for k in runs["litert"])


def test_the_build_derives_the_bundled_graphs_into_an_index(home, tmp_path, monkeypatch):
    """tools/derive_litert.py (run by tools/build_app.sh): whatever packages are bundled, each
    gets its graph keyed by its hash, and the app loads it from the bundle without deriving."""
    import importlib.util

    from tests.helpers import make_tiny_model

    model = make_tiny_model(tmp_path / "tiny.pneumonet")
    spec = importlib.util.spec_from_file_location("derive_litert", ROOT / "tools" / "derive_litert.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "resources" / "litert"
    assert tool.main([str(out), str(model)]) == 0
    index = json.loads((out / "index.json").read_text())
    key = litert_cache.graph_key(read_card(model).hash, DEFAULT_VARIANT)
    assert list(index["graphs"]) == [key] and (out / f"{key}.tflite").exists()
    monkeypatch.setenv("PNEUMONET_RESOURCES", str(tmp_path / "resources"))
    monkeypatch.setattr(litert_cache, "derive", lambda *a, **k: pytest.fail("derived although bundled"))
    assert load_lite(model).graph_source == "bundle"
