"""tools/test.sh, the README's and CI's test command: which pytest runs it starts.

Two phases keep the suite quick and under its memory ceiling: the heavy tests (early,
own_process) alone, then the rest in pytest-xdist workers. Arguments that choose tests
must reach one plain pytest unchanged, or ``tools/test.sh tests/test_x.py`` would run the
whole suite twice. ``PNEUMONET_TEST_DRY_RUN=1`` prints the commands instead of running them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands(*args: str, workers: str | None = None) -> list[str]:
    env = {**os.environ, "PNEUMONET_TEST_DRY_RUN": "1"}
    if workers is not None:
        env["PNEUMONET_TEST_WORKERS"] = workers
    done = subprocess.run(["bash", "tools/test.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("pytest ")]


def test_the_whole_suite_runs_the_heavy_tests_alone_then_the_rest_in_two_workers():
    first, second = commands("-p", "no:cacheprovider", "--durations=15")
    assert first == "pytest -m (early or own_process) -p no:cacheprovider --durations=15"
    assert second == "pytest -n 2 --dist worksteal -m not (early or own_process) -p no:cacheprovider --durations=15"


def test_the_fast_tier_leaves_out_the_slow_tests_in_both_phases():
    first, second = commands("--fast")
    assert first.endswith("-m (early or own_process) and not slow")
    assert second.endswith("-m not (early or own_process) and not slow")


def test_arguments_that_choose_tests_run_one_plain_pytest_with_them():
    assert commands("tests/test_results.py", "-x") == ["pytest tests/test_results.py -x"]
    assert commands("--fast", "-k", "dicom") == ["pytest -m not slow -k dicom"]


def test_no_workers_runs_the_second_phase_in_process():
    assert commands(workers="0")[1] == "pytest -m not (early or own_process)"


def test_each_xdist_worker_gets_a_home_of_its_own():
    from tests.worker_home import worker_home

    assert worker_home({"PYTEST_XDIST_WORKER": "gw1", "PNEUMONET_HOME": "/tmp/h"}) == os.path.join("/tmp/h", "gw1")
    assert worker_home({"PNEUMONET_HOME": "/tmp/h"}) is None  # not a worker: the home stays
    assert worker_home({"PYTEST_XDIST_WORKER": "gw0"}) is None  # no home to divide
