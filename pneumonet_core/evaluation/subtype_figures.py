"""How well the bacterial/viral opinion does on a labelled folder: ``pneumonet evaluate``'s subtype block.

The figures are measured on the films whose file names give the subtype
(``person1_bacteria_1.jpeg``, ``person1_virus_6.jpeg``), with VIRUS as the positive class,
on every such film, whatever the pneumonia model decided: that is how the published
anchor (Kermany et al., Cell 2018: AUC 0.940, accuracy 0.907, sensitivity 0.886,
specificity 0.909 on the official test split) was measured. The three-class confusion
matrix follows the films through both stages: NORMAL when the pneumonia model says so,
else the side of the subtype threshold (undetermined films are counted apart too).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from pneumonet_core.data.discovery import SUBTYPES
from pneumonet_core.evaluation.folder import FolderPredictions
from pneumonet_core.evaluation.metrics import evaluate_predictions, headline
from pneumonet_core.inference.batch import classify_paths
from pneumonet_core.models.figures import SUBTYPE_ANCHOR

ANCHOR = SUBTYPE_ANCHOR
THREE_CLASSES = ("NORMAL", "BACTERIA", "VIRUS")


def viral_probabilities(paths: list[Path], subtype_model, batch_size: int = 16,
                        should_stop: Callable[[], bool] = lambda: False) -> dict[str, float]:
    """The subtype model's calibrated viral probability of each readable film, by path."""
    out = {}
    for result in classify_paths(paths, subtype_model.classifier, batch_size=batch_size, should_stop=should_stop):
        p = result.measured_probability  # the subtype model's own guard does not withhold a measurement
        if result.error is None and p is not None:
            out[str(result.path)] = float(p)
    return out


def subtype_block(found: FolderPredictions, threshold: float, subtype_model, batch_size: int = 16,
                  should_stop: Callable[[], bool] = lambda: False) -> dict | None:
    """The subtype figures of a pneumonia model's folder predictions; None when no film names a subtype."""
    named = [im for im in found.images if im.subtype in SUBTYPES]
    if not named:
        return None
    viral = viral_probabilities([im.path for im in found.images], subtype_model, batch_size, should_stop)
    measured = [im for im in named if str(im.path) in viral]
    y = np.array([int(im.subtype == "VIRUS") for im in measured])
    p = np.array([viral[str(im.path)] for im in measured], dtype=np.float64)
    t, band = subtype_model.threshold, subtype_model.band
    full = evaluate_predictions(y, p, t, ("BACTERIA", "VIRUS"))
    block = {k: v for k, v in headline(full).items() if k in
             ("n", "roc_auc", "accuracy", "sensitivity", "specificity", "precision", "ece", "brier", "threshold",
              "confusion_matrix")}
    block["positive_class"] = "VIRUS"
    block["uncertain_band"] = band
    inside = (p >= band[0]) & (p < band[1]) if band else np.zeros(len(p), dtype=bool)
    outside = ~inside
    block["undetermined"] = {"n": int(inside.sum()), "rate": round(float(inside.mean()), 4) if len(p) else None,
                             "accuracy_outside_band": (round(float(np.mean((p[outside] >= t) == y[outside])), 4)
                                                       if outside.any() else None)}
    block["three_class"] = three_class_matrix(found, threshold, viral, t)
    block["model"] = {"name": subtype_model.card.name, "hash": subtype_model.card.hash}
    block["anchor"] = ANCHOR
    return block


def three_class_matrix(found: FolderPredictions, threshold: float, viral: dict[str, float],
                       subtype_threshold: float) -> dict:
    """Rows: the true NORMAL/BACTERIA/VIRUS of films whose names say; columns: what both stages answered."""
    matrix = np.zeros((3, 3), dtype=int)
    for im, p in zip(found.images, found.probability):
        truth = im.subtype if im.subtype in THREE_CLASSES else None
        if truth is None or (p >= threshold and str(im.path) not in viral):
            continue
        answer = "NORMAL" if p < threshold else ("VIRUS" if viral[str(im.path)] >= subtype_threshold else "BACTERIA")
        matrix[THREE_CLASSES.index(truth), THREE_CLASSES.index(answer)] += 1
    return {"labels": list(THREE_CLASSES), "matrix": matrix.tolist(),
            "note": "rows: truth from the file names; columns: the pneumonia decision, then the subtype threshold"}
