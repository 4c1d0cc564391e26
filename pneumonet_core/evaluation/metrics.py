"""Binary metrics at an operating threshold, the confusion matrix and the ROC curve.

The CLI, the reports and the wizard all call :func:`evaluate_predictions`, so they show
the same numbers.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from pneumonet_core.models.calibration import expected_calibration_error
from pneumonet_core.models.threshold import is_pneumonia


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def evaluate_predictions(y_true, probability, threshold: float, class_names=("NORMAL", "PNEUMONIA")) -> dict:
    """All reported figures for labels (1 = the second of ``class_names``) and its probabilities.

    Returns a JSON-ready dict: n, accuracy, sensitivity, specificity, precision, f1,
    roc_auc, ece (expected calibration error, 10 bins), brier, threshold, confusion_matrix
    [[tn, fp], [fn, tp]], the ROC curve points, the reliability curve and the
    classification report text.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(probability, dtype=np.float64)
    pred = is_pneumonia(p, threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in skm.confusion_matrix(y, pred, labels=[0, 1]).ravel())
    sensitivity = _ratio(tp, tp + fn)
    precision = _ratio(tp, tp + fp)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    both = len(np.unique(y)) == 2
    roc_auc = float(skm.roc_auc_score(y, p)) if both else None
    fpr, tpr, thr = skm.roc_curve(y, p) if both else (np.array([]), np.array([]), np.array([]))
    report = skm.classification_report(
        y, pred, labels=[0, 1], target_names=list(class_names), digits=4, zero_division=0
    )
    return {
        "n": int(len(y)),
        "accuracy": _ratio(tp + tn, len(y)),
        "sensitivity": sensitivity,
        "specificity": _ratio(tn, tn + fp),
        "precision": precision,
        "f1": f1,
        "roc_auc": roc_auc,
        "ece": expected_calibration_error(y, p),
        "brier": float(np.mean((p - y) ** 2)) if len(y) else None,
        "threshold": float(threshold),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "roc_curve": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": np.where(np.isfinite(thr), thr, 1.0).tolist()},
        "reliability": reliability_curve(y, p),
        "classification_report": report,
    }


def report_rows(confusion_matrix) -> list[tuple[str, float | None, float | None, float | None, int]]:
    """The classification report as rows (class, precision, recall, F1, support) for a table.

    From the confusion matrix [[tn, fp], [fn, tp]], so every screen shows the same figures
    as ``classification_report``: NORMAL, PNEUMONIA, then the macro and support-weighted
    averages. None where a figure has no denominator (as zero_division=0 reads 0).
    """
    (tn, fp), (fn, tp) = ((int(a), int(b)) for a, b in confusion_matrix)
    classes = []
    for name, hit, false_pos, false_neg in (("NORMAL", tn, fn, fp), ("PNEUMONIA", tp, fp, fn)):
        figures = (_ratio(hit, hit + false_pos), _ratio(hit, hit + false_neg), _ratio(2 * hit, 2 * hit + false_pos + false_neg))
        classes.append((name, figures, hit + false_neg))
    rows = [(name, *figures, support) for name, figures, support in classes]
    supports = [support for _name, _figures, support in classes]
    for name, weights in (("macro average", [1, 1]), ("weighted average", supports)):
        precision, recall, f1 = (_ratio(sum((c[1][i] or 0.0) * w for c, w in zip(classes, weights)), sum(weights))
                                 for i in range(3))
        rows.append((name, precision, recall, f1, sum(supports)))
    return rows


def reliability_curve(y, p, bins: int = 10) -> dict:
    """Per equal-width bin: mean probability, observed pneumonia rate and count (empty bins left out)."""
    index = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    curve: dict[str, list] = {"mean_probability": [], "observed_rate": [], "count": []}
    for b in range(bins):
        inside = index == b
        if inside.any():
            curve["mean_probability"].append(float(np.mean(p[inside])))
            curve["observed_rate"].append(float(np.mean(y[inside])))
            curve["count"].append(int(inside.sum()))
    return curve


def headline(m: dict) -> dict:
    """The metrics without the curves and report text, for cards and one-line printing."""
    return {k: v for k, v in m.items() if k not in ("roc_curve", "reliability", "classification_report")}


def patient_bootstrap_intervals(y_true, decision, patients, n_boot: int = 1000, seed: int = 0,
                                level: float = 0.95) -> dict:
    """95% intervals of sensitivity and specificity, resampling *patients* (not films).

    Films of one patient are alike, so resampling films would make the intervals too
    narrow. Each replicate draws as many patients as there are, with replacement, and
    counts all their films; the interval is the percentile range of the replicates.
    Returns ``{"sensitivity": [low, high], "specificity": [low, high], "replicates": n}``
    (a bound is None when no replicate had films of that class).
    """
    y = np.asarray(y_true).astype(int)
    d = np.asarray(decision).astype(bool)
    ids, index = np.unique(np.asarray([str(p) for p in patients]), return_inverse=True)
    k = len(ids)
    # Per patient: true positives, positives, true negatives, negatives.
    counts = np.stack([np.bincount(index, weights=w, minlength=k) for w in
                       ((d & (y == 1)), (y == 1), (~d & (y == 0)), (y == 0))]).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(n_boot, k))
    weights = np.stack([np.bincount(row, minlength=k) for row in draws]).astype(np.float64)
    tp, pos, tn, neg = (weights @ counts.T).T  # (n_boot,) each
    tail = (1.0 - level) / 2 * 100

    def interval(num, den):
        ok = den > 0
        if not ok.any():
            return [None, None]
        rates = num[ok] / den[ok]
        return [round(float(np.percentile(rates, tail)), 4), round(float(np.percentile(rates, 100 - tail)), 4)]

    return {"sensitivity": interval(tp, pos), "specificity": interval(tn, neg), "replicates": n_boot}
