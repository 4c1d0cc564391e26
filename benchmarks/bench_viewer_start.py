"""Time the desktop app as a reader meets it: ``pneumonet gui FILE`` from a cold start, on
this machine's CPU, against the same figures for another checkout (the baseline).

For each code tree (``--code``: a checkout root; the first is "now", the others are
baselines, e.g. a ``git worktree`` of an older commit), a fresh child process runs
``pneumonet gui FILE`` offscreen with the bundled ResNet152V2 (or ``--model``), and the
script records, from the moment the process was spawned:

* first paint: the main window's first paint event has been handled;
* model ready: the result panel received the model's card;
* first result: the first scan's probability is on screen;
* heat map: the first scan's Grad-CAM layer is set on the viewer (shown as
  "after result" too);
* further scans: ``--next`` more scans opened one after another through
  ``MainWindow.show_scan``, each timed from the call to its result and to its heat map
  (median, and the worst heat map: a graph retraced for the other class shows there).

It drives only what both old and new code have (``pneumonet gui``, ``show_scan``,
``ResultPanel.set_model``, ``show_result``/``show_prediction``, ``ScanView.set_heatmap``),
wrapped in the child before the window exists. A user home with the heat map enabled
for NORMAL decisions is used, so every scan's heat map is drawn in either version.
Runs alternate between the code trees ``--repeats`` times; the median is printed.
``--load N`` runs every child beside N busy processes (a fixed background load, as a
reading-room machine is never idle); ``--load 0,5`` measures both, one table each.
Issue 26's targets on 2 cores: first paint <= 1 s, first result <= 6 s idle and <= 15 s at
load 5, next scan <= 1 s idle.

    python benchmarks/bench_viewer_start.py --code . --code /tmp/baseline [--repeats 2] [--next 4] [--pause 0.3] \
        [--load 0,5]

Never part of the test suite: run by hand (each run loads ResNet152V2: minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "resources" / "models" / "pneumonet-resnet152v2.pneumonet"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "chest_xray" / "train"

CHILD = r'''
import json, sys, time
pause_ms, first, others, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3:], 600.0

def emit(event, **extra):
    print("BENCH " + json.dumps({"event": event, "t": time.time(), **extra}), flush=True)

from pneumonet_gui.app import make_application
app = make_application()
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QMainWindow, QWidget
from pneumonet_gui.image_view import ScanView
from pneumonet_gui.result_panel import ResultPanel

state = {"painted": False, "results": 0, "heatmaps": 0, "queue": list(others)}

def window():
    return next((w for w in app.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()), None)

def wrap(cls, name, after):
    original = getattr(cls, name, None)
    if original is None:
        return
    def wrapped(self, *args, **kwargs):
        value = original(self, *args, **kwargs)
        after(self, *args)
        return value
    setattr(cls, name, wrapped)

def on_model(_panel, card, *rest):
    if card is not None and not state.get("model"):
        state["model"] = True
        emit("model_ready")

def on_result(_panel, result, *rest):
    state["results"] += 1
    emit("result", n=state["results"], label=getattr(result, "label", None))

def on_heatmap(_view, heat, *rest):
    if heat is None or not isinstance(QWidget.window(_view), QMainWindow):  # ScanView.window is its W/L
        return
    state["heatmaps"] += 1
    emit("heatmap", n=state["heatmaps"])
    if state["heatmaps"] == state["results"]:
        QTimer.singleShot(pause_ms, next_scan)

def on_error(_panel, message, *rest):
    emit("error", message=str(message))  # the old viewer says "no model" until the model is there

def next_scan():
    if not state["queue"]:
        emit("done")
        app.closeAllWindows()
        return
    path = state["queue"].pop(0)
    emit("open", path=path)
    window().show_scan(path)

wrap(ResultPanel, "set_model", on_model)
wrap(ResultPanel, "show_result", on_result)
wrap(ResultPanel, "show_prediction", on_result)
wrap(ResultPanel, "show_error", on_error)
wrap(ScanView, "set_heatmap", on_heatmap)

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if not state["painted"] and event.type() == QEvent.Type.Paint and obj.isWidgetType() \
                and isinstance(obj.window(), QMainWindow):
            state["painted"] = True
            QTimer.singleShot(0, lambda: emit("first_paint"))  # after this paint cycle has finished
        return False

spy = FirstPaint()
app.installEventFilter(spy)
QTimer.singleShot(int(timeout * 1000), lambda: (emit("timeout"), app.closeAllWindows()))
from pneumonet_cli.main import main
sys.exit(main(["gui", first, "--model", MODEL]))
'''


def run_once(code: Path, model: Path, scans: list[Path], pause_s: float = 0.3, home: Path | None = None,
             extra_env: dict | None = None) -> dict:
    """One cold start of ``pneumonet gui`` from the tree ``code``; figures in seconds.

    ``home`` (default: a new one) and ``extra_env`` let benchmarks/bench_runtime.py start
    the app with a warm LiteRT cache and a chosen runtime.
    """
    home = home or Path(tempfile.mkdtemp(prefix="bench-viewer-home-"))
    (home / "viewer.ini").write_text("[General]\nheatmap_for_normal=true\n")
    env = {**os.environ, "PYTHONPATH": str(code), "QT_QPA_PLATFORM": "offscreen", "PNEUMONET_HOME": str(home),
           "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow", **(extra_env or {})}
    env.pop("PNEUMONET_MODEL", None)
    script = CHILD.replace("MODEL", repr(str(model)))
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", script, str(int(pause_s * 1000)), *map(str, scans)], env=env,
                          cwd=str(code),
                          capture_output=True, text=True, timeout=1800)
    events = [json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if not any(e["event"] == "done" for e in events):
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise SystemExit(f"{code}: the run did not finish (exit {proc.returncode}):\n{tail}")
    at = lambda name, n=None: next(e["t"] - start for e in events  # noqa: E731
                                   if e["event"] == name and (n is None or e.get("n") == n))
    figures = {"first_paint": at("first_paint"), "model_ready": at("model_ready"), "first_result": at("result", 1),
               "first_heatmap": at("heatmap", 1)}
    figures["heatmap_after_result"] = figures["first_heatmap"] - figures["first_result"]
    opens = [e["t"] - start for e in events if e["event"] == "open"]
    further_result, further_heat = [], []
    for i, opened in enumerate(opens, start=2):
        further_result.append(at("result", i) - opened)
        further_heat.append(at("heatmap", i) - opened)
    figures["next_result"] = statistics.median(further_result) if further_result else float("nan")
    figures["next_heatmap"] = statistics.median(further_heat) if further_heat else float("nan")
    figures["next_heatmap_worst"] = max(further_heat) if further_heat else float("nan")
    figures["labels"] = [e.get("label") for e in events if e["event"] == "result"]
    return figures


def pick_scans(data: Path, n_next: int) -> list[Path]:
    """A PNEUMONIA film first, then NORMAL and PNEUMONIA films alternating (both classes explained)."""
    pneumonia = sorted((data / "PNEUMONIA").glob("*.jpeg"))
    normal = sorted((data / "NORMAL").glob("*.jpeg"))
    scans = [pneumonia[0]]
    for i in range(n_next):
        scans.append(normal[i] if i % 2 == 0 else pneumonia[i + 1])
    return scans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, action="append", required=True,
                        help="checkout root to run (first: now; others: baselines); repeat the option")
    parser.add_argument("--model", type=Path, default=None,
                        help="model file for every tree (default: each tree's own bundled ResNet152V2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--next", type=int, default=4, help="further scans opened after the first")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--load", default="0", help="busy background processes beside each run, e.g. 0,5")
    parser.add_argument("--pause", type=float, default=0.3,
                        help="seconds between a scan's heat map and opening the next (a reader's look)")
    args = parser.parse_args()
    scans = pick_scans(args.data, args.next)
    print(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"model {(args.model or DEFAULT_MODEL).name}; first scan {scans[0].name}, then {len(scans) - 1} more; "
          f"{args.pause:g} s between scans; {args.repeats} run(s) per tree, alternating, medians", flush=True)
    for load in (int(n) for n in args.load.split(",")):
        with background_load(load):
            runs = measure(args, scans, load)
        print(f"## background load {load}")
        keys = ("first_paint", "model_ready", "first_result", "first_heatmap", "heatmap_after_result",
                "next_result", "next_heatmap", "next_heatmap_worst")
        print("figure (s)".ljust(24) + "".join(str(code).ljust(22) for code in args.code))
        for key in keys:
            row = key.ljust(24)
            for code in args.code:
                row += f"{statistics.median(r[key] for r in runs[code]):.2f}".ljust(22)
            print(row)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")
    return 0


def measure(args, scans, load: int) -> dict[Path, list[dict]]:
    """Every tree's runs, alternating, ``--repeats`` times."""
    runs: dict[Path, list[dict]] = {code: [] for code in args.code}
    for repeat in range(args.repeats):
        for code in args.code:
            model = args.model or code.resolve() / DEFAULT_MODEL.relative_to(ROOT)
            figures = run_once(code.resolve(), model, scans, args.pause)
            runs[code].append(figures)
            print(f"# load {load} run {repeat + 1} {code}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in figures.items() if isinstance(v, float)) + f"; labels {figures['labels']}",
                  flush=True)
    return runs


@contextlib.contextmanager
def background_load(processes: int):
    """``processes`` busy loops (pure Python, one core each at most) for the duration."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(1.0 if burners else 0.0)  # the load is there before the app starts
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


if __name__ == "__main__":
    sys.exit(main())
