"""Collecting the suite loads no TensorFlow, Keras or JAX.

Why: pytest is then about 0.4 GB instead of 1.1 GB when the own_process children run beside
it (tests/own_process.py budgets their memory on that), and every pytest-xdist worker starts
small. A test module that needs Keras imports it inside its tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A property of the whole suite's memory plan, which CI's full run relies on: not the inner loop's.
pytestmark = pytest.mark.slow

PROBE = """
import sys
import pytest

code = pytest.main(["-q", "--collect-only", "-p", "no:cacheprovider", "tests"])
heavy = sorted(name for name in ("tensorflow", "keras", "jax", "ray", "torch") if name in sys.modules)
print("LOADED:" + ",".join(heavy))
sys.exit(code)
"""


def test_collecting_the_suite_imports_no_deep_learning_library():
    env = {key: value for key, value in os.environ.items() if not key.startswith("PNEUMONET_TEST_")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "LOADED:\n" in run.stdout, run.stdout[-1000:]
    assert " tests collected" in run.stdout
