"""Each approach trains for real on a few hundred shared images (short, on the CPU)."""

from __future__ import annotations

import dataclasses
import gc
import json
import threading

import h5py
import numpy as np
import pytest

from pneumonet_core.errors import CancelledError, PneumonetError
from pneumonet_core.models.architectures import ModelSpec, build_model
from pneumonet_core.models.package import load_package
from pneumonet_core.training.config import TrainConfig
from pneumonet_core.training.run_state import RunState, run_digest
from pneumonet_core.training.trainer import train

pytestmark = [
    pytest.mark.slow,  # trains networks: full runs and CI only (tools/test.sh --fast leaves them out)
    # TensorFlow keeps what training took (2.3 GB here) until the process ends: these tests run in
    # child processes (tests/own_process.py), the ResNet152V2 ones in children of their own.
    pytest.mark.own_process(gb=1.85),
]


def _config(shared_train_dir, tmp_path, **kw):
    base = dict(data_dir=shared_train_dir, out=tmp_path / "model.pneumonet", epochs=2, batch_size=16, limit=240,
                seed=5, cnn_width=8, patience=5)
    base.update(kw)
    return TrainConfig(**base)


def test_cnn_trains_reports_progress_and_writes_a_complete_card(shared_train_dir, tmp_path):
    events = []
    result = train(_config(shared_train_dir, tmp_path, approach="cnn", predictions=tmp_path / "p.csv"), emit=events.append)
    kinds = [e["event"] for e in events]
    for kind in ("split", "decode", "start", "batch", "epoch", "evaluate", "saved"):
        assert kind in kinds, kind
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(np.isfinite(e[k]) for e in epochs for k in ("loss", "val_loss", "val_auc"))
    assert all(e["eta_s"] is not None for e in events if e["event"] == "batch" and e["batch"] > 1)
    card = load_package(result.out).card
    assert card.approach == "cnn" and card.class_names == ["NORMAL", "PNEUMONIA"]
    assert card.metrics["n"] == result.split.summary()["test"]["images"]
    assert 0.0 <= card.metrics["roc_auc"] <= 1.0 and 0.0 < card.threshold < 1.0
    assert "validation patients" in card.threshold_rule
    # Patients used to report are neither trained on nor used to pick the threshold.
    test_patients = set(card.data["test_patients"])
    assert test_patients and not test_patients & set(card.data["validation_patients"])
    assert not test_patients & {im.patient for im in result.split.train}
    assert len((tmp_path / "p.csv").read_text().splitlines()) == card.metrics["n"] + 1
    assert len(card.training["history"]) == 2 and card.training["best_epoch"] in (1, 2)
    # The out-of-distribution guard is fitted on the training patients' films of this run.
    package = load_package(result.out)
    assert card.ood["method"] == "mahalanobis-pca-ledoit-wolf" and card.ood["layer"] == "block2_relu2"
    assert card.ood["fitted_on"]["images"] == len(result.split.train) and card.ood["threshold"] > 0
    assert set(card.ood["held_out_flag_rate"]) == {"validation", "test"} and "ood.npz" in package.extras


def test_three_label_variant_trains_and_reports_pneumonia_probability(shared_train_dir, tmp_path):
    result = train(_config(shared_train_dir, tmp_path, approach="cnn", labels="three", epochs=1))
    package = load_package(result.out)
    assert package.card.class_names == ["NORMAL", "BACTERIA", "VIRUS"]
    assert package.model.outputs[0].shape[-1] == 3


def test_cancel_between_batches_writes_nothing(shared_train_dir, tmp_path):
    stop = threading.Event()
    events = []

    def emit(event):
        events.append(event)
        if event["event"] == "batch":
            stop.set()

    with pytest.raises(CancelledError):
        train(_config(shared_train_dir, tmp_path, approach="cnn", epochs=3), emit=emit, should_stop=stop.is_set)
    assert list(tmp_path.iterdir()) == []
    assert events[-1]["event"] == "cancelled"
    assert not any(e["event"] == "epoch" for e in events)


