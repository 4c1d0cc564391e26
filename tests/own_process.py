"""``@pytest.mark.own_process``: tests that run in a child pytest, so their memory goes back.

Why: a Python process never gives back most of what TensorFlow allocated (graphs, kernel
caches, malloc arenas of its thread pools): after a test builds or trains a ResNet152V2,
pytest stays 0.5 to 2.5 GB larger for the rest of the suite, and every later test that
starts a child process (the command line, Ray, a LiteRT build) adds its own memory on top
(issue 28: a 6.9 GB peak for a 4 GB target). A child pytest that ends returns it all.

- ``pytestmark = pytest.mark.own_process`` on a module: its marked tests share one child.
- ``@pytest.mark.own_process("name")``: the tests of that module with the same name share
  a child of their own (one heavy test alone, or a few that build the same network).
- ``gb=1.8`` (either form): the child's peak resident memory, as ``PNEUMONET_TEST_MEMORY``
  measured it alone. Children with a size run side by side while their sizes add up to at
  most ``$PNEUMONET_TEST_CHILD_GB`` (3.6: the 4 GB ceiling less the parent, which has not
  loaded TensorFlow when they run), the largest first; a child without one runs alone.
  Under pytest-xdist every child runs alone (each worker has children of its own).

When the parent reaches the first marked test it starts the children (``pytest -p
no:cacheprovider NODEID...``, same interpreter, same environment), then reports each test
from its child's own reports (outcome, traceback, captured output, durations) as it comes
to it, so ``-x``, ``--durations`` and the summary work as for any test. A test whose
reports stop short (the child crashed or was killed in it) fails with the end of the
child's output; children still running when the session ends are stopped. The child's
fixtures are its own: none of the group's fixtures is set up in the
parent. ``PNEUMONET_TEST_IN_PROCESS=1`` runs marked tests in process (to debug one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

#: Set in the child: where it writes its reports, one JSON line each (and it isolates nothing).
REPORTS_ENV = "PNEUMONET_TEST_CHILD_REPORTS"
#: The sum of the sizes (gb=) of the children that may run at the same time.
BUDGET_ENV = "PNEUMONET_TEST_CHILD_GB"
DEFAULT_BUDGET_GB = 3.6


def group_of(item) -> tuple[str, str] | None:
    """(module, group name) of a marked test; None for a test that runs in process."""
    marker = item.get_closest_marker("own_process")
    if marker is None:
        return None
    return str(item.path), str(marker.args[0]) if marker.args else ""


def size_of(item) -> float | None:
    """The declared peak memory (GB) of a marked test's child; None: unknown, it runs alone."""
    marker = item.get_closest_marker("own_process")
    size = marker.kwargs.get("gb") if marker is not None else None
    return float(size) if size is not None else None


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


class Child:
    """One group's child pytest: its tests, its size, and what it left when it ended."""

    def __init__(self, items: list, size: float) -> None:
        self.items, self.size = items, size
        self.done = threading.Event()
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.output = ""
        self.lines: list[str] = []

    def run(self, rootpath: Path) -> None:
        """Run the child to its end (the caller's thread waits for it)."""
        with tempfile.TemporaryDirectory(prefix="pneumonet-own-process-") as folder:
            path = Path(folder) / "reports.jsonl"
            env = {key: value for key, value in os.environ.items() if key != "PNEUMONET_TEST_MEMORY"}
            env[REPORTS_ENV] = str(path)
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                       *(item.nodeid for item in self.items)]
            self.process = subprocess.Popen(command, cwd=rootpath, env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                            errors="replace")
            self.output = self.process.communicate()[0]
            self.returncode = self.process.returncode
            self.lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []


