"""``pneumonet ensemble``: combine models of one recipe and one patient split into one package.

The members' held-out patients are the ensemble's: its threshold is chosen on their
validation patients and its figures are measured on their test patients, exactly as the
trainer does for one model (:func:`~pneumonet_core.training.packaging.save_and_measure`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

from pneumonet_core import __version__
from pneumonet_core.atomic import atomic_path
from pneumonet_core.data.discovery import find_labelled_images
from pneumonet_core.data.split import DataSplit
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.ensemble import build_ensemble, check_compatible
from pneumonet_core.models.package import load_package
from pneumonet_core.training.config import TrainConfig
from pneumonet_core.training.datasets import decode_splits, targets
from pneumonet_core.training.packaging import save_and_measure


def _member_record(card: ModelCard) -> dict:
    options = card.training.get("options", {})
    return {"name": card.name, "hash": card.hash, "seed": options.get("seed", card.training.get("seed")),
            "best_epoch": card.training.get("best_epoch"), "heldout_auc": card.metrics.get("roc_auc")}


def ensemble_packages(paths: list[Path], data_dir: Path, out: Path, name: str | None = None, command: str = "",
                      emit=lambda e: None, should_stop=lambda: False) -> ModelCard:
    """Write ``out``: the mean of the models at ``paths``, measured on their held-out patients."""
    packages = [load_package(p) for p in paths]
    cards = [p.card for p in packages]
    check_compatible(cards)
    first = cards[0]
    images = find_labelled_images(data_dir)
    by_patient = {part: set(first.data.get(f"{part}_patients", [])) for part in ("validation", "test")}
    summary = first.data.get("summary", {})
    split = DataSplit([], [im for im in images if im.patient in by_patient["validation"]],
                      [im for im in images if im.patient in by_patient["test"]], summary.get("seed", 0),
                      summary.get("validation_fraction", 0.0), summary.get("test_fraction", 0.0),
                      summary.get("labels", "binary"))
    decoded = decode_splits(split, emit, should_stop)
    val_items, val_x = decoded["validation"]
    test_items, test_x = decoded["test"]
    labels = summary.get("labels", "binary")
    _, val_y = targets(val_items, labels, first.class_names)
    _, test_y = targets(test_items, labels, first.class_names)
    card = dataclasses.replace(
        first, name=name or f"{first.name}-ensemble", version="1", spec={**first.spec, "members": len(cards)},
        metrics={}, validation={}, external={}, calibration={}, ood={}, notes=[],
        training={"command": command, "ensemble": [_member_record(c) for c in cards],
                  "options": first.training.get("options", {})},
        weights_init=f"mean of {len(cards)} members: " + "; ".join(c.weights_init for c in cards[:1]),
        code_version=f"pneumonet {__version__}",
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    config = TrainConfig(approach=first.approach, compression=first.compression)
    with atomic_path(out, mode=0o644, suffix=".pneumonet") as tmp:
        card, _ = save_and_measure(build_ensemble([p.model for p in packages]), card, tmp, config, split,
                                   (val_items, val_x, val_y), (test_items, test_x, test_y))
    return card
