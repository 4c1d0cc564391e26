"""LiteRT graph variants side by side in one process: pass time, throughput and memory.

Loads each ``--variants`` graph of the model (bundled, cached, or derived first: a
derivation's time is printed, not counted), then alternates them ``--rounds`` times over the
same films: a batch pass (the architecture's pass size, ``--films`` films) and single-film
passes (what the viewer runs). Medians are printed with the ratio to the first variant
(the baseline, float16 by default), which was measured in the same rounds, so a loaded
machine disturbs both alike. Each variant's memory is measured apart, in a child running
``benchmarks/bench_runtime_memory.py`` (a process's peak is its own).

    python benchmarks/bench_runtime_variants.py [--model M] [--variants float16 mixed-int8] [--films 32] \\
        [--rounds 3] [--out FILE]

Never part of the test suite (a minute or two; more when a graph must be derived).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "chest_xray"


def memory(model: Path, variant: str) -> str:
    """The last line of bench_runtime_memory.py for ``variant``: RSS and peak after a batch classify."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_runtime_memory.py"), "--model",
                           str(model), "--variant", variant, "--films", "40"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=900, check=True)
    return done.stdout.strip().splitlines()[-1].split("  ", 1)[-1].strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources/models/pneumonet-resnet152v2.pneumonet")
    parser.add_argument("--variants", nargs="+", default=["float16", "mixed-int8"])
    parser.add_argument("--films", type=int, default=32)
    parser.add_argument("--singles", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.litert_runtime import load_lite
    from pneumonet_core.preprocessing import preprocess

    lines = [f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; model {args.model.name}; {args.films} films "
             f"per batch pass, {args.singles} single-film passes; {args.rounds} alternating rounds, medians"]
    paths = sorted((DATA / "external").glob("*/*.jpeg"))[:: 3][: args.films]
    inputs = np.stack([preprocess(load_scan(p).pixels) for p in paths])
    classifiers = {}
    for variant in args.variants:
        start = time.perf_counter()
        classifiers[variant] = load_lite(args.model, variant=variant)
        took = time.perf_counter() - start
        classifiers[variant].forward(inputs[: classifiers[variant].batch_size])  # XNNPACK set up for the shape
        lines.append(f"# {variant}: graph {classifiers[variant].graph_source} in {took:.1f} s, "
                     f"{classifiers[variant].graph.size / 1e6:.1f} MB")
    batch: dict[str, list[float]] = {v: [] for v in args.variants}
    single: dict[str, list[float]] = {v: [] for v in args.variants}
    for _ in range(args.rounds):
        for variant, classifier in classifiers.items():
            start = time.perf_counter()
            classifier.forward(inputs)
            batch[variant].append(len(inputs) / (time.perf_counter() - start))
            start = time.perf_counter()
            for x in inputs[: args.singles]:
                classifier.forward(x[None])
            single[variant].append((time.perf_counter() - start) / args.singles)
    base = args.variants[0]
    lines.append("variant".ljust(14) + "films/s (batch)".ljust(22) + "s per single film".ljust(24) + "memory (40 films)")
    for variant in args.variants:
        rate, latency = statistics.median(batch[variant]), statistics.median(single[variant])
        ratio_rate, ratio_latency = rate / statistics.median(batch[base]), latency / statistics.median(single[base])
        lines.append(variant.ljust(14) + f"{rate:.1f} ({ratio_rate:.2f}x)".ljust(22)
                     + f"{latency:.3f} ({ratio_latency:.2f}x)".ljust(24) + memory(args.model, variant))
    lines.append(f"# load average at the end {os.getloadavg()[0]:.1f}")
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
