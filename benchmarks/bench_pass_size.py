"""What the forward-pass size costs: images/s of ``Classifier.forward`` at several pass sizes.

The bundled ResNet152V2 runs 4 scans per pass (``Architecture.inference_batch``) so that a
batch run stays under 1.5 GB resident; 16 was the earlier default and is the baseline here.
The same preprocessed training films go through every size, in one process, alternately,
``--repeats`` times; the median is kept (the machine may be shared).

    python benchmarks/bench_pass_size.py [--model FILE] [--sizes 4,8,16] [--images 64]

Never part of the test suite: run by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "chest_xray" / "train"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources" / "models" / "pneumonet-resnet152v2.pneumonet")
    parser.add_argument("--sizes", default="4,8,16", help="pass sizes; the last is the baseline")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.preprocessing import preprocess

    sizes = [int(s) for s in args.sizes.split(",")]
    paths = [p for c in ("NORMAL", "PNEUMONIA") for p in sorted((DATA / c).glob("*.jpeg"))[: args.images // 2]]
    inputs = np.stack([preprocess(load_scan(p).pixels) for p in paths])
    classifier = Classifier.load(args.model)
    print(f"model: {args.model.name}; {len(inputs)} films; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}")
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    for size in sizes:  # warm-up: each size traces its graph once
        classifier.batch_size = size
        classifier.forward(inputs[:size])
    for _ in range(args.repeats):
        for size in sizes:
            classifier.batch_size = size
            started = time.perf_counter()
            classifier.forward(inputs)
            timings[size].append(time.perf_counter() - started)
    baseline = len(inputs) / statistics.median(timings[sizes[-1]])
    print(f"{'pass size':>9}  {'images/s':>8}  vs {sizes[-1]}")
    for size in sizes:
        rate = len(inputs) / statistics.median(timings[size])
        print(f"{size:>9}  {rate:8.2f}  {rate / baseline:.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
