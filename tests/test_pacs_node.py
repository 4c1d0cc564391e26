"""Pneumonet as a DICOM node, against real DICOM software on loopback: dcmtk's storescu and
echoscu send, the listener answers, Orthanc receives the forwarded answers and serves pull."""

from __future__ import annotations

import copy
import errno
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from pneumonet_core.dicom_node import events as ev
from pneumonet_core.dicom_node.journal import Journal
from pneumonet_core.dicom_node.listener import Listener
from pneumonet_core.dicom_node.network import Peer
from pneumonet_core.dicom_node.worklist import Worklist
from tests.pacs_fixtures import chest_dicom, chest_jpeg2000, classifier, orthanc, tiny_model  # noqa: F401 - fixtures
from tests.pacs_servers import (
    EventLog,
    dciodvfy_errors,
    echoscu,
    free_port,
    stop_process,
    storescu,
)

pytestmark = pytest.mark.slow  # Orthanc, dcmtk and listener processes

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def start_node(classifier, tmp_path):
    """``start_node(folder=None, forward=None) -> (listener, events)``; every node is stopped at teardown."""
    started = []

    def start(folder: Path | None = None, forward: str | None = None):
        log = EventLog()
        listener = Listener(folder or tmp_path / "node", classifier, ae_title="PNEUMONET", port=0, bind="127.0.0.1",
                            forward=Peer.parse(forward) if forward else None, on_event=log)
        started.append(listener.start())
        return listener, log

    yield start
    for listener in started:
        listener.stop()


def _key(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _send_and_wait(listener, log, path: Path) -> str:
    sent = storescu(listener.port, path)
    assert sent.returncode == 0, sent.stderr
    key = _key(path)
    log.wait(lambda events: any(e.key == key and e.kind in (ev.ANSWERED, ev.FAILED) for e in events))
    return key


def _no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if ".partial" in p.name]


# pynetdicom's own reactor thread trips over dcmtk's abort after the rejection; the node is unaffected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_c_echo_is_answered_and_a_wrong_called_ae_title_is_refused(start_node):
    listener, _ = start_node()
    assert echoscu(listener.port).returncode == 0
    refused = echoscu(listener.port, called_ae="SOMEONE_ELSE")
    assert refused.returncode != 0 and "Called AE Title Not Recognized" in refused.stderr


def test_storescu_jpeg2000_image_is_answered_with_valid_sr_and_sc_in_dir_and_forwarded_into_orthanc(
        start_node, orthanc, chest_jpeg2000, tmp_path):
    listener, log = start_node(forward=orthanc.peer_text)
    source_path = chest_jpeg2000(PatientName="Müller^Anna")
    source = pydicom.dcmread(source_path, stop_before_pixels=True)
    key = _send_and_wait(listener, log, source_path)
    log.wait_for(ev.FORWARDED, key)
    assert log.of(ev.RECEIVED)[0].calling_ae == "STORESCU"
    received = tmp_path / "node" / "received" / f"{key}.dcm"
    assert received.read_bytes()[128:132] == b"DICM"  # stored as it came, with its file meta
    sr_path, sc_path = tmp_path / "node" / "answers" / f"{key}-sr.dcm", tmp_path / "node" / "answers" / f"{key}-sc.dcm"
    for path in (sr_path, sc_path):
        assert dciodvfy_errors(path) == [], path.name
    answered = log.of(ev.ANSWERED)[0]
    assert answered.answers == (sr_path, sc_path) and answered.outcome.label in ("PNEUMONIA", "NORMAL")
    in_pacs = orthanc.wait_for_instances(source.StudyInstanceUID, 2)
    assert sorted(t["Modality"] for t in in_pacs) == ["OT", "SR"]
    for tags in in_pacs:
        assert tags["PatientID"] == source.PatientID and tags["PatientName"] == "Müller^Anna"
        assert tags["SeriesInstanceUID"] != source.SeriesInstanceUID
    record = json.loads((tmp_path / "node" / "journal" / f"{key}.json").read_text())
    assert record["status"] == "answered" and record["forward"] == "done"
    assert "Müller" not in json.dumps(record)  # the journal holds no patient identifiers


