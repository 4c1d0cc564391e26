"""``pneumonet evaluate``: the study's metrics for a model on a labelled folder."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from pneumonet_cli.common import add_model_argument, write_json
from pneumonet_cli.scale_options import add_precision_argument, load_classifier_from_args
from pneumonet_core.printable import printable


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="measure a model on a labelled folder (NORMAL/ and PNEUMONIA/)",
        description="Accuracy, sensitivity, specificity, precision, F1, ROC-AUC, calibration (ECE, Brier) and "
        "the confusion matrix at the model's threshold (or --threshold).",
    )
    p.add_argument("data_dir", type=Path, metavar="DIR")
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON document")
    p.add_argument("--threshold", type=float, default=None, help="override the model's stored threshold")
    p.add_argument("--held-out", action="store_true",
                   help="only the patients the model's card lists as held out (never used in training)")
    p.add_argument("--predictions", type=Path, metavar="CSV",
                   help="write each image's probability (and whether the out-of-distribution guard flagged it) to CSV")
    p.add_argument("--plots", type=Path, metavar="DIR", help="write roc.png and reliability.png into DIR")
    p.add_argument("--batch-size", type=int, default=16)
    add_precision_argument(p)
    p.set_defaults(func=run)


def write_plots(folder: Path, metrics: dict) -> None:
    """roc.png and reliability.png of one evaluation (atomically)."""
    from pneumonet_core.atomic import write_bytes_atomic
    from pneumonet_core.reports.charts import reliability_png, roc_curve_png

    curve = metrics["roc_curve"]
    point = None
    if metrics["specificity"] is not None and metrics["sensitivity"] is not None:
        point = (1.0 - metrics["specificity"], metrics["sensitivity"])
    write_bytes_atomic(folder / "roc.png", roc_curve_png(curve["fpr"], curve["tpr"], metrics["roc_auc"], point))
    write_bytes_atomic(folder / "reliability.png", reliability_png(metrics["reliability"], metrics["ece"]))


def run(args) -> int:
    from pneumonet_cli.progress import CountProgress
    from pneumonet_core.evaluation.folder import measure, predict_folder
    from pneumonet_core.evaluation.metrics import headline

    classifier = load_classifier_from_args(args, "evaluate")
    progress = CountProgress("pneumonet evaluate")
    try:
        found = predict_folder(args.data_dir, classifier, args.held_out, args.batch_size, progress=progress)
    finally:
        progress.clear()
    metrics = measure(found, classifier.threshold if args.threshold is None else args.threshold)
    subtype = measure_subtype(found, metrics["threshold"], classifier, args.batch_size)
    errors = found.errors
    for err in errors:
        print(printable(f"pneumonet evaluate: skipped {err}"), file=sys.stderr)
    if args.predictions:
        import io

        from pneumonet_core.atomic import write_text_atomic

        buf = io.StringIO()
        writer = csv.writer(buf)
        # A flagged film has no probability a program could use: its score, which the figures
        # measure, sits only under a column that says so (as in classify's CSV).
        writer.writerow(["path", "patient", "label", "probability", "out_of_distribution",
                         "withheld_probability_not_for_use"])
        for im, prob, flagged in zip(found.images, found.probability, found.out_of_distribution):
            score = f"{prob:.6f}"
            writer.writerow([f"{im.path.parent.name}/{im.path.name}", im.patient, im.label, "" if flagged else score,
                             "true" if flagged else "false", score if flagged else ""])
        write_text_atomic(args.predictions, buf.getvalue())
    if args.plots:
        write_plots(args.plots, metrics)
    if args.json:
        write_json({**headline(metrics), "model": {"name": classifier.card.name, "hash": classifier.card.hash},
                    "subtype": subtype, "errors": errors})
    else:
        cm = metrics["confusion_matrix"]
        print(f"model {classifier.card.name} ({classifier.card.short_hash}) on {metrics['n']} images, "
              f"threshold {metrics['threshold']:.4f}")
        for key in ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "ece", "brier"):
            value = metrics[key]
            print(f"  {key:12s} {'n/a' if value is None else f'{value:.4f}'}")
        print(f"  confusion    [[tn {cm[0][0]}, fp {cm[0][1]}], [fn {cm[1][0]}, tp {cm[1][1]}]]")
        ood = metrics["out_of_distribution"]
        print(f"  flagged by the out-of-distribution guard: {ood['flagged']} of {ood['n']} (kept in the figures)")
        print(metrics["classification_report"])
        for line in subtype_lines(subtype):
            print(line)
    return 3 if errors else 0


def measure_subtype(found, threshold: float, classifier, batch_size: int) -> dict | None:
    """The bacterial/viral block: None without a subtype model or films whose names give the subtype."""
    from pneumonet_core.evaluation.subtype_figures import subtype_block

    model = classifier.subtype.model()
    if model is None:
        if classifier.subtype.problem:
            print(printable(f"pneumonet evaluate: warning: {classifier.subtype.problem}"), file=sys.stderr)
        return None
    return subtype_block(found, threshold, model, batch_size)


def subtype_lines(block: dict | None) -> list[str]:
    """The subtype block for people: the figures beside the published anchor, then the 3x3 matrix."""
    if not block:
        return []

    def f(value):
        return "n/a" if value is None else f"{value:.4f}"

    anchor = block["anchor"]
    lines = [f"bacterial vs viral ({block['model']['name']}) on {block['n']} films whose names give the subtype, "
             f"viral positive, threshold {block['threshold']:.4f}:"]
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "ece"):
        ref = f"   (anchor {anchor[key]:.3f})" if key in anchor else ""
        lines.append(f"  {key:12s} {f(block[key])}{ref}")
    und = block["undetermined"]
    if block.get("uncertain_band"):
        low, high = block["uncertain_band"]
        lines.append(f"  undetermined {und['n']} ({(und['rate'] or 0):.1%}; viral p in [{low:.2f}, {high:.2f})), "
                     f"accuracy outside {f(und['accuracy_outside_band'])}")
    three = block["three_class"]
    lines.append("  three classes (rows truth, columns answer): " + ", ".join(three["labels"]))
    lines += [f"    {name:9s} {row}" for name, row in zip(three["labels"], three["matrix"])]
    return lines
