"""The triage worklist: incoming studies with their results, likely pneumonias first.

:class:`Worklist` is plain Python (no Qt) and thread-safe: the listener's threads call
:meth:`Worklist.apply` with each :class:`~pneumonet_core.dicom_node.events.NodeEvent`,
and a Qt model can wrap :meth:`Worklist.rows` (re-read it when ``apply`` returns a row).

A row is a study; its probability is the highest of its images that got a result, so a
study with one suspicious view ranks as suspicious. Triage order: studies with a result,
in three groups: PNEUMONIA by probability, highest first; then studies with a withheld
image (and no PNEUMONIA), oldest first, never by the hidden scores; then NORMAL by
probability; then studies still waiting, oldest first; then studies that failed.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from pneumonet_core.dicom_node import events as ev
from pneumonet_core.results import WITHHELD

WAITING, DONE, FAILED = "waiting", "done", "failed"


@dataclass(frozen=True)
class WorklistImage:
    """One received object of a study and what became of it."""

    key: str
    status: str = WAITING  # waiting, done, failed (ignored objects count as failed, with the reason)
    outcome: ev.Outcome | None = None
    reason: str | None = None
    path: Path | None = None
    answers: tuple[Path, Path] | None = None
    forwarded: bool | None = None


@dataclass(frozen=True)
class WorklistRow:
    """One study: patient, time, triage probability, label, OOD flag and status."""

    study_uid: str
    patient_name: str | None
    patient_id: str | None
    study_date: str | None
    accession_number: str | None
    received_at: datetime.datetime
    images: tuple[WorklistImage, ...] = field(default_factory=tuple)

    @property
    def _results(self) -> list[ev.Outcome]:
        return [i.outcome for i in self.images if i.outcome is not None]

    @property
    def probability(self) -> float | None:
        """The highest pneumonia probability of the study's given results (None before any, or
        when every result is withheld)."""
        given = [o.probability for o in self._results if o.probability is not None]
        return max(given) if given else None

    @property
    def label(self) -> str | None:
        """PNEUMONIA when an image got it; else WITHHELD when one was withheld; else NORMAL."""
        results = self._results
        if not results:
            return None
        if any(o.label == "PNEUMONIA" for o in results):
            return "PNEUMONIA"
        return WITHHELD if any(o.withheld for o in results) else "NORMAL"

    @property
    def out_of_distribution(self) -> bool:
        return any(o.out_of_distribution for o in self._results)

    @property
    def status(self) -> str:
        """waiting while an image is; else done when one has a result; else failed."""
        if any(i.status == WAITING for i in self.images):
            return WAITING
        return DONE if self._results else FAILED

    @property
    def reasons(self) -> list[str]:
        return [i.reason for i in self.images if i.reason]


#: The order of the groups of answered studies.
GROUPS = {"PNEUMONIA": 0, WITHHELD: 1, "NORMAL": 2}


def _triage_key(row: WorklistRow):
    rank = {DONE: 0, WAITING: 1, FAILED: 2}
    label = row.label
    status = DONE if label is not None else row.status
    # Withheld studies sort by arrival only: their hidden scores never decide an order.
    probability = row.probability if label in ("PNEUMONIA", "NORMAL") and row.probability is not None else 0.0
    return rank[status], GROUPS.get(label, 3) if label is not None else 3, -probability, row.received_at, row.study_uid


class Worklist:
    """Studies received by the listener, kept in triage order."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rows: dict[str, WorklistRow] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def rows(self) -> list[WorklistRow]:
        """A snapshot of the studies, likely pneumonias first (see the module docstring)."""
        with self._lock:
            return sorted(self._rows.values(), key=_triage_key)

    def row(self, study_uid: str) -> WorklistRow | None:
        with self._lock:
            return self._rows.get(study_uid)

    def apply(self, event: ev.NodeEvent) -> WorklistRow | None:
        """Take one listener event into account; return the study row it changed, if any."""
        if event.key is None or event.kind in (ev.REJECTED, ev.DUPLICATE):
            return None
        with self._lock:
            study_uid = event.study.study_uid if event.study else self._study_of(event.key)
            if study_uid is None:
                return None
            row = self._rows.get(study_uid) or self._new_row(study_uid, event)
            images = {i.key: i for i in row.images}
            image = self._updated(images.get(event.key) or WorklistImage(event.key), event)
            images[event.key] = image
            row = replace(row, images=tuple(images.values()))
            self._rows[study_uid] = row
            return row

    def _study_of(self, key: str) -> str | None:
        for uid, row in self._rows.items():
            if any(i.key == key for i in row.images):
                return uid
        return None

    @staticmethod
    def _new_row(study_uid: str, event: ev.NodeEvent) -> WorklistRow:
        s = event.study or ev.StudyInfo(study_uid)
        return WorklistRow(study_uid, s.patient_name, s.patient_id, s.study_date, s.accession_number, event.time)

    @staticmethod
    def _updated(image: WorklistImage, event: ev.NodeEvent) -> WorklistImage:
        if event.kind == ev.RECEIVED:
            return replace(image, status=WAITING, path=event.path or image.path)
        if event.kind == ev.ANSWERED:
            return replace(image, status=DONE, outcome=event.outcome, answers=event.answers, reason=None)
        if event.kind in (ev.FAILED, ev.IGNORED):
            return replace(image, status=FAILED, reason=event.reason)
        if event.kind in (ev.FORWARDED, ev.FORWARD_FAILED):
            return replace(image, forwarded=event.kind == ev.FORWARDED)
        return image
