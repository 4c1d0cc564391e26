"""What a labelled folder holds before training: counts, patients, problems, and a time estimate.

The training wizard shows this on its first pages. It reads file names only (fast, any
size of folder); :func:`check_readable` then decodes files with the one loader to find
the unreadable ones, in a worker, because that takes seconds per thousand files. The
refusal rule is the trainer's own (:func:`pneumonet_core.data.discovery.check_usable`),
so the wizard never accepts a folder that ``pneumonet train`` would refuse.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pneumonet_core.data.discovery import CLASS_FOLDERS, LabelledImage, check_usable, find_labelled_images
from pneumonet_core.errors import DatasetError, PneumonetError
from pneumonet_core.models.architectures import approach as get_approach

#: Fewer images than this in a class trains, but the figures on a handful of held-out
#: patients are noise: the wizard warns.
FEW_IMAGES_WARNING = 100
#: The trainer's own minimum per class (below it ``pneumonet train`` refuses).
MIN_PER_CLASS = 10


@dataclass
class DatasetReport:
    """A labelled folder as the wizard describes it; ``refusal`` is None when it can train."""

    folder: Path
    images: list[LabelledImage] = field(default_factory=list)
    refusal: str | None = None
    warnings: list[str] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    checked: int = 0  # files decoded by check_readable so far

    @property
    def usable(self) -> bool:
        return self.refusal is None

    def counts(self, labels: str = "binary") -> dict[str, int]:
        """Images per class (binary) or per subtype (three labels)."""
        wanted = CLASS_FOLDERS if labels == "binary" else ("NORMAL", "BACTERIA", "VIRUS")
        found = Counter(im.label_for(labels) for im in self.images)
        return {name: found.get(name, 0) for name in wanted} | {k: v for k, v in found.items() if k not in wanted}

    def patients(self, labels: str = "binary") -> dict[str, int]:
        """Distinct patients per class."""
        per: dict[str, set[str]] = {}
        for im in self.images:
            per.setdefault(im.label_for(labels), set()).add(im.patient)
        return {name: len(per.get(name, ())) for name in self.counts(labels)}

    @property
    def three_labels_available(self) -> bool:
        """True when every pneumonia file name says BACTERIA or VIRUS (the set's third version)."""
        pneumonia = [im for im in self.images if im.label == "PNEUMONIA"]
        subtypes = Counter(im.subtype for im in pneumonia)
        return bool(pneumonia) and subtypes.get("PNEUMONIA", 0) == 0 and subtypes.get("BACTERIA", 0) > 0 \
            and subtypes.get("VIRUS", 0) > 0

    @property
    def labels_found(self) -> str:
        """A sentence naming the label sets this folder supports."""
        if self.three_labels_available:
            c = self.counts("three")
            return (f"binary (NORMAL / PNEUMONIA) and three labels (NORMAL / BACTERIA {c['BACTERIA']} / "
                    f"VIRUS {c['VIRUS']}, from the file names)")
        return "binary (NORMAL / PNEUMONIA)"

    @property
    def unnamed_patients(self) -> int:
        """Images whose file name carries no patient id (each counts as its own patient)."""
        return sum(1 for im in self.images if not im.patient_from_name)


def inspect_folder(folder: str | Path, labels: str = "binary") -> DatasetReport:
    """Describe ``folder`` from its file names; never raises for a bad folder (see ``refusal``)."""
    folder = Path(folder)
    report = DatasetReport(folder)
    try:
        report.images = find_labelled_images(folder)
    except DatasetError as exc:
        report.refusal = str(exc)
        return report
    except OSError as exc:
        report.refusal = f"{folder}: cannot be read ({exc.strerror or exc})"
        return report
    _judge(report, labels)
    return report


def _judge(report: DatasetReport, labels: str) -> None:
    """Set the refusal (the trainer's rule) and the warnings from the current counts."""
    readable = _readable_images(report)
    try:
        check_usable(readable, labels, MIN_PER_CLASS)
        report.refusal = None
    except DatasetError as exc:
        reason = str(exc)
        if len(readable) < len(report.images) and readable:
            reason += f" (after leaving out {len(report.images) - len(readable)} unreadable files)"
        report.refusal = reason
    warnings = []
    counts = Counter(im.label_for(labels) for im in readable)
    few = [f"{name} ({counts[name]})" for name in sorted(counts) if MIN_PER_CLASS <= counts[name] < FEW_IMAGES_WARNING]
    if few:
        warnings.append(f"few images in {', '.join(few)}: the held-out figures will be rough "
                        f"(at least {FEW_IMAGES_WARNING} per class are advisable)")
    if report.unnamed_patients:
        warnings.append(f"{report.unnamed_patients} file names carry no patient id: "
                        "each such image counts as its own patient when splitting")
    if counts and len(counts) >= 2:
        ratio = max(counts.values()) / max(1, min(counts.values()))
        if ratio >= 3:
            warnings.append(f"the classes are imbalanced ({ratio:.1f} : 1); training weights them to compensate")
    if report.unreadable:
        warnings.append(f"{len(report.unreadable)} of {report.checked} checked files cannot be read; "
                        "training skips them")
    report.warnings = warnings


def _readable_images(report: DatasetReport) -> list[LabelledImage]:
    bad = {path for path, _ in report.unreadable}
    return [im for im in report.images if im.path not in bad] if bad else list(report.images)


def find_unreadable(
    paths: Sequence[Path],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[list[tuple[Path, str]], int]:
    """Decode ``paths`` with the one loader; return ((file, reason) per failure, files checked).

    Stops early, keeping what it found, when ``should_stop()`` turns true.
    """
    from pneumonet_core.imaging import load_scan  # the decoders load on first use, not with the wizard

    paths = list(paths)
    errors: list[tuple[Path, str]] = []

    def work(path: Path) -> tuple[Path, str] | None:
        if should_stop():
            return None
        try:
            load_scan(path)
        except PneumonetError as exc:
            return path, getattr(exc, "reason", None) or str(exc)
        return None

    done = 0
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 2)) as pool:
        for error in pool.map(work, paths):
            if should_stop():
                break
            done += 1
            if error:
                errors.append(error)
            if progress and (done % 32 == 0 or done == len(paths)):
                progress(done, len(paths))
    return errors, done


