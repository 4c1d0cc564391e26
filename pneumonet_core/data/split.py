"""Split a labelled data set into train / validation / test by patient, never by image.

The split is stratified by label and reproducible from a seed; byte-identical files of one
patient therefore always land on the same side.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from pneumonet_core.data.discovery import LabelledImage

SPLITS = ("train", "validation", "test")


@dataclass
class DataSplit:
    """Images per split, with the fractions and seed that produced them."""

    train: list[LabelledImage]
    validation: list[LabelledImage]
    test: list[LabelledImage]
    seed: int
    validation_fraction: float
    test_fraction: float
    labels: str = "binary"
    notes: list[str] = field(default_factory=list)

    def part(self, name: str) -> list[LabelledImage]:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]

    def summary(self) -> dict:
        """Counts per class and split (images and patients), as the wizard and CLI show them."""
        out: dict = {
            "seed": self.seed,
            "validation_fraction": self.validation_fraction,
            "test_fraction": self.test_fraction,
            "labels": self.labels,
        }
        for name in SPLITS:
            items = self.part(name)
            out[name] = {
                "images": len(items),
                "patients": len({im.patient for im in items}),
                "per_class": dict(sorted(Counter(im.label_for(self.labels) for im in items).items())),
            }
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def patients(self, name: str) -> list[str]:
        return sorted({im.patient for im in self.part(name)})


def split_by_patient(
    images: list[LabelledImage],
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 1,
    labels: str = "binary",
) -> DataSplit:
    """Assign whole patients to train, validation and test, stratified by label."""
    if not 0 <= validation_fraction < 1 or not 0 <= test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise ValueError("validation and test fractions must be in [0, 1) and sum to less than 1")
    by_patient: dict[str, list[LabelledImage]] = defaultdict(list)
    for im in images:
        by_patient[im.patient].append(im)
    by_label: dict[str, list[str]] = defaultdict(list)
    for patient, items in sorted(by_patient.items()):
        # A patient's stratum is its most frequent label (ties broken by name, so stable).
        label = sorted(Counter(im.label_for(labels) for im in items).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        by_label[label].append(patient)
    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    for label in sorted(by_label):
        patients = by_label[label]
        order = rng.permutation(len(patients))
        n_test = int(round(len(patients) * test_fraction))
        n_val = int(round(len(patients) * validation_fraction))
        for rank, idx in enumerate(order):
            split = "test" if rank < n_test else "validation" if rank < n_test + n_val else "train"
            assignment[patients[idx]] = split
    parts: dict[str, list[LabelledImage]] = {name: [] for name in SPLITS}
    for im in images:
        parts[assignment[im.patient]].append(im)
    notes = []
    unnamed = sum(1 for im in images if not im.patient_from_name)
    if unnamed:
        notes.append(f"{unnamed} file names carry no patient id: each such image counts as its own patient")
    return DataSplit(parts["train"], parts["validation"], parts["test"], seed, validation_fraction, test_fraction, labels, notes)
