"""Measure a training checkpoint on a labelled folder before it is packaged.

A fine-tune's ``--checkpoint BEST.weights.h5`` holds the core model's weights; this loads
them into the package the run started from (same architecture and input stage) and prints
the threshold-free figures on a folder: AUC and the specificity at sensitivity 0.95. It is
how the CPU pilot of docs/generalization.md was read on external/ without choosing
anything by it (the run's epoch is chosen by its validation patients).

    python benchmarks/eval_checkpoint.py --model SOURCE.pneumonet --weights BEST.weights.h5 \
        [--data ../shared/data/chest_xray/external]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "chest_xray" / "external"


def specificity_at_sensitivity(y, p, sensitivity: float = 0.95) -> float:
    """The best specificity among thresholds whose sensitivity reaches ``sensitivity``."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(1.0 - fpr[tpr >= sensitivity].min())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="the package the run started from")
    parser.add_argument("--weights", type=Path, help="checkpoint weights (.weights.h5); none: the package as it is")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with NORMAL/ and PNEUMONIA/")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from sklearn.metrics import roc_auc_score

    from pneumonet_core.evaluation.folder import predict_folder
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.models.package import load_package

    package = load_package(args.model)
    if args.weights:
        package.model.load_weights(str(args.weights))
    # Raw network outputs: threshold-free figures need no calibration.
    classifier = Classifier(package, apply_calibration=False)
    found = predict_folder(args.data, classifier)
    y, p = found.y, found.probability
    result = {"data": args.data.name, "n": len(y), "weights": args.weights.name if args.weights else "package",
              "roc_auc": round(float(roc_auc_score(y, p)), 4),
              "specificity_at_sensitivity_0.95": round(specificity_at_sensitivity(y, p), 4),
              "errors": len(found.errors)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
