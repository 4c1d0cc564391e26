"""Time the test suite (or a part of it) and measure its peak memory, optionally against a
baseline commit run the same way on the same machine.

    python benchmarks/bench_tests.py [--baseline REV] [--test-sh] [--out FILE] [-- PYTEST ARGS]

Each run is ``pytest -q -p no:cacheprovider --durations=25 PYTEST ARGS`` headless, in a fresh
``$PNEUMONET_HOME``, from the checkout being measured (``--baseline`` makes a temporary git
worktree of REV and puts it first on ``PYTHONPATH``). Printed per run: wall time, CPU time
(user + system of pytest and every process it waited for), peak memory of the whole process
tree (the sum of the resident sizes of pytest and its children, sampled twice a second: the
figure that matters on a shared machine), the load average before and after, pytest's summary
line and its slowest tests; then the ratios to the baseline. Figures from a busy machine are
not the suite's: read the load average first. ``--test-sh`` runs ``bash tools/test.sh ARGS``
instead (its two phases: the heavy tests alone, then the rest in pytest-xdist workers), as
the README and CI run the suite; ``--fast`` among the ARGS is its fast tier.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The suite's own memory probe reads /proc the same way: one reader for both.
from tests.memory_probe import tree_rss as _tree  # noqa: E402 - after the path is set


def tree_rss(root_pid: int) -> int:
    """Bytes resident in ``root_pid`` and all its descendants (from /proc)."""
    own, children = _tree(root_pid)
    return own + children


def run_suite(tree: Path, pytest_args: list[str], test_sh: bool = False) -> dict:
    """Run pytest (or tools/test.sh) in ``tree``; wall, CPU, peak tree memory, summary and slowest tests."""
    python = ROOT / ".venv" / "bin" / "python"
    python = str(python) if python.exists() else sys.executable
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PNEUMONET_HOME": tempfile.mkdtemp(prefix="pneumonet-bench-home-"),
           "PYTHONPATH": str(tree) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=25", *pytest_args]
    if test_sh:
        fast = [arg for arg in pytest_args if arg == "--fast"]
        command = ["bash", "tools/test.sh", *fast, "-p", "no:cacheprovider", "--durations=25",
                   *(arg for arg in pytest_args if arg != "--fast")]
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    wall = time.monotonic() - start
    sampler.join()
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    lines = output.splitlines()
    # tools/test.sh prints one summary per phase
    summary = " + ".join(line.strip("= ") for line in lines if re.search(r"\d+ (passed|failed).* in [\d.]+s", line)) or "?"
    slowest = [line for line in lines if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line)]
    failed = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return {"output": output, "tree": tree, "code": proc.returncode, "wall": wall, "cpu": cpu, "peak": peak[0],
            "load": (load_before, os.getloadavg()), "summary": summary, "slowest": slowest, "failed": failed}


def report(name: str, run: dict) -> str:
    load = " / ".join(" ".join(f"{x:.1f}" for x in pair) for pair in run["load"])
    text = [f"## {name} ({run['tree']})", "",
            f"- wall {run['wall'] / 60:.1f} min, CPU {run['cpu'] / 60:.1f} min, peak memory of the process tree "
            f"{run['peak'] / 2**30:.2f} GB, exit {run['code']}",
            f"- load average before / after: {load} ({os.cpu_count()} CPUs)",
            f"- {run['summary']}", *(f"- {line}" for line in run["failed"]), "", "```", *run["slowest"], "```", ""]
    return "\n".join(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also run the suite of this commit first, for ratios")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    parser.add_argument("--test-sh", action="store_true", help="run the suite as bash tools/test.sh does")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest (e.g. -m 'not slow')")
    args = parser.parse_args()
    if args.baseline and args.test_sh:
        parser.error("--test-sh measures this checkout only (a baseline's tools/test.sh would install a venv)")
    runs = {}
    if args.baseline:
        base = Path(tempfile.mkdtemp(prefix="pneumonet-baseline-")) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        (base.parent / "shared").symlink_to(ROOT.parent / "shared")  # the tests read ../shared/data
        try:
            runs[f"baseline {args.baseline}"] = run_suite(base, args.pytest_args, args.test_sh)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
    runs["this checkout"] = run_suite(ROOT, args.pytest_args, args.test_sh)
    text = "\n".join(report(name, run) for name, run in runs.items())
    if args.baseline:
        base, this = runs.values()
        text += (f"ratios, this checkout / baseline: wall {this['wall'] / base['wall']:.2f}x, "
                 f"CPU {this['cpu'] / base['cpu']:.2f}x, peak memory {this['peak'] / max(1, base['peak']):.2f}x\n")
    print(text)
    if args.out:
        args.out.write_text(text)
        # pytest's own output, whole, beside the report: what failed and why
        args.out.with_suffix(".log").write_text("\n\n".join(run["output"] for run in runs.values()))
    return max(run["code"] for run in runs.values())


if __name__ == "__main__":
    sys.exit(main())
