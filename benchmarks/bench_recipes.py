"""Which training recipe holds up on patients outside the training split? (CPU, custom CNN)

Each recipe is a set of ``pneumonet train`` flags. Every run trains the custom CNN on the
training folder (split by patient, fixed seed; no gradient step ever sees ``external/``),
then measures the saved package on ``external/``: ROC-AUC, and accuracy, sensitivity and
specificity at the threshold the run chose on its own validation patients. Test-time
augmentation (TTA) and an ensemble of seeds are measured on the same predictions.

Runs are resumable: each writes ``<out>/<recipe>-s<seed>.json`` and is skipped when it
exists. The table goes to stdout and to ``<out>/table.md``.

    python benchmarks/bench_recipes.py                      # every recipe, seed 1
    python benchmarks/bench_recipes.py --recipes best --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "chest_xray"

#: The first recipe, spelled out: every run starts from it, so the table stays reproducible
#: now that ``pneumonet train``'s defaults are the recipe that won.
TODAY = ["--aug-rotation", "7", "--aug-zoom", "0.10", "--aug-aspect", "0", "--aug-shift", "0.06",
         "--aug-brightness", "0.08", "--aug-contrast", "0.15", "--aug-gamma", "0", "--aug-noise", "0",
         "--aug-erase", "0", "--input-norm", "none"]
STRONG = ["--aug-rotation", "10", "--aug-zoom", "0.15", "--aug-aspect", "0.1", "--aug-shift", "0.08",
          "--aug-brightness", "0.12", "--aug-contrast", "0.25", "--aug-gamma", "0.25", "--aug-noise", "0.03"]
#: Recipe name -> (what it changes, extra ``pneumonet train`` flags).
RECIPES = {
    "baseline": ("today's recipe: light augmentation, class weights, best validation AUC", []),
    "strong-aug": ("stronger geometric and photometric augmentation (resized crops, gamma, noise)", STRONG),
    "erase": ("random erasing of border and corner rectangles (electrodes, markers)", ["--aug-erase", "0.5"]),
    "crop": ("lung-field crop: 8% cut from each side inside the model", ["--crop", "0.08"]),
    "standardize": ("each film standardised to zero mean, unit variance", ["--input-norm", "standardize"]),
    "mixup": ("mixup, alpha 0.2", ["--mixup", "0.2"]),
    "smoothing": ("label smoothing 0.1", ["--label-smoothing", "0.1"]),
    "sampling": ("balanced sampling instead of class weights", ["--balance", "sampling"]),
    "select-loss": ("epoch chosen by validation loss instead of AUC", ["--select", "loss"]),
    "res-160": ("working resolution 160 px instead of 224", ["--resolution", "160"]),
    "width-32": ("twice the filters (width 32)", ["--cnn-width", "32"]),
}
#: Combinations tried after the single changes (see docs/generalization.md).
COMBINATIONS = {
    "strong+erase": ("strong augmentation and border erasing", STRONG + ["--aug-erase", "0.5"]),
    "strong+erase+std": ("strong augmentation, border erasing, standardised films",
                         STRONG + ["--aug-erase", "0.5", "--input-norm", "standardize"]),
    "strong+crop": ("strong augmentation and the lung-field crop", STRONG + ["--crop", "0.08"]),
    "strong+erase+std+crop": ("strong augmentation, border erasing, standardised films, lung-field crop",
                              STRONG + ["--aug-erase", "0.5", "--input-norm", "standardize", "--crop", "0.08"]),
}
RECIPES.update(COMBINATIONS)


def train_flags(args, recipe: str, seed: int, out: Path) -> list[str]:
    base = ["train", str(args.train), "--approach", "cnn", "--out", str(out), "--cnn-width", str(args.width),
            "--epochs", str(args.epochs), "--patience", str(args.patience), "--batch-size", "32",
            "--seed", str(seed), "--split-seed", "1", "--progress", "none", "--name", f"recipe-{recipe}-s{seed}"]
    return base + TODAY + RECIPES[recipe][1]


def tta_inputs(model_input: np.ndarray) -> list[np.ndarray]:
    """The film and four gently moved copies: zoomed in 6%, shifted 4% left, right and up."""
    from PIL import Image

    image = Image.fromarray(model_input[..., 0], mode="F")
    size = image.size[0]
    views = [model_input]
    m, s = int(round(size * 0.03)), int(round(size * 0.04))
    for box in ((m, m, size - m, size - m), (s, 0, size, size), (0, 0, size - s, size), (0, s, size, size)):
        views.append(np.asarray(image.crop(box).resize((size, size), Image.Resampling.BILINEAR))[..., None])
    return views


def measure(model_path: Path, external: Path) -> dict:
    """External predictions of one package (plain and with TTA) and its in-distribution card figures."""
    from pneumonet_core.data.batches import load_input
    from pneumonet_core.data.discovery import find_labelled_images
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.runtime.predict import pneumonia_probability

    classifier = Classifier.load(model_path)
    images = find_labelled_images(external)
    x = np.stack([load_input(im.path) for im in images]).astype(np.float32) / 255.0

    def probability(inputs):
        return pneumonia_probability(classifier.predict_inputs(inputs), classifier.class_names)

    raw = probability(x)
    views = [tta_inputs(xi) for xi in x]
    tta = np.mean([probability(np.stack([v[k] for v in views])) for k in range(len(views[0]))], axis=0)
    card = classifier.card
    return {
        # The films are named by a digest of their list, not listed: nothing of ../shared
        # is copied into the repository, and runs are still checked to be on the same films.
        "films_sha256": hashlib.sha256("\n".join(f"{im.path.parent.name}/{im.path.name}"
                                                  for im in images).encode()).hexdigest(),
        "patients": len({im.patient for im in images}),
        "y": [int(im.label == "PNEUMONIA") for im in images],
        "p": raw.tolist(), "p_tta": tta.tolist(), "threshold": card.threshold,
        "heldout_auc": card.metrics.get("roc_auc"), "best_epoch": card.training.get("best_epoch"),
        "epochs_run": card.training.get("epochs_run"),
    }


def figures(y, p, threshold: float) -> dict:
    from pneumonet_core.evaluation.metrics import evaluate_predictions

    m = evaluate_predictions(y, p, threshold)
    return {k: m[k] for k in ("roc_auc", "accuracy", "sensitivity", "specificity")}


def spec_at_sensitivity(y, p, target: float = 0.95) -> float:
    """Specificity at the highest threshold reaching ``target`` sensitivity (threshold-free comparison)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(1 - fpr[np.flatnonzero(tpr >= target)[0]])


