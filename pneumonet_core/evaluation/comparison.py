"""Two models side by side on the same films: what a person sees before a new model may
replace the active one (the training wizard's comparison page).

A model's card figures come from its own held-out patients, so the figures of two models
are only comparable when both are measured on the same films: the new model's held-out
patients and, better, an external folder of patients outside every training split, unless
a model was calibrated on those very films (:func:`calibrated_on_films`). Each
model is measured exactly as ``pneumonet evaluate`` measures it (calibrated probabilities,
its own stored threshold), with the card's headline figures (:func:`site_calibration.figures`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.errors import CancelledError, PneumonetError
from pneumonet_core.evaluation.folder import predict_folder
from pneumonet_core.evaluation.site_calibration import figures, file_list_sha256
from pneumonet_core.inference.classifier import Classifier

#: The figures compared, in the order they are shown.
COMPARED = (("roc_auc", "ROC AUC"), ("accuracy", "Accuracy"), ("sensitivity", "Sensitivity"),
            ("specificity", "Specificity"), ("ece", "ECE"))
#: A new model whose ROC AUC is lower than the active one's by more than this on a data set is worse there.
AUC_MARGIN = 0.01


@dataclass(frozen=True)
class DataSet:
    """Films both models are measured on: a labelled folder, optionally only some patients."""

    name: str
    folder: Path
    patients: tuple[str, ...] | None = None


def measure(classifier, data_set: DataSet, should_stop: Callable[[], bool] = lambda: False,
            progress: Callable[[int, int], None] | None = None) -> dict:
    """The card's figures of ``classifier`` on ``data_set``, with its patient and unreadable counts."""
    found = predict_folder(data_set.folder, classifier, patients=data_set.patients, should_stop=should_stop,
                           progress=progress)
    out = figures(found.y, found.probability, classifier.threshold)
    out.update(patients=len(set(found.patients)), unreadable=len(found.errors),
               file_list_sha256=file_list_sha256(found.images))
    return out


def compare_models(models: dict[str, Path], data_sets: list[DataSet], should_stop: Callable[[], bool] = lambda: False,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """``{data set name: {model name: figures, or {"error": one line}}}``; each model is loaded once.

    A model that cannot be loaded, or a folder that cannot be measured, is an error in its
    cells only. ``progress`` counts per mille of the whole comparison.
    """
    results: dict = {d.name: {} for d in data_sets}
    steps = max(1, len(models) * len(data_sets))
    step = 0
    for model_name, path in models.items():
        try:
            classifier = Classifier.load(path)
        except PneumonetError as exc:
            for d in data_sets:
                results[d.name][model_name] = {"error": str(exc)}
            step += len(data_sets)
            continue
        for d in data_sets:
            def part(done: int, total: int, base: int = step) -> None:
                if progress is not None:
                    progress(base * 1000 + 1000 * done // max(1, total), steps * 1000)

            try:
                results[d.name][model_name] = measure(classifier, d, should_stop, part)
            except CancelledError:
                raise
            except (PneumonetError, OSError) as exc:
                results[d.name][model_name] = {"error": str(exc)}
            step += 1
    return results


def comparison_warnings(results: dict, old: str, new: str, margin: float = AUC_MARGIN) -> list[str]:
    """Why ``new`` should not replace ``old``: lower ROC AUC on a data set, or worse than chance."""
    warnings = []
    for data_set, by_model in results.items():
        new_auc = (by_model.get(new) or {}).get("roc_auc")
        old_auc = (by_model.get(old) or {}).get("roc_auc")
        if new_auc is None:
            continue
        if old_auc is not None and new_auc < old_auc - margin:
            warnings.append(f"On {data_set}, the new model ranks films worse than the active one "
                            f"(ROC AUC {new_auc:.3f} against {old_auc:.3f}).")
        if new_auc < 0.5:
            warnings.append(f"On {data_set}, the new model is worse than chance (ROC AUC {new_auc:.3f}).")
    return warnings


def calibrated_on_films(card, by_model: dict) -> bool:
    """True when the model of ``card`` was calibrated (threshold included) on the films some
    model was measured on in ``by_model`` (one data set's cells of :func:`compare_models`):
    its figures there are flattered, and a comparison on them is not fair."""
    from pneumonet_core.models.figures import calibrated_on

    return any(calibrated_on(card, (cell or {}).get("file_list_sha256")) for cell in by_model.values())


def patients_seen_in_training(card, patients) -> int | None:
    """How many of ``patients`` the model of ``card`` may have trained on; None when unknown.

    A card lists its validation and test patients. When some of ``patients`` are among them,
    the model comes from the same data set, and those of ``patients`` outside both lists
    were in its training split: its figures on them are flattered.
    """
    data = getattr(card, "data", None) or {}
    known = set(data.get("test_patients") or []) | set(data.get("validation_patients") or [])
    patients = set(patients)
    if not known or not known & patients:
        return None
    return len(patients - known)