def record_unreadable(report: DatasetReport, unreadable: list[tuple[Path, str]], checked: int,
                      labels: str = "binary") -> DatasetReport:
    """Store a readability check in ``report`` and judge it again without those files."""
    report.unreadable = list(unreadable)
    report.checked = checked
    _judge(report, labels)
    return report


def check_readable(report: DatasetReport, labels: str = "binary", **kwargs) -> DatasetReport:
    """Decode every image of ``report`` and record the unreadable ones (see :func:`find_unreadable`)."""
    unreadable, checked = find_unreadable([im.path for im in report.images], **kwargs)
    return record_unreadable(report, unreadable, checked, labels)


def sample_images(report: DatasetReport, per_class: int = 6, labels: str = "binary",
                  seed: int = 0) -> dict[str, list[Path]]:
    """A few images of each class, reproducibly chosen, for the wizard's thumbnail grid."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[Path]] = {}
    for im in report.images:
        by_class.setdefault(im.label_for(labels), []).append(im.path)
    out = {}
    for name in report.counts(labels):
        paths = by_class.get(name, [])
        if paths:
            idx = sorted(rng.choice(len(paths), size=min(per_class, len(paths)), replace=False))
            out[name] = [paths[i] for i in idx]
    return out


def thumbnail(path: Path, size: int = 128) -> np.ndarray:
    """The scan as a uint8 grayscale array whose longer side is ``size`` (raises ScanError)."""
    from PIL import Image

    from pneumonet_core.imaging import load_scan  # the decoders load on first use, not with the wizard

    pixels = load_scan(path).pixels
    h, w = pixels.shape
    scale = size / max(h, w)
    image = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8), mode="L")
    return np.asarray(image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR))


# --- time estimate ---------------------------------------------------------------------

#: Decoding and resizing files (JPEG at 224 px, 2 cores); the training rates of each
#: approach (:class:`~pneumonet_core.models.architectures.Approach`) were measured on as many cores.
CPU_DECODE_RATE = 280.0
#: The out-of-distribution guard's image statistics, per film, when a run ends (2 cores).
GUARD_STATISTICS_RATE = 150.0
MEASURED_CORES = 2


@dataclass(frozen=True)
class TimeEstimate:
    """A rough duration of one training run and how it was reckoned."""

    seconds: float
    per_epoch_s: float
    basis: str


def estimate_training_time(approach: str, train_images: int, validation_images: int, test_images: int,
                           epochs: int, cnn_width: int = 32, cores: int | None = None) -> TimeEstimate:
    """Estimate a run on this machine's CPU from the measured rates (a GPU is much faster).

    Start-up (TensorFlow, the network, its compilation), decoding, the epochs, and the
    finish: the package saved and reloaded, the threshold and test passes, and the guard
    fitted on every training film (its features and image statistics). Leaving the finish
    out made a small run's estimate "about 10 s" for a run of 71 s. Rates are assumed to
    grow linearly with cores up to 8 (TensorFlow uses them well for convolutions, less so
    beyond); early stopping can only make the run shorter.
    """
    cores = max(1, min(8, cores or os.cpu_count() or 1))
    speed = cores / MEASURED_CORES
    described = get_approach(approach)
    rates = dict(described.cpu_rates)
    if approach == "cnn":  # the CNN's rate is for width 32; it scales about with 1/sqrt(width)
        factor = (32 / max(1, cnn_width)) ** 0.5
        rates = {k: v * factor for k, v in rates.items()}
    train_rate, predict_rate = rates["train"] * speed, rates["predict"] * speed
    per_epoch = train_images / train_rate + validation_images / predict_rate
    total_images = train_images + validation_images + test_images
    finish = (described.finish_s + 2 * (validation_images + test_images) / predict_rate
              + total_images / predict_rate + total_images / (GUARD_STATISTICS_RATE * speed))
    fixed = described.startup_s + total_images / (CPU_DECODE_RATE * speed) + finish
    basis = (f"{approach} on a CPU with {cores} cores: about {train_rate:.0f} training images/s "
             f"and {predict_rate:.0f} validation images/s (rates measured on 2 cores, scaled by cores)")
    return TimeEstimate(fixed + epochs * per_epoch, per_epoch, basis)


def format_duration(seconds: float) -> str:
    """"about 40 s", "about 12 min", "about 3 h 20 min" for an estimate."""
    if seconds < 10:
        return f"about {max(1, round(seconds))} s"
    if seconds < 60:
        return f"about {round(seconds / 5) * 5:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"
