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
#: The lowest threshold chosen (see ``models/card_validation.py``).
MIN_THRESHOLD = 1e-6


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


def parse_rule(rule: str) -> tuple[str, float | None]:
    """("youden", None), ("sensitivity", 0.95) or ("specificity", 0.9) from a rule's text.

    Accepted: ``youden``, ``sensitivity:0.95`` / ``sensitivity>=0.95``, and the same for
    specificity. Raises ValueError with the accepted forms.
    """
    text = str(rule).strip().lower().replace(" ", "")
    if text == "youden":
        return "youden", None
    for kind in ("sensitivity", "specificity"):
        for sep in (">=", ":"):
            if text.startswith(kind + sep):
                try:
                    target = float(text[len(kind) + len(sep):])
                except ValueError:
                    break
                if 0.0 < target <= 1.0:
                    return kind, target
    raise ValueError(f"unknown threshold rule {rule!r}: use youden, sensitivity:0.95 or specificity:0.90")


def rule_argument(text: str) -> str:
    """An argparse ``type`` that accepts a rule as typed, so a bad one is a usage error."""
    import argparse

    try:
        parse_rule(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def choose_threshold(y_true, probability, rule: str = DEFAULT_RULE, where: str = "validation patients") -> ThresholdChoice:
    """Choose the threshold for labels (1 = pneumonia) and probabilities by ``rule``.

    ``where`` names the data in the rule's description (the card shows it).
    """
    from sklearn.metrics import roc_curve

    kind, target = parse_rule(rule)
    y = np.asarray(y_true).astype(int)
    p = np.asarray(probability, dtype=np.float64)
    if y.min() == y.max():
        return ThresholdChoice(0.5, f"default 0.5 ({where} have one class only)", float("nan"), float("nan"))
    fpr, tpr, thresholds = roc_curve(y, p)
    # roc_curve's first threshold is +inf (nothing positive); keep real ones only.
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if kind == "youden":
        i = int(np.argmax(tpr - fpr))
        label = f"Youden's J (max sensitivity + specificity - 1) on {where}"
    elif kind == "sensitivity":
        ok = np.flatnonzero(tpr >= target)
        i = int(ok[0]) if ok.size else len(thresholds) - 1
        label = f"highest threshold with sensitivity >= {target:g} on {where}"
    else:
        ok = np.flatnonzero(1.0 - fpr >= target)
        i = int(ok[-1]) if ok.size else 0
        label = f"lowest threshold with specificity >= {target:g} on {where}"
    # Never 0 (a card refuses it: every film would be PNEUMONIA); the smallest threshold
    # above 0 decides every probability a network gives in practice the same way.
    return ThresholdChoice(float(np.clip(thresholds[i], MIN_THRESHOLD, 1.0)), label, float(tpr[i]),
                           float(1.0 - fpr[i]))
