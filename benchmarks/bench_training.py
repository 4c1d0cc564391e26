"""Benchmark training throughput (images/s) per approach and Keras backend, on this machine.

Each (approach, backend) pair runs in its own worker subprocess of this script, because
``KERAS_BACKEND`` is fixed when keras is imported. A worker decodes the first ``--images``
sorted training images (half NORMAL, half PNEUMONIA) with the project's
``decode_inputs``, builds the model with ``build_model(ModelSpec(...))`` and wraps and
compiles it exactly as ``pneumonet_core/training/trainer.py`` does (uint8 input,
``UnitScale``, ``ChestAugment``, AdamW with the cosine schedule, class weights, the
trainer's metrics, XLA on JAX), then runs ``fit`` on the trainer's ``make_training_batches``
for one warm-up step plus ``--steps`` timed steps. Images/s is the batch over the median
timed step (robust to a shared machine); the warm-up step's extra time (tracing and
compiling) is reported separately as compile.
ResNet approaches use ``weights="none"`` (no ImageNet download) and a small batch.

    python benchmarks/bench_training.py [--approaches cnn,transfer,finetune] [--backends tensorflow,jax]
                                        [--images 128] [--steps 6] [--batch-size N] [--unfreeze 10]

The parent prints a table approach x backend with images/s and each backend's ratio
against TensorFlow for the same approach. Never part of the test suite: run by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "chest_xray" / "train"
APPROACHES = ("cnn", "transfer", "finetune")
BACKENDS = ("tensorflow", "jax")
#: Default batch per approach: the trainer's default for the CNN; small for ResNet152V2 on a CPU.
DEFAULT_BATCH = {"cnn": 32, "transfer": 8, "finetune": 8}
RESULT_PREFIX = "BENCH_TRAINING_RESULT "


def first_images(data: Path, n: int) -> list[Path]:
    """The first sorted images of each class folder, about n/2 each, NORMAL and PNEUMONIA alternating."""
    per_class = []
    for label in ("NORMAL", "PNEUMONIA"):
        files = sorted(p for p in (data / label).iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        per_class.append(files)
    normal, pneumonia = per_class[0][: (n + 1) // 2], per_class[1][: n // 2]
    mixed = []
    for i in range(max(len(normal), len(pneumonia))):
        mixed.extend(p[i] for p in (normal, pneumonia) if i < len(p))
    return mixed


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM), from /proc; 0 where there is none."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --------------------------------------------------------------------------- worker


def worker(args) -> dict:
    """Run one approach on the backend keras was imported with; return the measurements."""
    sys.path.insert(0, str(ROOT))
    t_import = time.perf_counter()
    import keras
    import numpy as np

    from pneumonet_core.data.batches import class_weights, decode_inputs, make_training_batches
    from pneumonet_core.models.architectures import ModelSpec
    from pneumonet_core.training.config import TrainConfig
    from pneumonet_core.training.trainer import _device_name, build_training_models

    import_s = time.perf_counter() - t_import
    approach = args.worker
    batch_size = args.batch_size or DEFAULT_BATCH[approach]
    config = TrainConfig(data_dir=args.data, out=Path("unused.pneumonet"), approach=approach, weights="none",
                         unfreeze=args.unfreeze, batch_size=batch_size, seed=1, augment=not args.no_augment,
                         mixed_precision=args.precision, resolution=args.resolution, input_norm=args.input_norm)

    paths = first_images(args.data, args.images)
    t = time.perf_counter()
    decoded = decode_inputs(paths)
    decode_s = time.perf_counter() - t
    if decoded.errors:
        raise SystemExit(f"could not decode: {decoded.errors[0]}")
    x = decoded.inputs
    y_index = np.array([paths[i].parent.name == "PNEUMONIA" for i in decoded.kept], dtype=np.int32)
    # Enough batches for the warm-up step plus the timed ones: cycle the images if needed
    # (content does not change the cost of a step).
    needed = (args.steps + 1) * batch_size
    if len(x) < needed:
        x, y_index = np.resize(x, (needed, *x.shape[1:])), np.resize(y_index, needed)

    keras.utils.set_random_seed(config.seed)
    spec = ModelSpec(approach=approach, labels="binary", weights=config.resolved_weights(),
                     unfreeze=config.unfreeze, cnn_width=config.cnn_width, input_norm=config.input_norm,
                     resolution=config.resolution)
    t = time.perf_counter()
    # The trainer's own model: uint8 in, scaled and augmented on the device, core model inside.
    core, trainer_model, precision = build_training_models(spec, config)
    build_s = time.perf_counter() - t

    cw = class_weights(y_index, 2)
    targets = y_index.astype(np.float32)[:, None]
    batches = make_training_batches(x, targets, cw[y_index], batch_size, config.seed)
    lr = config.resolved_learning_rate()
    total_steps = len(batches) * config.epochs
    warmup = min(len(batches) * config.warmup_epochs, max(0, total_steps - 1))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr * 0.1 if warmup else lr, decay_steps=max(1, total_steps - warmup), alpha=0.02,
        warmup_target=lr if warmup else None, warmup_steps=warmup,
    )
    trainer_model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=1e-4),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
        jit_compile=keras.backend.backend() == "jax",
    )

    marks: dict[str, list[float]] = {"begin": [], "end": []}

    class Clock(keras.callbacks.Callback):
        """Step boundaries; reading the loss waits for the (possibly asynchronous) step to finish."""

        def on_train_batch_begin(self, batch, logs=None):
            marks["begin"].append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])
            marks["end"].append(time.perf_counter())

    t_fit = time.perf_counter()
    history = trainer_model.fit(batches, epochs=1, steps_per_epoch=args.steps + 1, callbacks=[Clock()], verbose=0)
    fit_s = time.perf_counter() - t_fit
    ends = marks["end"]
    if len(ends) != args.steps + 1:
        raise SystemExit(f"fit ran {len(ends)} steps, expected {args.steps + 1}")
    # Step i's duration runs from the end of step i-1 to the end of step i: it includes
    # fetching the batch, as training does.
    step_s = [b - a for a, b in zip(ends, ends[1:])]
    first_step_s = ends[0] - marks["begin"][0]
    timed_s = ends[-1] - ends[0]
    loss = float(history.history["loss"][-1])
    return {
        "approach": approach,
        "backend": keras.backend.backend(),
        "device": _device_name(),
        "precision": precision,
        "backbone": spec.backbone,
        "unfreeze": spec.unfreeze if approach == "finetune" else None,
        "resolution": config.resolution or 224,
        "params": int(core.count_params()),
        "trainable_params": int(sum(int(np.prod(v.shape)) for v in trainer_model.trainable_weights)),
        "augment": config.augment,
        "images": len(decoded.kept),
        "batch_size": batch_size,
        "steps": args.steps,
        # The median step resists the spikes of a shared machine; the mean is kept as well.
        "images_per_s": batch_size / statistics.median(step_s),
        "images_per_s_mean": args.steps * batch_size / timed_s,
        "step_s_median": statistics.median(step_s),
        "step_s_min": min(step_s),
        "step_s_max": max(step_s),
        "first_step_s": first_step_s,
        "compile_s": max(0.0, first_step_s - statistics.median(step_s)),
        "fit_setup_s": marks["begin"][0] - t_fit,
        "fit_s": fit_s,
        "build_s": build_s,
        "decode_s": decode_s,
        "import_s": import_s,
        "loss": loss,
        "finite_loss": bool(np.isfinite(loss)),
        "peak_rss_mib": peak_rss_mib(),
    }


# --------------------------------------------------------------------------- parent


def run_worker(approach: str, backend: str, args) -> dict:
    """One worker subprocess with ``KERAS_BACKEND=backend``; its result, or an error entry."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", approach, "--data", str(args.data),
           "--images", str(args.images), "--steps", str(args.steps), "--unfreeze", str(args.unfreeze)]
    if args.batch_size:
        cmd += ["--batch-size", str(args.batch_size)]
    if args.no_augment:
        cmd.append("--no-augment")
    cmd += ["--precision", args.precision, "--resolution", str(args.resolution), "--input-norm", args.input_norm]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"approach": approach, "backend": backend, "error": f"timed out after {args.timeout} s"}
    wall = time.perf_counter() - t
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            result["wall_s"] = wall
            return result
    tail = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()][-1:] or ["no output"]
    return {"approach": approach, "backend": backend, "error": f"worker exit {proc.returncode}: {tail[0][:200]}"}


