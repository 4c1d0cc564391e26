"""Where the suite's memory goes: one CSV row per test (opt-in, off by default).

    PNEUMONET_TEST_MEMORY=/tmp/memory.csv bash tools/test.sh

Why: the suite's peak (the sum of pytest's and its children's resident memory) is what can
push a shared CI machine out of memory, and a single whole-run figure does not say which
test or fixture raised it. For each test (after its teardown, so module- and session-scoped
fixtures finished by it are counted where they end) the row holds:

- ``rss_mb``: pytest's resident memory after the test;
- ``children_mb``: the resident memory of its descendants still alive then (Ray, Orthanc...);
- ``peak_tree_mb``: the highest pytest + descendants sum sampled during the test (every
  0.2 s from a thread, so short-lived CLI subprocesses are caught too);
- ``peak_tree_pss_mb``: the same peak counting pages shared between the processes once
  (proportional set size, sampled every second): TensorFlow's libraries, about 0.45 GB
  resident in every process that imports it, count once here and once per process above;
- ``hwm_mb``: pytest's own high-water mark so far (``VmHWM``), which only grows: the test at
  which it jumps is the one that raised it;
- ``seconds``: wall time from setup to the end of teardown.

Linux only (it reads /proc); psutil is not needed. Registered by tests/conftest.py when the
variable is set.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path

import pytest

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 1 << 20


def _rss_by_pid() -> tuple[dict[int, int], dict[int, int]]:
    """(parent of each pid, resident bytes of each pid) for every process we can read."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(statm[1]) * PAGE
    return parents, rss


def tree_rss(root: int) -> tuple[int, int]:
    """(resident bytes of ``root``, resident bytes of all its descendants)."""
    parents, rss = _rss_by_pid()
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return rss.get(root, 0), total


def tree_pss(root: int) -> int:
    """Proportional set size of ``root`` and its descendants, in bytes (0 where unreadable)."""
    parents, _ = _rss_by_pid()
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def high_water_mark() -> int:
    """This process's peak resident bytes so far (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class MemoryProbe:
    """The pytest plugin: samples the process tree and writes a row per test."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.pid = os.getpid()
        self.peak = self.peak_pss = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        # tools/test.sh runs two pytests one after the other (rows are appended) and the
        # second in xdist workers (each its own file, FILE-gw0.csv ...: its own tree only).
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:
            self.path = self.path.with_name(f"{self.path.stem}-{worker}{self.path.suffix}")
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        self.file = self.path.open("a", newline="")
        self.writer = csv.writer(self.file)
        if new_file:
            self.writer.writerow(["test", "rss_mb", "children_mb", "peak_tree_mb", "peak_tree_pss_mb", "hwm_mb",
                                  "seconds"])
        self.sampler = threading.Thread(target=self._sample, name="memory-probe", daemon=True)
        self.sampler.start()

    def _sample(self) -> None:
        count = 0
        while not self.stop.wait(0.2):
            own, children = tree_rss(self.pid)
            pss = tree_pss(self.pid) if count % 5 == 0 else 0  # slower to read: once a second
            count += 1
            with self.lock:
                self.peak = max(self.peak, own + children)
                self.peak_pss = max(self.peak_pss, pss)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        with self.lock:
            self.peak = self.peak_pss = 0
        self.start = time.monotonic()
        return (yield)

    def pytest_runtest_logfinish(self, nodeid, location):
        own, children = tree_rss(self.pid)
        pss = tree_pss(self.pid)
        with self.lock:
            peak, peak_pss = max(self.peak, own + children), max(self.peak_pss, pss)
        self.writer.writerow([nodeid, round(own / MB), round(children / MB), round(peak / MB), round(peak_pss / MB),
                              round(high_water_mark() / MB), round(time.monotonic() - self.start, 1)])
        self.file.flush()

    def pytest_unconfigure(self, config):
        self.stop.set()
        self.file.close()
