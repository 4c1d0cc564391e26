"""The DICOM listener tried as an attacker would (issue 24, items 1, 3 and 4): the same SOP
Instance UID with other content, calling AEs and peers not allowed, idle connections, an
oversized object, garbage after the UIDs, a deflate bomb, and failures that must be
retried. No model is needed: what is checked happens before classification."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, generate_uid

from pneumonet_core.dicom_node.journal import FAILED, RECEIVED, Journal
from pneumonet_core.dicom_node.listener import Listener, ListenerError

CR = "1.2.840.10008.5.1.4.1.1.1"

# pynetdicom's reactor threads may trip over a peer the node aborted; the node is unaffected.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


class Events(list):
    def __call__(self, event):
        self.append(event)

    def __bool__(self):  # an empty log is still a subscriber
        return True


def image(uid: str, patient: str, pixels: np.ndarray | None = None) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CR, uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4", "1.2.3.4.5"
    ds.PatientName, ds.PatientID, ds.Modality = patient, patient.upper()[:8], "CR"
    pixels = pixels if pixels is not None else np.full((8, 8), len(patient), np.uint16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CR, uid
    return ds


@pytest.fixture
def node(tmp_path):
    started = []

    def start(folder=None, **options):
        events = Events()
        options.setdefault("allowed_aes", [])
        listener = Listener(folder or tmp_path / "node", None, port=0, on_event=events, **options)
        started.append(listener.start())
        return listener, events

    yield start
    for listener in started:
        listener.stop()


def send(port: int, *datasets, calling: str = "SENDER", transfer_syntax=ExplicitVRLittleEndian) -> list:
    """C-STORE each dataset; the status codes (None: aborted or not associated)."""
    from pynetdicom import AE

    ae = AE(ae_title=calling)
    ae.add_requested_context(CR, transfer_syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title="PNEUMONET")
    if not assoc.is_established:
        return [None] * len(datasets)
    codes = []
    for ds in datasets:
        status = assoc.send_c_store(ds) if assoc.is_established else None
        codes.append(int(status.Status) if status is not None and "Status" in status else None)
    if assoc.is_established:
        assoc.release()
    return codes


def echo(port: int, calling: str = "SENDER") -> bool:
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    ae.acse_timeout = 10
    assoc = ae.associate("127.0.0.1", port, ae_title="PNEUMONET")
    if not assoc.is_established:
        return False
    status = assoc.send_c_echo()
    assoc.release()
    return status is not None and int(status.Status) == 0


def test_same_uid_with_other_content_never_replaces_the_first(node, tmp_path):
    listener, events = node()
    uid = generate_uid()
    assert send(listener.port, image(uid, "Alpha^A")) == [0x0000]
    stored = (tmp_path / "node" / "received" / f"{uid}.dcm").read_bytes()
    assert send(listener.port, image(uid, "Beta^B")) == [0x0111]  # refused: duplicate SOP instance
    assert (tmp_path / "node" / "received" / f"{uid}.dcm").read_bytes() == stored
    record = Journal(tmp_path / "node").record(uid)
    assert len(record["refused_duplicates"]) == 1 and record["refused_duplicates"][0]["calling_ae"] == "SENDER"
    assert any("duplicate SOP instance" in (e.reason or "") for e in events)
    assert send(listener.port, image(uid, "Alpha^A")) == [0x0000]  # the same object again is fine


def test_loopback_by_default_and_remote_calls_need_an_allow_list(tmp_path):
    assert Listener(tmp_path / "a", None, allowed_aes=[]).bind == "127.0.0.1"
    with pytest.raises(ListenerError, match="--allow-ae"):
        Listener(tmp_path / "b", None, bind="0.0.0.0", allowed_aes=[], allowed_peers=[])
    assert Listener(tmp_path / "c", None, bind="0.0.0.0", allowed_aes=["CR01"]).exposure.allowed_aes == ("CR01",)


def test_settings_json_allow_list_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMONET_HOME", str(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps({"listener_allowed_aes": ["CR01"]}))
    assert Listener(tmp_path / "n", None, bind="0.0.0.0").exposure.allowed_aes == ("CR01",)


def test_calling_ae_and_peer_allow_lists(node):
    listener, _ = node(allowed_aes=["CR01"])
    assert not echo(listener.port, calling="EVIL")
    assert echo(listener.port, calling="CR01")
    elsewhere, events = node(allowed_peers=["10.9.9.9"])
    assert not echo(elsewhere.port, calling="CR01")
    assert any("not an allowed peer" in (e.reason or "") for e in events)


def test_idle_connections_do_not_block_the_node(node):
    listener, events = node(per_peer=3)
    idle = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(11)]
    try:
        time.sleep(0.5)
        closed = 0
        for sock in idle:
            sock.settimeout(0.2)
            try:
                closed += sock.recv(1) == b""
            except (TimeoutError, OSError):
                pass
        assert closed >= 8  # over the per-peer limit: closed before any DICOM was read
        deadline = time.monotonic() + 15
        while not echo(listener.port) and time.monotonic() < deadline:  # idle ones time out
            time.sleep(0.5)
        assert time.monotonic() < deadline
    finally:
        for sock in idle:
            sock.close()


def test_an_object_over_the_size_cap_is_refused_while_it_arrives(node, tmp_path):
    listener, events = node(max_object_bytes=1 << 20)
    big = image(generate_uid(), "Big^B", np.ones((1024, 1024), np.uint16))  # 2 MB
    assert send(listener.port, big) != [0x0000]
    assert not list((tmp_path / "node" / "received").iterdir())
    assert any("size cap" in (e.reason or "") for e in events)


def test_garbage_after_the_uids_is_refused_before_acknowledging(node, tmp_path, monkeypatch):
    import pynetdicom.association
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    listener, _ = node()
    good = image(generate_uid(), "Garbage^G")
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, good)
    data = buffer.getvalue()
    cut = data.index(b"\x10\x00\x10\x00")  # PatientName: keep the UIDs, then garbage
    hostile = data[:cut] + np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    encode = pynetdicom.association.encode  # the sender puts these bytes on the wire as they are
    monkeypatch.setattr(pynetdicom.association, "encode",
                        lambda ds, *args, **kw: hostile if ds is good else encode(ds, *args, **kw))
    assert send(listener.port, good) == [0xC210]
    assert not list((tmp_path / "node" / "received").iterdir())


def test_a_deflate_bomb_is_refused_over_c_store(node, tmp_path):
    listener, events = node()
    bomb = image(generate_uid(), "Bomb^B")
    bomb.add_new(0x00091010, "OB", bytes(64 << 20))  # 64 MB of zeros: 64 KB deflated
    bomb.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian  # sent deflated: 64 KB on the wire
    assert send(listener.port, bomb, transfer_syntax=DeflatedExplicitVRLittleEndian) == [0xC210]
    assert any("decompression bomb" in (e.reason or "") for e in events)


def test_failures_that_may_pass_are_retried_on_the_next_start(tmp_path):
    journal = Journal(tmp_path / "node")
    journal.store("1.2.3", b"x")
    journal.update("1.2.3", status=FAILED, reason="no answer written: No space left on device", retry=True,
                   attempts=1)
    journal.store("1.2.4", b"y")
    journal.update("1.2.4", status=FAILED, reason="not a chest image")  # a lasting failure
    assert [r["key"] for r in journal.unfinished(forwarding=False)] == ["1.2.3"]
    journal.update("1.2.3", attempts=3)
    assert journal.unfinished(forwarding=False) == []
    journal.update("1.2.3", attempts=1)
    listener = Listener(tmp_path / "node", None, port=0, allowed_aes=[])
    assert listener.pending() == 1
    listener.start()
    try:
        deadline = time.monotonic() + 20  # no classifier here: it fails again, counted
        while (journal.record("1.2.3") or {}).get("attempts") != 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert journal.record("1.2.3")["attempts"] == 2
        assert journal.record("1.2.4")["status"] == FAILED
    finally:
        listener.stop()
    assert RECEIVED != FAILED
