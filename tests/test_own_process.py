"""The suite's own_process marker (tests/own_process.py): marked tests run in a child pytest and
are reported like any other test, failures and crashes included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = """
from tests import own_process

def pytest_configure(config):
    config.addinivalue_line("markers", "own_process: in a child")
    own_process.register(config)
"""

TESTS = """
import os
import pytest

pytestmark = pytest.mark.own_process

def test_runs_in_a_child():
    with open(os.environ["WHERE"], "w") as fh:
        fh.write(f"{os.getpid()} {os.getppid()}")
    print("said in the child")

def test_fails_in_the_child():
    assert 1 == 2, "the child's own message"

@pytest.mark.own_process("alone")
def test_dies_in_its_child():
    os.abort()

@pytest.mark.skip(reason="skipped in the child")
def test_skipped():
    pass
"""


def test_marked_tests_run_in_a_child_and_report_passes_failures_and_crashes(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_marked.py").write_text(TESTS)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PNEUMONET_TEST_")}
    env["PYTHONPATH"], env["WHERE"] = str(ROOT), str(tmp_path / "where.txt")
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-o", "addopts=",
                            "--rootdir", str(tmp_path), str(tmp_path)],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = run.communicate(timeout=300)[0]
    assert run.returncode == 1, out
    pid, parent = (int(n) for n in (tmp_path / "where.txt").read_text().split())
    assert parent == run.pid and pid != run.pid  # a child of the pytest that reports it
    assert "PASSED test_marked.py::test_runs_in_a_child" in out
    assert "said in the child" in out  # the child's captured output, shown by -rA
    assert "FAILED test_marked.py::test_fails_in_the_child" in out and "AssertionError: the child's own message" in out
    assert "FAILED test_marked.py::test_dies_in_its_child" in out and "the child pytest ended before this test did" in out
    assert "SKIPPED [1] test_marked.py" in out and "skipped in the child" in out
    assert "2 failed, 1 passed, 1 skipped" in out


SIZED = """
import os
import time
from pathlib import Path

import pytest

HERE = Path(os.environ["WHERE"])


def _until(condition, what):
    end = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < end, what
        time.sleep(0.05)


@pytest.mark.own_process("large", gb=3.0)
def test_large_runs_with_the_machine_to_itself():
    # the small children may not start before it ends: none of them shows up in 3 seconds
    end = time.monotonic() + 3
    while time.monotonic() < end:
        assert not list(HERE.glob("small-*")), "a small child ran beside the large one"
        time.sleep(0.05)
    (HERE / "large-done").write_text("")


@pytest.mark.own_process("a", gb=1.0)
def test_small_a_meets_small_b():
    assert (HERE / "large-done").exists()
    (HERE / "small-a").write_text(str(os.getpid()))
    _until(lambda: (HERE / "small-b").exists(), "b never ran beside a")


@pytest.mark.own_process("b", gb=1.0)
def test_small_b_meets_small_a():
    assert (HERE / "large-done").exists()
    (HERE / "small-b").write_text(str(os.getpid()))
    _until(lambda: (HERE / "small-a").exists(), "a never ran beside b")
"""


def test_sized_children_run_side_by_side_within_the_budget_and_a_large_one_alone(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_sized.py").write_text(SIZED)
    where = tmp_path / "where"
    where.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PNEUMONET_TEST_")}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.update(PYTHONPATH=str(ROOT), WHERE=str(where), PNEUMONET_TEST_CHILD_GB="3.6")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-o", "addopts=",
                          "--rootdir", str(tmp_path), str(tmp_path)],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout
    assert "3 passed" in run.stdout
    pids = {(where / name).read_text() for name in ("small-a", "small-b")}
    assert len(pids) == 2  # two children, at the same time (each waited for the other)
