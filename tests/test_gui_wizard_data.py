"""The wizard's data page refuses folders ``pneumonet train`` would refuse, and says why.

No training here: folders are built from a few linked shared JPEGs (or none), the page
inspects them, and the Next button must stay disabled with the reason on screen. An
unreadable file is found by the background check and listed, without refusing the folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from tests.helpers import SHARED_TRAIN
from tests.test_gui_wizard import destroy_wizard

# User settings, models and the viewer's INI file live in the test's folder.
pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

WAIT_MS = 120_000



@pytest.fixture
def wizard(qtbot, qapp):
    from pneumonet_gui.theme import apply_theme
    from pneumonet_gui.wizard import TrainingWizard

    apply_theme(qapp)
    w = TrainingWizard()
    w.show()
    qtbot.waitExposed(w)
    yield w
    destroy_wizard(w)


def link_images(root: Path, normal: int, pneumonia: int) -> Path:
    """A labelled folder of linked shared JPEGs; a class with 0 images gets an empty folder."""
    for label, n in (("NORMAL", normal), ("PNEUMONIA", pneumonia)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for path in sorted((SHARED_TRAIN / label).glob("*.jpeg"))[:n]:
            (root / label / path.name).symlink_to(path)
    return root


def shown_text(wizard) -> str:
    return wizard.data_page.messages.text()


@pytest.mark.parametrize(
    "name, build, reason",
    [
        ("missing", lambda root: root / "does-not-exist", "not a folder"),
        ("no class folders", lambda root: root, "no NORMAL/ or PNEUMONIA/ folder found"),
        ("no images", lambda root: link_images(root, 0, 0), "no images found under NORMAL/ or PNEUMONIA/"),
        ("one class only", lambda root: link_images(root, 15, 0), "class PNEUMONIA has no images"),
        ("too few", lambda root: link_images(root, 15, 4), "too few images in PNEUMONIA (4)"),
    ],
)
def test_unusable_folder_is_refused_with_its_reason(wizard, tmp_path, shots, name, build, reason):
    folder = build(tmp_path / "data")
    if name == "no class folders":
        folder.mkdir(parents=True)
        (folder / "notes.txt").write_text("not an image")
    wizard.data_page.set_folder(folder)
    page = wizard.data_page
    assert not page.report.usable and reason in page.report.refusal
    assert not page.isComplete()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert page.messages.isVisible()
    assert "Cannot train on this folder" in shown_text(wizard) and reason in shown_text(wizard)
    if name == "one class only":
        assert page.table.isVisible() and page.table.cell(1, 0) == "PNEUMONIA" and page.table.cell(1, 1) == "0"
        save_to = shots / "wizard-data-refused-one-class.png"
        assert wizard.grab().save(str(save_to))
    if name == "no images":
        assert wizard.grab().save(str(shots / "wizard-data-refused-no-images.png"))


def test_a_usable_folder_enables_next_and_a_refused_one_disables_it_again(wizard, tmp_path):
    good = link_images(tmp_path / "good", 12, 12)
    bad = link_images(tmp_path / "bad", 12, 0)
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    wizard.data_page.set_folder(good)
    assert next_button.isEnabled()
    assert "few images in NORMAL (12), PNEUMONIA (12)" in shown_text(wizard)
    wizard.data_page.set_folder(bad)
    assert not next_button.isEnabled() and "class PNEUMONIA has no images" in shown_text(wizard)


def test_unreadable_files_are_found_listed_and_skipped(wizard, qtbot, tmp_path, shots):
    folder = link_images(tmp_path / "data", 12, 12)
    broken = folder / "PNEUMONIA" / "person9999_bacteria_1.jpeg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    text_file = folder / "NORMAL" / "IM-9999-0001.png"
    text_file.write_text("a text file named like a scan")
    page = wizard.data_page
    page.set_folder(folder)
    assert page.report.counts() == {"NORMAL": 13, "PNEUMONIA": 13}
    qtbot.waitUntil(lambda: not page.checking, timeout=WAIT_MS)
    assert page.report.checked == 26
    assert sorted(p for p, _ in page.report.unreadable) == sorted([broken, text_file])
    assert "2 cannot be read (training skips them)" in page.check_label.text()
    listed = page.unreadable_view.toPlainText()
    assert str(broken) in listed and str(text_file) in listed
    assert page.unreadable_view.isVisible()
    assert "2 of 26 checked files cannot be read" in shown_text(wizard)
    assert page.isComplete()  # 12 readable images per class still train
    assert wizard.grab().save(str(shots / "wizard-data-unreadable-files.png"))


def test_unreadable_files_can_make_a_class_too_small(wizard, qtbot, tmp_path):
    folder = link_images(tmp_path / "data", 12, 10)
    (folder / "PNEUMONIA" / "person9999_virus_1.jpeg").write_bytes(b"garbage")
    page = wizard.data_page
    page.set_folder(folder)
    assert page.isComplete()  # 11 PNEUMONIA files by name
    qtbot.waitUntil(lambda: not page.checking, timeout=WAIT_MS)
    assert page.isComplete()  # 10 readable: still the minimum
    (folder / "PNEUMONIA" / "person9998_virus_1.jpeg").write_bytes(b"garbage")
    for path in sorted((folder / "PNEUMONIA").glob("person1*"))[:1]:
        path.unlink()
    page.set_folder(folder)  # inspect afresh
    qtbot.waitUntil(lambda: not page.checking, timeout=WAIT_MS)
    assert not page.isComplete()
    assert "too few images in PNEUMONIA (9)" in page.report.refusal
    assert "after leaving out 2 unreadable files" in page.report.refusal
