"""``@pytest.mark.own_process``: tests that run in a child pytest, so their memory goes back.

Why: a Python process never gives back most of what TensorFlow allocated (graphs, kernel
caches, malloc arenas of its thread pools): after a test builds or trains a ResNet152V2,
pytest stays 0.5 to 2.5 GB larger for the rest of the suite, and every later test that
starts a child process (the command line, Ray, a LiteRT build) adds its own memory on top
(issue 28: a 6.9 GB peak for a 4 GB target). A child pytest that ends returns it all.

- ``pytestmark = pytest.mark.own_process`` on a module: its marked tests share one child.
- ``@pytest.mark.own_process("name")``: the tests of that module with the same name share
  a child of their own (one heavy test alone, or a few that build the same network).

The parent runs the child when it reaches the group's first test (``pytest -p
no:cacheprovider NODEID...``, same interpreter, same environment), then reports each test
from the child's own reports (outcome, traceback, captured output, durations), so ``-x``,
``--durations`` and the summary work as for any test. A test whose reports stop short (the
child crashed or was killed in it) fails with the end of the child's output. The child's fixtures are its own:
none of the group's fixtures is set up in the parent. ``PNEUMONET_TEST_IN_PROCESS=1`` runs
marked tests in process (to debug one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

#: Set in the child: where it writes its reports, one JSON line each (and it isolates nothing).
REPORTS_ENV = "PNEUMONET_TEST_CHILD_REPORTS"


def group_of(item) -> tuple[str, str] | None:
    """(module, group name) of a marked test; None for a test that runs in process."""
    marker = item.get_closest_marker("own_process")
    if marker is None:
        return None
    return str(item.path), str(marker.args[0]) if marker.args else ""


class ChildReports:
    """In the child: every report as a JSON line, for the parent to replay."""

    def __init__(self, config, path: str) -> None:
        self.config = config
        self.file = open(path, "a", encoding="utf-8")

    def pytest_runtest_logreport(self, report) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.file.write(json.dumps(data) + "\n")
        self.file.flush()

    def pytest_unconfigure(self) -> None:
        self.file.close()


class OwnProcess:
    """In the parent: runs each group in a child and reports its tests."""

    def __init__(self, config) -> None:
        self.config = config
        self.reports: dict[str, list] = {}  # nodeid -> its child's reports
        self.tails: dict[str, str] = {}  # nodeid -> the end of its child's output
        self.crashed_at_exit: set[str] = set()  # the last test of a child that exited abnormally

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        group = group_of(item)
        if group is None:
            return None
        if item.nodeid not in self.reports:
            self._run_child([other for other in item.session.items
                             if group_of(other) == group and other.nodeid not in self.reports])
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = list(self.reports[item.nodeid])
        phases = {report.when for report in reports}
        if "teardown" not in phases:  # the child died in this test (or before it)
            reports.append(pytest.TestReport(
                item.nodeid, item.location, {}, "failed",
                "the child pytest ended before this test did:\n" + self.tails.get(item.nodeid, ""),
                "teardown" if "call" in phases else "call"))
        elif item.nodeid in self.crashed_at_exit:  # every test ended, then the child did not (an abort)
            reports.append(pytest.TestReport(
                item.nodeid, item.location, {}, "failed",
                "the child pytest crashed after its tests:\n" + self.tails[item.nodeid], "teardown"))
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def _run_child(self, items) -> None:
        with tempfile.TemporaryDirectory(prefix="pneumonet-own-process-") as folder:
            path = Path(folder) / "reports.jsonl"
            env = {key: value for key, value in os.environ.items() if key != "PNEUMONET_TEST_MEMORY"}
            env[REPORTS_ENV] = str(path)
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                       *(item.nodeid for item in items)]
            done = subprocess.run(command, cwd=self.config.rootpath, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        for item in items:
            self.reports[item.nodeid] = []
            self.tails[item.nodeid] = f"exit code {done.returncode}\n{done.stdout[-6000:]}"
        if done.returncode not in (0, 1):  # 1: some test failed, and said so in its report
            self.crashed_at_exit.add(items[-1].nodeid)
        for line in lines:
            report = self.config.hook.pytest_report_from_serializable(config=self.config, data=json.loads(line))
            if isinstance(report.longrepr, list):  # a skip's (path, line, reason): JSON made the tuple a list
                report.longrepr = tuple(report.longrepr)
            if report.nodeid in self.reports:
                self.reports[report.nodeid].append(report)


def register(config) -> None:
    """Called by tests/conftest.py: the child's reporter in a child, the runner elsewhere."""
    path = os.environ.get(REPORTS_ENV)
    if path:
        config.pluginmanager.register(ChildReports(config, path), "pneumonet-child-reports")
    elif os.environ.get("PNEUMONET_TEST_IN_PROCESS") != "1":
        config.pluginmanager.register(OwnProcess(config), "pneumonet-own-process")
