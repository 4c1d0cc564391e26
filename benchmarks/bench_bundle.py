"""Size and start time of the packaged app: the reading-room bundle against a baseline bundle.

``tools/build_app.sh`` builds dist/Pneumonet/ (the reading-room app, no TensorFlow) and
dist/Pneumonet-training/ (TensorFlow and Keras, loaded only when something needs them).
This script measures, in one run and side by side with a baseline app folder (``--before``,
e.g. the one-folder app a build of an earlier commit made, TensorFlow inside):

* size on disk (``du -sb``): the reading-room folder, the training part, the baseline;
* ``--selftest`` from a cold process (fresh ``PNEUMONET_HOME``): wall time and peak memory;
* ``classify`` of ``--films`` films of ``external/`` from a cold process: wall time and peak memory.

The reading-room app runs without its training part (``PNEUMONET_TRAINING_PART`` names a
folder that does not exist), as a reading-room install would. Runs alternate between the
two apps ``--repeats`` times; medians and minima are printed with the ratio after/before.

    python benchmarks/bench_bundle.py --before out/before/Pneumonet [--app dist/Pneumonet] \
        [--part dist/Pneumonet-training] [--films 10] [--repeats 3] [--out benchmarks/results/bench_bundle.txt]

Never part of the test suite. On a shared machine the times are disturbed: the ratio, measured
in the same run, is the figure to read; rerun on a quiet machine for absolute times.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = ROOT.parent / "shared" / "data" / "chest_xray" / "external"


def folder_bytes(path: Path) -> int:
    """Bytes on disk, as ``du -sb`` counts them (the figure build_app.sh prints)."""
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def executable(app: Path) -> Path:
    for name in ("Pneumonet", "Pneumonet.exe"):
        if (app / name).exists():
            return app / name
    raise SystemExit(f"bench_bundle: no Pneumonet executable in {app}")


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one cold child process; exits on its failure."""
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a chatty child never blocks
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
        wall = time.perf_counter() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        log.seek(0)
        stderr = log.read().decode(errors="replace")
    if code not in (0, 3):  # 3: some films refused, the others done
        raise SystemExit(f"bench_bundle: {' '.join(command[:2])} failed ({code}): {stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # Linux: kilobytes


def films(count: int) -> list[str]:
    found = sorted(p for p in EXTERNAL.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png", ".dcm"))
    if len(found) < count:
        raise SystemExit(f"bench_bundle: fewer than {count} films under {EXTERNAL}")
    step = len(found) // count  # both classes, spread over the folder
    return [str(p) for p in found[::step][:count]]


def measure(apps: dict[str, Path], scans: list[str], repeats: int) -> dict[str, dict[str, list]]:
    figures: dict[str, dict[str, list]] = {name: {} for name in apps}
    for _ in range(repeats):
        for name, app in apps.items():  # alternate: a load change hits both alike
            with tempfile.TemporaryDirectory() as home:
                env = {**os.environ, "PNEUMONET_HOME": home, "QT_QPA_PLATFORM": "offscreen",
                       "PNEUMONET_TRAINING_PART": str(Path(home) / "no-part")}
                env.pop("PNEUMONET_RUNTIME", None)
                for label, command in (("selftest", [str(executable(app)), "--selftest"]),
                                       ("classify", [str(executable(app)), "classify", "--json", *scans])):
                    wall, peak = timed(command, env)
                    figures[name].setdefault(f"{label} s", []).append(wall)
                    figures[name].setdefault(f"{label} MB", []).append(peak)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the baseline app folder (TensorFlow inside)")
    parser.add_argument("--app", type=Path, default=ROOT / "dist" / "Pneumonet")
    parser.add_argument("--part", type=Path, default=ROOT / "dist" / "Pneumonet-training")
    parser.add_argument("--films", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)

    sizes = {"before": folder_bytes(args.before), "after": folder_bytes(args.app),
             "part": folder_bytes(args.part) if args.part.exists() else 0}
    load = os.getloadavg()[0]
    figures = measure({"before": args.before, "after": args.app}, films(args.films), args.repeats)
    lines = [
        f"bench_bundle: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at start "
        f"(shared machine: rerun on a quiet one for absolute times); {args.films} external films; "
        f"{args.repeats} cold runs each, alternating",
        f"{'':32}{'before':>12}{'after':>12}{'after/before':>14}",
        f"{'reading-room folder (MB)':32}{sizes['before'] / 1e6:12.1f}{sizes['after'] / 1e6:12.1f}"
        f"{sizes['after'] / sizes['before']:14.3f}",
        f"{'training part (MB)':32}{'-':>12}{sizes['part'] / 1e6:12.1f}",
        f"{'app + part (MB)':32}{sizes['before'] / 1e6:12.1f}{(sizes['after'] + sizes['part']) / 1e6:12.1f}"
        f"{(sizes['after'] + sizes['part']) / sizes['before']:14.3f}",
    ]
    for pick in (statistics.median, min):  # the fastest run is the one the load disturbed least
        for key in figures["before"]:
            before, after = pick(figures["before"][key]), pick(figures["after"][key])
            label = key.replace("selftest", "--selftest").replace("classify", f"classify {args.films} films")
            suffix = " (median)" if pick is statistics.median else " (min)"
            lines.append(f"{label + suffix:32}"
                         f"{before:12.1f}{after:12.1f}{after / before:14.3f}")
    lines.append(f"bytes: before {sizes['before']}, after {sizes['after']}, part {sizes['part']}; "
                 f"load average {os.getloadavg()[0]:.1f} at the end; python {sys.version.split()[0]}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
