"""bfloat16 inference: the model is rebuilt under mixed_bfloat16 with a float32 head, and its
probabilities stay within 0.05 of float32 with at least 99% of decisions the same on external/
(the bundled CNN on all 288 films; the ResNet152V2's first blocks on four)."""

from __future__ import annotations

import gc
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pneumonet_cli.main import main as cli_main
from pneumonet_core.runtime import precision

ROOT = Path(__file__).resolve().parents[1]
CNN = ROOT / "resources" / "models" / "pneumonet-cnn.pneumonet"
RESNET = ROOT / "resources" / "models" / "pneumonet-resnet152v2.pneumonet"
EXTERNAL = ROOT.parent / "shared" / "data" / "chest_xray" / "external"

#: The issue's claims for bfloat16 against float32 on external/.
MAX_PROBABILITY_DIFFERENCE = 0.05
MIN_DECISION_AGREEMENT = 0.99

# The slow tests run in a child pytest (tests/own_process.py): the networks they build in two
# precisions would stay in the suite's process after this module.
IN_A_CHILD = pytest.mark.own_process("bfloat16", gb=1.8)


def policies(architecture: str) -> dict[str, str]:
    layers = json.loads(architecture)["config"]["layers"]
    return {layer["config"]["name"]: precision._policy_name(layer["config"].get("dtype")) for layer in layers}


def test_bfloat16_architecture_keeps_inputs_and_outputs_float32(tmp_path):
    from tests.helpers import make_tiny_model

    text = zipfile.ZipFile(make_tiny_model(tmp_path / "single.pneumonet")).read("architecture.json").decode()
    assert precision.architecture_for_precision(text, "float32") == text
    mixed = policies(precision.architecture_for_precision(text, "bfloat16"))
    assert mixed.pop("prediction") == "float32" and mixed.pop("scan") == "float32"
    assert set(mixed.values()) == {"mixed_bfloat16"}
    # A package saved under a mixed policy is brought back to float32 first.
    assert policies(precision.architecture_for_precision(text.replace('"float32"', '"mixed_bfloat16"'),
                                                         "float32"))["block1_conv1"] == "float32"
    with pytest.raises(ValueError, match="float32, bfloat16"):
        precision.architecture_for_precision(text, "float16")


def test_bfloat16_ensemble_averages_its_members_in_float32():
    """The bundled CNN is a mean of three networks: each computes in bfloat16, the mean and input stay float32."""
    text = zipfile.ZipFile(CNN).read("architecture.json").decode()
    config = json.loads(precision.architecture_for_precision(text, "bfloat16"))["config"]
    top = {layer["config"]["name"]: layer for layer in config["layers"]}
    assert precision._policy_name(top.pop("scan")["config"].get("dtype")) == "float32"
    assert precision._policy_name(top.pop("ensemble_mean")["config"].get("dtype")) == "float32"
    assert len(top) == 3 and all(name.startswith("member_") for name in top)
    for member in top.values():
        assert {precision._policy_name(inner["config"].get("dtype")) for inner in member["config"]["layers"]
                if inner["class_name"] != "InputLayer"} == {"mixed_bfloat16"}


def test_cpu_bfloat16_flags_are_read_from_cpuinfo():
    intel = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    assert precision.cpuinfo_bfloat16_features(intel) == ("avx512_bf16", "amx_bf16")
    assert precision.cpuinfo_bfloat16_features("flags\t: fpu sse avx2 avx512f\n") == ()
    assert precision.cpuinfo_bfloat16_features("Features\t: fp asimd sve bf16 i8mm\n") == ("bf16",)
    assert isinstance(precision.cpu_has_fast_bfloat16(), bool)
    expected_note = None if precision.cpu_has_fast_bfloat16() else "slower"
    note = precision.slow_bfloat16_note("bfloat16")
    assert (note is None) == (expected_note is None) and precision.slow_bfloat16_note("float32") is None


def external_paths() -> list[Path]:
    if not (EXTERNAL / "NORMAL").is_dir():
        pytest.fail(f"external images not found at {EXTERNAL} (see shared/data/README.md)")
    return sorted(EXTERNAL.glob("*/*.jpeg"))


