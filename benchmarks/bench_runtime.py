"""LiteRT against TensorFlow, side by side in one run: what a reader and a batch run wait for.

For each runtime (``--runtime litert`` and ``--runtime tensorflow``), on this machine's
CPU, with the bundled ResNet152V2 (or ``--model``), each figure in a fresh child process:

* **cold classify**: ``pneumonet classify`` of ``--films`` films (40), from the process's
  start to its exit, and the child's peak resident memory (``wait4``'s ``ru_maxrss``);
* **viewer**: ``pneumonet gui FILE`` offscreen (benchmarks/bench_viewer_start.py's child):
  first paint, first result, first heat map, and the median further scan;
* **batch throughput**: films per second through ``Classifier.forward`` once loaded and
  warmed (``--batch-films`` films, the architecture's pass size).

LiteRT's graph is derived once, first (its time is printed: what the first use of a new
package costs), so every LiteRT figure is the usual case, a graph read from the cache.
The runs of the two runtimes alternate ``--repeats`` times; medians are printed with the
ratio LiteRT / TensorFlow. The issue's targets on an idle 2-core machine: cold classify of
40 films <= 5 s, <= 400 MB and <= 0.25x TensorFlow's time; viewer first result <= 3 s and
next scan <= 0.5 s; throughput >= 1.5x TensorFlow's.

    python benchmarks/bench_runtime.py [--model M] [--films 40] [--repeats 1] [--litert-variant float16] \\
        [--out benchmarks/results/bench_runtime.txt]

Never part of the test suite (minutes: TensorFlow loads ResNet152V2 several times).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_viewer_start  # noqa: E402

DEFAULT_MODEL = ROOT / "resources" / "models" / "pneumonet-resnet152v2.pneumonet"
DATA = ROOT.parent / "shared" / "data" / "chest_xray"
RUNTIMES = ("litert", "tensorflow")

THROUGHPUT = r'''
import json, sys, time
import numpy as np
from pneumonet_core.imaging import load_scan
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.preprocessing import preprocess
model, runtime, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
classifier = Classifier.load(model, runtime=runtime)
inputs = np.stack([preprocess(load_scan(p).pixels) for p in paths])
classifier.forward(inputs[: classifier.batch_size])  # the pass's shape built (traced under TensorFlow)
start = time.perf_counter()
classifier.forward(inputs)
print("BENCH " + json.dumps({"films_per_s": len(inputs) / (time.perf_counter() - start)}))
'''

DERIVE = r'''
import sys, time
from pneumonet_core.inference.litert_runtime import load_lite
start = time.perf_counter()
classifier = load_lite(sys.argv[1])
print("BENCH", classifier.graph_source, time.perf_counter() - start, classifier.graph.size)
'''


def child_env(home: Path, runtime: str | None = None, variant: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PNEUMONET_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2",
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PNEUMONET_MODEL", None)
    env.pop("PNEUMONET_RUNTIME", None)
    if runtime:
        env["PNEUMONET_RUNTIME"] = runtime
    if variant:
        env["PNEUMONET_LITERT_VARIANT"] = variant
    return env


def run_child(command: list[str], env: dict) -> tuple[float, float, str]:
    """(seconds from spawn to exit, the child's peak resident MB, its stdout); ``wait4`` gives
    this child's own peak (Popen would reap it first)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        pid = os.posix_spawn(command[0], command, env, file_actions=[(os.POSIX_SPAWN_DUP2, stdout.fileno(), 1),
                                                                   (os.POSIX_SPAWN_DUP2, stderr.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):
            raise SystemExit(f"{' '.join(command[:5])}... failed ({code}):\n{stderr.read()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, stdout.read()


def films_folder(n: int) -> Path:
    """``n`` external films (half of each class), linked into a new folder."""
    folder = Path(tempfile.mkdtemp(prefix="bench-runtime-films-"))
    for label in ("NORMAL", "PNEUMONIA"):
        for path in sorted((DATA / "external" / label).glob("*.jpeg"))[: n // 2 + (n % 2 if label == "NORMAL" else 0)]:
            (folder / f"{label}-{path.name}").symlink_to(path)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--films", type=int, default=40)
    parser.add_argument("--batch-films", type=int, default=64)
    parser.add_argument("--next", type=int, default=4, help="further scans opened in the viewer")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--litert-variant", default=None,
                        help="the LiteRT graph's variant (default: the runtime's, mixed-int8; float16 was the default before)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"model {args.model.name}; {args.films} films for classify, {args.batch_films} for throughput; "
        f"{args.repeats} run(s) per runtime, alternating, medians; LiteRT variant {args.litert_variant or 'default'}")
    home = Path(tempfile.mkdtemp(prefix="bench-runtime-home-"))
    python = sys.executable
    seconds, peak, out = run_child([python, "-c", DERIVE, str(args.model)], child_env(home, None, args.litert_variant))
    source, took, size = out.split("BENCH")[1].split()
    say(f"# LiteRT graph {source} in {float(took):.1f} s ({int(size) / 1e6:.1f} MB, peak {peak:.0f} MB): "
        "the first use of a new package; every figure below reads it from the cache")
    folder = films_folder(args.films)
    batch = sorted((DATA / "external").glob("*/*.jpeg"))[:: 2][: args.batch_films]
    scans = bench_viewer_start.pick_scans(DATA / "train", args.next)
    figures: dict[str, dict[str, list[float]]] = {r: {} for r in RUNTIMES}
    for repeat in range(args.repeats):
        for runtime in RUNTIMES:
            got = figures[runtime]
            env = child_env(home, runtime, args.litert_variant)
            seconds, peak, _ = run_child([python, "-m", "pneumonet_cli.main", "classify", "--model",
                                          str(args.model), "--runtime", runtime, str(folder)], env)
            got.setdefault("cold classify (s)", []).append(seconds)
            got.setdefault("cold classify peak (MB)", []).append(peak)
            viewer = bench_viewer_start.run_once(ROOT, args.model, scans, home=home, extra_env={
                k: env[k] for k in ("PNEUMONET_RUNTIME", "PNEUMONET_LITERT_VARIANT") if k in env})
            for key in ("first_paint", "first_result", "first_heatmap", "next_result", "next_heatmap"):
                got.setdefault(f"viewer {key} (s)", []).append(viewer[key])
            _, _, out = run_child([python, "-c", THROUGHPUT, str(args.model), runtime, *map(str, batch)], env)
            rate = json.loads(out.split("BENCH ", 1)[1])["films_per_s"]
            got.setdefault("batch throughput (films/s)", []).append(rate)
            say(f"# run {repeat + 1} {runtime}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in got.items()))
    say("figure".ljust(32) + "litert".ljust(12) + "tensorflow".ljust(12) + "ratio litert/tf")
    for key in figures["litert"]:
        lite, tf = (statistics.median(figures[r][key]) for r in RUNTIMES)
        say(key.ljust(32) + f"{lite:.2f}".ljust(12) + f"{tf:.2f}".ljust(12) + (f"{lite / tf:.2f}" if tf else "-"))
    say(f"# load average at the end {os.getloadavg()[0]:.1f}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    import shutil

    shutil.rmtree(home, ignore_errors=True)  # the derived graph: a hundred megabytes
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
