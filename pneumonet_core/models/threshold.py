"""The one place that chooses the operating threshold and applies it.

A threshold is chosen on validation patients only, by a stated rule, stored in the model
card, and never tuned on the patients whose figures are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rules a user can pick: "youden" maximises sensitivity + specificity - 1;
#: "sensitivity>=X" takes the highest threshold whose sensitivity is at least X.
DEFAULT_RULE = "youden"


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    rule: str
    sensitivity: float
    specificity: float


def is_pneumonia(probability, threshold: float):
    """The decision at the operating threshold: pneumonia when probability >= threshold."""
    return np.asarray(probability) >= threshold


def decision_label(probability: float, threshold: float) -> str:
    """``"PNEUMONIA"`` or ``"NORMAL"`` for one probability."""
    return "PNEUMONIA" if bool(is_pneumonia(probability, threshold)) else "NORMAL"


def choose_threshold(y_true, probability, rule: str = DEFAULT_RULE) -> ThresholdChoice:
    """Choose the threshold on validation labels (1 = pneumonia) and probabilities."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y_true).astype(int)
    p = np.asarray(probability, dtype=np.float64)
    if y.min() == y.max():
        return ThresholdChoice(0.5, "default 0.5 (validation has one class only)", float("nan"), float("nan"))
    fpr, tpr, thresholds = roc_curve(y, p)
    # roc_curve's first threshold is +inf (nothing positive); keep real ones only.
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if rule == "youden":
        i = int(np.argmax(tpr - fpr))
        label = "Youden's J (max sensitivity + specificity - 1) on validation patients"
    elif rule.startswith("sensitivity>="):
        target = float(rule.split(">=", 1)[1])
        ok = np.flatnonzero(tpr >= target)
        i = int(ok[0]) if ok.size else len(thresholds) - 1
        label = f"highest threshold with sensitivity >= {target:g} on validation patients"
    else:
        raise ValueError(f"unknown threshold rule {rule!r}: use 'youden' or 'sensitivity>=0.95'")
    return ThresholdChoice(float(thresholds[i]), label, float(tpr[i]), float(1.0 - fpr[i]))
