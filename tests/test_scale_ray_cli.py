"""The command line's Ray engine: started on demand, as a user's run does, and an address that
does not answer.

Apart from tests/test_scale_ray.py so that its in-process Ray has stopped before these start
one of their own (two local Rays side by side took 4 GB of the suite's peak, issue 28).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_batch_folder import make_batch_folder

# Starts Ray: 2.9 GB of processes beside pytest, so it runs first of the early tests, before
# tests/test_scale_ray.py leaves Ray's driver (0.2 GB) in pytest.
pytestmark = [pytest.mark.slow, pytest.mark.early(rank=0)]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """29 files: 24 shared JPEGs, a DICOM with a patient, and four that fail (empty, truncated, notes, an SR)."""
    return make_batch_folder(tmp_path_factory.mktemp("ray"), n_per_class=12)


@pytest.fixture(scope="module")
def model(tmp_path_factory, folder) -> Path:
    """Made in a child process, so that TensorFlow stays out of pytest: pytest is then 0.4 GB,
    not 1.1, beside the 2.9 GB of the command line and its Ray (issue 28's 4 GB ceiling)."""
    code = ("import sys; from pathlib import Path; from tests.test_batch_folder import make_split_model; "
            "print(make_split_model(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    made = subprocess.run([sys.executable, "-c", code, str(tmp_path_factory.mktemp("model")), *map(str, folder.good)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert made.returncode == 0, made.stderr[-3000:]
    return Path(made.stdout.strip().splitlines()[-1])


def test_command_line_starts_a_local_ray_on_demand(folder, model, tmp_path):
    """No Ray running: ``--engine ray`` starts one, classifies, shuts it down; same JSON, same exit code."""
    pytest.importorskip("ray")
    files = [str(p) for p in folder.good[:4]] + [str(p) for p in list(folder.bad)[:2]]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("RAY_ADDRESS", None)
    docs = {}
    for engine in ("local", "ray"):
        proc = subprocess.run([sys.executable, "-m", "pneumonet_cli.main", "classify", *files, "--model",
                               str(model), "--json", "--engine", engine], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=600)
        assert proc.returncode == 3, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        docs[engine] = json.loads(proc.stdout)
    assert docs["ray"] == docs["local"]


def test_an_address_that_does_not_answer_fails_at_once_in_one_line(folder, model, tmp_path):
    pytest.importorskip("ray")
    from pneumonet_core.inference.ray_engine import _unreachable

    assert _unreachable("127.0.0.1:9") and _unreachable("ray://127.0.0.1:9")  # the discard port: closed
    assert _unreachable("auto") is None and _unreachable(None) is None
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "pneumonet_cli.main", "classify", str(folder.good[0]),
                           "--model", str(model), "--engine", "ray", "--ray-address", "127.0.0.1:9"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 1 and proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pneumonet")]
    assert errors == [errors[0]] and "cannot reach the Ray cluster at 127.0.0.1:9" in errors[0]
    assert "Traceback" not in proc.stderr
