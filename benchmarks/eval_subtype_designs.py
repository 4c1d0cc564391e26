"""Bacterial-vs-viral AUC of a package on its validation patients and on ``external/``, threshold-free.

Compares the two designs of issue 27 on the same footing: a second-stage package
(``--labels subtype``: one sigmoid, viral) or a three-label package (P(V) / (P(B) + P(V))).
Only the pneumonia films whose names give the subtype count; raw outputs, no calibration.

    python benchmarks/eval_subtype_designs.py PACKAGE [PACKAGE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "chest_xray"


def viral_share(outputs: np.ndarray, names: list[str]) -> np.ndarray:
    """P(viral | pneumonia) from a one-output subtype head or a three-label softmax."""
    if outputs.shape[1] == 1:
        return outputs[:, 0]
    b, v = outputs[:, names.index("BACTERIA")], outputs[:, names.index("VIRUS")]
    return v / np.maximum(b + v, 1e-12)


def measure(path: Path) -> None:
    from pneumonet_core.data.batches import decode_inputs
    from pneumonet_core.data.discovery import SUBTYPES, find_labelled_images
    from pneumonet_core.models.package import load_package
    from pneumonet_core.runtime.predict import predict_class_probabilities

    package = load_package(path)
    validation = set(package.card.data.get("validation_patients", []))
    for tag, folder, keep in (("validation", DATA / "train", validation), ("external", DATA / "external", None)):
        images = [im for im in find_labelled_images(folder)
                  if im.subtype in SUBTYPES and (keep is None or im.patient in keep)]
        decoded = decode_inputs([im.path for im in images])
        images = [images[i] for i in decoded.kept]
        share = viral_share(predict_class_probabilities(package.model, decoded.inputs, 32), package.card.class_names)
        y = np.array([im.subtype == "VIRUS" for im in images])
        print(f"{path.name} {tag}: {len(y)} films ({int(y.sum())} viral), AUC {roc_auc_score(y, share):.4f}, "
              f"accuracy at 0.5 {np.mean((share >= 0.5) == y):.4f}", flush=True)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        measure(Path(arg))
