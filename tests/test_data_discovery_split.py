"""Labelled-folder discovery, patient ids from file names, and the split by patient."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import pytest

from pneumonet_core.data.discovery import check_usable, find_labelled_images, patient_and_subtype
from pneumonet_core.data.split import split_by_patient
from pneumonet_core.errors import DatasetError


@pytest.mark.parametrize(
    "name, folder, patient, subtype",
    [
        ("person1_bacteria_1.jpeg", "PNEUMONIA", "person1", "BACTERIA"),
        ("person1_virus_6.jpeg", "PNEUMONIA", "person1", "VIRUS"),
        ("IM-0115-0001.jpeg", "NORMAL", "IM-0115", "NORMAL"),
        ("NORMAL2-IM-1427-0001.jpeg", "NORMAL", "NORMAL2-IM-1427", "NORMAL"),
        ("scan_042.png", "PNEUMONIA", "scan_042", "PNEUMONIA"),
    ],
)
def test_patient_and_label_come_from_the_file_name(name, folder, patient, subtype):
    got_patient, got_subtype, _ = patient_and_subtype(Path(name), folder)
    assert (got_patient, got_subtype) == (patient, subtype)


def test_shared_training_folder_is_found_with_its_documented_counts(shared_train_dir):
    images = find_labelled_images(shared_train_dir)
    labels = [im.label for im in images]
    assert labels.count("NORMAL") == 1341 and labels.count("PNEUMONIA") == 3875
    subtypes = [im.subtype for im in images]
    assert subtypes.count("BACTERIA") == 2530 and subtypes.count("VIRUS") == 1345
    assert len({im.patient for im in images if im.label == "NORMAL"}) == 1211
    assert len({im.patient for im in images if im.label == "PNEUMONIA"}) == 1635
    # Folders number patients independently: ids are unique only with the class prefix.
    assert all(im.patient.startswith(im.label + "/") for im in images)


def test_split_keeps_every_patient_and_duplicate_file_on_one_side(shared_train_dir):
    images = find_labelled_images(shared_train_dir)
    split = split_by_patient(images, 0.15, 0.15, seed=3)
    sides = {}
    for name in ("train", "validation", "test"):
        for im in split.part(name):
            assert sides.setdefault(im.patient, name) == name, f"patient {im.patient} is in two splits"
    assert sum(len(split.part(n)) for n in ("train", "validation", "test")) == len(images)
    # The data README: 24 groups of byte-identical files; each group on one side.
    by_hash = defaultdict(set)
    side_of = {im.path: n for n in ("train", "validation", "test") for im in split.part(n)}
    for im in images:
        by_hash[hashlib.md5(im.path.read_bytes()).hexdigest()].add(side_of[im.path])
    groups = [s for s in by_hash.values()]
    assert all(len(s) == 1 for s in groups)


def test_split_is_stratified_and_reproducible_from_the_seed(shared_train_dir):
    images = find_labelled_images(shared_train_dir)
    a = split_by_patient(images, 0.2, 0.1, seed=7)
    b = split_by_patient(images, 0.2, 0.1, seed=7)
    c = split_by_patient(images, 0.2, 0.1, seed=8)
    assert [im.path for im in a.test] == [im.path for im in b.test]
    assert [im.path for im in a.test] != [im.path for im in c.test]
    summary = a.summary()
    share = {n: summary[n]["per_class"]["PNEUMONIA"] / summary[n]["images"] for n in ("train", "validation", "test")}
    assert all(abs(v - 3875 / 5216) < 0.03 for v in share.values()), share
    assert abs(summary["test"]["patients"] / (1211 + 1635) - 0.1) < 0.01
    assert abs(summary["validation"]["patients"] / (1211 + 1635) - 0.2) < 0.01


def test_three_label_split_stratifies_bacteria_and_virus(shared_train_dir):
    images = find_labelled_images(shared_train_dir)
    summary = split_by_patient(images, 0.15, 0.15, seed=1, labels="three").summary()
    assert set(summary["test"]["per_class"]) == {"NORMAL", "BACTERIA", "VIRUS"}


def test_unusable_folders_are_refused_with_a_reason(tmp_path, shared_train_dir):
    with pytest.raises(DatasetError, match="no NORMAL/ or PNEUMONIA/"):
        find_labelled_images(tmp_path)
    (tmp_path / "NORMAL").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        check_usable(find_labelled_images(tmp_path))
    for src in sorted((shared_train_dir / "NORMAL").glob("*.jpeg"))[:12]:
        (tmp_path / "NORMAL" / src.name).symlink_to(src)
    with pytest.raises(DatasetError, match="PNEUMONIA has no images"):
        check_usable(find_labelled_images(tmp_path))
    (tmp_path / "PNEUMONIA").mkdir()
    for src in sorted((shared_train_dir / "PNEUMONIA").glob("*.jpeg"))[:3]:
        (tmp_path / "PNEUMONIA" / src.name).symlink_to(src)
    with pytest.raises(DatasetError, match="too few images in PNEUMONIA"):
        check_usable(find_labelled_images(tmp_path))
