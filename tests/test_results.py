"""ScanResult is frozen (a result on screen or in a file is never changed under its reader) and keeps
its path as a Path and its source as a SourceInfo, which every output writes as it always has."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from pneumonet_core.imaging.scan import Scan, SourceInfo
from pneumonet_core.models.card import ModelCard
from pneumonet_core.results import WITHHELD_MESSAGE, ScanResult


def test_a_result_is_frozen_and_steps_make_new_ones():
    result = ScanResult(path="ward/x.png", probability=0.9, label="PNEUMONIA", threshold=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.label = "NORMAL"  # type: ignore[misc]
    shown = dataclasses.replace(result, display_path="ward/x.png")
    assert shown.display_path == "ward/x.png" and result.display_path is None
    assert pickle.loads(pickle.dumps(shown)) == shown  # the Ray engine sends results pickled


def test_one_withheld_test_and_one_sentence():
    flagged = ScanResult(path="x.png", probability=0.9, label="PNEUMONIA", threshold=0.5, out_of_distribution=True)
    assert flagged.withheld and not dataclasses.replace(flagged, out_of_distribution=False).withheld
    assert not ScanResult.failed("x.png", "broken").withheld
    assert "withheld" in WITHHELD_MESSAGE


# --- path and source keep their types; every output writes them as before ------------------------

#: A DICOM decoded whole; the rows below are what the CSV and JSON exports wrote for it before
#: ScanResult held a Path and a SourceInfo (written out literally: a change shows here).
SOURCE = SourceInfo("DICOM", 2048, 1536, "MONOCHROME1", inverted=True, bits_stored=12, modality="CR", colour_spread=0.0)
CSV_HEADER = ("path,file_sha256,probability,label,threshold,warnings,error,model_name,model_hash,format,width,height,"
              "out_of_distribution,ood_score,ood_reason,withheld_probability_not_for_use,subtype,viral_probability")
CSV_ROWS = (
    "/data/ward/chest 1.dcm," + "3" * 64 + ",0.876500,PNEUMONIA,0.420000,small image,,card-name," + "ab" * 32
    + ",DICOM,2048,1536,false,0.3100,,,VIRUS,0.810000",
    "/data/b.jpeg," + "2" * 64 + ",,,0.420000,,truncated,card-name," + "ab" * 32 + ",,,,,,,,,",
)
JSON_ROWS = (
    '{"path": "/data/ward/chest 1.dcm", "probability": 0.8765, "label": "PNEUMONIA", "threshold": 0.42, '
    '"warnings": ["small image"], "error": null, "source": {"format": "DICOM", "width": 2048, "height": 1536, '
    '"photometric": "MONOCHROME1", "inverted": true, "bits_stored": 12, "transfer_syntax": null, "frames": 1, '
    '"modality": "CR", "body_part": null, "colour_spread": 0.0}, "metadata": {}, "file_sha256": "' + "3" * 64 + '", '
    '"class_probabilities": null, "out_of_distribution": false, "ood_score": 0.31, "ood_reason": null, '
    '"withheld_probability_not_for_use": null, "subtype": "VIRUS", "viral_probability": 0.81}',
    '{"path": "/data/b.jpeg", "probability": null, "label": null, "threshold": 0.42, "warnings": [], '
    '"error": "truncated", "source": {}, "metadata": {}, "file_sha256": "' + "2" * 64 + '", '
    '"class_probabilities": null, "out_of_distribution": null, "ood_score": null, "ood_reason": null, '
    '"withheld_probability_not_for_use": null, "subtype": null, "viral_probability": null}',
)
CARD = ModelCard(name="card-name", version="2", threshold=0.42, hash="ab" * 32)


def typed_results() -> list[ScanResult]:
    return [ScanResult(path="/data/ward/chest 1.dcm", probability=0.8765, label="PNEUMONIA", threshold=0.42,
                       warnings=["small image"], source=SOURCE, file_sha256="3" * 64, out_of_distribution=False,
                       ood_score=0.31, subtype="VIRUS", viral_probability=0.81),
            ScanResult.failed("/data/b.jpeg", "truncated", None, "2" * 64, 0.42)]


def test_a_path_given_as_text_is_a_path_and_a_scan_gives_its_own_source():
    good, failed = typed_results()
    assert good.path == Path("/data/ward/chest 1.dcm") and isinstance(good.path, Path)
    assert isinstance(failed.path, Path) and failed.source is None
    assert isinstance(dataclasses.replace(good, path="elsewhere/x.dcm").path, Path)  # replace goes through it too
    scan = Scan(path=Path("/w/x.png"), pixels=np.zeros((4, 4), np.float32), source=SOURCE, warnings=("small image",))
    made = ScanResult.of_scan(scan)
    assert made.source is scan.source and made.path == scan.path and made.warnings == ["small image"]


def test_a_pickled_result_comes_back_equal_with_its_types():
    for result in typed_results():  # the Ray engine sends results pickled
        back = pickle.loads(pickle.dumps(result))
        assert back == result and type(back.path) is type(result.path)
    assert pickle.loads(pickle.dumps(SOURCE)).colour_spread == 0.0  # not part of equality, but kept


def test_exports_write_the_same_text_as_before(tmp_path):
    from pneumonet_core.reports.tables import csv_text, json_document, model_block, row_check

    lines = csv_text(typed_results(), CARD, deidentify=False).splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines] == [CSV_HEADER, *CSV_ROWS]  # the last cell is a keyed digest
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert all(row["row_check"] == row_check(row) for row in rows)
    document = json_document(typed_results(), model_block(CARD), deidentify=False)
    assert tuple(json.dumps(row) for row in document["results"]) == JSON_ROWS


def test_a_csv_read_back_gives_a_partial_source_written_back_as_read(tmp_path):
    from pneumonet_core.reports.tables import csv_text, json_document, model_block, read_csv, write_csv

    back = [result for result, _ in read_csv(write_csv(typed_results(), tmp_path / "r.csv", CARD, deidentify=False))]
    good, failed = back
    assert isinstance(good.path, Path) and isinstance(good.source, SourceInfo) and failed.source is None
    assert (good.source.format, good.source.width, good.source.height) == ("DICOM", 2048, 1536)
    # What the CSV did not keep is not known, not a decoder's default (this DICOM was MONOCHROME1, inverted).
    assert (good.source.photometric, good.source.inverted, good.source.frames) == (None, None, None)
    assert good.source.partial and not SOURCE.partial
    assert [line.rsplit(",", 1)[0] for line in csv_text(back, CARD, deidentify=False).splitlines()][1:] == list(CSV_ROWS)
    resumed = json.loads(json.dumps(json_document(back, model_block(CARD), deidentify=False)["results"][0]))
    assert resumed["source"] == {"format": "DICOM", "width": 2048, "height": 1536}  # as a resumed run wrote it


def test_source_from_dict_round_trips_whole_and_refuses_one_without_a_size():
    whole = SourceInfo.from_dict(SOURCE.to_dict())
    assert whole == SOURCE and not whole.partial and whole.to_dict() == SOURCE.to_dict()
    assert SourceInfo.from_dict({"format": "PNG", "width": "90", "height": 60}).width == 90  # as a CSV cell
    with pytest.raises(ValueError, match="height"):
        SourceInfo.from_dict({"format": "PNG", "width": 90})


def test_the_guard_reads_the_source_it_is_given():
    from pneumonet_core.ood.image_stats import describe, source_ratios

    wide = SourceInfo("PNG", 400, 100, "RGB", colour_spread=0.2)
    ratios = source_ratios(wide, colour_limit=0.1, aspect_limit=2.0)
    assert ratios["colour"] == pytest.approx(2.0) and ratios["aspect_ratio"] == pytest.approx(2.0)
    assert source_ratios(None) == {"colour": 0.0}  # not known: no evidence either way
    assert describe("aspect_ratio", {}, wide) == "an aspect ratio of 400 x 100 px that no chest film has"
