"""The training path is backend-agnostic: it trains, predicts and explains under JAX too.

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

from pneumonet_core.imaging import load_scan
from pneumonet_core.inference.classifier import Classifier

pytestmark = pytest.mark.slow  # a JAX process that trains

CNN = "resources/models/pneumonet-cnn.pneumonet"

JAX_WORKER = textwrap.dedent(
    """
    import json, sys
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from pneumonet_cli.main import main
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier
    data, out, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    code = main(["train", data, "--approach", "cnn", "--out", out, "--epochs", "1", "--batch-size", "16",
                 "--limit", "120", "--cnn-width", "4", "--progress", "none"])
    clf = Classifier.load("CNN_PATH")
    scans = [load_scan(p) for p in paths]
    preds = [clf.classify(s) for s in scans]
    heat = clf.heatmap(scans[0], preds[0])
    print(json.dumps({"train_code": code, "probabilities": [p.probability for p in preds],
                      "heat_shape": list(heat.shape), "heat_mean": float(heat.mean()), "heat_std": float(heat.std())}))
    """
).replace("CNN_PATH", CNN)


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
def test_jax_backend_trains_and_agrees_with_tensorflow(shared_train_dir, tmp_path):
    paths = [sorted((shared_train_dir / c).glob("*.jpeg"))[5] for c in ("NORMAL", "PNEUMONIA")]
    out = tmp_path / "jax.pneumonet"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", JAX_WORKER, str(shared_train_dir), str(out), *map(str, paths)],
        capture_output=True, text=True, env=env, timeout=900, cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["train_code"] == 0 and out.exists()

    # This process runs TensorFlow: the JAX-trained package loads and predicts here...
    Classifier.load(out).classify(load_scan(paths[0]))
    # ...and the bundled model gives the same numbers and heat map under both backends.
    clf = Classifier.load(CNN)
    scans = [load_scan(p) for p in paths]
    preds = [clf.classify(s) for s in scans]
    np.testing.assert_allclose([p.probability for p in preds], result["probabilities"], atol=1e-4)
    heat = clf.heatmap(scans[0], preds[0])
    assert list(heat.shape) == result["heat_shape"]
    assert abs(float(heat.mean()) - result["heat_mean"]) < 1e-3 and result["heat_std"] > 0.01
