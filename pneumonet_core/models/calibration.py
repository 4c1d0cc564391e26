"""The one place that turns a model's raw pneumonia probability into a calibrated one.

A radiologist reads "pneumonia 0.93" as "93 times in 100 this is pneumonia". A model
trained with class weights on one hospital's films is not calibrated on another's, so a
post-hoc map is fitted on labelled films the weights never saw and stored in the model
card (``card.calibration``, inside the integrity manifest); :func:`apply` is called by the
one inference path, so every probability shown or exported is calibrated and the
operating threshold is on the calibrated scale.

Methods, simplest first: temperature scaling (one parameter), Platt scaling (slope and
bias on the logit: it also corrects a shift in the class balance) and isotonic regression
(a monotone step map). :func:`choose` compares them by cross-fitting, folds split by
patient, and keeps the simplest whose held-out Brier score (a proper scoring rule, so an
over-fitted map does not win on it) is within a small margin of the best.
"""

from __future__ import annotations

import numpy as np

METHODS = ("temperature", "platt", "isotonic")
_EPS = 1e-6
#: A more complex method must beat a simpler one by more than this held-out Brier score to be kept.
MARGIN = 0.002


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def apply(calibration: dict | None, probability) -> np.ndarray:
    """Calibrated probabilities for raw ones; the identity when ``calibration`` is empty."""
    p = np.asarray(probability, dtype=np.float64)
    settings = calibration or {}
    method = settings.get("method")
    if not method:
        return p
    if method == "temperature":
        return _sigmoid(_logit(p) / float(settings["temperature"]))
    if method == "platt":
        return _sigmoid(float(settings["slope"]) * _logit(p) + float(settings["intercept"]))
    if method == "isotonic":
        return np.interp(p, settings["x"], settings["y"])
    raise ValueError(f"unknown calibration method {method!r}")


def _fit_logistic(z: np.ndarray, y: np.ndarray, bias: bool) -> tuple[float, float]:
    """Slope (and intercept) minimising the log loss of sigmoid(slope * z + intercept)."""
    from scipy.optimize import minimize

    def loss(params):
        a, b = params[0], (params[1] if bias else 0.0)
        t = a * z + b
        g = _sigmoid(t) - y  # d loss / d t
        value = np.mean(np.logaddexp(0.0, t) - y * t)
        grad = [np.mean(g * z)] + ([np.mean(g)] if bias else [])
        return value, np.array(grad)

    start = np.array([1.0, 0.0] if bias else [1.0])
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1]) if bias else 0.0


def fit(y, probability, method: str) -> dict:
    """Fit ``method`` to labels (1 = pneumonia) and raw probabilities; returns the card's dict."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    if method == "temperature":
        slope, _ = _fit_logistic(_logit(p), y, bias=False)
        return {"method": "temperature", "temperature": float(1.0 / max(slope, 1e-3))}
    if method == "platt":
        slope, intercept = _fit_logistic(_logit(p), y, bias=True)
        return {"method": "platt", "slope": slope, "intercept": intercept}
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return {"method": "isotonic", "x": [float(v) for v in iso.X_thresholds_],
                "y": [float(v) for v in iso.y_thresholds_]}
    raise ValueError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")


def expected_calibration_error(y, probability, bins: int = 10) -> float:
    """ECE of the pneumonia probability: 10 equal-width bins, |observed rate - mean probability|, weighted."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    if len(y) == 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            total += inside.sum() / len(y) * abs(y[inside].mean() - p[inside].mean())
    return float(total)


def patient_folds(patients, y, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number per image; all images of a patient share one fold, classes spread evenly."""
    rng = np.random.default_rng(seed)
    patients = np.asarray(patients)
    fold = np.zeros(len(patients), dtype=int)
    for label in (0, 1):
        ids = np.unique(patients[np.asarray(y) == label])
        rng.shuffle(ids)
        for i, pid in enumerate(ids):
            fold[patients == pid] = i % folds
    return fold


def cross_fitted(y, probability, patients, method: str, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each image's calibrated probability from a map fitted on the other folds' patients."""
    y = np.asarray(y)
    p = np.asarray(probability, dtype=np.float64)
    fold = patient_folds(patients, y, folds, seed)
    out = np.empty_like(p)
    for k in range(folds):
        held = fold == k
        if not held.any():
            continue
        out[held] = apply(fit(y[~held], p[~held], method), p[held])
    return out


def choose(y, probability, patients, folds: int = 5, seed: int = 0) -> tuple[dict, dict]:
    """The calibration to ship, and each method's cross-fitted ECE and Brier score.

    Returns (fitted calibration on all the data, {method: {"ece", "brier"}} plus "none").
    """
    y = np.asarray(y)
    p = np.asarray(probability, dtype=np.float64)
    scores = {"none": {"ece": expected_calibration_error(y, p), "brier": float(np.mean((p - y) ** 2))}}
    for method in METHODS:
        q = cross_fitted(y, p, patients, method, folds, seed)
        scores[method] = {"ece": expected_calibration_error(y, q), "brier": float(np.mean((q - y) ** 2))}
    best = min(METHODS, key=lambda m: scores[m]["brier"])
    chosen = next(m for m in METHODS if scores[m]["brier"] <= scores[best]["brier"] + MARGIN)
    calibration = fit(y, p, chosen)
    calibration["cross_fitted"] = {m: {k: round(v, 4) for k, v in s.items()} for m, s in scores.items()}
    return calibration, scores