def compare_precisions(model: Path, batch_size: int) -> tuple[float, float]:
    """(largest probability difference, decision agreement) of bfloat16 against float32 on external/."""
    from pneumonet_core.inference.batch import classify_paths
    from pneumonet_core.inference.classifier import Classifier

    paths = external_paths()
    runs = {}
    for name in ("float32", "bfloat16"):
        classifier = Classifier.load(model, batch_size=batch_size, precision=name)
        assert classifier.precision == name
        assert classifier.model.layers[-1].dtype_policy.name == "float32"  # the head stays float32
        runs[name] = list(classify_paths(paths, classifier, batch_size=batch_size))
        assert all(r.ok for r in runs[name]) and len(runs[name]) == len(paths)
    # A film the guard withholds has no probability; its score still measures the precision.
    p32, p16 = (np.array([r.measured_probability for r in runs[name]]) for name in ("float32", "bfloat16"))
    agree = np.mean([a.label == b.label for a, b in zip(runs["float32"], runs["bfloat16"])])
    assert not np.array_equal(p32, p16)  # it really computed in bfloat16
    return float(np.abs(p32 - p16).max()), float(agree)


@pytest.mark.slow
@IN_A_CHILD
def test_bfloat16_cnn_agrees_with_float32_on_external():
    worst, agree = compare_precisions(CNN, batch_size=32)
    assert worst <= MAX_PROBABILITY_DIFFERENCE, worst
    assert agree >= MIN_DECISION_AGREEMENT, agree


#: bfloat16 keeps 8 bits of mantissa (0.4%); through the stem and conv2's three blocks the
#: feature maps stay within a few per cent of float32 (1.3% measured, relative L2).
MAX_FEATURE_DIFFERENCE = 0.05


@pytest.mark.slow
@IN_A_CHILD
def test_bfloat16_resnet152v2_first_blocks_agree_with_float32():
    """The bundled ResNet152V2 rebuilt in bfloat16 with a float32 head; its first blocks (the
    stem and conv2) on four external films against float32. The whole network on the 288
    external films is benchmarks/bench_scale.py's job (its results: 0 of 200 decisions changed)."""
    import keras

    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.preprocessing import preprocess

    paths = external_paths()
    films = np.stack([preprocess(load_scan(p).pixels) for p in paths[:2] + paths[-2:]])  # both classes
    features = {}
    for name in ("float32", "bfloat16"):
        classifier = Classifier.load(RESNET, precision=name)
        assert classifier.precision == name
        assert classifier.model.layers[-1].dtype_policy.name == "float32"  # the head stays float32
        block = classifier.model.get_layer("conv2_block3_out")
        assert block.dtype_policy.name == ("mixed_bfloat16" if name == "bfloat16" else "float32")
        first_blocks = keras.Model(classifier.model.inputs, block.output)
        features[name] = np.asarray(keras.ops.convert_to_numpy(first_blocks([films])), dtype=np.float32)
        del classifier, first_blocks
        gc.collect()  # Keras models hold reference cycles: free this one before the next loads
    difference = np.linalg.norm(features["bfloat16"] - features["float32"]) / np.linalg.norm(features["float32"])
    assert 0 < difference <= MAX_FEATURE_DIFFERENCE, difference  # it really computed in bfloat16, closely


@pytest.mark.slow
@IN_A_CHILD
def test_bfloat16_heatmap_and_command_line(some_training_jpeg, capsys):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier

    classifier = Classifier.load(CNN, precision="bfloat16")
    scan = load_scan(some_training_jpeg)
    heat = classifier.heatmap(scan, classifier.classify(scan))
    assert heat.shape == scan.shape and heat.dtype == np.float32 and 0.0 <= heat.min() <= heat.max() <= 1.0
    assert cli_main(["classify", str(some_training_jpeg), "--model", str(CNN), "--precision", "bfloat16",
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    reference = Classifier.load(CNN).classify(scan).probability
    assert abs(doc["results"][0]["probability"] - reference) <= MAX_PROBABILITY_DIFFERENCE
    assert cli_main(["evaluate", str(EXTERNAL), "--model", str(CNN), "--precision", "bfloat16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["roc_auc"] > 0.9
    assert cli_main(["classify", str(some_training_jpeg), "--model", str(CNN), "--precision", "float16"]) == 2
