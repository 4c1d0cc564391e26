"""find_scans: folders expand to their scan files, sorted, hidden files skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pneumonet_core.imaging import SUPPORTED_SUFFIXES, find_scans


def touch_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path, "PNG")
    return path


def test_supported_suffixes():
    assert set(SUPPORTED_SUFFIXES) == {".png", ".jpg", ".jpeg", ".dcm", ".dicom"}


def make_tree(root: Path, make_dicom) -> None:
    touch_png(root / "b.png")
    touch_png(root / "A.JPG")
    touch_png(root / "c.jpeg")
    (root / "notes.txt").write_text("not a scan")
    (root / "README").write_text("no suffix and not DICOM")
    touch_png(root / ".hidden.png")
    touch_png(root / "._b.png")  # macOS resource fork: junk with a .png name
    touch_png(root / ".cache" / "x.png")
    touch_png(root / "sub" / "d.png")
    touch_png(root / "sub" / "deeper" / "e.dcm")
    make_dicom(np.zeros((8, 8), np.uint8), root, name="IM000001")  # DICOM named without suffix
    make_dicom(np.zeros((8, 8), np.uint8), root, name="1.2.840.10008.7.42")  # named by UID
    make_dicom(np.zeros((8, 8), np.uint8), root, name="DICOMDIR")


def test_folder_recursive(tmp_path, make_dicom_from_image):
    make_tree(tmp_path, make_dicom_from_image)

    found = find_scans([tmp_path])

    assert [path.relative_to(tmp_path).as_posix() for path in found] == [
        "1.2.840.10008.7.42",
        "A.JPG",
        "IM000001",
        "b.png",
        "c.jpeg",
        "sub/d.png",
        "sub/deeper/e.dcm",
    ]


def test_folder_not_recursive(tmp_path, make_dicom_from_image):
    make_tree(tmp_path, make_dicom_from_image)

    found = find_scans([tmp_path], recursive=False)

    assert [path.name for path in found] == ["1.2.840.10008.7.42", "A.JPG", "IM000001", "b.png", "c.jpeg"]


def test_explicit_files_are_kept_as_given_even_missing_or_hidden(tmp_path):
    hidden = touch_png(tmp_path / ".hidden.png")
    text = tmp_path / "notes.txt"
    text.write_text("x")
    missing = tmp_path / "missing.png"

    assert find_scans([missing, hidden, text]) == [missing, hidden, text]


def test_order_of_arguments_is_kept_and_duplicates_dropped(tmp_path):
    first = touch_png(tmp_path / "z" / "1.png")
    second = touch_png(tmp_path / "a" / "2.png")

    assert find_scans([tmp_path / "z", tmp_path / "a", first, str(second)]) == [first, second]


def test_empty_folder_gives_nothing(tmp_path):
    assert find_scans([tmp_path]) == []


def test_training_folder_is_expanded_in_sorted_order(shared_train_dir):
    found = find_scans([shared_train_dir / "NORMAL"], recursive=False)

    assert len(found) == 1341  # the data README's count
    assert found == sorted(found)
    assert all(path.suffix == ".jpeg" for path in found)
