"""Benchmark the scale options on the same images: local float32, local bfloat16, and Ray.

Each configuration classifies the same ``--images`` shared training images through its
engine (``classify_paths`` or ``classify_paths_ray``) after a warm-up batch, and the
table prints images/s side by side with the ratio to local float32, plus how far each
configuration's probabilities are from local float32 (largest difference, decisions
that changed). The machine (CPU, cores, bfloat16 flags, load average) is printed first.

The Ray figure is a whole ``classify_paths_ray`` call on a Ray already running (started
before the timing, its start-up time printed apart): it includes starting the actor pool
and loading the model in each actor, as a user's run would. The "after first" column
leaves that out: images/s from the first result to the last.

    python benchmarks/bench_scale.py [--model FILE | --tiny] [--images 200] [--batch-size 16]
        [--engines local-float32,local-bfloat16,ray-float32] [--ray-address ADDR] [--ray-actors N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_batch import SHARED_TRAIN, shared_images  # noqa: E402  (the same interleaved images)

DEFAULT_MODEL = ROOT / "resources" / "models" / "pneumonet-resnet152v2.pneumonet"
CONFIGS = ("local-float32", "local-bfloat16", "ray-float32", "ray-bfloat16")


def machine_line() -> str:
    from pneumonet_core.runtime.precision import cpu_bfloat16_features

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ", ".join(cpu_bfloat16_features()) or "none"
    return f"{cpu}, {os.cpu_count()} CPUs, bfloat16 flags: {flags}, load average {load()}"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def model_path(args, tmp: Path) -> Path:
    if args.tiny:
        from pneumonet_core.models.untrained import write_untrained_package

        return write_untrained_package(tmp / "tiny.pneumonet")
    return args.model


def run_config(name: str, path: Path, images: list[Path], args) -> dict:
    """Time one configuration; return its rate and results."""
    from pneumonet_core.inference.batch import classify_paths
    from pneumonet_core.inference.classifier import Classifier

    engine, precision = name.split("-")
    classifier = Classifier.load(path, batch_size=args.batch_size, precision=precision)
    if engine == "ray":
        from pneumonet_core.inference.ray_engine import classify_paths_ray

        def run(paths):
            return classify_paths_ray(paths, classifier, batch_size=args.batch_size, actors=args.ray_actors)
    else:
        def run(paths):
            return classify_paths(paths, classifier, batch_size=args.batch_size)
    if engine == "local":  # Ray's warm-up would be lost with its actors: the timed call includes it
        list(run(images[: args.batch_size]))
    started = time.perf_counter()
    results, first = [], None
    for result in run(images):
        results.append(result)
        first = first or time.perf_counter()
    end = time.perf_counter()
    after_first = (len(results) - 1) / (end - first) if len(results) > 1 and end > first else float("nan")
    return {"name": name, "seconds": end - started, "rate": len(images) / (end - started),
            "after_first": after_first, "results": results}


def agreement(results, baseline) -> tuple[float, int]:
    """Largest |probability difference| (withheld scans compared by their withheld score) and the number of
    changed decisions against ``baseline``."""
    pairs = [(r, b) for r, b in zip(results, baseline) if r.ok and b.ok]
    worst = max((abs(r.measured_probability - b.measured_probability) for r, b in pairs), default=0.0)
    return worst, sum(r.label != b.label for r, b in pairs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model package (default: ResNet152V2)")
    parser.add_argument("--tiny", action="store_true", help="a tiny random test model instead")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--engines", default="local-float32,local-bfloat16,ray-float32",
                        help=f"comma-separated, from {', '.join(CONFIGS)}; local-float32 always runs first")
    parser.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: a local Ray)")
    parser.add_argument("--ray-actors", type=int, default=None)
    args = parser.parse_args(argv)
    names = ["local-float32"] + [n for n in args.engines.split(",") if n and n != "local-float32"]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}")
    if not SHARED_TRAIN.is_dir():
        print(f"bench_scale: shared training images not found at {SHARED_TRAIN}", file=sys.stderr)
        return 1
    import keras

    images = shared_images(args.images)
    print(f"machine:  {machine_line()}")
    print(f"software: Python {platform.python_version()}, Keras {keras.__version__} ({keras.backend.backend()})")
    started_ray = False
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = model_path(args, Path(tmp))
        print(f"model:    {path.name}; {len(images)} shared training JPEGs, batch {args.batch_size}")
        if any(n.startswith("ray") for n in names):
            from pneumonet_core.inference.ray_engine import actor_plan, cluster_nodes, connect

            t = time.perf_counter()
            started_ray = connect(args.ray_address)
            import ray

            resources = ray.cluster_resources()
            plan = actor_plan(cluster_nodes(ray), args.ray_actors)
            print(f"ray:      {ray.__version__}, started in {time.perf_counter() - t:.1f} s; {plan['size']} model "
                  f"actor(s) x {plan['num_cpus']} CPU, {int(resources.get('CPU', 0))} CPUs in the cluster")
        try:
            for name in names:
                rows.append(run_config(name, path, images, args))
                print(f"  done {name}: {rows[-1]['rate']:.2f} images/s", flush=True)
        finally:
            if started_ray:
                import ray

                ray.shutdown()
    base = rows[0]
    print()
    print(f"{'configuration':16s} {'images/s':>9s} {'seconds':>8s} {'vs local float32':>17s} {'after first':>12s} "
          f"{'max |dp|':>9s} {'decisions changed':>18s}")
    for row in rows:
        worst, changed = agreement(row["results"], base["results"])
        print(f"{row['name']:16s} {row['rate']:9.2f} {row['seconds']:8.1f} {row['rate'] / base['rate']:16.2f}x "
              f"{row['after_first']:12.2f} {worst:9.2e} {changed:>11d} / {sum(r.ok for r in row['results'])}")
    print(f"\nload average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