def test_malformed_datasets_fail_that_object_only(start_node, chest_dicom, tmp_path, monkeypatch):
    from pynetdicom import AE, _config

    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # send the file's bytes as they are

    listener, log = start_node()
    good = pydicom.dcmread(chest_dicom())
    truncated = copy.deepcopy(good)
    truncated.SOPInstanceUID = pydicom.uid.generate_uid()
    truncated.PixelData = good.PixelData[:1000]  # far fewer bytes than Rows x Columns
    garbage = tmp_path / "garbage.dcm"  # a valid file meta and UIDs, then a sequence of garbage
    head = Dataset()
    head.SOPClassUID, head.SOPInstanceUID = good.SOPClassUID, pydicom.uid.generate_uid()
    head.file_meta = good.file_meta
    head.save_as(garbage, enforce_file_format=True)
    broken_sequence = struct.pack("<HH", 0x0040, 0xA730) + b"SQ\0\0" + struct.pack("<I", 0xFFFFFFFF) + b"\x01" * 16
    garbage.write_bytes(garbage.read_bytes() + broken_sequence)

    ae = AE(ae_title="PNEUTEST")
    ae.add_requested_context(good.SOPClassUID, pydicom.uid.ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="PNEUMONET")
    assert assoc.is_established
    refused = assoc.send_c_store(garbage)
    stored = assoc.send_c_store(truncated)
    assoc.release()
    assert refused.Status == 0xC210  # cannot understand: not stored, not acknowledged as success
    assert stored.Status == 0x0000  # stored and acknowledged; it fails later, in classification
    failed = log.wait_for(ev.FAILED, truncated.SOPInstanceUID)[0]
    assert "pixel data" in failed.reason.lower() and failed.line().startswith(f"failed {truncated.SOPInstanceUID}")
    assert log.of(ev.REJECTED)[0].line().startswith("rejected an object from PNEUTEST: unreadable dataset")
    assert not (tmp_path / "node" / "received" / f"{head.SOPInstanceUID}.dcm").exists()
    good_path = tmp_path / "good.dcm"
    good.save_as(good_path)
    assert log.of(ev.ANSWERED) == []
    key = _send_and_wait(listener, log, good_path)
    assert [e.key for e in log.of(ev.ANSWERED)] == [key]
    assert echoscu(listener.port).returncode == 0


def test_aborted_associations_do_not_stop_the_listener(start_node, chest_dicom, tmp_path):
    from pynetdicom import AE

    listener, log = start_node()
    with socket.create_connection(("127.0.0.1", listener.port)) as raw:  # not DICOM at all, then gone
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
    ae = AE(ae_title="PNEUTEST")
    ae.add_requested_context(pydicom.uid.ComputedRadiographyImageStorage, pydicom.uid.ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="PNEUMONET")
    assoc.abort()  # aborted right after it was established
    big = pydicom.dcmread(chest_dicom())
    big.SOPInstanceUID = pydicom.uid.generate_uid()
    big.Rows = big.Columns = 2000
    big.BitsAllocated, big.BitsStored, big.HighBit = 16, 12, 11
    big.PixelData = np.random.default_rng(0).integers(0, 4095, (2000, 2000), dtype=np.uint16).tobytes()
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="PNEUMONET")
    sock, real_send, sent = assoc.dul.socket, assoc.dul.socket.send, []

    def send_then_drop(data: bytes) -> None:  # the network goes down 20 PDUs into an 8 MB transfer
        sent.append(len(data))
        if len(sent) == 20:
            sock.socket.shutdown(socket.SHUT_RDWR)
        if len(sent) < 20:
            real_send(data)

    sock.send = send_then_drop
    status = assoc.send_c_store(big)
    assoc.abort()
    assert len(sent) >= 20 and "Status" not in (status or {})  # never acknowledged
    good = chest_dicom()
    key = _send_and_wait(listener, log, good)
    assert [e.key for e in log.of(ev.ANSWERED)] == [key]
    assert echoscu(listener.port).returncode == 0
    assert _no_partial_files(tmp_path / "node")
    assert [p.stem for p in (tmp_path / "node" / "received").iterdir()] == [key]  # the cut transfer left nothing


