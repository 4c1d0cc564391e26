"""The wizard's plain-Python helpers: the dataset report, the time estimate, the train command.

No Qt: ``pneumonet_core.data.report`` and ``pneumonet_gui.wizard.training_run`` are checked
headless, the command line against the real ``pneumonet train`` parser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumonet_core.data.report import (
    check_readable,
    estimate_training_time,
    format_duration,
    inspect_folder,
    sample_images,
    thumbnail,
)
from pneumonet_core.errors import ScanError
from pneumonet_core.models.architectures import approach
from tests.helpers import SHARED_TRAIN


def link(root: Path, label: str, names: list[str]) -> None:
    (root / label).mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / label / name).symlink_to(SHARED_TRAIN / label / name)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """12 NORMAL and 12 PNEUMONIA files (bacteria and virus), several files per patient."""
    root = tmp_path_factory.mktemp("report")
    link(root, "NORMAL", [p.name for p in sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:12]])
    bacteria = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*_bacteria_*.jpeg"))[:8]
    virus = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*_virus_*.jpeg"))[:4]
    link(root, "PNEUMONIA", [p.name for p in bacteria + virus])
    return root


def test_report_counts_images_patients_and_label_sets(folder):
    from pneumonet_core.data.discovery import find_labelled_images

    images = find_labelled_images(folder)
    report = inspect_folder(folder)
    assert report.usable and report.refusal is None
    assert report.counts() == {"NORMAL": 12, "PNEUMONIA": 12}
    assert report.counts("three") == {"NORMAL": 12, "BACTERIA": 8, "VIRUS": 4}
    patients = {label: len({im.patient for im in images if im.label == label}) for label in ("NORMAL", "PNEUMONIA")}
    assert report.patients() == patients
    assert report.three_labels_available and "BACTERIA 8" in report.labels_found
    assert any("few images" in w for w in report.warnings)


def test_report_refuses_like_the_trainer(tmp_path):
    assert "not a folder" in inspect_folder(tmp_path / "nope").refusal
    (tmp_path / "NORMAL").mkdir()
    assert inspect_folder(tmp_path).refusal == "no images found under NORMAL/ or PNEUMONIA/"
    link(tmp_path, "NORMAL", [p.name for p in sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:11]])
    report = inspect_folder(tmp_path)
    assert not report.usable and "class PNEUMONIA has no images" in report.refusal
    assert not report.three_labels_available and report.labels_found == "binary (NORMAL / PNEUMONIA)"


def test_check_readable_records_unreadable_files_and_judges_again(folder, tmp_path):
    root = tmp_path / "data"
    for label in ("NORMAL", "PNEUMONIA"):
        (root / label).mkdir(parents=True)
        for path in (folder / label).iterdir():
            (root / label / path.name).symlink_to(path.resolve())
    bad = root / "PNEUMONIA" / "person9999_bacteria_1.jpeg"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    for path in sorted((root / "PNEUMONIA").glob("person1*"))[:2]:
        path.unlink()  # 10 good + 1 bad pneumonia files
    report = inspect_folder(root)
    assert report.usable
    stops = []
    check_readable(report, progress=lambda d, t: stops.append((d, t)))
    assert report.checked == 23 and [p for p, _ in report.unreadable] == [bad]
    assert stops[-1] == (23, 23)
    assert "too few images in PNEUMONIA (10)" not in (report.refusal or "")  # 10 is the minimum
    assert any("1 of 23 checked files cannot be read" in w for w in report.warnings)


def test_check_readable_stops_when_asked(folder):
    report = inspect_folder(folder)
    check_readable(report, should_stop=lambda: True)
    assert report.checked == 0


def test_samples_and_thumbnails(folder):
    report = inspect_folder(folder)
    samples = sample_images(report, per_class=5)
    assert list(samples) == ["NORMAL", "PNEUMONIA"] and all(len(v) == 5 for v in samples.values())
    assert sample_images(report, per_class=5) == samples  # reproducible
    thumb = thumbnail(samples["NORMAL"][0], size=64)
    assert thumb.dtype.name == "uint8" and max(thumb.shape) == 64
    bad = folder.parent / "bad.png"
    bad.write_text("nope")
    with pytest.raises(ScanError):
        thumbnail(bad)


def test_time_estimate_follows_the_measured_rates():
    cnn = estimate_training_time("cnn", 1000, 200, 200, epochs=10, cores=2)
    rates = approach("cnn").cpu_rates
    assert cnn.per_epoch_s == pytest.approx(1000 / rates["train"] + 200 / rates["predict"])
    assert estimate_training_time("cnn", 1000, 200, 200, epochs=20, cores=2).seconds == pytest.approx(
        cnn.seconds + 10 * cnn.per_epoch_s)
    assert estimate_training_time("cnn", 1000, 200, 200, epochs=10, cores=4).seconds < cnn.seconds
    assert estimate_training_time("cnn", 1000, 200, 200, epochs=10, cnn_width=8, cores=2).seconds < cnn.seconds
    transfer = estimate_training_time("transfer", 1000, 200, 200, epochs=10, cores=2)
    finetune = estimate_training_time("finetune", 1000, 200, 200, epochs=10, cores=2)
    assert cnn.seconds < transfer.seconds < finetune.seconds
    assert "finetune on a CPU with 2 cores" in finetune.basis
    # A 300-film, 2-epoch CNN run took 25.6 s on 2 cores (start-up and finish, not the epochs):
    # the estimate once said about 14 s for it.
    small = estimate_training_time("cnn", 213, 44, 43, epochs=2, cnn_width=16, cores=2)
    assert small.seconds - 2 * small.per_epoch_s > 20


def test_format_duration():
    assert format_duration(3.2) == "about 3 s"
    assert format_duration(42) == "about 40 s"
    assert format_duration(12 * 60 + 10) == "about 12 min"
    assert format_duration(3 * 3600 + 20 * 60) == "about 3 h 20 min"


def test_train_arguments_are_what_pneumonet_train_parses(tmp_path):
    from pneumonet_cli.main import build_parser
    from pneumonet_core.training.config import TrainConfig, from_arguments, to_arguments
    from pneumonet_gui.wizard.training_run import python_command

    out = tmp_path / "m.pneumonet"
    options = TrainConfig(data_dir=tmp_path, out=out, approach="finetune", weights="imagenet", unfreeze="all",
                          epochs=7, batch_size=8, learning_rate=3e-5, augment=False, seed=4, val_fraction=0.2,
                          test_fraction=0.1, threshold_rule="sensitivity>=0.95", patience=3, labels="three")
    args = build_parser().parse_args(to_arguments(options) + ["--progress", "jsonl"])
    assert (args.data_dir, args.out, args.approach, args.weights, args.unfreeze) == (tmp_path, out, "finetune",
                                                                                     "imagenet", "all")
    assert (args.epochs, args.batch_size, args.learning_rate, args.augment, args.seed) == (7, 8, 3e-5, False, 4)
    assert (args.val_fraction, args.test_fraction, args.threshold_rule, args.patience) == (0.2, 0.1,
                                                                                          "sensitivity>=0.95", 3)
    assert args.labels == "three" and args.progress == "jsonl"
    # The round trip is exact: the parsed flags rebuild the very config the wizard filled.
    assert from_arguments(args) == options

    cnn_config = TrainConfig(data_dir=tmp_path, out=out, cnn_width=8)
    cnn = build_parser().parse_args(to_arguments(cnn_config))
    assert cnn.approach == "cnn" and cnn.cnn_width == 8 and cnn.weights is None and cnn.augment
    assert from_arguments(cnn) == cnn_config
    # The legacy spelling of the augmentation switch still parses.
    assert not build_parser().parse_args(to_arguments(cnn_config) + ["--no-augment"]).augment
    command = python_command(["train", "x"])
    assert command[1:] == ["-m", "pneumonet_cli.main", "train", "x"] and Path(command[0]).name.startswith("python")
