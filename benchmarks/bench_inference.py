"""Benchmark inference on this machine (TensorFlow backend): latency, batch throughput, Grad-CAM.

For each ``--model`` (default: the bundled ResNet152V2), over the first ``--images`` sorted
training images (half NORMAL, half PNEUMONIA), decoded once beforehand so file decoding is
not measured:

* latency: ``Classifier.classify(scan)`` per image (preprocessing included), median, after
  a warm-up call;
* throughput: ``Classifier.predict_inputs`` on all preprocessed inputs at ``--batch-size``
  against a plain ``model.predict(x[None], verbose=0)`` loop over the same inputs (the
  baseline, same process), images/s and the ratio; each path is warmed up, then timed
  ``--repeats`` times alternately and the median kept (the machine may be shared);
* Grad-CAM: ``Classifier.heatmap(scan, prediction)`` (median over ``--gradcam-images``,
  after a first call reported on its own because it traces the gradient graph) against
  one forward pass, ``predict_inputs`` on one image (median), and the ratio.

    python benchmarks/bench_inference.py [--model FILE ...] [--images 64] [--batch-size 16]
    python benchmarks/bench_inference.py --model resources/models/pneumonet-resnet152v2.pneumonet \\
        --model resources/models/pneumonet-cnn.pneumonet --images 32

Never part of the test suite: run by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Inference in the app runs on TensorFlow; a KERAS_BACKEND left in the shell must not change that.
os.environ["KERAS_BACKEND"] = "tensorflow"

DEFAULT_MODEL = ROOT / "resources" / "models" / "pneumonet-resnet152v2.pneumonet"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "chest_xray" / "train"


def first_images(data: Path, n: int) -> list[Path]:
    """The first sorted images of each class folder, about n/2 each, NORMAL and PNEUMONIA alternating."""
    per_class = []
    for label in ("NORMAL", "PNEUMONIA"):
        files = sorted(p for p in (data / label).iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        per_class.append(files)
    take = [(n + 1) // 2, n // 2]
    normal, pneumonia = per_class[0][: take[0]], per_class[1][: take[1]]
    mixed = []
    for i in range(max(len(normal), len(pneumonia))):
        mixed.extend(p[i] for p in (normal, pneumonia) if i < len(p))
    return mixed


def median_time(fn, items) -> float:
    """Median seconds of fn(item) over items."""
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_model(path: Path, scans, inputs, args) -> None:
    import numpy as np

    from pneumonet_core.inference.classifier import Classifier

    n = len(scans)
    t = time.perf_counter()
    clf = Classifier.load(path, batch_size=args.batch_size)
    load_s = time.perf_counter() - t
    card = clf.card
    print(f"model:      {path.name}: {card.name} ({card.backbone}, {clf.model.count_params() / 1e6:.1f} M parameters, "
          f"hash {card.short_hash}), loaded in {load_s:.1f} s")

    # Latency of the one-scan path the viewer uses.
    first_classify = timed(lambda: clf.classify(scans[0]))
    clf.classify(scans[1 % n])
    latency = median_time(clf.classify, scans)
    print(f"classify:   {latency * 1000:7.1f} ms/image median over {n} images "
          f"(first call {first_classify:.2f} s, before warm-up)")

    # Throughput: the classifier's batched path against a per-image model.predict loop.
    model = clf.model

    def plain():
        for x in inputs:
            model.predict(x[None], verbose=0)

    def batched():
        clf.predict_inputs(inputs)

    plain_warm = inputs[:2]
    for x in plain_warm:
        model.predict(x[None], verbose=0)
    clf.predict_inputs(inputs[: args.batch_size])  # traces the one static batch shape
    plain_s, batch_s = [], []
    for _ in range(args.repeats):
        plain_s.append(timed(plain))
        batch_s.append(timed(batched))
    plain_rate = n / statistics.median(plain_s)
    batch_rate = n / statistics.median(batch_s)
    print(f"baseline:   {plain_rate:7.1f} images/s  model.predict(x[None]) loop, {n} images, "
          f"median of {args.repeats} runs")
    print(f"batched:    {batch_rate:7.1f} images/s  Classifier.predict_inputs, batch {clf.batch_size}, {n} images, "
          f"median of {args.repeats} runs")
    print(f"ratio:      {batch_rate / plain_rate:7.2f}x batched / baseline")

    # Grad-CAM against one forward pass of the same classifier.
    k = max(2, min(args.gradcam_images, n))
    cam_scans = scans[:k]
    preds = [clf.classify(s) for s in cam_scans]
    first_cam = timed(lambda: clf.heatmap(cam_scans[0], preds[0]))
    clf.heatmap(cam_scans[1], preds[1])
    cam = median_time(lambda i: clf.heatmap(cam_scans[i], preds[i]), range(k))
    one = [x[None] for x in inputs[:k]]
    clf.predict_inputs(one[0])
    forward = median_time(clf.predict_inputs, one)
    heat = clf.heatmap(cam_scans[0], preds[0])
    assert heat.shape == cam_scans[0].shape and np.isfinite(heat).all()
    print(f"forward:    {forward * 1000:7.1f} ms  predict_inputs on one image, median of {k}")
    print(f"grad-cam:   {cam * 1000:7.1f} ms  Classifier.heatmap at scan size, median of {k} "
          f"(first call {first_cam:.2f} s: builds and traces the gradient graph)")
    print(f"ratio:      {cam / forward:7.2f}x Grad-CAM / forward pass")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", help="model package; repeat for several "
                        f"(default: {DEFAULT_MODEL.relative_to(ROOT)})")
    parser.add_argument("--images", type=int, default=64, help="images (half of each class); default 64")
    parser.add_argument("--batch-size", type=int, default=16, help="Classifier batch size; default 16")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each throughput path; default 3")
    parser.add_argument("--gradcam-images", type=int, default=8, help="Grad-CAM calls timed; default 8")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with NORMAL/ and PNEUMONIA/")
    args = parser.parse_args(argv)
    models = args.model or [DEFAULT_MODEL]
    if args.images < 2 or args.repeats < 1 or args.batch_size < 1:
        parser.error("--images must be at least 2, --repeats and --batch-size at least 1")
    for folder in ("NORMAL", "PNEUMONIA"):
        if not (args.data / folder).is_dir():
            print(f"bench_inference: {args.data / folder}: folder not found (use --data)", file=sys.stderr)
            return 1
    for path in models:
        if not path.is_file():
            print(f"bench_inference: {path}: model file not found", file=sys.stderr)
            return 1

    import keras
    import numpy as np
    import tensorflow as tf

    from pneumonet_core.imaging import load_scan
    from pneumonet_core.preprocessing import preprocess

    paths = first_images(args.data, args.images)
    scans = [load_scan(p) for p in paths]
    inputs = np.stack([preprocess(s.pixels) for s in scans])
    sizes = sorted((s.shape for s in scans), key=lambda hw: hw[0] * hw[1])
    print(f"command:    python benchmarks/bench_inference.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    print(f"machine:    {platform.machine()}, {os.cpu_count()} CPUs (os.cpu_count), load average "
          f"{os.getloadavg()[0]:.1f} at start; keras {keras.__version__} backend {keras.backend.backend()}, "
          f"tensorflow {tf.__version__}")
    print(f"images:     {len(scans)} from {args.data} (first sorted of each class: "
          f"{sum(p.parent.name == 'NORMAL' for p in paths)} NORMAL, {sum(p.parent.name == 'PNEUMONIA' for p in paths)} "
          f"PNEUMONIA), sizes {sizes[0][1]}x{sizes[0][0]} to {sizes[-1][1]}x{sizes[-1][0]}, decoded before timing")
    from pneumonet_core.errors import PneumonetError

    for path in models:
        print()
        try:
            bench_model(path, scans, inputs, args)
        except PneumonetError as exc:
            print(f"bench_inference: {exc}", file=sys.stderr)
            return 1
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
