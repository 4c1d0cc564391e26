"""Classify a labelled folder: what ``pneumonet evaluate``, ``pneumonet calibrate`` and the
wizard measure a model on."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pneumonet_core.data.discovery import SUBTYPES, LabelledImage, find_labelled_images
from pneumonet_core.errors import CancelledError, DatasetError
from pneumonet_core.evaluation.metrics import evaluate_predictions
from pneumonet_core.inference.batch import classify_paths
from pneumonet_core.inference.subtype import is_subtype_card


@dataclass
class FolderPredictions:
    """The readable images of a labelled folder with the model's probability of its positive class.

    For a pneumonia model the positive class is PNEUMONIA; for a bacterial/viral model
    (``labels`` "subtype") the images are the pneumonia films whose names give the subtype
    and the positive class is VIRUS.
    """

    images: list[LabelledImage]
    probability: np.ndarray
    errors: list[str]  # "path: reason" of the files that could not be read
    #: Per image: flagged by the out-of-distribution guard (not a chest X-ray the model knows).
    out_of_distribution: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    labels: str = "binary"

    @property
    def class_names(self) -> tuple[str, str]:
        """(negative, positive) class of ``y``."""
        return ("BACTERIA", "VIRUS") if self.labels == "subtype" else ("NORMAL", "PNEUMONIA")

    @property
    def y(self) -> np.ndarray:
        positive = self.class_names[1]
        return np.array([int(im.label_for(self.labels) == positive) for im in self.images], dtype=int)

    @property
    def patients(self) -> list[str]:
        return [im.patient for im in self.images]


def predict_folder(data_dir: Path, classifier, held_out: bool = False, batch_size: int = 16,
                   should_stop: Callable[[], bool] = lambda: False,
                   progress: Callable[[int, int], None] | None = None,
                   patients: Iterable[str] | None = None) -> FolderPredictions:
    """Classify every image under ``data_dir``/NORMAL and /PNEUMONIA (only the card's held-out
    patients with ``held_out``; only ``patients``, e.g. another model's held-out patients, when
    given); unreadable files are listed, not fatal."""
    images = find_labelled_images(data_dir)
    labels = "subtype" if is_subtype_card(classifier.card) else "binary"
    if labels == "subtype":  # a bacterial/viral model is measured on the films whose names give the subtype
        images = [im for im in images if im.subtype in SUBTYPES]
    if held_out:
        keep = set(classifier.card.data.get("test_patients", []))
        if not keep:
            raise DatasetError("the model's card lists no held-out patients")
        images = [im for im in images if im.patient in keep]
    if patients is not None:
        keep = set(patients)
        images = [im for im in images if im.patient in keep]
    if not images:
        raise DatasetError(f"{data_dir}: no labelled images to evaluate")
    kept, p, errors, flags = [], [], [], []
    results = classify_paths([im.path for im in images], classifier, batch_size=batch_size, should_stop=should_stop)
    for done, (im, result) in enumerate(zip(images, results), start=1):
        if result.error:
            errors.append(f"{result.path}: {result.error}")
        else:
            kept.append(im)
            p.append(result.measured_probability)  # a flagged labelled film is still measured
            flags.append(bool(result.out_of_distribution))
        if progress is not None:
            progress(done, len(images))
    if should_stop():
        raise CancelledError("cancelled")
    if not kept:
        raise DatasetError(f"{data_dir}: no image could be read")
    return FolderPredictions(kept, np.asarray(p, dtype=np.float64), errors, np.asarray(flags, dtype=bool), labels)


def evaluate_folder(data_dir: Path, classifier, threshold: float | None = None, held_out: bool = False,
                    batch_size: int = 16, should_stop: Callable[[], bool] = lambda: False,
                    progress: Callable[[int, int], None] | None = None):
    """Classify every labelled image and return (metrics, rows of (image, probability), errors)."""
    found = predict_folder(data_dir, classifier, held_out, batch_size, should_stop=should_stop, progress=progress)
    metrics = measure(found, classifier.threshold if threshold is None else threshold)
    return metrics, list(zip(found.images, found.probability.tolist())), found.errors


def measure(found: FolderPredictions, threshold: float) -> dict:
    """The metrics of a folder's predictions at ``threshold``, and how many films the guard flagged.

    Flagged films stay in the metrics: the folder is labelled chest films, and the count
    says how many of them the guard would have withheld.
    """
    metrics = evaluate_predictions(found.y, found.probability, threshold, found.class_names)
    flagged = int(np.sum(found.out_of_distribution))
    metrics["out_of_distribution"] = {"flagged": flagged, "n": len(found.images),
                                      "rate": round(flagged / len(found.images), 4) if found.images else None}
    return metrics
