"""The operating threshold (chosen on validation data) and the reported metrics."""

from __future__ import annotations

import numpy as np
import pytest

from pneumonet_core.evaluation.metrics import evaluate_predictions
from pneumonet_core.models.threshold import choose_threshold, decision_label, is_pneumonia


def test_decision_is_pneumonia_at_or_above_the_threshold():
    assert decision_label(0.30, 0.30) == "PNEUMONIA"
    assert decision_label(0.2999, 0.30) == "NORMAL"
    assert list(is_pneumonia([0.1, 0.5, 0.9], 0.5)) == [False, True, True]


def test_youden_threshold_separates_separable_scores():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    choice = choose_threshold(y, p, "youden")
    assert 0.3 < choice.threshold <= 0.6
    assert choice.sensitivity == 1.0 and choice.specificity == 1.0
    assert "Youden" in choice.rule


def test_sensitivity_rule_reaches_the_asked_sensitivity_on_validation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    choice = choose_threshold(y, p, "sensitivity>=0.95")
    achieved = is_pneumonia(p[y == 1], choice.threshold).mean()
    assert achieved >= 0.95 and choice.sensitivity >= 0.95
    youden = choose_threshold(y, p, "youden")
    assert choice.threshold <= youden.threshold
    with pytest.raises(ValueError):
        choose_threshold(y, p, "best-guess")


def test_metrics_match_a_hand_counted_confusion_matrix():
    y = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    p = [0.1, 0.2, 0.6, 0.4, 0.9, 0.8, 0.3, 0.7, 0.55, 0.95]
    m = evaluate_predictions(y, p, threshold=0.5)
    # tn: 0.1 0.2 0.4; fp: 0.6; fn: 0.3; tp: 0.9 0.8 0.7 0.55 0.95
    assert m["confusion_matrix"] == [[3, 1], [1, 5]]
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["sensitivity"] == pytest.approx(5 / 6)
    assert m["specificity"] == pytest.approx(3 / 4)
    assert m["precision"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx(2 * 5 / (2 * 5 + 1 + 1))
    assert m["roc_auc"] == pytest.approx(21 / 24)  # 21 of 24 (pneumonia, normal) pairs ordered
    assert "PNEUMONIA" in m["classification_report"] and len(m["roc_curve"]["fpr"]) >= 2


def test_metrics_with_one_class_report_no_auc_instead_of_failing():
    m = evaluate_predictions([1, 1, 1], [0.9, 0.8, 0.2], 0.5)
    assert m["roc_auc"] is None and m["specificity"] is None and m["sensitivity"] == pytest.approx(2 / 3)
