"""ScanResult is frozen: a result on screen or in a file is never changed under its reader."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

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
