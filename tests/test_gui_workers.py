"""The one worker API (``pneumonet_gui.workers``) and the viewer's newest-request rule, headless.

No model and no widgets: jobs are small Python functions and generators, child processes
are short Python scripts, and the viewer controller is driven with a stand-in classifier.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pneumonet_core.errors import ScanError
from pneumonet_core.results import ScanResult
from pneumonet_gui import workers
from pneumonet_gui.active_model import ActiveModel
from pneumonet_gui.viewer_controller import ViewerController
from tests.helpers import SHARED_TRAIN

pytestmark = pytest.mark.gui

WAIT_MS = 30_000


class Record:
    """Every signal of a worker, in arrival order (on the GUI thread)."""

    NAMES = ("started", "yielded", "progress", "returned", "failed", "errored", "aborted", "finished")

    def __init__(self):
        self.events: list[tuple] = []
        self.threads: set[str] = set()

    def connect(self) -> dict:
        return {name: (lambda *args, name=name: self._add(name, *args)) for name in self.NAMES}

    def _add(self, name, *args) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append((name, *args))

    def names(self) -> list[str]:
        return [event[0] for event in self.events]

    def values(self, name: str) -> list:
        return [event[1:] if len(event) > 2 else event[1] for event in self.events if event[0] == name]

    @property
    def finished(self) -> bool:
        return "finished" in self.names()


def run_job(qtbot, *args, **kwargs) -> tuple[workers.Worker, Record]:
    record = Record()
    worker = workers.start(*args, _connect=record.connect(), **kwargs)
    qtbot.waitUntil(lambda: record.finished, timeout=WAIT_MS)
    return worker, record


def test_a_generator_worker_yields_reports_progress_and_returns(qtbot):
    ran_on = []

    def count(n, progress):
        ran_on.append(threading.current_thread())
        for i in range(n):
            progress(i + 1, n)
            yield i * i
        return "done"

    _, record = run_job(qtbot, count, 4)
    assert record.values("yielded") == [0, 1, 4, 9]
    assert record.values("progress") == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert record.values("returned") == ["done"]
    assert record.names()[0] == "started" and record.names()[-1] == "finished"
    assert record.names().count("finished") == 1 and "failed" not in record.names()
    assert ran_on[0] is not threading.main_thread()
    assert record.threads == {threading.main_thread().name}  # the signals arrive on the GUI thread


def test_each_job_runs_on_a_fresh_python_thread(qtbot):
    """Not a reused pool thread: TensorFlow must never meet a thread state that was deleted."""
    threads = []
    for _ in range(3):
        run_job(qtbot, lambda: threads.append(threading.current_thread()))
    assert len({id(t) for t in threads}) == 3 and not any(t.is_alive() for t in threads)
    assert threading.main_thread() not in threads


def test_a_cancelled_generator_stops_at_a_yield_and_returns_nothing(qtbot):
    cleaned = threading.Event()

    def forever(should_stop):
        try:
            while True:
                time.sleep(0.01)
                yield should_stop()
        finally:
            cleaned.set()  # a stopped generator's cleanup runs on its own thread

    record = Record()
    worker = workers.start(forever, _connect=record.connect())
    qtbot.waitUntil(lambda: len(record.values("yielded")) >= 3, timeout=WAIT_MS)
    worker.quit()
    qtbot.waitUntil(lambda: record.finished, timeout=WAIT_MS)
    assert "aborted" in record.names() and "returned" not in record.names()
    assert cleaned.is_set() and worker.should_stop() and not worker.is_running
    assert worker.wait(1)


def test_a_function_can_be_cancelled_through_should_stop(qtbot):
    seen = []

    def slow(should_stop):
        while not should_stop():
            time.sleep(0.01)
        seen.append("stopped")
        return "too late"

    record = Record()
    worker = workers.start(slow, _connect=record.connect())
    qtbot.waitUntil(lambda: "started" in record.names(), timeout=WAIT_MS)
    worker.quit()
    qtbot.waitUntil(lambda: record.finished, timeout=WAIT_MS)
    assert seen == ["stopped"] and "returned" not in record.names() and "failed" not in record.names()


def test_an_error_arrives_as_one_line(qtbot, tmp_path):
    def broken():
        raise ValueError("bad value\nsecond line of detail")

    _, record = run_job(qtbot, broken, _error_path=tmp_path / "scan.png")
    assert record.values("failed") == [f"{tmp_path / 'scan.png'}: ValueError: bad value"]
    (error,) = record.values("errored")
    assert isinstance(error, ValueError) and "returned" not in record.names()

    def unreadable():
        raise ScanError("scan.dcm", "not a PNG, JPEG or DICOM file")

    _, record = run_job(qtbot, unreadable, _error_path="ignored for Pneumonet's own errors")
    assert record.values("failed") == ["scan.dcm: not a PNG, JPEG or DICOM file"]

    def runtime_error():  # superqt's own loop would swallow this one
        yield 1
        raise RuntimeError("the model broke")

    _, record = run_job(qtbot, runtime_error)
    assert record.values("failed") == ["RuntimeError: the model broke"]


def test_error_message_is_one_line():
    assert workers.error_message(MemoryError(), "big.dcm") == "big.dcm: not enough memory to process this file"
    assert workers.error_message(OSError("disk\nfull")) == "OSError: disk"
    assert workers.error_message(KeyError()) == "KeyError"


def test_a_child_process_yields_its_lines_and_its_exit_code(qtbot):
    script = "import sys\nprint('one', flush=True)\nprint('two', file=sys.stderr, flush=True)\nsys.exit(3)"
    record = Record()
    workers.start_process([sys.executable, "-c", script], _connect=record.connect())
    qtbot.waitUntil(lambda: record.finished, timeout=WAIT_MS)
    assert record.values("yielded") == ["one", "two"] and record.values("returned") == [3]


@pytest.mark.parametrize("ignores_sigterm", [False, True])
def test_a_cancelled_child_gets_sigterm_then_is_killed(qtbot, ignores_sigterm):
    script = ("import signal, sys, time\n"
              f"if {ignores_sigterm}: signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "else: signal.signal(signal.SIGTERM, lambda *a: (print('stopping', flush=True), sys.exit(0)))\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    record = Record()
    worker = workers.start_process([sys.executable, "-c", script], kill_after_s=1.0, _connect=record.connect())
    qtbot.waitUntil(lambda: record.values("yielded") == ["ready"], timeout=WAIT_MS)
    started = time.monotonic()
    worker.quit()
    qtbot.waitUntil(lambda: record.finished, timeout=WAIT_MS)
    assert time.monotonic() - started < 20
    assert worker.process.returncode == (-9 if ignores_sigterm else 0)
    assert record.values("yielded") == (["ready"] if ignores_sigterm else ["ready", "stopping"])  # its last words
    assert "returned" not in record.names() and "failed" not in record.names()


def test_jobs_still_running_at_exit_are_stopped_and_joined_before_the_interpreter_ends(tmp_path):
    # A daemon thread still inside native code (TensorFlow) when the interpreter finalises
    # aborts the process (exit 134) after all the work was done; the exit hook stops and
    # joins every job first. A job the hook did not reach would never run its ``finally``.
    script = (
        "import sys, time\n"
        "from pneumonet_gui import workers\n"
        "def polite(should_stop):\n"
        "    try:\n"
        "        while not should_stop(): time.sleep(0.01)\n"
        "    finally:\n"
        "        open(sys.argv[1], 'a').write('polite stopped\\n')\n"
        "def busy():\n"  # ignores every cancel, like a graph being compiled: waited for
        "    time.sleep(1.0)\n"
        "    open(sys.argv[1], 'a').write('busy done\\n')\n"
        "for job in (polite, busy): workers.start(job)\n"
        "time.sleep(0.3)\n"
        "print('leaving', flush=True)\n")
    marker = tmp_path / "ended.txt"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script, str(marker)], capture_output=True, text=True, timeout=120,
                          cwd=root, env={**os.environ, "PYTHONPATH": str(root), "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0 and done.stdout == "leaving\n", done.stderr
    assert sorted(marker.read_text().splitlines()) == ["busy done", "polite stopped"]


def test_the_newest_job_wins(qtbot):
    """What a superseded job sends is dropped, even once it is on its way to the GUI thread."""
    release = threading.Event()
    jobs = workers.LatestJob()
    delivered = []

    def slow(name):
        release.wait(10)
        return name

    first = jobs.start(slow, "first", _connect={"returned": delivered.append})
    second = jobs.start(slow, "second", _connect={"returned": delivered.append})
    assert first.abort_requested and not second.abort_requested
    release.set()
    qtbot.waitUntil(lambda: not first.is_running and not second.is_running, timeout=WAIT_MS)
    qtbot.wait(50)
    assert delivered == ["second"]


class StandInClassifier:
    """Classifies by the file name, slowly for the first scan; records what it was asked."""

    def __init__(self, slow_name: str):
        self.slow_name = slow_name
        self.started = threading.Event()
        self.calls = []
        self.returned = []

    def classify(self, scan):
        self.calls.append(Path(scan.path).name)
        if Path(scan.path).name == self.slow_name:
            self.started.set()
            time.sleep(0.5)
        self.returned.append(Path(scan.path).name)
        return ScanResult(path=str(scan.path), probability=0.9, label=Path(scan.path).name, threshold=0.5)

    def heatmap(self, scan, result):
        return np.zeros(scan.pixels.shape, np.float32)

    def explain(self, scan):
        """The viewer's one pass: the result and its heat map together."""
        result = self.classify(scan)
        return result, self.heatmap(scan, result)


