"""Adapt a model package to a site's own labelled films: ``pneumonet calibrate``.

The weights stay as they are. On the site's films the probability calibration is refitted
(:mod:`pneumonet_core.models.calibration`) and the operating threshold is chosen by a
stated rule on the calibrated scale; a new package records the site data, the rule and
the figures before and after. The "after" figures are given twice: on the very films the
threshold was chosen on (what the card's threshold does there), and cross-fitted, with
calibration and threshold fitted on other patients than those measured (what to expect
on new patients of the same site). Sensitivity and specificity come with 95% intervals
bootstrapped by patient, and :func:`trade_text` says in words what the rule traded.

A site must give at least :data:`MIN_PER_CLASS` readable films per class: fewer cannot
place a threshold with any confidence (with 20 pneumonias, one film moves sensitivity by
0.05). ``force`` accepts down to :data:`FORCED_MIN_PER_CLASS`, and the report says so.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pneumonet_core.errors import DatasetError, PneumonetError
from pneumonet_core.evaluation.folder import FolderPredictions, predict_folder
from pneumonet_core.evaluation.metrics import evaluate_predictions, headline, patient_bootstrap_intervals
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.inference.subtype import band_around
from pneumonet_core.models import calibration
from pneumonet_core.models.package import rewrite_package
from pneumonet_core.models.threshold import choose_threshold, parse_rule

#: Fewest films per class a site must give: fewer cannot place a threshold with any confidence.
MIN_PER_CLASS = 50
#: Fewest films per class even when forced: each of the cross-fitting folds needs both classes.
FORCED_MIN_PER_CLASS = 10
FOLDS = 5


def file_list_sha256(images) -> str:
    """The hash of a labelled folder's readable films (label/name, sorted by path): the card's
    ``calibration.fitted_on.file_list_sha256``, by which a comparison knows the films a model
    was calibrated on."""
    listing = hashlib.sha256()
    for im in sorted(images, key=lambda im: str(im.path)):
        listing.update(f"{im.label}/{im.path.name}\n".encode("utf-8", "surrogateescape"))
    return listing.hexdigest()


def site_record(data_dir: Path, found: FolderPredictions) -> dict:
    """What the card says about the site's data: counts, class balance, a hash of the file list, the date."""
    per_class = dict(sorted(Counter(im.label_for(found.labels) for im in found.images).items()))
    return {
        "data_set": Path(data_dir).name, "images": len(found.images), "patients": len(set(found.patients)),
        "per_class": per_class,
        f"{found.class_names[1].lower()}_share": round(per_class.get(found.class_names[1], 0) / len(found.images), 4),
        "file_list_sha256": file_list_sha256(found.images), "unreadable": len(found.errors),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _with_intervals(out: dict, y, decision, patients) -> dict:
    if patients is not None:
        ci = patient_bootstrap_intervals(y, decision, patients)
        out.update(sensitivity_ci=ci["sensitivity"], specificity_ci=ci["specificity"])
    return out


def figures(y, p, threshold: float, patients=None) -> dict:
    """The card's headline figures (with ECE and Brier) at ``threshold``, rounded, and the
    reliability curve (10 bins), so a card can draw its reliability diagram without the films.
    With ``patients``, sensitivity and specificity get 95% intervals bootstrapped by patient."""
    full = evaluate_predictions(y, p, threshold)
    m = headline(full)
    keep = ("n", "roc_auc", "accuracy", "sensitivity", "specificity", "precision", "ece", "brier", "threshold",
            "confusion_matrix")
    out = {k: (round(m[k], 4) if isinstance(m[k], float) else m[k]) for k in keep}
    out["reliability"] = {k: [round(v, 4) if isinstance(v, float) else v for v in values]
                          for k, values in full["reliability"].items()}
    return _with_intervals(out, y, np.asarray(p) >= threshold, patients)


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
    return _with_intervals(out, y, decision, patients)


def check_site(found: FolderPredictions, data_dir: Path, force: bool = False) -> str | None:
    """Refuse a site with one class or too few films per class; with ``force``, accept down to
    :data:`FORCED_MIN_PER_CLASS` and return the warning the report carries (else None)."""
    counts = Counter(int(v) for v in found.y)
    negative, positive = found.class_names
    if len(counts) < 2:
        only = positive if 1 in counts else negative
        raise DatasetError(f"{data_dir}: only {only} films: calibration needs both {negative} and {positive}")
    few = [f"{name} has {counts[k]}" for k, name in enumerate(found.class_names) if counts[k] < MIN_PER_CLASS]
    if not few:
        return None
    floor = FORCED_MIN_PER_CLASS if force else MIN_PER_CLASS
    if min(counts[0], counts[1]) < floor:
        few = [f"{name} has {counts[k]}" for k, name in enumerate(found.class_names) if counts[k] < floor]
        how = ("even when forced" if force else "use --force (the GUI: \u201ccalibrate anyway\u201d) to accept "
               f"down to {FORCED_MIN_PER_CLASS}")
        raise DatasetError(f"{data_dir}: too few films to calibrate ({', '.join(few)}; at least {floor} "
                           f"readable films per class are needed; {how})")
    return (f"forced on few films ({', '.join(few)}; {MIN_PER_CLASS} per class is the minimum): "
            "the threshold and the figures are uncertain, see the intervals")


def _change(name: str, a, b) -> str:
    if a is None or b is None:
        return f"{name} n/a"
    if round(a, 3) == round(b, 3):
        return f"kept {name} at {a:.3f}"
    return f"{'raised' if b > a else 'lowered'} {name} from {a:.3f} to {b:.3f}"


def _ci(m: dict, key: str) -> str:
    low, high = (m.get(f"{key}_ci") or [None, None])
    return "" if low is None else f" (95% CI {low:.3f}\u2013{high:.3f})"


def rule_title(rule: str) -> str:
    """A rule as people read it: "Sensitivity at least 0.95", "Youden's J"."""
    kind, target = parse_rule(rule)
    return "Youden's J" if kind == "youden" else f"{kind.capitalize()} at least {target:.2f}"


def trade_text(report: dict, title: str | None = None) -> str:
    """What the rule traded, in words, e.g. '"Sensitivity at least 0.95" raised the threshold
    from 0.450 to 0.910, lowered sensitivity from 1.000 to 0.955 and ... on 44 films (22 patients)'."""
    before, after, honest, site = report["before"], report["after"], report["after_cross_fitted"], report["site"]
    title = title or rule_title(report["rule_name"])
    changes = [_change("the threshold", before.get("threshold"), after.get("threshold")),
               _change("sensitivity", before.get("sensitivity"), after.get("sensitivity")) + _ci(after, "sensitivity"),
               _change("specificity", before.get("specificity"), after.get("specificity")) + _ci(after, "specificity")]
    text = (f"\u201c{title}\u201d {changes[0]}, {changes[1]} and {changes[2]} on {site['images']} films "
            f"({site['patients']} patients) of {site['data_set']}.")
    if honest.get("sensitivity") is not None:
        text += (f" On new patients of this site expect sensitivity {honest['sensitivity']:.3f}"
                 f"{_ci(honest, 'sensitivity')} and specificity {honest['specificity']:.3f}"
                 f"{_ci(honest, 'specificity')} (cross-fitted).")
    return text


def calibrate_package(data_dir: Path, model_path: Path, out: Path, rule: str = "youden",
                      should_stop: Callable[[], bool] = lambda: False,
                      progress: Callable[[int, int], None] | None = None, force: bool = False) -> dict:
    """Write ``out``: the model of ``model_path`` calibrated to the films under ``data_dir``.

    Returns the report (site, rule, before, after, after_cross_fitted, calibration, trade,
    warnings). ``force`` accepts fewer than :data:`MIN_PER_CLASS` films per class.
    """
    data_dir, model_path, out = Path(data_dir), Path(model_path), Path(out)
    parse_rule(rule)  # a bad rule fails before minutes of classification
    if out.resolve() == model_path.resolve():
        raise PneumonetError(f"{out}: --out must differ from --model (the input package stays untouched)")
    # The runtime that will answer with the calibrated package (LiteRT by default) measures it.
    raw_classifier = Classifier.load(model_path, apply_calibration=False)
    package = raw_classifier.package
    found = predict_folder(data_dir, raw_classifier, should_stop=should_stop, progress=progress)
    warning = check_site(found, data_dir, force)
    y, raw, patients = found.y, found.probability, found.patients
    card = package.card
    site = site_record(data_dir, found)
    where = f"{site['data_set']} ({site['images']} films, {site['patients']} patients)"
    before = figures(y, calibration.apply(card.calibration, raw), card.threshold, patients)
    fitted, _scores = calibration.choose(y, raw, found.patients, FOLDS)
    p = calibration.apply(fitted, raw)
    choice = choose_threshold(y, p, rule, where)
    after = figures(y, p, choice.threshold, patients)
    honest = cross_fitted_figures(y, raw, found.patients, fitted["method"], rule, where)
    new = dataclasses.replace(card, calibration={**fitted, "fitted_on": site}, threshold=choice.threshold,
                              threshold_rule=choice.rule, notes=list(card.notes))
    if found.labels == "subtype":  # a bacterial/viral call near the threshold is reported as undetermined
        new.uncertain_band = band_around(choice.threshold)
    previous = {k: v for k, v in card.external.items() if k != "previous"}
    new.external = {**site, "threshold_rule": choice.rule, "rule": rule, "before": before, "after": after,
                    "after_cross_fitted": honest, **({"forced": warning} if warning else {}),
                    **({"previous": previous} if previous else {})}
    if should_stop():
        raise PneumonetError("calibration cancelled; no package was written")
    sealed = rewrite_package(model_path, out, new)
    report = {"out": str(out), "hash": sealed.hash, "site": site, "rule": choice.rule, "rule_name": rule,
              "uncertain_band": new.uncertain_band or None,
              "threshold": choice.threshold, "calibration": {k: v for k, v in fitted.items()}, "before": before,
              "after": after, "after_cross_fitted": honest, "errors": found.errors,
              "warnings": [warning] if warning else [], "min_per_class": MIN_PER_CLASS, "forced": bool(warning)}
    report["trade"] = trade_text(report)
    return report
