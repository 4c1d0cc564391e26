"""Batch classification in the core: a folder of good and bad files, order, errors, stop, memory.

``make_batch_folder`` builds the mixed folder the CLI and GUI batch tests share.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import SHARED_TRAIN, make_tiny_model

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "JD-778899"
PATIENT_BIRTH = "20190704"
#: What must not appear in a de-identified export of the batch folder.
IDENTIFIERS = ("Doe", "Jane", PATIENT_ID, "2019-07-04", "20190704")


@dataclass
class BatchFolder:
    root: Path
    good: list[Path]  # files that classify
    bad: dict[Path, str]  # file -> a word its error message must contain
    patient_files: list[Path]  # files whose name or header carry the patient's name


def make_sr_without_pixels(path: Path, **header) -> Path:
    """A Basic Text SR DICOM (a report, no image) with a patient header."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    for key, value in header.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_batch_folder(tmp_path: Path, n_per_class: int = 3) -> BatchFolder:
    """Shared JPEGs (both classes), a DICOM of patient Doe^Jane in a sub-folder, and four bad files."""
    from tests.dicom_factory import make_dicom_from_image

    root = tmp_path / "batch"
    (root / "ward_b").mkdir(parents=True)
    good = []
    for cls in ("NORMAL", "PNEUMONIA"):
        for src in sorted((SHARED_TRAIN / cls).glob("*.jpeg"))[:n_per_class]:
            good.append(Path(shutil.copy(src, root / f"{cls.lower()}-{src.name}")))
    patient = dict(PatientName=PATIENT_NAME, PatientID=PATIENT_ID, PatientBirthDate=PATIENT_BIRTH)
    # A lateral view: this scan carries a warning, and still a result (an age outside 1 to 5 would withhold it).
    dicom = make_dicom_from_image(good[-1], root / "ward_b", name="Doe_Jane_chest.dcm", PatientAge="004Y",
                                  ViewPosition="LL", **patient)
    good.append(dicom)
    bad = {}
    (root / "empty.png").write_bytes(b"")
    bad[root / "empty.png"] = "empty"
    data = good[0].read_bytes()
    (root / "truncated.jpeg").write_bytes(data[: len(data) // 3])
    bad[root / "truncated.jpeg"] = "truncated"
    (root / "notes.dcm").write_text("this is not an image, just notes\n")
    bad[root / "notes.dcm"] = "not a PNG, JPEG or DICOM"
    sr = make_sr_without_pixels(root / "ward_b" / "jane_doe_report.dcm", **patient)
    bad[sr] = "no pixel data"
    return BatchFolder(root, good, bad, [dicom, sr])


def make_split_model(folder: Path, images: list[Path]) -> Path:
    """A tiny model whose threshold lies at the median probability of ``images``.

    The tiny model's outputs barely move from 0.5; a threshold in the middle of them
    makes both labels appear, so filters and counts have something to tell apart.
    """
    import numpy as np

    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier

    probe = Classifier.load(make_tiny_model(folder / "probe.pneumonet", seed=0))
    probabilities = sorted(probe.classify(load_scan(p)).probability for p in images)
    low, high = probabilities[len(probabilities) // 2 - 1], probabilities[len(probabilities) // 2]
    return make_tiny_model(folder / "split.pneumonet", seed=0, threshold=float(np.float32((low + high) / 2)))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pneumonet"))


def test_mixed_folder_classifies_good_files_and_names_each_failure(tmp_path, classifier):
    from pneumonet_core.imaging import find_scans
    from pneumonet_core.inference.batch import classify_paths

    folder = make_batch_folder(tmp_path)
    paths = find_scans([folder.root], recursive=True)
    assert set(paths) == set(folder.good) | set(folder.bad)
    results = list(classify_paths(paths, classifier, batch_size=4))
    assert [r.path for r in results] == list(paths)  # in order, one per file, as the Paths given
    by_path = {r.path: r for r in results}
    for path in folder.good:
        r = by_path[path]
        assert r.ok and r.label in ("PNEUMONIA", "NORMAL") and 0.0 <= r.probability <= 1.0, r
        assert r.threshold == classifier.threshold and len(r.file_sha256) == 64
    for path, word in folder.bad.items():
        r = by_path[path]
        assert not r.ok and r.probability is None and word.lower() in r.error.lower(), (path, r.error)
    # The SR failed, but its header is kept so de-identified reports can still hide the patient.
    assert by_path[folder.patient_files[1]].metadata["patient_id"] == PATIENT_ID
    assert [r.path for r in results if r.warnings] == [folder.patient_files[0]]


def test_batched_probabilities_match_one_at_a_time(tmp_path, classifier):
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.batch import classify_paths

    folder = make_batch_folder(tmp_path)
    results = list(classify_paths(folder.good, classifier, batch_size=3, workers=3, prefetch=3))
    for path, r in zip(folder.good, results):
        single = classifier.classify(load_scan(path))
        assert r.probability == pytest.approx(single.probability, abs=1e-5)
        assert r.label == single.label


def test_stop_keeps_the_results_already_computed(tmp_path, classifier):
    from pneumonet_core.inference.batch import classify_paths

    folder = make_batch_folder(tmp_path)
    paths = folder.good * 4  # 28 files, 7 batches of 4
    stop = threading.Event()
    seen = []
    for r in classify_paths(paths, classifier, batch_size=4, should_stop=stop.is_set):
        seen.append(r)
        if len(seen) == 5:
            stop.set()
    # The batch in progress when the stop came is finished and reported, nothing after it.
    assert len(seen) == 8
    assert [r.path for r in seen] == paths[:8]


def test_scans_are_not_kept_unless_asked(tmp_path, classifier):
    """Only on_scan callers get whole scans; on_decoded sees each scan once, in a worker thread."""
    from pneumonet_core.inference.batch import classify_paths

    folder = make_batch_folder(tmp_path)
    decoded, scans = {}, []
    results = list(classify_paths(folder.good, classifier, batch_size=4,
                                  on_decoded=lambda p, s: decoded.setdefault(str(p), threading.current_thread().name),
                                  on_scan=lambda r, s: scans.append((r.path, s.shape))))
    assert sorted(decoded) == sorted(str(p) for p in folder.good)
    assert all(name.startswith("pneumonet-decode") for name in decoded.values())
    assert [p for p, _ in scans] == [r.path for r in results]


def test_progress_estimates_rate_and_time_left():
    from pneumonet_core.inference.batch import BatchProgress, format_duration

    now = [100.0]
    progress = BatchProgress(100, clock=lambda: now[0])
    assert progress.rate is None and progress.seconds_left is None
    for _ in range(10):
        now[0] += 0.5
        progress.advance()
    assert progress.rate == pytest.approx(2.0)
    assert progress.seconds_left == pytest.approx(45.0)
    assert progress.text() == "10 / 100 · 2.0 scans/s · about 0:45 left"
    assert format_duration(3725) == "1:02:05"


def test_the_first_estimate_leaves_out_model_loading_and_counts_a_batch_once():
    """Issue 28: a minute of loading and compiling before the first batch is not a rate."""
    from pneumonet_core.inference.batch import BatchProgress

    now = [0.0]
    progress = BatchProgress(64, clock=lambda: now[0])
    now[0] = 60.0
    for _ in range(16):  # the first batch's results arrive together
        progress.advance()
    assert progress.rate is None and progress.text() == "16 / 64"
    now[0] = 62.0
    for _ in range(16):
        progress.advance()
    assert progress.rate == pytest.approx(8.0) and progress.seconds_left == pytest.approx(4.0)
    assert progress.text() == "32 / 64 · 8.0 scans/s · about 0:04 left"


def test_a_run_finished_in_one_burst_states_its_overall_rate():
    """A cluster's results can all arrive at once: no window rate, so the whole run's, said as such."""
    from pneumonet_core.inference.batch import BatchProgress

    now = [0.0]
    progress = BatchProgress(8, clock=lambda: now[0])
    now[0] = 4.0
    for _ in range(8):
        progress.advance()
    assert progress.rate is None and progress.text() == "8 / 8 · 2.0 scans/s overall"
