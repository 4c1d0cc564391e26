"""``pneumonet scan-info``: one line (or one JSON result) per file, exit 3 when any failed."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from pneumonet_cli.main import main
from pneumonet_cli.scan_info_cmd import run_scan_info
from pneumonet_core.imaging import METADATA_KEYS


@pytest.fixture
def inputs(some_training_jpeg, make_dicom_from_image, tmp_path):
    """A training JPEG, a MONOCHROME1 lateral DICOM made from it, and a text file named .dcm."""
    from PIL import Image

    gray = np.asarray(Image.open(some_training_jpeg).convert("L"))
    dicom = make_dicom_from_image(255 - gray, tmp_path, photometric="MONOCHROME1", ViewPosition="LL", name="lat.dcm")
    text = tmp_path / "notes.dcm"
    text.write_text("not an image\n")
    return {"jpeg": some_training_jpeg, "dicom": dicom, "text": text}


def run(paths, as_json=False, recursive=False) -> tuple[int, str]:
    out = io.StringIO()
    code = run_scan_info(paths, as_json, recursive, out=out)  # Path objects as well as str
    return code, out.getvalue()


def test_one_line_per_file_and_exit_3_when_one_failed(inputs):
    code, text = run([inputs["jpeg"], inputs["dicom"], inputs["text"]])

    assert code == 3
    assert text.splitlines() == [
        f"{inputs['jpeg']}: JPEG 224x224 RGB, modality -, body part -, no warnings",
        f"{inputs['dicom']}: DICOM 224x224 MONOCHROME1 (inverted), modality CR, body part CHEST, warnings: "
        "MONOCHROME1 image inverted for display; "
        "Lateral view (LL): the model was trained on frontal (AP) chest X-rays",
        f"{inputs['text']}: ERROR: not a PNG, JPEG or DICOM file (named like DICOM, but has no DICOM header)",
    ]


def test_exit_0_when_all_files_load(inputs):
    code, text = run([inputs["jpeg"], inputs["dicom"]])

    assert code == 0
    assert len(text.splitlines()) == 2 and "ERROR" not in text


def test_json_document(inputs):
    code, text = run([inputs["jpeg"], inputs["dicom"], inputs["text"]], as_json=True)

    assert code == 3
    jpeg, dicom, failed = json.loads(text)["results"]
    assert jpeg == {
        "path": str(inputs["jpeg"]),
        "format": "JPEG",
        "width": 224,
        "height": 224,
        "photometric": "RGB",
        "inverted": False,
        "warnings": [],
        "metadata": {key: None for key in METADATA_KEYS},
        "error": None,
    }
    assert dicom["inverted"] is True and dicom["photometric"] == "MONOCHROME1"
    assert dicom["metadata"]["view_position"] == "LL"
    assert list(dicom["metadata"]) == list(METADATA_KEYS)
    assert dicom["warnings"][0] == "MONOCHROME1 image inverted for display"
    assert failed["error"] == "not a PNG, JPEG or DICOM file (named like DICOM, but has no DICOM header)"
    assert failed["format"] is None and failed["warnings"] == [] and failed["metadata"] == {}


def test_folders_expand_and_recursive_reaches_subfolders(some_training_jpeg, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "top.jpeg").write_bytes(some_training_jpeg.read_bytes())
    (tmp_path / "sub" / "inner.jpeg").write_bytes(some_training_jpeg.read_bytes())

    flat_code, flat = run([tmp_path])
    deep_code, deep = run([tmp_path], recursive=True)

    assert flat_code == deep_code == 0
    assert [line.split(": ")[0] for line in flat.splitlines()] == [str(tmp_path / "top.jpeg")]
    assert [line.split(": ")[0] for line in deep.splitlines()] == [
        str(tmp_path / "sub" / "inner.jpeg"),
        str(tmp_path / "top.jpeg"),
    ]


def test_empty_folder_and_missing_path_are_failures(tmp_path):
    (tmp_path / "empty").mkdir()

    code, text = run([tmp_path / "empty", tmp_path / "missing.png"])

    assert code == 3
    assert text.splitlines() == [
        f"{tmp_path / 'empty'}: ERROR: no PNG, JPEG or DICOM files in this folder (--recursive looks in subfolders)",
        f"{tmp_path / 'missing.png'}: ERROR: no such file",
    ]


def test_through_the_pneumonet_main_parser(inputs, capsys):
    code = main(["scan-info", "--json", str(inputs["jpeg"]), str(inputs["text"])])

    assert code == 3
    results = json.loads(capsys.readouterr().out)["results"]
    assert [result["error"] is None for result in results] == [True, False]


def test_main_text_output_matches_the_helper(inputs, capsys):
    code = main(["scan-info", str(inputs["jpeg"]), str(inputs["dicom"])])

    assert code == 0
    assert capsys.readouterr().out == run([inputs["jpeg"], inputs["dicom"]])[1]


def test_main_without_paths_is_a_usage_error(capsys):
    assert main(["scan-info"]) == 2


def test_the_command_module_does_not_load_tensorflow():
    probe = "import sys, pneumonet_cli.scan_info_cmd; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_files_are_reported_under_the_name_given_and_once(some_training_jpeg, tmp_path, monkeypatch):
    (tmp_path / "x.jpeg").write_bytes(some_training_jpeg.read_bytes())
    monkeypatch.chdir(tmp_path)

    code, text = run(["./x.jpeg", "x.jpeg", tmp_path])

    assert code == 0
    assert [line.split(": ")[0] for line in text.splitlines()] == ["./x.jpeg"]
