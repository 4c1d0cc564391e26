"""Find labelled chest X-rays in a folder and read the patient and label from file names.

Layout: ``DIR/NORMAL/*`` and ``DIR/PNEUMONIA/*`` (the usual Kermany layout). The set's
third version labels pneumonia as BACTERIA or VIRUS in the file name
(``person1_bacteria_1.jpeg``), which gives the three-label variant.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.errors import DatasetError

CLASS_FOLDERS = ("NORMAL", "PNEUMONIA")
#: The classes a label set trains on (``models.architectures.LABEL_SETS``, without importing the models).
WANTED_CLASSES = {"binary": CLASS_FOLDERS, "three": ("NORMAL", "BACTERIA", "VIRUS"), "subtype": ("BACTERIA", "VIRUS")}
#: The subtypes the file names give, for the subtype model and its measurement.
SUBTYPES = ("BACTERIA", "VIRUS")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".dcm", ".dicom")

_PERSON = re.compile(r"^(person\d+)_(bacteria|virus)_", re.IGNORECASE)
_IM = re.compile(r"^((?:NORMAL\d*-)?IM-\d+)-\d+", re.IGNORECASE)


@dataclass(frozen=True)
class LabelledImage:
    """One image of a labelled folder."""

    path: Path
    label: str  # binary label: NORMAL or PNEUMONIA
    subtype: str  # three-label variant: NORMAL, BACTERIA, VIRUS, or PNEUMONIA when unknown
    patient: str  # unique across classes: "<class folder>/<id from the name>"
    patient_from_name: bool  # False when the name carried no patient id

    def label_for(self, labels: str) -> str:
        """This image's class in a label set: binary, or three/subtype (from the file name)."""
        return self.label if labels == "binary" else self.subtype


def patient_and_subtype(path: Path, folder_label: str) -> tuple[str, str, bool]:
    """Return (patient id, subtype, whether the id came from the name) for one file name."""
    name = path.name
    match = _PERSON.match(name)
    if match:
        return match.group(1), match.group(2).upper(), True
    match = _IM.match(name)
    if match:
        return match.group(1), folder_label if folder_label == "NORMAL" else "PNEUMONIA", True
    return path.stem, folder_label if folder_label == "NORMAL" else "PNEUMONIA", False


def find_labelled_images(root: str | Path) -> list[LabelledImage]:
    """List every image under ``root/NORMAL`` and ``root/PNEUMONIA`` (recursively), sorted.

    Raises :class:`DatasetError` when the folder is missing or has neither class folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    folders = {p.name.upper(): p for p in root.iterdir() if p.is_dir()}
    if not any(c in folders for c in CLASS_FOLDERS):
        raise DatasetError(f"{root}: no NORMAL/ or PNEUMONIA/ folder found")
    images = []
    for label in CLASS_FOLDERS:
        folder = folders.get(label)
        if folder is None:
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                patient, subtype, from_name = patient_and_subtype(path, label)
                images.append(LabelledImage(path, label, subtype, f"{label}/{patient}", from_name))
    return images


def check_usable(images: list[LabelledImage], labels: str = "binary", min_per_class: int = 10) -> None:
    """Refuse a data set that cannot train a model, with the reason in one line."""
    if not images:
        raise DatasetError("no images found under NORMAL/ or PNEUMONIA/")
    counts = Counter(im.label_for(labels) for im in images)
    wanted = WANTED_CLASSES.get(labels, WANTED_CLASSES["three"])
    missing = [c for c in wanted if counts.get(c, 0) == 0]
    if missing:
        raise DatasetError(f"class {', '.join(missing)} has no images: a classifier needs every class")
    few = [f"{c} ({counts[c]})" for c in wanted if counts[c] < min_per_class]
    if few:
        raise DatasetError(f"too few images in {', '.join(few)}: at least {min_per_class} per class are needed")
