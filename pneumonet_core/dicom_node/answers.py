"""THE place that builds and writes Pneumonet's DICOM answers to one classified scan.

Both ``pneumonet listen`` and ``pneumonet classify --dicom-out`` call :func:`build_answers`
and :func:`write_answers`: a Secondary Capture with the heat map burnt in and a
Structured Report with the result, in the source's study (a new study for PNG/JPEG
inputs), each in a new series with fresh UIDs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from pneumonet_core.atomic import write_bytes_atomic
from pneumonet_core.dicom_node.secondary_capture import build_secondary_capture
from pneumonet_core.dicom_node.sr import build_structured_report
from pneumonet_core.dicom_node.study import (
    AnswerError,
    evidence_reference,
    new_study_reference,
    read_header,
    study_reference,
)
from pneumonet_core.reports.deidentify import safe_stem


@dataclass
class Answers:
    """The two answer datasets for one scan."""

    structured_report: Dataset
    secondary_capture: Dataset

    @property
    def study_uid(self) -> str:
        return str(self.structured_report.StudyInstanceUID)

    def datasets(self) -> list[Dataset]:
        return [self.structured_report, self.secondary_capture]


def source_header(scan) -> Dataset | None:
    """The DICOM header of the scan's file, or None when the scan is not DICOM."""
    if scan.source.format != "DICOM":
        return None
    try:
        return read_header(scan.path)
    except Exception as exc:  # the file was decoded a moment ago; report, don't crash
        raise AnswerError(f"cannot read the DICOM header again: {' '.join(str(exc).split())}") from exc


def build_answers(scan, result, heatmap: np.ndarray, card, source: Dataset | None = None) -> Answers:
    """Build the SR and the SC for ``scan`` and its ``result`` (a ScanResult or Prediction).

    ``source`` is the scan's DICOM header when the caller already has it; otherwise it is
    read from the scan's file for DICOM scans. Raises :class:`AnswerError` (one line).
    """
    if source is None:
        source = source_header(scan)
    reference = study_reference(source) if source is not None else new_study_reference()
    evidence = evidence_reference(source, reference) if source is not None else None
    try:
        capture = build_secondary_capture(reference, source, scan.pixels, heatmap, result, card)
        report = build_structured_report(evidence, capture, result, card)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # highdicom names the attribute
        raise AnswerError(f"cannot build the DICOM answers: {' '.join(str(exc).split())}") from exc
    return Answers(report, capture)


def encode(ds: Dataset) -> bytes:
    """The dataset as a DICOM Part 10 file (preamble and file meta), in bytes."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_answers(answers: Answers, sr_path: str | Path, sc_path: str | Path) -> tuple[Path, Path]:
    """Write both answers atomically; return (SR path, SC path)."""
    return (write_bytes_atomic(sr_path, encode(answers.structured_report)),
            write_bytes_atomic(sc_path, encode(answers.secondary_capture)))


def write_answers_into(out_dir: str | Path, scan, result, heatmap: np.ndarray, card, deidentify: bool = True,
                       used_stems: set[str] | None = None) -> tuple[Path, Path]:
    """Build and write the answers as ``<stem>-sr.dcm`` and ``<stem>-sc.dcm`` in ``out_dir``.

    The stem is the input's, or its pseudonym when de-identifying (a file name may name the
    patient in forms no rule knows); ``used_stems`` keeps same-named inputs apart.
    """
    stem = base = safe_stem(scan.path, scan.metadata, deidentify, getattr(result, "file_sha256", None))
    used = used_stems if used_stems is not None else set()
    n = 2
    while stem in used:
        stem, n = f"{base}-{n}", n + 1
    used.add(stem)
    answers = build_answers(scan, result, heatmap, card)
    return write_answers(answers, Path(out_dir) / f"{stem}-sr.dcm", Path(out_dir) / f"{stem}-sc.dcm")
