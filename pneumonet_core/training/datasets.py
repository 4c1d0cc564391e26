"""The images of one training run: found, optionally subsetted, split by patient, decoded once."""

from __future__ import annotations

import numpy as np

from pneumonet_core.data.batches import decode_inputs
from pneumonet_core.data.discovery import SUBTYPES, LabelledImage, check_usable, find_labelled_images
from pneumonet_core.data.split import DataSplit, split_by_patient
from pneumonet_core.errors import DatasetError

SPLITS = ("train", "validation", "test")


def subset(images: list[LabelledImage], limit: int, seed: int) -> list[LabelledImage]:
    """About ``limit`` images, whole patients, in the classes' proportions."""
    rng = np.random.default_rng(seed + 7919)
    patients: dict[str, list[LabelledImage]] = {}
    for im in images:
        patients.setdefault(im.patient, []).append(im)
    by_label: dict[str, list[str]] = {}
    for pid, items in patients.items():
        by_label.setdefault(items[0].label_for("three"), []).append(pid)
    chosen: list[LabelledImage] = []
    for _label, pids in sorted(by_label.items()):
        quota = max(8, round(limit * sum(len(patients[p]) for p in pids) / len(images)))
        taken = 0
        for idx in rng.permutation(len(pids)):
            if taken >= quota:
                break
            chosen.extend(patients[pids[idx]])
            taken += len(patients[pids[idx]])
    return sorted(chosen, key=lambda im: str(im.path))


def targets(images: list[LabelledImage], labels: str, class_names) -> tuple[np.ndarray, np.ndarray]:
    """(class index per image, binary label per image: pneumonia, or viral for the subtype model)."""
    names = list(class_names)
    index = np.array([names.index(im.label_for(labels)) for im in images], dtype=np.int32)
    if labels == "subtype":
        binary = np.array([im.subtype == "VIRUS" for im in images], dtype=np.int32)
    else:
        binary = np.array([im.label == "PNEUMONIA" for im in images], dtype=np.int32)
    return index, binary


def split_images(config, emit) -> DataSplit:
    """Find the run's images and split them by patient (stratified, seeded)."""
    images = find_labelled_images(config.data_dir)
    if config.labels == "subtype":  # the second stage learns from films whose names give the subtype
        images = [im for im in images if im.subtype in SUBTYPES]
    if config.limit:
        images = subset(images, config.limit, config.resolved_split_seed())
    check_usable(images, config.labels)
    split = split_by_patient(images, config.val_fraction, config.test_fraction, config.resolved_split_seed(),
                             config.labels)
    for name in ("train", "validation"):
        if not split.part(name):
            raise DatasetError(f"the {name} split is empty: use more images or other fractions")
    emit({"event": "split", "summary": split.summary()})
    return split


def decode_splits(split: DataSplit, emit, should_stop) -> dict[str, tuple[list[LabelledImage], np.ndarray]]:
    """Each part's readable images and their packed model inputs; unreadable ones are reported."""
    decoded = {}
    for name in SPLITS:
        items = split.part(name)

        def progress(done: int, total: int, name: str = name) -> None:
            emit({"event": "decode", "split": name, "done": done, "total": total})

        result = decode_inputs([im.path for im in items], progress=progress, should_stop=should_stop)
        for err in result.errors:
            emit({"event": "warning", "message": f"skipped unreadable image {err}"})
        decoded[name] = ([items[i] for i in result.kept], result.inputs)
    return decoded
