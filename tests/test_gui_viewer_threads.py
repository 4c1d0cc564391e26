"""The desktop viewer keeps the GUI thread free (offscreen Qt, pytest-qt): classification runs on
a worker, a late result for a scan no longer shown is dropped, and Keras/TensorFlow are first
imported off the GUI thread. A tiny untrained CNN stands in for the real model; fixtures:
tests/gui_viewer_support.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest

from tests.gui_viewer_support import (  # noqa: F401 - fixtures
    WAIT_MS,
    assert_result_matches_cli,
    cli_result,
    images,
    make_window,
    open_and_wait,
    tiny_model,
)

# User settings, models and the viewer's INI file live in the test's folder.
pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


# --- threads -------------------------------------------------------------------------------


class _Calls(list):
    started: list


@pytest.fixture
def slow_classify(monkeypatch):
    """Classifier.explain (the viewer's one pass) sleeps 0.5 s first (in the worker); records
    file, thread, start and end."""
    from pneumonet_core.inference.classifier import Classifier

    original = Classifier.explain
    calls = _Calls()
    calls.started = []

    def explain(self, scan):
        calls.started.append(Path(scan.path).name)
        start = time.perf_counter()
        time.sleep(0.5)
        result = original(self, scan)
        calls.append((Path(scan.path).name, threading.current_thread().name, start, time.perf_counter()))
        return result

    monkeypatch.setattr(Classifier, "explain", explain)
    return calls


def test_the_window_keeps_repainting_while_a_scan_is_classified(make_window, qtbot, images, slow_classify):
    window = make_window()
    qtbot.waitUntil(lambda: window.active_model.state == "ready", timeout=WAIT_MS)
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    open_and_wait(qtbot, window, images["a"])
    timer.stop()
    assert window.current.ok
    ((name, thread, start, end),) = slow_classify
    assert name == images["a"].name and thread != threading.main_thread().name
    # The 0.5 s sleep ran on the worker: the GUI thread's 10 ms timer kept firing meanwhile
    # (about 50 ticks; a blocked GUI thread would manage one).
    during = [t for t in ticks if start <= t <= end]
    assert len(during) >= 10, f"only {len(during)} timer ticks during a 0.5 s classification"


def test_two_quick_opens_end_with_the_second_scans_result(make_window, qtbot, capsys, tiny_model, images,
                                                         slow_classify):
    expected_b = cli_result(capsys, tiny_model, images["b"])
    expected_a = cli_result(capsys, tiny_model, images["a"])
    assert expected_a["label"] != expected_b["label"]  # see the tiny_model fixture
    window = make_window()
    qtbot.waitUntil(lambda: window.active_model.state == "ready", timeout=WAIT_MS)
    shown = []
    window.controller.classified.connect(lambda p: shown.append((window.current.path.name, p.probability)))
    window.show_scan(images["a"])
    qtbot.waitUntil(lambda: bool(slow_classify.started), timeout=WAIT_MS)  # a is being classified now
    window.show_scan(images["b"])
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(slow_classify) == 2, timeout=WAIT_MS)  # a's pass has returned too ...
    QTest.qWait(50)  # ... and its result, had it not been dropped, is delivered by now
    assert window.current.path == images["b"]
    assert_result_matches_cli(window, expected_b)
    assert shown == [(images["b"].name, pytest.approx(expected_b["probability"], abs=1e-6))]
    assert window.windowTitle().startswith(images["b"].name)
    assert [call[0] for call in slow_classify] == [images["a"].name, images["b"].name]  # a's result was dropped


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
def test_keras_and_tensorflow_are_imported_off_the_gui_thread(tiny_model, images, tmp_path):
    script = textwrap.dedent(f"""
        import sys, threading
        first = {{}}

        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name in ("keras", "tensorflow") and name not in first:
                    first[name] = threading.current_thread() is threading.main_thread()
                return None

        sys.meta_path.insert(0, Spy())
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from pneumonet_gui.main_window import MainWindow
        window = MainWindow(model={str(tiny_model)!r}, extensions=False)
        window.show()
        assert "keras" not in sys.modules and "tensorflow" not in sys.modules, "imported at start-up"
        from pneumonet_gui.app import _wait_for
        window.show_scan({str(images["a"])!r})
        _wait_for([window.controller.finished], 300)
        assert window.current.ok, window.current.error
        window.close()
        print("FIRST_IMPORT_ON_MAIN", first)
        assert first and not any(first.values()), first
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PNEUMONET_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "'keras': False" in done.stdout