def run_one(args, recipe: str, seed: int) -> dict:
    result_path = args.out / f"{recipe}-s{seed}.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    model = args.models / f"{recipe}-s{seed}.pneumonet"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    cmd = [sys.executable, "-m", "pneumonet_cli.main", *train_flags(args, recipe, seed, model)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{recipe} seed {seed}: training failed: {done.stderr.strip().splitlines()[-1:]}")
    minutes = (time.monotonic() - started) / 60
    record = {"recipe": recipe, "seed": seed, "minutes": round(minutes, 2), "command": "pneumonet " + " ".join(cmd[3:]),
              **measure(model, args.external)}
    args.out.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(record))
    return record


def row(recipe: str, runs: list[dict]) -> dict:
    if len({r.get("films_sha256") for r in runs}) > 1:
        raise SystemExit(f"{recipe}: the seeds were measured on different films; delete their results and rerun")
    y = np.array(runs[0]["y"])
    per_seed = [figures(y, r["p"], r["threshold"]) for r in runs]
    ensemble_p = np.mean([r["p"] for r in runs], axis=0)
    out = {
        "recipe": recipe, "seeds": len(runs),
        "heldout_auc": float(np.mean([r["heldout_auc"] for r in runs])),
        "auc": float(np.mean([f["roc_auc"] for f in per_seed])),
        "auc_tta": float(np.mean([figures(y, r["p_tta"], r["threshold"])["roc_auc"] for r in runs])),
        "accuracy": float(np.mean([f["accuracy"] for f in per_seed])),
        "sensitivity": float(np.mean([f["sensitivity"] for f in per_seed])),
        "specificity": float(np.mean([f["specificity"] for f in per_seed])),
        "spec_at_sens95": float(np.mean([spec_at_sensitivity(y, r["p"]) for r in runs])),
        "minutes": float(np.mean([r["minutes"] for r in runs])),
    }
    if len(runs) > 1:
        out["auc_ensemble"] = figures(y, ensemble_p, 0.5)["roc_auc"]
    return out


def table(rows: list[dict]) -> str:
    head = ("| recipe | seeds | held-out AUC | external AUC | + TTA | ensemble | accuracy | sensitivity | "
            "specificity | spec. at sens. 0.95 | minutes |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        ens = f"{r['auc_ensemble']:.4f}" if "auc_ensemble" in r else "-"
        lines.append(f"| {r['recipe']} | {r['seeds']} | {r['heldout_auc']:.4f} | {r['auc']:.4f} | {r['auc_tta']:.4f} | "
                     f"{ens} | {r['accuracy']:.3f} | {r['sensitivity']:.3f} | {r['specificity']:.3f} | "
                     f"{r['spec_at_sens95']:.3f} | {r['minutes']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated names; 'list' lists them")
    parser.add_argument("--seeds", default="1", help="weight seeds; the patient split is always seed 1")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--train", type=Path, default=DATA / "train")
    parser.add_argument("--external", type=Path, default=DATA / "external")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "recipes")
    parser.add_argument("--models", type=Path, default=Path("/tmp/pneumonet-recipes"))
    args = parser.parse_args(argv)
    if args.recipes == "list":
        for name, (what, flags) in RECIPES.items():
            print(f"{name:18s} {what}  [{' '.join(flags)}]")
        return 0
    args.models.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for recipe in args.recipes.split(","):
        if recipe not in RECIPES:
            raise SystemExit(f"unknown recipe {recipe!r}; use --recipes list")
        runs = [run_one(args, recipe, seed) for seed in seeds]
        rows.append(row(recipe, runs))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = table(rows)
    print("\n" + text)
    (args.out / "table.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
