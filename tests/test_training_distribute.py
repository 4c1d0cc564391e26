"""``pneumonet train --distribute data-parallel``: Keras DataParallel on JAX over two fake CPU
devices (``XLA_FLAGS=--xla_force_host_platform_device_count=2``); one-line errors otherwise.

Keras fixes its backend at import, so the JAX side runs in a subprocess of this test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pneumonet_cli.main import main as cli_main
from pneumonet_core.training.config import TrainConfig, to_arguments
from pneumonet_core.training.distribution import TrainingDistribution

ROOT = Path(__file__).resolve().parents[1]

JAX_WORKER = textwrap.dedent(
    """
    import json, sys
    import jax, keras
    assert keras.backend.backend() == "jax" and len(jax.devices()) == 2, jax.devices()
    from pneumonet_cli.main import main
    from pneumonet_core.errors import PneumonetError
    from pneumonet_core.models.architectures import ModelSpec, build_model
    from pneumonet_core.models.package import read_card
    from pneumonet_core.training.distribution import distribution_scope

    data, out = sys.argv[1], sys.argv[2]
    # Inside the scope, weights are laid out on both devices.
    with distribution_scope("data-parallel", 16) as info:
        model = build_model(ModelSpec(approach="cnn", cnn_width=4))
        devices = len(model.weights[0].value.sharding.device_set)
    try:
        with distribution_scope("data-parallel", 15):
            pass
        odd = None
    except PneumonetError as exc:
        odd = str(exc)
    code = main(["train", data, "--approach", "cnn", "--out", out, "--epochs", "1", "--batch-size", "16",
                 "--limit", "120", "--cnn-width", "4", "--progress", "none", "--distribute", "data-parallel",
                 "--no-augment"])  # augmentation under JAX is test_backend_jax's; here it only adds compile time
    card = read_card(out)
    print(json.dumps({"code": code, "weight_devices": devices, "info": info.record(), "odd": odd,
                      "distribution": card.training["distribution"],
                      "option": card.training["options"]["distribute"], "batch_size": card.training["batch_size"]}))
    """
)


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
@pytest.mark.slow
def test_data_parallel_trains_on_two_devices_and_the_card_says_so(shared_train_dir, tmp_path):
    out = tmp_path / "dp.pneumonet"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", JAX_WORKER, str(shared_train_dir), str(out)], capture_output=True,
                          text=True, env=env, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and out.exists()
    assert result["weight_devices"] == 2
    assert result["distribution"] == {"strategy": "DataParallel", "devices": 2, "device_kind": "cpu", "processes": 1}
    assert result["info"] == result["distribution"]
    assert result["option"] == "data-parallel" and result["batch_size"] == 16
    assert "--batch-size 15 does not divide by the 2 devices" in result["odd"] and "e.g. 14" in result["odd"]
    # The package is an ordinary one: it loads and classifies here, under TensorFlow.
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier

    scan = load_scan(sorted((shared_train_dir / "NORMAL").glob("*.jpeg"))[0])
    assert 0.0 <= Classifier.load(out).classify(scan).probability <= 1.0


def test_tensorflow_backend_refuses_data_parallel_in_one_line(shared_train_dir, tmp_path, capsys):
    code = cli_main(["train", str(shared_train_dir), "--approach", "cnn", "--out", str(tmp_path / "m.pneumonet"),
                     "--distribute", "data-parallel", "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "needs the JAX backend: run it with KERAS_BACKEND=jax" in err
    assert not (tmp_path / "m.pneumonet").exists()


def test_distribute_is_a_train_option_recorded_in_the_card():
    config = TrainConfig(data_dir=Path("data"), out=Path("m.pneumonet"), distribute="data-parallel")
    assert "--distribute" in to_arguments(config) and config.card_record()["distribute"] == "data-parallel"
    assert "--distribute" not in to_arguments(TrainConfig(data_dir=Path("data"), out=Path("m.pneumonet")))
    assert TrainingDistribution().record() == {"strategy": "none", "devices": 1, "device_kind": "", "processes": 1}


def test_batch_and_process_shares():
    from pneumonet_core.data.batches import make_training_batches

    two = TrainingDistribution(kind="data-parallel", devices=2, device_kind="cpu")
    assert two.batch_size(16) == 16 and two.batch_size(13) == 12 and two.batch_size(1) == 2
    assert TrainingDistribution().batch_size(13) == 13
    # Two hosts: each feeds its half of the same shuffled global batch.
    x = np.arange(16, dtype=np.uint8).reshape(16, 1, 1, 1)
    y = np.zeros((16, 1), np.float32)
    w = np.ones(16, np.float32)
    batches = make_training_batches(x, y, w, 8, seed=3)
    halves = [TrainingDistribution("data-parallel", 4, "gpu", 2, i).process_batches(batches)[0][0].ravel()
              for i in (0, 1)]
    assert len(halves[0]) == len(halves[1]) == 4
    assert sorted(np.concatenate(halves)) == sorted(batches[0][0].ravel())
    second = TrainingDistribution("data-parallel", 4, "gpu", 2, 1)
    config = second.process_config(TrainConfig(data_dir=Path("d"), out=Path("/srv/m.pneumonet"),
                                               predictions=Path("p.csv")))
    assert config.out.name == "m.pneumonet" and config.out.parent != Path("/srv") and config.predictions is None
    first = TrainingDistribution("data-parallel", 4, "gpu", 2, 0)
    assert first.process_config(config) is config


@pytest.mark.parametrize("value", ["none", "data-parallel"])
def test_distribute_flag_parses(value):
    from pneumonet_cli.main import build_parser

    args = build_parser().parse_args(["train", "d", "--approach", "cnn", "--out", "m.pneumonet",
                                      "--distribute", value])
    assert args.distribute == value