def count(n: int) -> str:
    """A parameter count, short: 2.0 k, 22.8 M."""
    return f"{n / 1e6:.1f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def print_table(results: list[dict], approaches, backends) -> None:
    by = {(r["approach"], r["backend"]): r for r in results}
    print()
    print(f"{'approach':<10}{'backend':<12}{'batch':>6}{'images/s':>10}{'vs TF':>8}{'step s':>8}"
          f"{'compile s':>11}{'build s':>9}{'trainable':>11}{'peak RSS':>10}")
    for approach in approaches:
        base = by.get((approach, "tensorflow"))
        for backend in backends:
            r = by.get((approach, backend))
            if r is None:
                continue
            if "error" in r:
                print(f"{approach:<10}{backend:<12}  failed: {r['error']}")
                continue
            ratio = "-"
            if base and "error" not in base:
                ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}x"
            print(f"{approach:<10}{backend:<12}{r['batch_size']:>6}{r['images_per_s']:>10.1f}{ratio:>8}"
                  f"{r['step_s_median']:>8.2f}{r['compile_s']:>11.1f}{r['build_s']:>9.1f}"
                  f"{count(r['trainable_params']):>11}{r['peak_rss_mib']:>7.0f} MiB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approaches", default=",".join(APPROACHES), help="comma list; default cnn,transfer,finetune")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma list; default tensorflow,jax")
    parser.add_argument("--images", type=int, default=128, help="distinct images decoded; default 128")
    parser.add_argument("--steps", type=int, default=6, help="timed steps after the warm-up step; default 6")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch for every approach (default: cnn 32, transfer and finetune 8)")
    parser.add_argument("--unfreeze", default="10", help="finetune: last N ResNet blocks trainable, or all; default 10")
    parser.add_argument("--no-augment", action="store_true", help="leave ChestAugment out (to see its share of a step)")
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16", "auto"),
                        help="training precision; default float32")
    parser.add_argument("--resolution", type=int, default=0, help="working resolution inside the model (0: 224)")
    parser.add_argument("--input-norm", default="standardize", choices=("none", "standardize"),
                        help="the input stage's per-film standardisation; default standardize (the recipe)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per worker; default 900")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with NORMAL/ and PNEUMONIA/")
    parser.add_argument("--worker", choices=APPROACHES, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the raw results (JSON lines) here")
    args = parser.parse_args(argv)
    if args.unfreeze != "all":
        try:
            args.unfreeze = int(args.unfreeze)
        except ValueError:
            parser.error("--unfreeze takes a number or 'all'")
    if args.images < 2 or args.steps < 1 or (args.batch_size is not None and args.batch_size < 1):
        parser.error("--images must be at least 2, --steps and --batch-size at least 1")
    for folder in ("NORMAL", "PNEUMONIA"):
        if not (args.data / folder).is_dir():
            print(f"bench_training: {args.data / folder}: folder not found (use --data)", file=sys.stderr)
            return 1

    if args.worker:
        print(RESULT_PREFIX + json.dumps(worker(args)), flush=True)
        return 0

    approaches = [a.strip() for a in args.approaches.split(",") if a.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for name, given, known in (("approach", approaches, APPROACHES), ("backend", backends, BACKENDS)):
        bad = [g for g in given if g not in known]
        if bad or not given:
            parser.error(f"unknown {name} {', '.join(bad) or '(none)'}; choose from {', '.join(known)}")
    batch_note = f"batch {args.batch_size}" if args.batch_size else "batch cnn 32, transfer/finetune 8"
    print(f"command: python benchmarks/bench_training.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (os.cpu_count), load average "
          f"{os.getloadavg()[0]:.1f} at start; python {platform.python_version()}")
    print(f"setup:   {args.images} distinct images from {args.data} (first sorted of each class), {batch_note}, "
          f"1 warm-up step + {args.steps} timed steps per run, {args.precision}, resolution {args.resolution or 224}, "
          f"weights none, finetune unfreeze "
          f"{args.unfreeze}, augmentation {'off' if args.no_augment else 'on'}; one worker process per approach x backend")
    results = []
    started = time.perf_counter()
    for approach in approaches:
        for backend in backends:
            r = run_worker(approach, backend, args)
            results.append(r)
            if "error" in r:
                print(f"  {approach:<9} {backend:<11} failed: {r['error']}", flush=True)
            else:
                print(f"  {approach:<9} {backend:<11} {r['images_per_s']:7.1f} images/s  ({r['steps']} steps of "
                      f"{r['batch_size']}: median {r['step_s_median']:.2f} s, min {r['step_s_min']:.2f}, max "
                      f"{r['step_s_max']:.2f}, mean rate {r['images_per_s_mean']:.1f} images/s; "
                      f"first step {r['first_step_s']:.1f} s; loss {r['loss']:.3f}; "
                      f"device {r['device']}; worker {r['wall_s']:.0f} s)", flush=True)
    print_table(results, approaches, backends)
    print(f"\nimages/s: batch / median timed step (batch fetch + train step); compile s: first step minus a median step; "
          f"build s: model construction. Total {time.perf_counter() - started:.0f} s, load average "
          f"{os.getloadavg()[0]:.1f} at end.")
    if args.json:
        args.json.write_text("".join(json.dumps(r) + "\n" for r in results))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
