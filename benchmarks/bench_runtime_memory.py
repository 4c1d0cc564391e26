"""Where the LiteRT path's memory goes: resident and peak MB after each step of a cold classify.

One process, the steps of :func:`~pneumonet_core.inference.litert_runtime.load_lite` and a
classify, taken apart: import, package check, graph read (bundle or cache), interpreter
creation, first single-film pass, then ``--films`` external films in passes of the
architecture's size. Prints the resident set (``/proc/self/statm``) and the peak so far
(``VmHWM``) after each, so a change to the loader shows which step it moved.

    python benchmarks/bench_runtime_memory.py [--model M] [--films 40] [--variant float16]

Never part of the test suite; figures depend on the machine's allocator, not on its load.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "chest_xray"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """This process's peak resident set: ``VmHWM`` (``ru_maxrss`` would carry a parent's peak
    over fork and exec, so a benchmark that derived a graph first would show its gigabytes)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources/models/pneumonet-resnet152v2.pneumonet")
    parser.add_argument("--films", type=int, default=40)
    parser.add_argument("--variant", default=None)
    args = parser.parse_args()
    start = time.perf_counter()

    def step(name: str) -> None:
        print(f"{name:<34} rss {rss_mb():7.1f} MB  peak {peak_mb():7.1f} MB  ({time.perf_counter() - start:.2f} s)",
              flush=True)

    step("python")
    import numpy as np

    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.litert_runtime import load_lite
    from pneumonet_core.preprocessing import preprocess

    step("import")
    classifier = load_lite(args.model, variant=args.variant)
    step(f"load_lite ({classifier.graph_source}, {classifier.graph.size / 1e6:.0f} MB graph)")
    paths = sorted((DATA / "external").glob("*/*.jpeg"))[:: max(1, 288 // args.films)][: args.films]
    first = preprocess(load_scan(paths[0]).pixels)[None]
    classifier.forward(first)
    step("first film (batch of 1)")
    inputs = np.stack([preprocess(load_scan(p).pixels) for p in paths])
    step(f"{len(inputs)} films read")
    classifier.forward(inputs)
    step(f"{len(inputs)} films (batches of {classifier.batch_size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
