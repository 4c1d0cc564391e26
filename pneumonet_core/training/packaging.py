"""The end of a training run: the card, the package, and the figures measured on what ships.

The package is saved, reloaded (decompressed), and only then measured: the threshold is
chosen on the validation patients and the held-out test patients give the card's figures.
The out-of-distribution guard is fitted on the training patients' films with the reloaded
weights, and its flag rate on the validation and test patients goes into ``card.ood``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from pathlib import Path

import numpy as np

from pneumonet_core import __version__
from pneumonet_core.atomic import write_text_atomic
from pneumonet_core.data.discovery import LabelledImage
from pneumonet_core.evaluation.metrics import evaluate_predictions, headline
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.package import load_package, rewrite_package, save_package
from pneumonet_core.models.threshold import choose_threshold
from pneumonet_core.ood.fitting import PackagePasses, fit_package_guard
from pneumonet_core.ood.guard import REFERENCE_FILE
from pneumonet_core.runtime.predict import pneumonia_probability


def new_card(config, spec, split, training: dict) -> ModelCard:
    """The card of a model trained by ``config`` (figures are added after measuring)."""
    arch = spec.architecture
    return ModelCard(
        name=config.name or f"pneumonet-{config.approach}-{_dt.date.today().isoformat()}",
        version="1",
        approach=config.approach,
        backbone=arch.key,
        spec=spec.to_dict(),
        input=arch.input_block(),
        class_names=list(spec.class_names),
        gradcam_layer=arch.gradcam_layer,
        data={"folder": str(config.data_dir), "summary": split.summary(), "test_patients": split.patients("test"),
              "validation_patients": split.patients("validation")},
        training={"command": config.command, "options": config.card_record(), **training},
        weights_init=arch.weights_statement(spec.weights),
        code_version=f"pneumonet {__version__}",
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )


def write_predictions(path: Path, items: list[LabelledImage], probability: np.ndarray, split: str) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["path", "patient", "label", "split", "probability"])
    for im, p in zip(items, probability):
        writer.writerow([f"{im.path.parent.name}/{im.path.name}", im.patient, im.label, split, f"{float(p):.6f}"])
    write_text_atomic(path, buf.getvalue())


def save_and_measure(model, card: ModelCard, path: Path, config, split, val: tuple, test: tuple,
                     train_x: np.ndarray | None = None) -> tuple[ModelCard, dict]:
    """Save ``model`` to ``path``, reload it, choose the threshold and write the figures into its card.

    ``val`` and ``test`` are (images, packed inputs, binary labels); ``train_x`` the training
    films' packed inputs, on which the out-of-distribution guard is fitted. Returns the
    final card and the full test metrics (empty without test patients).
    """
    save_package(model, card, path, compression=config.resolved_compression())
    package = load_package(path)  # measure what ships, not the training weights
    names = package.card.class_names
    # One pass per set gives the outputs measured here and the features the guard is fitted on.
    passes = PackagePasses(package, config.batch_size)
    val_items, val_x, val_y = val
    val_p = pneumonia_probability(passes.run(val_x)[0], names)
    choice = choose_threshold(val_y, val_p, config.threshold_rule)
    card = package.card
    card.threshold, card.threshold_rule = choice.threshold, choice.rule
    pair = names if len(names) == 2 else ("NORMAL", "PNEUMONIA")  # the subtype model reports BACTERIA/VIRUS
    card.validation = headline(evaluate_predictions(val_y, val_p, choice.threshold, pair))
    card.validation["patients"] = len(split.patients("validation"))
    test_items, test_x, test_y = test
    test_metrics: dict = {}
    if len(test_x):
        test_p = pneumonia_probability(passes.run(test_x)[0], names)
        test_metrics = evaluate_predictions(test_y, test_p, choice.threshold, pair)
        card.metrics = headline(test_metrics)
        card.metrics["patients"] = len(split.patients("test"))
        card.metrics["classification_report"] = test_metrics["classification_report"]
        if config.predictions:
            write_predictions(Path(config.predictions), test_items, test_p, "test")
    else:
        card.notes.append("no held-out test patients: test fraction was 0")
    extras: dict[str, bytes | None] = {REFERENCE_FILE: None}  # None: no guard, its file removed
    if train_x is not None and len(train_x):  # the guard, fitted on the training patients' films
        fitted_on = {"data_set": f"training patients of {Path(config.data_dir).name}",
                     "patients": len(split.patients("train"))}
        # No adult films here: the adult-like check is fitted by ``pneumonet guard fit --adults``.
        card, extras = fit_package_guard(package, train_x, config.batch_size, fitted_on=fitted_on,
                                         held_out={"validation": val_x, "test": test_x}, passes=passes)
    card = rewrite_package(path, path, card, extras=extras)
    return card, test_metrics
