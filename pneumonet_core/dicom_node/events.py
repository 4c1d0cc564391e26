"""What the listener reports while it runs: one :class:`NodeEvent` per thing that happens.

A GUI panel, the CLI's log and the tests all subscribe to the same stream. Events carry
the study's patient fields for display (:class:`StudyInfo`), but :meth:`NodeEvent.line`,
the log line, never names the patient.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from pneumonet_core.results import WITHHELD, WITHHELD_MESSAGE

# Event kinds.
RECEIVED = "received"  # stored in DIR and acknowledged; classification queued
ANSWERED = "answered"  # classified; SR and SC written
FAILED = "failed"  # stored, but could not be classified or answered
IGNORED = "ignored"  # stored, but not an image to classify (an SR, Pneumonet's own answer...)
REJECTED = "rejected"  # not stored: unreadable dataset or full disk; the sender got a failure
DUPLICATE = "duplicate"  # the same object again, already answered or queued: acknowledged, not redone
FORWARDED = "forwarded"  # answers stored in the PACS
FORWARD_FAILED = "forward-failed"  # answers not stored in the PACS (retried on restart)


@dataclass(frozen=True)
class StudyInfo:
    """The study an object belongs to, as a worklist shows it (patient fields included)."""

    study_uid: str
    patient_name: str | None = None
    patient_id: str | None = None
    study_date: str | None = None
    accession_number: str | None = None
    modality: str | None = None
    description: str | None = None

    @classmethod
    def from_dataset(cls, ds) -> StudyInfo:
        # The DICOM decoders load with the first study, not when the Worklist panel imports this.
        from pneumonet_core.imaging.dicom import read_metadata

        def text(keyword):
            try:
                value = str(ds.get(keyword) or "").strip()
            except Exception:  # noqa: BLE001 - an undecodable value is shown as missing
                value = ""
            return value or None

        metadata = read_metadata(ds)
        return cls(study_uid=text("StudyInstanceUID") or "unknown", patient_name=metadata["patient_name"],
                   patient_id=metadata["patient_id"], study_date=metadata["study_date"],
                   accession_number=text("AccessionNumber"), modality=metadata["modality"],
                   description=text("StudyDescription"))


@dataclass(frozen=True)
class Outcome:
    """A classification result as the listener records it (no patient fields).

    A withheld result (flagged by the guard) has no probability and the label WITHHELD,
    like its :class:`~pneumonet_core.results.ScanResult`; so has one read back from an
    older journal that still held them.
    """

    probability: float | None
    label: str
    threshold: float
    out_of_distribution: bool = False
    ood_score: float | None = None
    ood_reason: str | None = None
    warnings: tuple[str, ...] = ()
    #: The bacterial/viral opinion on a PNEUMONIA decision (``ScanResult.subtype``), else None.
    subtype: str | None = None
    viral_probability: float | None = None

    def __post_init__(self):
        if self.out_of_distribution:  # frozen: set the withheld fields the way dataclasses allow
            object.__setattr__(self, "probability", None)
            object.__setattr__(self, "label", WITHHELD)
        if self.label != "PNEUMONIA":  # an opinion on a pneumonia only, as on the ScanResult
            object.__setattr__(self, "subtype", None)
            object.__setattr__(self, "viral_probability", None)

    @property
    def withheld(self) -> bool:
        return bool(self.out_of_distribution)

    @classmethod
    def of(cls, result) -> Outcome:
        """From a ScanResult (before or after it grows its out-of-distribution fields)."""
        score = getattr(result, "ood_score", None)
        p = result.probability
        return cls(None if p is None else float(p), str(result.label), float(result.threshold),
                   bool(getattr(result, "out_of_distribution", False) or False),
                   None if score is None else float(score), getattr(result, "ood_reason", None),
                   tuple(getattr(result, "warnings", None) or ()), getattr(result, "subtype", None),
                   _float_or_none(getattr(result, "viral_probability", None)))

    def to_dict(self) -> dict:
        return {"probability": self.probability, "label": self.label, "threshold": self.threshold,
                "out_of_distribution": self.out_of_distribution, "ood_score": self.ood_score,
                "ood_reason": self.ood_reason, "warnings": list(self.warnings), "subtype": self.subtype,
                "viral_probability": self.viral_probability}

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        p = data.get("probability")
        return cls(None if p is None else float(p), str(data["label"]), float(data["threshold"]),
                   bool(data.get("out_of_distribution")), data.get("ood_score"), data.get("ood_reason"),
                   tuple(data.get("warnings") or ()), data.get("subtype"),
                   _float_or_none(data.get("viral_probability")))


def _float_or_none(value) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class NodeEvent:
    """One thing that happened to one received object (``key``), or to a rejected one."""

    kind: str
    key: str | None
    study: StudyInfo | None = None
    outcome: Outcome | None = None
    reason: str | None = None
    calling_ae: str | None = None
    path: Path | None = None  # the received file
    answers: tuple[Path, Path] | None = None  # (SR, SC)
    result: object | None = None  # the live ScanResult (not for replayed events)
    time: datetime.datetime = field(default_factory=datetime.datetime.now)
    replayed: bool = False  # rebuilt from the journal at start-up

    def line(self) -> str:
        """The log line: object key, study UID, result or reason; never patient fields."""
        who = self.key or "an object"
        study = f" (study {self.study.study_uid})" if self.study else ""
        sender = f" from {self.calling_ae}" if self.calling_ae and self.kind in (RECEIVED, REJECTED) else ""
        if self.kind == RECEIVED:
            return f"received {who}{sender}{study}"
        if self.kind == ANSWERED and self.outcome:
            o = self.outcome
            if o.withheld:  # no probability or decision for a withheld result, not even in the log
                return f"answered {who}{study}: {WITHHELD_MESSAGE} ({o.ood_reason or 'out of distribution'})"
            return f"answered {who}{study}: {o.label} p={o.probability:.4f} (threshold {o.threshold:.4f})"
        if self.kind == FORWARDED:
            return f"forwarded answers to {who}{study}"
        return f"{self.kind} {who}{sender}{study}: {self.reason or 'no reason given'}"
