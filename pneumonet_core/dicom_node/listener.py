"""The DICOM listener: a C-STORE and C-ECHO SCP that answers every image it receives.

Received objects are written into the :class:`~pneumonet_core.dicom_node.journal.Journal`
folder before they are acknowledged; a background worker classifies them with the one
loaded model, writes the SR and SC answers (:mod:`~pneumonet_core.dicom_node.answers`)
and, with a forward peer, sends the answers on by C-STORE. A dataset that cannot be
read, a full disk, an aborted association, a scan that cannot be classified or a PACS
that is down fails that object only: the listener keeps serving. Who may call, for how
long and with how much is :mod:`~pneumonet_core.dicom_node.exposure`'s (loopback only
unless callers are named); each object is parsed in full before it is acknowledged, and
one whose SOP Instance UID was received before with other content is refused with
0x0111 (Duplicate SOP Instance), never stored over the first. Everything that happens
is reported as a :class:`~pneumonet_core.dicom_node.events.NodeEvent` to subscribers.
On start, what the journal shows as unfinished is done first.
"""

from __future__ import annotations

import datetime
import io
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from pneumonet_core.dicom_node import events as ev
from pneumonet_core.dicom_node.answers import build_answers, write_answers
from pneumonet_core.dicom_node.exposure import Exposure, SizeGuard, configure_ae, guarded_server_class
from pneumonet_core.dicom_node.forward import send_files
from pneumonet_core.dicom_node.journal import (
    ANSWERED,
    FAILED,
    IGNORED,
    RECEIVED,
    Journal,
    JournalRecord,
    object_key,
    retryable,
)
from pneumonet_core.dicom_node.network import (
    DEFAULT_AE_TITLE,
    DEFAULT_PORT,
    Peer,
    application_entity,
    storage_transfer_syntaxes,
)
from pneumonet_core.dicom_node.study import read_header, skip_reason
from pneumonet_core.errors import PneumonetError
from pneumonet_core.imaging.raster import one_line

log = logging.getLogger(__name__)

#: DIMSE statuses of a C-STORE that failed on our side.
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC210
#: PS3.7's "Duplicate SOP Instance": this UID was received before with other content.
STATUS_DUPLICATE_SOP_INSTANCE = 0x0111


class ListenerError(PneumonetError):
    """The listener could not start (port in use, bad address); one line."""


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or one_line(exc)