class OwnProcess:
    """In the parent: runs the groups' children (two at a time where their sizes allow) and
    reports their tests."""

    def __init__(self, config) -> None:
        self.config = config
        self.children: dict[tuple[str, str], Child] = {}
        self.budget = 0.0 if os.environ.get("PYTEST_XDIST_WORKER") else float(
            os.environ.get(BUDGET_ENV, DEFAULT_BUDGET_GB))
        self.running: list[Child] = []
        self.changed = threading.Condition()
        self.stopping = False
        self.scheduler: threading.Thread | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        group = group_of(item)
        if group is None:
            return None
        if self.scheduler is None:
            self._start(item.session.items)
        child = self.children[group]
        child.done.wait()
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in self._reports_of(item, child):
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_sessionfinish(self) -> None:
        """Stop the children still running (an interrupted or -x session) and start no more."""
        with self.changed:
            self.stopping = True
            for child in self.running:
                if child.process is not None and child.process.poll() is None:
                    child.process.kill()
            self.changed.notify_all()

    def _start(self, items) -> None:
        for item in items:
            group = group_of(item)
            if group is not None:
                size = size_of(item)
                child = self.children.setdefault(group, Child([], self.budget if size is None else size))
                child.items.append(item)
        order = list(self.children.values())  # by their first test
        self.scheduler = threading.Thread(target=self._schedule, args=(order,), name="own-process", daemon=True)
        self.scheduler.start()

    def _schedule(self, children: list[Child]) -> None:
        """Start the largest waiting child that fits beside the running ones, whenever one ends:
        the large ones run first, alone, and the small ones pair up after them."""
        waiting = list(children)
        while waiting:
            with self.changed:
                while not self.stopping and not (fits := self._first_fitting(waiting)):
                    self.changed.wait()
                if self.stopping:
                    break
                waiting.remove(fits)
                self.running.append(fits)
            threading.Thread(target=self._run, args=(fits,), daemon=True).start()
        for child in waiting:  # never started: their tests say so
            child.output, child.returncode = "the session ended before this child started", -1
            child.done.set()

    def _first_fitting(self, waiting: list[Child]) -> Child | None:
        used = sum(child.size for child in self.running)
        fitting = [child for child in waiting if not self.running or used + child.size <= self.budget]
        return max(fitting, key=lambda child: child.size, default=None)  # the first of equals

    def _run(self, child: Child) -> None:
        try:
            child.run(self.config.rootpath)
        except Exception as error:  # noqa: BLE001 - the tests report it, and the parent goes on
            child.output, child.returncode = f"could not run the child pytest: {error!r}", -1
        finally:
            with self.changed:
                self.running.remove(child)
                self.changed.notify_all()
            child.done.set()

    def _reports_of(self, item, child: Child) -> list:
        """The child's reports for ``item``, and a failure where they stop short or the child crashed."""
        reports = []
        for line in child.lines:
            data = json.loads(line)
            if data.get("nodeid") != item.nodeid:
                continue
            report = self.config.hook.pytest_report_from_serializable(config=self.config, data=data)
            if isinstance(report.longrepr, list):  # a skip's (path, line, reason): JSON made the tuple a list
                report.longrepr = tuple(report.longrepr)
            reports.append(report)
        tail = f"exit code {child.returncode}\n{child.output[-6000:]}"
        phases = {report.when for report in reports}
        if "teardown" not in phases:  # the child died in this test (or before it)
            reports.append(pytest.TestReport(
                item.nodeid, item.location, {}, "failed", "the child pytest ended before this test did:\n" + tail,
                "teardown" if "call" in phases else "call"))
        elif item is child.items[-1] and child.returncode not in (0, 1):  # 1: a test failed and said so
            reports.append(pytest.TestReport(
                item.nodeid, item.location, {}, "failed", "the child pytest crashed after its tests:\n" + tail,
                "teardown"))
        return reports


def register(config) -> None:
    """Called by tests/conftest.py: the child's reporter in a child, the runner elsewhere."""
    path = os.environ.get(REPORTS_ENV)
    if path:
        config.pluginmanager.register(ChildReports(config, path), "pneumonet-child-reports")
    elif os.environ.get("PNEUMONET_TEST_IN_PROCESS") != "1":
        config.pluginmanager.register(OwnProcess(config), "pneumonet-own-process")
