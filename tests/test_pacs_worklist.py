"""The triage worklist model, the listener's event lines, and DICOM peer parsing (no servers)."""

from __future__ import annotations

import datetime

import pytest

from pneumonet_core.dicom_node import events as ev
from pneumonet_core.dicom_node.network import Peer
from pneumonet_core.dicom_node.worklist import DONE, FAILED, WAITING, Worklist

T0 = datetime.datetime(2024, 3, 15, 9, 0)


def _study(uid: str) -> ev.StudyInfo:
    return ev.StudyInfo(uid, patient_name=f"Child, {uid}", patient_id=f"ID-{uid}", study_date="2024-03-15",
                        accession_number=f"A{uid}")


def _received(worklist: Worklist, key: str, study: str, minute: int = 0) -> None:
    worklist.apply(ev.NodeEvent(ev.RECEIVED, key, _study(study), time=T0 + datetime.timedelta(minutes=minute)))


def _answered(worklist: Worklist, key: str, study: str, p: float, ood: bool = False):
    outcome = ev.Outcome(p, "PNEUMONIA" if p >= 0.5 else "NORMAL", 0.5, out_of_distribution=ood)
    return worklist.apply(ev.NodeEvent(ev.ANSWERED, key, _study(study), outcome))


def test_worklist_sorts_studies_by_probability_for_triage():
    worklist = Worklist()
    for n, (study, p) in enumerate([("s1", 0.20), ("s2", 0.95), ("s3", 0.55), ("s4", 0.01)]):
        _received(worklist, f"k{n}", study, minute=n)
        _answered(worklist, f"k{n}", study, p)
    rows = worklist.rows()
    assert [r.study_uid for r in rows] == ["s2", "s3", "s1", "s4"]
    assert [r.label for r in rows] == ["PNEUMONIA", "PNEUMONIA", "NORMAL", "NORMAL"]
    top = rows[0]
    assert (top.patient_name, top.patient_id, top.accession_number, top.status) == ("Child, s2", "ID-s2", "As2", DONE)
    assert top.received_at == T0 + datetime.timedelta(minutes=1)


def test_worklist_row_takes_the_highest_probability_of_its_images_and_any_ood_flag():
    worklist = Worklist()
    for key in ("pa", "lat"):
        _received(worklist, key, "study")
    row = _answered(worklist, "pa", "study", 0.30)
    assert row.status == WAITING and row.probability == pytest.approx(0.30)  # the lateral view is still waiting
    row = _answered(worklist, "lat", "study", 0.80, ood=True)
    # the withheld view's hidden 0.80 counts for nothing: the study is in the withheld group
    assert row.status == DONE and row.probability == pytest.approx(0.30)
    assert row.label == "WITHHELD" and row.out_of_distribution
    assert len(worklist) == 1 and len(row.images) == 2


def test_worklist_lists_waiting_then_failed_studies_after_those_with_results():
    worklist = Worklist()
    _received(worklist, "bad", "failed-study", minute=0)
    worklist.apply(ev.NodeEvent(ev.FAILED, "bad", _study("failed-study"), reason="no pixel data"))
    _received(worklist, "late", "waiting-late", minute=5)
    _received(worklist, "early", "waiting-early", minute=1)
    _received(worklist, "done", "normal-study", minute=2)
    _answered(worklist, "done", "normal-study", 0.01)
    rows = worklist.rows()
    assert [r.study_uid for r in rows] == ["normal-study", "waiting-early", "waiting-late", "failed-study"]
    assert [r.status for r in rows] == [DONE, WAITING, WAITING, FAILED]
    assert rows[-1].reasons == ["no pixel data"]


def test_worklist_ignores_rejected_and_duplicate_objects_and_keeps_forwarding_state():
    worklist = Worklist()
    assert worklist.apply(ev.NodeEvent(ev.REJECTED, None, reason="unreadable dataset")) is None
    _received(worklist, "k", "s")
    assert worklist.apply(ev.NodeEvent(ev.DUPLICATE, "k", _study("s"), reason="received again")) is None
    _answered(worklist, "k", "s", 0.7)
    row = worklist.apply(ev.NodeEvent(ev.FORWARDED, "k", _study("s")))
    assert len(worklist) == 1 and row.images[0].forwarded is True and row.status == DONE


def test_event_log_lines_never_name_the_patient():
    study = _study("1.2.3")
    outcome = ev.Outcome(0.9, "PNEUMONIA", 0.5, out_of_distribution=True)
    events = [ev.NodeEvent(ev.RECEIVED, "1.2.3.4", study, calling_ae="MODALITY"),
              ev.NodeEvent(ev.ANSWERED, "1.2.3.4", study, outcome),
              ev.NodeEvent(ev.FAILED, "1.2.3.4", study, reason="cannot decode"),
              ev.NodeEvent(ev.FORWARDED, "1.2.3.4", study)]
    lines = [e.line() for e in events]
    for line in lines:
        assert "1.2.3.4" in line and "1.2.3" in line
        assert "Child" not in line and "ID-" not in line and "A1.2.3" not in line
    assert lines[1].endswith("result withheld (out of distribution)")
    assert "PNEUMONIA" not in lines[1] and "p=" not in lines[1] and "0.9" not in lines[1]
    assert lines[2] == "failed 1.2.3.4 (study 1.2.3): cannot decode"


def test_withheld_studies_sort_as_their_own_group_after_pneumonia_before_normal_never_by_hidden_scores():
    worklist = Worklist()
    plan = [("normal-high", 0.45, False), ("withheld-late-high", 0.99, True), ("pneumonia", 0.60, False),
            ("withheld-early-low", 0.02, True), ("normal-low", 0.03, False), ("pneumonia-high", 0.97, False)]
    minutes = {"withheld-early-low": 0, "withheld-late-high": 9}
    for n, (study, p, ood) in enumerate(plan):
        _received(worklist, f"k{n}", study, minute=minutes.get(study, n + 1))
        _answered(worklist, f"k{n}", study, p, ood=ood)
    rows = worklist.rows()
    assert [r.study_uid for r in rows] == ["pneumonia-high", "pneumonia", "withheld-early-low",
                                           "withheld-late-high", "normal-high", "normal-low"]
    assert [r.label for r in rows] == ["PNEUMONIA", "PNEUMONIA", "WITHHELD", "WITHHELD", "NORMAL", "NORMAL"]
    assert rows[2].probability is None and rows[3].probability is None  # the 0.99 is nowhere


def test_a_journal_entry_written_before_withholding_reads_back_withheld():
    old = {"probability": 0.11, "label": "NORMAL", "threshold": 0.5, "out_of_distribution": True,
           "ood_score": 2.0, "ood_reason": "a hand"}
    outcome = ev.Outcome.from_dict(old)
    assert outcome.probability is None and outcome.label == "WITHHELD" and outcome.withheld
    assert ev.Outcome.from_dict(outcome.to_dict()) == outcome


@pytest.mark.parametrize("text, expected", [
    ("pacs.example.org:104:ORTHANC", Peer("pacs.example.org", 104, "ORTHANC")),
    ("[::1]:11112:MY AE", Peer("::1", 11112, "MY AE")),
])
def test_peer_parses_host_port_ae(text, expected):
    assert Peer.parse(text) == expected


@pytest.mark.parametrize("text", ["pacs:104", "pacs:port:AE", "pacs:0:AE", "pacs:104:", "pacs:104:" + "A" * 17,
                                  ":104:AE", "pacs:104:BAD\\AE"])
def test_peer_rejects_malformed_text(text):
    with pytest.raises(ValueError):
        Peer.parse(text)