class Listener:
    """A DICOM node that stores, classifies and answers; use as a context manager or start()/stop()."""

    def __init__(self, out_dir: str | Path, classifier, ae_title: str = DEFAULT_AE_TITLE, port: int = DEFAULT_PORT,
                 bind: str | None = None, forward: Peer | None = None,
                 on_event: Callable[[ev.NodeEvent], None] | None = None, batch_size: int = 8,
                 allowed_aes=None, allowed_peers=None, **limits):
        """``bind`` defaults to 127.0.0.1; ``allowed_aes``/``allowed_peers`` None read
        ``settings.json``; ``limits``: ``per_peer``, ``idle_timeout_s``, ``max_object_bytes``."""
        try:
            self.exposure = Exposure.configured(bind, allowed_aes, allowed_peers, **limits).checked()
        except ValueError as exc:
            raise ListenerError(str(exc)) from None
        bind = self.exposure.bind
        try:
            self.journal = Journal(out_dir)
        except OSError as exc:
            raise ListenerError(f"cannot use {out_dir}: {_reason(exc)}") from None
        self.classifier = classifier
        self.ae_title, self.bind, self.requested_port = ae_title, bind, port
        self.forward = forward
        self.batch_size = max(1, batch_size)
        self._subscribers: list[Callable[[ev.NodeEvent], None]] = [on_event] if on_event is not None else []
        self._queue: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._ae = self._server = None
        self._worker: threading.Thread | None = None
        self._studies: dict[str, ev.StudyInfo] = {}
        # One object parsed and stored at a time: its copies (encoded, parsed) are then held
        # once, whatever the number of associations, and a duplicate check cannot race a store.
        self._store_lock = threading.Lock()

    # -- subscribers -------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[ev.NodeEvent], None]) -> None:
        self._subscribers.append(callback)

    def _emit(self, event: ev.NodeEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not stop the node
                log.exception("a subscriber failed on the %s event", type(event).__name__)

    # -- life cycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server else self.requested_port

    def start(self) -> Listener:
        """Queue what the journal left unfinished, start the worker, listen; ListenerError if it cannot."""
        from pynetdicom import AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # made when pynetdicom loads
        from pynetdicom.utils import make_target

        ae = application_entity(self.ae_title)
        ae.require_called_aet = True
        configure_ae(ae, self.exposure)
        ae.add_supported_context(Verification)
        syntaxes = storage_transfer_syntaxes()
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, syntaxes)
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, lambda event: 0x0000),
                    (evt.EVT_PDU_RECV, SizeGuard(self.exposure.max_object_bytes, self._refused))]
        unfinished = self.journal.unfinished(forwarding=self.forward is not None)  # before anything new arrives
        try:
            server = ae.make_server((self.bind, self.requested_port), evt_handlers=handlers,
                                    server_class=guarded_server_class(self.exposure, self._refused))
        except (OSError, OverflowError) as exc:
            raise ListenerError(f"cannot listen on {self.bind}:{self.requested_port}: {_reason(exc)}") from None
        threading.Thread(target=make_target(server.serve_forever), name="pneumonet-listener-server",
                         daemon=True).start()
        ae._servers.append(server)  # so that ae.shutdown() stops it, as for ae.start_server
        self._server, self._ae = server, ae
        for record in unfinished:
            if retryable(record):  # a failure that may have passed (disk space freed): try again
                self.journal.update(record["key"], status=RECEIVED, reason=None)
            self._queue.put(record["key"])
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="pneumonet-listener-worker", daemon=True)
        self._worker.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop listening (open associations are aborted) and let the worker finish its batch.

        Objects not yet answered stay in the journal and are done on the next start.
        """
        if self._ae is not None:
            self._ae.shutdown()
            self._ae = None
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def pending(self) -> int:
        """Objects received and not yet answered (or not yet forwarded)."""
        return len(self.journal.unfinished(forwarding=self.forward is not None))

    def history(self) -> list[ev.NodeEvent]:
        """Events rebuilt from the journal, oldest first, so a worklist can show past studies."""
        events = []
        for record in self.journal.records():
            key, path = record["key"], self.journal.received_path(record["key"])
            study = self._study(key)
            when = _parse_time(record.get("received_at"))
            events.append(ev.NodeEvent(ev.RECEIVED, key, study, path=path, time=when, replayed=True))
            status = record.get("status")
            if status == ANSWERED and record.get("outcome"):
                events.append(ev.NodeEvent(ev.ANSWERED, key, study, ev.Outcome.from_dict(record["outcome"]),
                                           answers=self.journal.answer_paths(key), time=when, replayed=True))
            elif status in (FAILED, IGNORED):
                kind = ev.FAILED if status == FAILED else ev.IGNORED
                events.append(ev.NodeEvent(kind, key, study, reason=record.get("reason"), time=when, replayed=True))
        return events

    # -- the SCP side (association threads) --------------------------------------------------

    def _refused(self, reason: str) -> None:
        self._emit(ev.NodeEvent(ev.REJECTED, None, reason=reason))

    def _on_store(self, event) -> int:
        with self._store_lock:
            return self._store(event)

    def _store(self, event) -> int:
        calling = str(event.assoc.requestor.ae_title).strip()
        try:
            if len(event.request.DataSet.getbuffer()) > self.exposure.max_object_bytes:
                raise ValueError(f"larger than {self.exposure.max_object_bytes >> 20} MB (the size cap)")
            data = event.encoded_dataset(include_meta=True)
            ds = parse_in_full(data)
            uid = str(ds.SOPInstanceUID)
            study = ev.StudyInfo.from_dataset(ds)
            sop_class = str(ds.get("SOPClassUID") or "")
            del ds
        except Exception as exc:  # noqa: BLE001 - any undecodable dataset is refused, not fatal
            self._emit(ev.NodeEvent(ev.REJECTED, None, reason=f"unreadable dataset: {one_line(exc)}", calling_ae=calling))
            return STATUS_CANNOT_UNDERSTAND
        try:
            key = object_key(uid, data)
            status = self.journal.status(key)
            if self.journal.received_path(key).exists() and not self.journal.holds(key, data):
                self.journal.note_duplicate(key, data, calling)
                self._emit(ev.NodeEvent(ev.REJECTED, key, study, calling_ae=calling,
                                        reason="refused: this SOP Instance UID was received before with other "
                                               "content (duplicate SOP instance); the first is kept"))
                return STATUS_DUPLICATE_SOP_INSTANCE
            if status not in (None, FAILED) and self.journal.holds(key, data):
                self._emit(ev.NodeEvent(ev.DUPLICATE, key, study, reason=f"received again; already {status}",
                                        calling_ae=calling))
                return 0x0000
            record = self.journal.store(key, data, calling_ae=calling, study_uid=study.study_uid,
                                        sop_class=sop_class)
        except Exception as exc:  # noqa: BLE001 - a full disk or a write error fails this object only
            self._emit(ev.NodeEvent(ev.REJECTED, uid, study, reason=f"not stored: {_reason(exc)}", calling_ae=calling))
            return STATUS_OUT_OF_RESOURCES
        self._studies[key] = study
        self._emit(ev.NodeEvent(ev.RECEIVED, key, study, calling_ae=calling, path=self.journal.received_path(key),
                                time=_parse_time(record["received_at"])))
        self._queue.put(key)
        return 0x0000

    # -- the worker --------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                keys = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(keys) < self.batch_size:
                try:
                    keys.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._process(list(dict.fromkeys(keys)))
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one batch
                for key in keys:
                    if self.journal.status(key) == RECEIVED:
                        self._finish(key, FAILED, f"internal error: {one_line(exc)}", retry=True)

    def _study(self, key: str) -> ev.StudyInfo | None:
        if key not in self._studies:
            try:
                self._studies[key] = ev.StudyInfo.from_dataset(read_header(self.journal.received_path(key)))
            except Exception:  # noqa: BLE001 - a missing or unreadable file has no study to show
                return None
        return self._studies[key]

    def _finish(self, key: str, status: str, reason: str, retry: bool = False) -> None:
        """Record the end of ``key``; ``retry``: a failure that may pass, tried again on the next start."""
        record = self.journal.record(key)
        tries = int((record.get("attempts") if record is not None else None) or 0) + 1
        changes = {"retry": True, "attempts": tries} if retry else {"retry": None}
        self.journal.update(key, status=status, reason=reason, **changes)
        kind = {FAILED: ev.FAILED, IGNORED: ev.IGNORED}[status]
        self._emit(ev.NodeEvent(kind, key, self._study(key), reason=reason, path=self.journal.received_path(key)))

    def _triage(self, key: str):
        """The object's header when it is an image to classify; otherwise it is finished here."""
        path = self.journal.received_path(key)
        try:
            header = read_header(path)
        except Exception as exc:  # noqa: BLE001 - a vanished or broken file fails this object only
            self._finish(key, FAILED, f"cannot read the received file: {_reason(exc)}")
            return None
        reason = skip_reason(header)
        if reason:
            self._finish(key, IGNORED, reason)
            return None
        return header

    def _process(self, keys: list[str]) -> None:
        # The classifier's modules load with the first study, not when the Worklist panel starts.
        from pneumonet_core.inference.batch import classify_paths

        todo, headers, to_forward = [], {}, []
        for key in keys:
            record = self.journal.record(key) or JournalRecord(key=key)
            if record.get("status") == ANSWERED and record.get("forward") != "done":
                to_forward.append(key)
            elif record.get("status") == RECEIVED and (header := self._triage(key)) is not None:
                todo.append(key)
                headers[key] = header
        answer_errors: dict[str, str] = {}
        transient: set[str] = set()
        keys_by_path = {str(self.journal.received_path(key)): key for key in todo}

        def on_scan(result, scan):
            key = keys_by_path[str(result.path)]
            try:
                heatmap = None if result.withheld else self.classifier.heatmap(scan, result)
                answers = build_answers(scan, result, heatmap, self.classifier.card, headers[key])
                write_answers(answers, *self.journal.answer_paths(key))
            except Exception as exc:  # noqa: BLE001 - no answer for this object; the others go on
                answer_errors[key] = f"no answer written: {_reason(exc)}"
                if isinstance(exc, OSError):  # a full disk or a write error: worth another try
                    transient.add(key)

        paths = [self.journal.received_path(key) for key in todo]
        for result in classify_paths(paths, self.classifier, batch_size=self.batch_size, workers=1, on_scan=on_scan):
            key = keys_by_path[str(result.path)]
            if result.error or key in answer_errors:
                self._finish(key, FAILED, result.error or answer_errors[key], retry=key in transient)
                continue
            outcome = ev.Outcome.of(result)
            self.journal.update(key, status=ANSWERED, outcome=outcome.to_dict(), reason=None)
            self._emit(ev.NodeEvent(ev.ANSWERED, key, self._study(key), outcome, path=result.path,
                                    answers=self.journal.answer_paths(key), result=result))
            to_forward.append(key)
        for key in to_forward:
            self._forward(key)

    def _forward(self, key: str) -> None:
        if self.forward is None:
            return

        try:
            send_files(self.forward, list(self.journal.answer_paths(key)), self.ae_title)
        except Exception as exc:  # noqa: BLE001 - the PACS may be down: retried on the next start
            reason = _reason(exc)
            self.journal.update(key, forward="failed", forward_error=reason)
            self._emit(ev.NodeEvent(ev.FORWARD_FAILED, key, self._study(key), reason=reason))
            return
        self.journal.update(key, forward="done", forward_error=None)
        self._emit(ev.NodeEvent(ev.FORWARDED, key, self._study(key)))


def parse_in_full(data: bytes):
    """The dataset of a received object, every element's value decoded; ValueError when any fails.

    pynetdicom decodes only what is asked for, so a dataset with garbage after its UIDs
    would be acknowledged and fail later; this parse is what acknowledging waits for.
    """
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data), force=False)
    if "SOPInstanceUID" not in ds:
        raise ValueError("no SOP Instance UID")
    previous = -1
    for element in ds.elements():  # as read: declared lengths still there
        if element.tag <= previous:
            raise ValueError(f"element {element.tag} out of order: the data set is corrupt")
        previous = element.tag
        length, value = getattr(element, "length", None), element.value
        if length not in (None, 0xFFFFFFFF) and isinstance(value, bytes) and len(value) != length:
            raise ValueError(f"element {element.tag} is cut short ({len(value)} of {length} bytes)")
    for element in ds.iterall():
        element.value  # noqa: B018 - decoding each value is the check
    return ds


def _parse_time(text: str | None) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(str(text)).replace(tzinfo=None)
    except ValueError:
        return datetime.datetime.now()
