"""The listener's folder: received objects, answers, and a journal of what became of each.

Layout of ``DIR``::

    received/<key>.dcm     every object as it arrived, written before it is acknowledged
    answers/<key>-sr.dcm   the Structured Report answering it
    answers/<key>-sc.dcm   the Secondary Capture answering it
    journal/<key>.json     its record: status, outcome, forwarding

``key`` is the object's SOP Instance UID (a hash of its bytes when that UID is unusable
as a file name). Every file is written atomically, so after a crash or a kill each
record is either the old state or the new one. A record's ``status`` is ``received``
until it is ``answered``, ``failed`` or ``ignored``; on a restart the ``received`` ones,
the failed ones marked ``retry`` (a full disk, an internal error: up to
:data:`MAX_ATTEMPTS` tries) and answered ones whose forwarding did not succeed are done
again. A second object with the same SOP Instance UID and other content never replaces
the first: it is refused, and the first's record lists it under ``refused_duplicates``.
Records hold no patient identifiers: those stay in the DICOM files.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from pneumonet_core.atomic import write_bytes_atomic, write_text_atomic

RECEIVED, ANSWERED, FAILED, IGNORED = "received", "answered", "failed", "ignored"
#: Tries of an object whose failure may pass (a full disk, an internal error).
MAX_ATTEMPTS = 3
#: Refused duplicates listed in one record at most.
MAX_DUPLICATES_LISTED = 20
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class JournalRecord(TypedDict):
    """One object's record, as ``journal/<key>.json`` holds it (JSON, so a typed dict)."""

    key: str
    #: ``received`` until ``answered``, ``failed`` or ``ignored``.
    status: NotRequired[str]
    received_at: NotRequired[str]
    updated_at: NotRequired[str]
    calling_ae: NotRequired[str]
    study_uid: NotRequired[str]
    sop_class: NotRequired[str]
    #: Why it failed or was ignored (None once answered).
    reason: NotRequired[str | None]
    #: The answer's outcome (``ScanOutcome.to_dict()``) once answered.
    outcome: NotRequired[dict[str, Any]]
    #: None (no forwarding), ``done`` or ``failed``.
    forward: NotRequired[str | None]
    forward_error: NotRequired[str | None]
    #: A failure that may pass (tried again on the next start, :data:`MAX_ATTEMPTS` times); None otherwise.
    retry: NotRequired[bool | None]
    attempts: NotRequired[int]
    #: Objects refused because they came again with this UID but other content (the last few).
    refused_duplicates: NotRequired[list[dict[str, str]]]


def object_key(sop_instance_uid: str | None, data: bytes) -> str:
    """A file-name-safe key: the SOP Instance UID, or ``x-<sha256>`` when it is not a UID."""
    uid = str(sop_instance_uid or "").strip()
    if _UID.match(uid) and len(uid) <= 64:
        return uid
    return "x-" + hashlib.sha256(data).hexdigest()[:32]


def now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


class Journal:
    """The received objects, answers and per-object records under one folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        for sub in ("received", "answers", "journal"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def received_path(self, key: str) -> Path:
        return self.root / "received" / f"{key}.dcm"

    def answer_paths(self, key: str) -> tuple[Path, Path]:
        """(SR path, SC path) of the answers to ``key``."""
        return self.root / "answers" / f"{key}-sr.dcm", self.root / "answers" / f"{key}-sc.dcm"

    def _record_path(self, key: str) -> Path:
        return self.root / "journal" / f"{key}.json"

    def record(self, key: str) -> JournalRecord | None:
        try:
            return json.loads(self._record_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def status(self, key: str) -> str | None:
        """The status of ``key``'s record; None when it has none."""
        record = self.record(key)
        return record.get("status") if record is not None else None

    def write(self, record: JournalRecord) -> JournalRecord:
        write_text_atomic(self._record_path(record["key"]), json.dumps(record, indent=1, sort_keys=True))
        return record

    def update(self, key: str, **changes: Any) -> JournalRecord:
        record = {**(self.record(key) or {"key": key}), **changes, "updated_at": now_iso()}
        return self.write(cast(JournalRecord, record))  # the fields come by keyword

    def store(self, key: str, data: bytes, **fields: Any) -> JournalRecord:
        """Write a received object and its ``received`` record (object first)."""
        write_bytes_atomic(self.received_path(key), data)
        record = {"key": key, "status": RECEIVED, "received_at": now_iso(), "forward": None, **fields}
        return self.write(cast(JournalRecord, record))  # the listener's fields come by keyword

    def holds(self, key: str, data: bytes) -> bool:
        """True when ``key`` was received before with exactly these bytes."""
        path = self.received_path(key)
        try:
            return path.stat().st_size == len(data) and path.read_bytes() == data
        except OSError:
            return False

    def note_duplicate(self, key: str, data: bytes, calling_ae: str) -> JournalRecord:
        """Record that an object with ``key``'s UID and other content was refused."""
        record = self.record(key) or {"key": key}
        listed = list(record.get("refused_duplicates") or [])[-(MAX_DUPLICATES_LISTED - 1):]
        listed.append({"at": now_iso(), "calling_ae": calling_ae, "sha256": hashlib.sha256(data).hexdigest()})
        return self.update(key, refused_duplicates=listed)

    def records(self) -> list[JournalRecord]:
        """Every record, oldest first; received files without one get a ``received`` record."""
        records: dict[str, JournalRecord] = {}
        for path in (self.root / "journal").glob("*.json"):
            record = self.record(path.stem)
            if record and record.get("key") == path.stem:
                records[path.stem] = record
        for path in (self.root / "received").glob("*.dcm"):
            if path.stem not in records:  # stored, then stopped before its record was written
                records[path.stem] = self.write({"key": path.stem, "status": RECEIVED, "received_at": now_iso(),
                                                 "forward": None})
        return sorted(records.values(), key=lambda r: (r.get("received_at") or "", r["key"]))

    def unfinished(self, forwarding: bool) -> list[JournalRecord]:
        """Records to do again: not yet answered, failed in a way that may pass (``retry``, fewer
        than :data:`MAX_ATTEMPTS` tries), or (``forwarding``) answered but not forwarded."""
        return [r for r in self.records()
                if r.get("status") == RECEIVED or retryable(r)
                or forwarding and r.get("status") == ANSWERED and r.get("forward") != "done"]


def retryable(record: JournalRecord) -> bool:
    """True for a failed record whose failure may pass and that has tries left."""
    return record.get("status") == FAILED and bool(record.get("retry")) and int(record.get("attempts") or 0) < MAX_ATTEMPTS
