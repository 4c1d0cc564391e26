"""Evaluate a model on a labelled folder: what ``pneumonet evaluate`` and the wizard report."""

from __future__ import annotations

from pathlib import Path


def evaluate_folder(data_dir: Path, classifier, threshold: float | None = None, held_out: bool = False,
                    batch_size: int = 16):
    """Classify every labelled image and return (metrics, rows, errors)."""
    from pneumonet_core.data.discovery import find_labelled_images
    from pneumonet_core.errors import DatasetError
    from pneumonet_core.evaluation.metrics import evaluate_predictions
    from pneumonet_core.inference.batch import classify_paths

    images = find_labelled_images(data_dir)
    if held_out:
        keep = set(classifier.card.data.get("test_patients", []))
        if not keep:
            raise DatasetError("the model's card lists no held-out patients")
        images = [im for im in images if im.patient in keep]
    if not images:
        raise DatasetError(f"{data_dir}: no labelled images to evaluate")
    threshold = classifier.threshold if threshold is None else threshold
    rows, errors, y, p = [], [], [], []
    for im, result in zip(images, classify_paths([im.path for im in images], classifier, batch_size=batch_size)):
        if result.error:
            errors.append(f"{result.path}: {result.error}")
            continue
        rows.append((im, result.probability))
        y.append(int(im.label == "PNEUMONIA"))
        p.append(result.probability)
    if not rows:
        raise DatasetError(f"{data_dir}: no image could be read")
    return evaluate_predictions(y, p, threshold), rows, errors