def _resnet_notop_h5(path):
    """A stand-in for Keras' ImageNet file: same name, layout and format, our own numbers."""
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    model = keras.applications.ResNet152V2(include_top=False, weights=None, input_shape=(224, 224, 3))
    for w in model.weights[:3]:
        w.assign(np.full(w.shape, 0.0123, dtype="float32"))
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return model


@pytest.mark.own_process("resnet-weights", gb=2.25)
def test_imagenet_code_path_loads_the_cached_weights_file(tmp_path, monkeypatch):
    from keras.src.applications import resnet

    weights_file = tmp_path / "resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
    source = _resnet_notop_h5(weights_file)
    asked = {}

    def fake_get_file(fname, origin, cache_subdir=None, file_hash=None, **kw):
        # Keras' own download-or-cache call; offline, the cache is our file.
        asked["fname"], asked["origin"] = fname, origin
        return str(weights_file)

    monkeypatch.setattr(resnet.file_utils, "get_file", fake_get_file)
    model = build_model(ModelSpec(approach="transfer", weights="imagenet"))
    assert asked["fname"] == weights_file.name and asked["origin"].startswith("https://")
    conv = model.get_layer("conv1_conv").get_weights()[0]
    np.testing.assert_array_equal(conv, source.get_layer("conv1_conv").get_weights()[0])
    assert float(conv.flat[0]) == pytest.approx(0.0123)
    # Transfer learning: the backbone is frozen, the head trains.
    assert not model.get_layer("conv1_conv").trainable and not model.get_layer("conv5_block3_3_conv").trainable
    assert model.get_layer("prediction").trainable


@pytest.mark.own_process("resnet-weights", gb=2.25)
def test_local_weights_file_and_unfreeze_count(tmp_path):
    import keras

    source = keras.applications.ResNet152V2(include_top=False, weights=None, input_shape=(224, 224, 3))
    source.get_layer("conv5_block3_3_conv").kernel.assign(np.full((1, 1, 512, 2048), 0.5, "float32"))
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(path)
    model = build_model(ModelSpec(approach="finetune", weights=str(path), unfreeze=2))
    np.testing.assert_array_equal(model.get_layer("conv5_block3_3_conv").get_weights()[0], 0.5)
    assert model.get_layer("conv5_block3_3_conv").trainable and model.get_layer("conv5_block2_1_conv").trainable
    assert not model.get_layer("conv5_block1_1_conv").trainable and not model.get_layer("conv1_conv").trainable
    assert model.get_layer("post_bn").trainable


@pytest.mark.own_process("resnet-weights", gb=2.25)
def test_backbone_from_an_existing_pneumonet_model(tmp_path):
    bundled = "resources/models/pneumonet-resnet152v2.pneumonet"
    model = build_model(ModelSpec(approach="finetune", weights=bundled, unfreeze=1))
    reference = load_package(bundled).model
    np.testing.assert_array_equal(model.get_layer("conv3_block2_2_conv").get_weights()[0],
                                  reference.get_layer("conv3_block2_2_conv").get_weights()[0])
    # The model's own head comes along (same labels), so fine-tuning starts from its answers.
    for mine, theirs in zip(model.get_layer("prediction").get_weights(), reference.get_layer("prediction").get_weights()):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("approach", [pytest.param(name, marks=pytest.mark.own_process(name, gb=2.65))
                                      for name in ("transfer", "finetune")])
def test_resnet_approaches_train_on_real_images(shared_train_dir, tmp_path, approach):
    """ResNet152V2 from random weights (no download here), a few batches, end to end. The
    network works at 64 x 64 inside the model (--resolution): the plumbing is the same as at
    224, for a twelfth of the arithmetic."""
    events = []
    result = train(
        _config(shared_train_dir, tmp_path, approach=approach, weights="none", unfreeze=1, epochs=1, batch_size=8,
                limit=90, compression="int8", resolution=64),
        emit=events.append,
    )
    card = load_package(result.out).card  # the package loads; its network is not kept
    assert card.backbone == "ResNet152V2" and card.compression == "int8"
    assert card.gradcam_layer == "post_relu"
    assert "random initialisation" in card.weights_init
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1]
    del result  # the trained network: the one built next reuses its memory (issue 28's peak)
    gc.collect()
    trainable = {w.path for w in build_model(ModelSpec(approach=approach, unfreeze=1)).trainable_weights}
    assert any(p.startswith("prediction") for p in trainable)
    assert any(p.startswith("conv5_block3") for p in trainable) == (approach == "finetune")