def test_a_full_disk_fails_that_object_only(start_node, chest_dicom, monkeypatch):
    listener, log = start_node()
    real_store = Journal.store
    calls = []

    def full_once(self, key, data, **fields):
        calls.append(key)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_store(self, key, data, **fields)

    monkeypatch.setattr(Journal, "store", full_once)
    first, second = chest_dicom(), chest_dicom()
    refused = storescu(listener.port, first)
    assert refused.returncode != 0  # storescu got a failure status, not a success
    rejected = log.wait_for(ev.REJECTED)[0]
    assert rejected.key == _key(first) and rejected.reason == "not stored: No space left on device"
    key = _send_and_wait(listener, log, second)
    assert [e.key for e in log.of(ev.ANSWERED)] == [key]


def test_restart_answers_what_was_received_and_forwards_what_was_not(start_node, orthanc, chest_dicom, tmp_path):
    folder = tmp_path / "node"
    first, log = start_node(folder, forward=f"127.0.0.1:{free_port()}:NOBODY")  # the PACS is down
    answered_path = chest_dicom()
    answered_key = _send_and_wait(first, log, answered_path)
    log.wait_for(ev.FORWARD_FAILED, answered_key)
    first.stop()
    # Received and acknowledged, then the process died before classifying it: exactly what
    # the SCP leaves in the folder at that point.
    pending_path = chest_dicom()
    pending_key = _key(pending_path)
    Journal(folder).store(pending_key, pending_path.read_bytes())
    assert first.pending() == 2

    second, log = start_node(folder, forward=orthanc.peer_text)
    log.wait_for(ev.FORWARDED, count=2)
    assert [e.key for e in log.of(ev.ANSWERED)] == [pending_key]  # the answered one is not classified again
    assert sorted(e.key for e in log.of(ev.FORWARDED)) == sorted([answered_key, pending_key])
    assert second.pending() == 0
    for path in (answered_path, pending_path):
        study = pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID
        assert len(orthanc.wait_for_instances(study, 2)) == 2


def test_own_answers_routed_back_are_stored_but_not_classified(start_node, chest_dicom, tmp_path):
    listener, log = start_node()
    key = _send_and_wait(listener, log, chest_dicom())
    sr_path, sc_path = Journal(tmp_path / "node").answer_paths(key)
    assert storescu(listener.port, sr_path, sc_path).returncode == 0
    ignored = log.wait_for(ev.IGNORED, count=2)
    assert {e.reason for e in ignored} == {"Pneumonet's own answer; not classified"}
    assert all(e.path.is_file() for e in ignored)  # stored in DIR/received all the same
    assert len(log.of(ev.ANSWERED)) == 1


def test_worklist_follows_the_listener_and_is_restored_from_the_journal(start_node, chest_dicom, tmp_path):
    listener, log = start_node()
    worklist = Worklist()
    listener.subscribe(worklist.apply)
    keys = [_send_and_wait(listener, log, chest_dicom(image=n, PatientName=f"Child^{n}")) for n in range(3)]
    rows = worklist.rows()
    assert len(rows) == 3 and all(r.status == "done" for r in rows)
    assert [r.probability for r in rows] == sorted((r.probability for r in rows), reverse=True)
    assert {r.patient_name for r in rows} == {"Child, 0", "Child, 1", "Child, 2"}
    listener.stop()
    restored = Worklist()
    for event in Listener(tmp_path / "node", None).history():
        restored.apply(event)
    assert [(r.study_uid, r.probability, r.label) for r in restored.rows()] == \
        [(r.study_uid, r.probability, r.label) for r in rows]
    assert {i.key for r in restored.rows() for i in r.images} == set(keys)


