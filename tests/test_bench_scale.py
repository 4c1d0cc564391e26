"""benchmarks/bench_scale.py runs: a tiny model on 8 images, local float32 and bfloat16.

The Ray row of the committed figures (benchmarks/results/bench_scale.txt) comes from a
run by hand; the Ray engine itself is tested in test_scale_ray.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark in its own TensorFlow process

ROOT = Path(__file__).resolve().parents[1]


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it;
# in a child pytest there, beside other children (pytest itself loads no TensorFlow here)
@pytest.mark.own_process("bench-scale", gb=1.0)
def test_bench_scale_prints_rates_and_ratios_side_by_side():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "benchmarks/bench_scale.py", "--tiny", "--images", "8", "--batch-size", "4",
                           "--engines", "local-float32,local-bfloat16"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("machine:") and "CPUs" in lines[0] and "bfloat16 flags" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("local-")}
    assert set(rows) == {"local-float32", "local-bfloat16"}
    assert rows["local-float32"][3] == "1.00x" and rows["local-bfloat16"][3].endswith("x")
    assert rows["local-bfloat16"][-1] == "8" and float(rows["local-bfloat16"][1]) > 0
    assert float(rows["local-float32"][4]) > 0  # images/s after the first result