def test_best_epoch_is_checkpointed_and_training_can_resume_from_it(shared_train_dir, tmp_path):
    checkpoint = tmp_path / "ckpt" / "best.weights.h5"
    first = train(_config(shared_train_dir, tmp_path, approach="cnn", epochs=2, checkpoint=checkpoint))
    assert checkpoint.exists() and not list(checkpoint.parent.glob(".partial-*"))
    # The checkpoint holds the best epoch's weights, the ones that were packaged.
    restored = build_model(ModelSpec(approach="cnn", cnn_width=8))
    restored.load_weights(str(checkpoint))
    packaged = load_package(first.out).model
    for a, b in zip(restored.get_weights(), packaged.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    events = []
    train(_config(shared_train_dir, tmp_path, approach="cnn", epochs=1, checkpoint=checkpoint, resume=True,
                  out=tmp_path / "resumed.pneumonet"), emit=events.append)
    assert any("resumed from the checkpoint" in e.get("message", "") for e in events)
    with pytest.raises(Exception, match="must end in .weights.h5"):
        train(_config(shared_train_dir, tmp_path, approach="cnn", checkpoint=tmp_path / "best.h5"))


def test_an_interrupted_run_resumes_after_its_last_epoch(shared_train_dir, tmp_path):
    checkpoint = tmp_path / "run" / "best.weights.h5"
    config = _config(shared_train_dir, tmp_path, approach="cnn", epochs=3, checkpoint=checkpoint)
    stop = threading.Event()

    def stop_after_first_epoch(event):
        if event["event"] == "epoch":
            stop.set()

    with pytest.raises(CancelledError):
        train(config, emit=stop_after_first_epoch, should_stop=stop.is_set)
    state = json.loads((checkpoint.parent / "best.state.json").read_text())
    assert state["epochs_done"] == 1 and len(state["history"]) == 1
    assert (checkpoint.parent / "best.last.weights.h5").is_file()

    events = []
    result = train(_config(shared_train_dir, tmp_path, approach="cnn", epochs=3, checkpoint=checkpoint, resume=True),
                   emit=events.append)
    assert any("after epoch 1 of 3" in e.get("message", "") for e in events)
    # Only the epochs left run; the card's history holds all three.
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [2, 3]
    assert [h["epoch"] for h in load_package(result.out).card.training["history"]] == [1, 2, 3]
    # Another schedule cannot continue this run's state (it only seeds a new run's weights).
    with pytest.raises(PneumonetError, match="other options"):
        RunState.load(checkpoint, run_digest(dataclasses.replace(config, epochs=4)))
    assert RunState.load(checkpoint, run_digest(config)).epochs_done == 3


def test_augmentation_is_random_bounded_and_off_at_inference():
    from pneumonet_core.models.layers import ChestAugment

    rng = np.random.default_rng(0)
    images = rng.random((4, 224, 224, 1)).astype("float32")
    layer = ChestAugment(seed=3)
    a = np.asarray(layer(images, training=True))
    b = np.asarray(layer(images, training=True))
    assert a.shape == images.shape and a.min() >= 0.0 and a.max() <= 1.0
    assert np.abs(a - images).mean() > 0.01 and np.abs(a - b).mean() > 0.01
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    # Small geometric changes only: a bright square moves, but not far.
    square = np.zeros((1, 224, 224, 1), "float32")
    square[:, 100:124, 100:124] = 1.0
    moved = np.asarray(ChestAugment(seed=1, brightness=0.0, contrast=0.0)(square, training=True))[0, ..., 0]
    ys, xs = np.nonzero(moved > 0.5)
    assert abs(ys.mean() - 111.5) < 0.08 * 224 and abs(xs.mean() - 111.5) < 0.08 * 224
