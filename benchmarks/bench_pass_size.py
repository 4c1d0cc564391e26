"""What the forward-pass size costs: images/s of ``Classifier.forward`` at several pass sizes.

The bundled ResNet152V2 runs 4 scans per pass (``Architecture.inference_batch``) so that a
batch run stays under 1.5 GB resident; 16 was the earlier default and is the baseline here.
The same preprocessed training films go through every size, in one process, alternately,
``--repeats`` times; the median is kept (the machine may be shared). Then, for each size,
a fresh process loads the model, runs the same films and reports its peak resident memory
(VmHWM), and the same for the model loaded without a pass (what the passes add).

    python benchmarks/bench_pass_size.py [--model FILE] [--sizes 4,8,16] [--images 64]

Never part of the test suite: run by hand.
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
DATA = ROOT.parent / "shared" / "data" / "chest_xray" / "train"


#: A child that loads the model, runs the films at one pass size (0: no pass) and prints its peak.
CHILD = """
import re, sys
import numpy as np
from pneumonet_core.imaging.limits import return_large_buffers_to_the_system
return_large_buffers_to_the_system()
from pneumonet_core.inference.classifier import Classifier
size = int(sys.argv[2])
classifier = Classifier.load(sys.argv[1], batch_size=max(1, size))
if size:
    classifier.forward(np.load(sys.argv[3]))
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024)
"""


def peak_mib(model: Path, size: int, inputs_file: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(model), str(size), str(inputs_file)],
                          capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.split()[-1])


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
    if sys.platform.startswith("linux"):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            inputs_file = Path(tmp) / "inputs.npy"
            np.save(inputs_file, inputs)
            loaded = peak_mib(args.model, 0, inputs_file)
            print(f"peak resident memory, model loaded, no pass: {loaded:.0f} MiB")
            for size in sizes:
                peak = peak_mib(args.model, size, inputs_file)
                print(f"{size:>9}  peak {peak:.0f} MiB  (+{peak - loaded:.0f} MiB for the passes)")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