def test_a_stale_viewer_request_is_dropped(qtbot):
    a, b = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))[:2]
    classifier = StandInClassifier(slow_name=a.name)
    controller = ViewerController(ActiveModel(classifier))
    shown = []
    controller.classified.connect(lambda result: shown.append(result.label))
    controller.open(a)
    qtbot.waitUntil(classifier.started.is_set, timeout=WAIT_MS)  # a is being classified now
    controller.open(b)
    qtbot.waitUntil(lambda: controller.current.done, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(classifier.returned) == 2, timeout=WAIT_MS)  # a's pass has returned too ...
    qtbot.wait(50)  # ... and its result, had it not been dropped, is delivered by now
    assert classifier.calls == [a.name, b.name] and shown == [b.name]
    assert controller.current.path == b and controller.current.result.label == b.name
    assert controller.current.ok and controller.current.heatmap is not None


def test_the_viewer_waits_for_a_loading_model_and_says_when_there_is_none(qtbot, monkeypatch):
    from pneumonet_gui import active_model

    scan_path = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[0]
    model = ActiveModel()
    controller = ViewerController(model)
    controller.open(scan_path)
    qtbot.waitUntil(lambda: controller.current.done, timeout=WAIT_MS)
    assert controller.current.error == "no model is loaded (choose one in the Model menu)"

    classifier, release = StandInClassifier(slow_name=""), threading.Event()
    monkeypatch.setattr(active_model, "load_classifier", lambda path, precision=None: release.wait(10) and classifier)
    model.load(Path("stand-in.pneumonet"))
    controller.open(scan_path)
    qtbot.waitUntil(lambda: controller.current.scan is not None, timeout=WAIT_MS)
    qtbot.wait(100)
    assert model.state == "loading" and not controller.current.done and classifier.calls == []
    release.set()
    qtbot.waitUntil(lambda: controller.current.done, timeout=WAIT_MS)
    assert model.classifier is classifier and controller.current.ok and classifier.calls == [scan_path.name]