def test_pull_retrieves_from_orthanc_by_patient_date_and_accession_and_classifies(
        orthanc, chest_dicom, chest_jpeg2000, tiny_model, tmp_path, capsys):
    from pneumonet_cli.main import main

    studies = {
        "a": chest_jpeg2000(PatientID="PULL-1", StudyDate="20190110", AccessionNumber="PULLACC-A"),
        "b": chest_dicom(PatientID="PULL-1", StudyDate="20190220", AccessionNumber="PULLACC-B"),
        "c": chest_dicom(PatientID="PULL-2", StudyDate="20190115", AccessionNumber="PULLACC-C"),
    }
    uids = {name: str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID) for name, p in studies.items()}
    for path in studies.values():
        orthanc.upload(path)

    def pull(*criteria) -> set[str]:
        out = tmp_path / f"retrieved-{criteria[0].strip('-')}"
        code = main(["pull", "--from", orthanc.peer_text, *criteria, "--out", str(out), "--model", str(tiny_model),
                     "--ae-title", "PNEUTEST", "--json", "--no-deidentify"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        results = json.loads(captured.out)["results"]
        assert all(r["error"] is None and r["label"] in ("PNEUMONIA", "NORMAL") for r in results)
        return {str(pydicom.dcmread(r["path"], stop_before_pixels=True).StudyInstanceUID) for r in results}

    assert pull("--patient", "PULL-1") == {uids["a"], uids["b"]}
    assert pull("--date", "20190101-20190131") == {uids["a"], uids["c"]}
    assert pull("--accession", "PULLACC-C") == {uids["c"]}
    assert main(["pull", "--from", orthanc.peer_text, "--out", str(tmp_path / "x"), "--model", str(tiny_model)]) == 2


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
def test_listen_command_answers_storescu_and_stops_cleanly_on_sigterm(orthanc, tiny_model, chest_dicom, tmp_path):
    folder = tmp_path / "listen"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pneumonet_cli.main", "listen", "--port", "0", "--bind", "127.0.0.1",
         "--ae-title", "PNEUMONET", "--out", str(folder), "--model", str(tiny_model), "--forward", orthanc.peer_text],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()

    def wait_line(text: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(lines) if text in line]
            if found:
                return found[0]
            assert process.poll() is None, "".join(lines)
            time.sleep(0.05)
        raise AssertionError(f"no '{text}' line in: {''.join(lines)}")

    try:
        port = int(wait_line("listening on 127.0.0.1:").split("127.0.0.1:")[1].split()[0])
        source = chest_dicom(PatientName="Secret^Name")
        assert storescu(port, source).returncode == 0
        wait_line("forwarded answers to")
        assert "answered" in wait_line(f"answered {_key(source)}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        reader.join(5)
    finally:
        stop_process(process)
    output = "".join(lines)
    assert "stopped; 0 object(s) left to answer" in output
    assert "Secret" not in output  # log lines never name the patient
    assert _no_partial_files(folder)
    assert len(list((folder / "answers").glob("*.dcm"))) == 2


def test_a_withheld_extremity_is_answered_with_an_sr_that_gives_no_result_and_a_log_without_one(
        start_node, chest_dicom, tmp_path):
    """Issue 24 item 2 over C-STORE: a CR of a hand gets no finding, probability or decision anywhere."""
    listener, log = start_node()
    key = _send_and_wait(listener, log, chest_dicom(BodyPartExamined="HAND"))
    answered = log.of(ev.ANSWERED)[0]
    assert answered.outcome.withheld and answered.outcome.probability is None
    assert answered.outcome.label == "WITHHELD" and "p=" not in answered.line()
    sr_path, sc_path = answered.answers
    for path in (sr_path, sc_path):
        assert dciodvfy_errors(path) == [], path.name
        raw = path.read_bytes()
        for word in (b"PNEUMONIA", b"NORMAL", b"Plain chest", b"Probability of pneumonia"):
            assert word not in raw, (path.name, word)
    sr = pydicom.dcmread(sr_path)
    meanings = {item.ConceptNameCodeSequence[0].CodeMeaning for item in sr.ContentSequence}
    assert "Procedure reported" in meanings
    found = []

    def walk(items):
        for item in items:
            found.append(item.ConceptNameCodeSequence[0].CodeMeaning)
            if "TextValue" in item:
                found.append(str(item.TextValue))
            walk(item.get("ContentSequence", []))

    walk(sr.ContentSequence)
    assert "Result withheld" in found and "Finding" not in found
    assert any("result withheld" in t and "HAND" in t for t in found)
    record = json.loads((tmp_path / "node" / "journal" / f"{key}.json").read_text())
    outcome = json.dumps(record)
    assert '"label": "WITHHELD"' in outcome and '"probability": null' in outcome
