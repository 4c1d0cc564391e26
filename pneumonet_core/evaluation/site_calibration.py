"""Adapt a model package to a site's own labelled films: ``pneumonet calibrate``.

The weights stay as they are. On the site's films the probability calibration is refitted
(:mod:`pneumonet_core.models.calibration`) and the operating threshold is chosen by a
stated rule on the calibrated scale; a new package records the site data, the rule and
the figures before and after. The "after" figures are given twice: on the very films the
threshold was chosen on (what the card's threshold does there), and cross-fitted, with
calibration and threshold fitted on other patients than those measured (what to expect
on new patients of the same site).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from pneumonet_core.errors import DatasetError, PneumonetError
from pneumonet_core.evaluation.folder import FolderPredictions, predict_folder
from pneumonet_core.evaluation.metrics import evaluate_predictions, headline
from pneumonet_core.models import calibration
from pneumonet_core.models.threshold import choose_threshold, parse_rule

#: Fewest films per class a site must give: fewer cannot place a threshold with any confidence.
MIN_PER_CLASS = 20
FOLDS = 5


def site_record(data_dir: Path, found: FolderPredictions) -> dict:
    """What the card says about the site's data: counts, class balance, a hash of the file list, the date."""
    listing = hashlib.sha256()
    for im in sorted(found.images, key=lambda im: str(im.path)):
        listing.update(f"{im.label}/{im.path.name}\n".encode("utf-8", "surrogateescape"))
    per_class = dict(sorted(Counter(im.label for im in found.images).items()))
    return {
        "data_set": Path(data_dir).name, "images": len(found.images), "patients": len(set(found.patients)),
        "per_class": per_class, "pneumonia_share": round(per_class.get("PNEUMONIA", 0) / len(found.images), 4),
        "file_list_sha256": listing.hexdigest(), "unreadable": len(found.errors),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def figures(y, p, threshold: float) -> dict:
    """The card's headline figures (with ECE and Brier) at ``threshold``, rounded, and the
    reliability curve (10 bins), so a card can draw its reliability diagram without the films."""
    full = evaluate_predictions(y, p, threshold)
    m = headline(full)
    keep = ("n", "roc_auc", "accuracy", "sensitivity", "specificity", "precision", "ece", "brier", "threshold",
            "confusion_matrix")
    out = {k: (round(m[k], 4) if isinstance(m[k], float) else m[k]) for k in keep}
    out["reliability"] = {k: [round(v, 4) if isinstance(v, float) else v for v in values]
                          for k, values in full["reliability"].items()}
    return out


def cross_fitted_figures(y, raw, patients, method: str, rule: str, where: str) -> dict:
    """Figures on each fold of patients with calibration and threshold fitted on the others."""
    y = np.asarray(y)
    fold = calibration.patient_folds(patients, y, FOLDS)
    p = np.empty_like(raw)
    decision = np.zeros(len(y), dtype=bool)
    for k in range(FOLDS):
        held = fold == k
        if not held.any():
            continue
        fitted = calibration.fit(y[~held], raw[~held], method)
        threshold = choose_threshold(y[~held], calibration.apply(fitted, raw[~held]), rule, where).threshold
        p[held] = calibration.apply(fitted, raw[held])
        decision[held] = p[held] >= threshold
    out = figures(y, p, 0.5)
    tn, fp = int(np.sum(~decision & (y == 0))), int(np.sum(decision & (y == 0)))
    fn, tp = int(np.sum(~decision & (y == 1))), int(np.sum(decision & (y == 1)))
    out.update(accuracy=round((tp + tn) / len(y), 4), sensitivity=round(tp / max(1, tp + fn), 4),
               specificity=round(tn / max(1, tn + fp), 4), confusion_matrix=[[tn, fp], [fn, tp]],
               folds=FOLDS, threshold=None)
    return out


def check_site(found: FolderPredictions, data_dir: Path) -> None:
    counts = Counter(int(v) for v in found.y)
    if len(counts) < 2:
        only = "PNEUMONIA" if 1 in counts else "NORMAL"
        raise DatasetError(f"{data_dir}: only {only} films: calibration needs both NORMAL and PNEUMONIA")
    few = [f"{name} has {counts[k]}" for k, name in ((0, "NORMAL"), (1, "PNEUMONIA")) if counts[k] < MIN_PER_CLASS]
    if few:
        raise DatasetError(f"{data_dir}: too few films to calibrate ({', '.join(few)}; at least {MIN_PER_CLASS} "
                           "readable films per class are needed)")


def calibrate_package(data_dir: Path, model_path: Path, out: Path, rule: str = "youden",
                      should_stop: Callable[[], bool] = lambda: False,
                      progress: Callable[[int, int], None] | None = None) -> dict:
    """Write ``out``: the model of ``model_path`` calibrated to the films under ``data_dir``.

    Returns the report (site, rule, before, after, after_cross_fitted, calibration).
    """
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.models.package import rewrite_package

    data_dir, model_path, out = Path(data_dir), Path(model_path), Path(out)
    parse_rule(rule)  # a bad rule fails before minutes of classification
    if out.resolve() == model_path.resolve():
        raise PneumonetError(f"{out}: --out must differ from --model (the input package stays untouched)")
    # The runtime that will answer with the calibrated package (LiteRT by default) measures it.
    raw_classifier = Classifier.load(model_path, apply_calibration=False)
    package = raw_classifier.package
    found = predict_folder(data_dir, raw_classifier, should_stop=should_stop, progress=progress)
    check_site(found, data_dir)
    y, raw = found.y, found.probability
    card = package.card
    site = site_record(data_dir, found)
    where = f"{site['data_set']} ({site['images']} films, {site['patients']} patients)"
    before = figures(y, calibration.apply(card.calibration, raw), card.threshold)
    fitted, _scores = calibration.choose(y, raw, found.patients, FOLDS)
    p = calibration.apply(fitted, raw)
    choice = choose_threshold(y, p, rule, where)
    after = figures(y, p, choice.threshold)
    honest = cross_fitted_figures(y, raw, found.patients, fitted["method"], rule, where)
    new = dataclasses.replace(card, calibration={**fitted, "fitted_on": site}, threshold=choice.threshold,
                              threshold_rule=choice.rule, notes=list(card.notes))
    previous = {k: v for k, v in card.external.items() if k != "previous"}
    new.external = {**site, "threshold_rule": choice.rule, "rule": rule, "before": before, "after": after,
                    "after_cross_fitted": honest, **({"previous": previous} if previous else {})}
    if should_stop():
        raise PneumonetError("calibration cancelled; no package was written")
    sealed = rewrite_package(model_path, out, new)
    return {"out": str(out), "hash": sealed.hash, "site": site, "rule": choice.rule, "threshold": choice.threshold,
            "calibration": {k: v for k, v in fitted.items()}, "before": before, "after": after,
            "after_cross_fitted": honest, "errors": found.errors}
