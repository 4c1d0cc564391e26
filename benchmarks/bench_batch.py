"""Benchmark batch classification against a plain one-image-at-a-time loop, and its memory.

Throughput (default): the first ``--n`` shared training images (NORMAL and PNEUMONIA
interleaved) are classified twice in this process, after a warm-up of each path:

* plain loop: ``load_scan -> preprocess -> model.predict(x[None])`` per image;
* ``classify_paths``: parallel decoding ahead of batched inference.

It prints images/s for both and the ratio (target >= 1.5x).

Memory (``--memory``): ``classify_paths`` over every shared training image, printing the
resident set size every 500 images and the peak (from /proc, no psutil).

    python benchmarks/bench_batch.py [--model FILE | --tiny] [--n 200] [--batch-size 16] [--workers N]
    python benchmarks/bench_batch.py --memory [--model FILE | --tiny] [--limit 5000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_TRAIN = ROOT.parent / "shared" / "data" / "chest_xray" / "train"


def proc_status_kib(field: str) -> int:
    """A memory field of /proc/self/status in KiB (VmRSS now, VmHWM the peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def shared_images(limit: int | None) -> list[Path]:
    """NORMAL and PNEUMONIA images interleaved, so any prefix has both classes."""
    normal = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))
    pneumonia = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))
    mixed = [p for pair in itertools.zip_longest(normal, pneumonia) for p in pair if p is not None]
    return mixed[:limit] if limit else mixed


def load_classifier(args, tmp: Path):
    from pneumonet_core.inference.classifier import Classifier

    if args.tiny:
        from pneumonet_core.models.untrained import write_untrained_package

        return Classifier.load(write_untrained_package(tmp / "tiny.pneumonet"), batch_size=args.batch_size)
    return Classifier.load(args.model, batch_size=args.batch_size)


def plain_loop(paths, classifier) -> list[float]:
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.preprocessing import preprocess

    out = []
    for path in paths:
        x = preprocess(load_scan(path).pixels)
        out.append(float(classifier.model.predict(x[None], verbose=0)[0, -1]))
    return out


def batched(paths, classifier, args) -> list:
    from pneumonet_core.inference.batch import classify_paths

    return list(classify_paths(paths, classifier, batch_size=args.batch_size, workers=args.workers))


def throughput(args, classifier) -> None:
    paths = shared_images(args.n)
    warm = paths[: args.batch_size]
    plain_loop(warm[:2], classifier)
    batched(warm, classifier, args)
    t = time.perf_counter()
    plain_loop(paths, classifier)
    plain_s = time.perf_counter() - t
    t = time.perf_counter()
    results = batched(paths, classifier, args)
    batch_s = time.perf_counter() - t
    failed = sum(1 for r in results if not r.ok)
    plain_rate, batch_rate = len(paths) / plain_s, len(paths) / batch_s
    print(f"images:          {len(paths)} shared training JPEGs ({failed} failed)")
    print(f"plain loop:      {plain_rate:7.1f} images/s ({plain_s:.1f} s)")
    print(f"classify_paths:  {batch_rate:7.1f} images/s ({batch_s:.1f} s)  batch {args.batch_size}, "
          f"{args.workers or 'auto'} decode workers")
    print(f"ratio:           {batch_rate / plain_rate:.2f}x  (target >= 1.5x)")
    print(f"peak RSS:        {mib(proc_status_kib('VmHWM'))}")


def memory(args, classifier) -> None:
    from pneumonet_core.inference.batch import classify_paths

    paths = shared_images(args.limit)
    print(f"classify_paths over {len(paths)} images, batch {args.batch_size}; RSS every 500 images")
    start = proc_status_kib("VmRSS")
    print(f"{0:6d} images  RSS {mib(start)}")
    t = time.perf_counter()
    n = 0
    for n, _ in enumerate(classify_paths(paths, classifier, batch_size=args.batch_size, workers=args.workers), 1):
        if n % 500 == 0:
            print(f"{n:6d} images  RSS {mib(proc_status_kib('VmRSS'))}  ({n / (time.perf_counter() - t):.1f} images/s)",
                  flush=True)
    print(f"{n:6d} images  RSS {mib(proc_status_kib('VmRSS'))}  done in {time.perf_counter() - t:.0f} s")
    print(f"peak RSS (VmHWM): {mib(proc_status_kib('VmHWM'))}; RSS before the run: {mib(start)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model package (default: the active/bundled model)")
    parser.add_argument("--tiny", action="store_true", help="use a tiny random test model (no bundled model needed)")
    parser.add_argument("--n", type=int, default=200, help="images for the throughput run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: auto)")
    parser.add_argument("--memory", action="store_true", help="memory run over all shared training images")
    parser.add_argument("--limit", type=int, default=None, help="--memory: stop after this many images")
    args = parser.parse_args(argv)
    if not SHARED_TRAIN.is_dir():
        print(f"bench_batch: shared training images not found at {SHARED_TRAIN}", file=sys.stderr)
        return 1
    import keras

    from pneumonet_core.errors import PneumonetError

    with tempfile.TemporaryDirectory() as tmp:
        try:
            classifier = load_classifier(args, Path(tmp))
        except PneumonetError as exc:
            print(f"bench_batch: {exc} (use --model FILE or --tiny)", file=sys.stderr)
            return 1
        print(f"model:           {classifier.card.name} ({classifier.card.backbone}, hash {classifier.card.short_hash}), "
              f"backend {keras.backend.backend()}, {os.cpu_count()} CPUs")
        (memory if args.memory else throughput)(args, classifier)
    return 0


if __name__ == "__main__":
    sys.exit(main())
