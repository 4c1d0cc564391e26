"""Hostile scans never crash a batch or change an answer unnoticed (issue 12): a decoder that
panics, NaN rescale values, FIFOs and devices, symlink loops, huge images and the memory
of a batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pneumonet_cli.main import main
from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import load_scan
from tests.dicom_factory import make_dicom_from_image
from tests.helpers import SHARED_TRAIN, make_tiny_model

ROOT = Path(__file__).resolve().parents[1]
JPEG = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.pneumonet")


def classify_json(capsys, *args) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["classify", *map(str, args), "--json"])
    return code, json.loads(capsys.readouterr().out)


def make_panicking_rle(tmp_path: Path) -> Path:
    """An RLE Lossless DICOM whose segment holds runs longer than the image: pylibjpeg-rle's
    Rust decoder panics (pyo3 PanicException, a BaseException) on it."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import RLELossless

    path = make_dicom_from_image(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64), tmp_path,
                                 transfer_syntax=RLELossless, name="panic_rle.dcm")
    ds = pydicom.dcmread(path)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    header, body = frame[:64], frame[64:]
    ds.PixelData = encapsulate([header + bytes([0x81, 0x00] * (len(body) // 2))])  # runs of 128 copies
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_panicking_rle_decoder_fails_that_file_only(tmp_path, tiny, capsys):
    path = make_panicking_rle(tmp_path)
    from pydicom.pixels import pixel_array

    with pytest.raises(BaseException) as raw:  # what pydicom alone does with it
        pixel_array(str(path))
    assert not isinstance(raw.value, Exception)
    with pytest.raises(ScanError) as info:
        load_scan(path)
    assert "PanicException" in str(info.value) and "\n" not in str(info.value)
    code, doc = classify_json(capsys, path, JPEG, "--model", tiny)
    assert code == 3
    bad, good = doc["results"]
    assert bad["error"] and bad["probability"] is None and good["error"] is None and good["label"]


def test_any_base_exception_from_a_decoder_is_that_files_error(tmp_path, tiny, capsys, monkeypatch):
    class DecoderAbort(BaseException):
        pass

    import pneumonet_core.imaging.dicom as dicom

    def abort(*args, **kwargs):
        raise DecoderAbort("native decoder gave up")

    monkeypatch.setattr(dicom, "pixel_array", abort)
    path = make_dicom_from_image(np.zeros((64, 64), np.uint16), tmp_path, name="abort.dcm")
    code, doc = classify_json(capsys, path, JPEG, "--model", tiny)
    assert code == 3
    assert "DecoderAbort" in doc["results"][0]["error"] and doc["results"][1]["label"]


def _with_header(path: Path, **values) -> Path:
    import pydicom
    from pydicom import config

    ds = pydicom.dcmread(path)
    old = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        for keyword, value in values.items():
            ds.add_new(keyword, "DS", value)
        ds.save_as(path, enforce_file_format=True)
    finally:
        config.settings.writing_validation_mode = old
    return path


@pytest.mark.parametrize("header", [
    {"RescaleSlope": "NaN", "RescaleIntercept": "0"},
    {"RescaleSlope": "1", "RescaleIntercept": "inf"},
    {"RescaleSlope": "-Infinity", "RescaleIntercept": "0"},
    {"RescaleSlope": "1e308", "RescaleIntercept": "1e308"},  # finite, but overflows on the pixels
])
# pydicom's warnings about the test's own malformed values, expected: they must not leak into the run.
@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")
def test_non_finite_rescale_is_refused_not_classified(tmp_path, tiny, capsys, header):
    path = _with_header(make_dicom_from_image(np.full((64, 64), 3000, np.uint16), tmp_path, name="nan.dcm"), **header)
    with pytest.raises(ScanError, match="non-finite pixel values"):
        load_scan(path)
    code, doc = classify_json(capsys, path, "--model", tiny)
    assert code == 3 and doc["results"][0]["probability"] is None
    assert "non-finite pixel values" in doc["results"][0]["error"]


def test_a_non_finite_model_output_is_an_error_not_an_answer(tiny, capsys, monkeypatch):
    from pneumonet_core.inference.classifier import Classifier

    monkeypatch.setattr(Classifier, "predict_inputs", lambda self, x: np.full((len(x), 1), np.nan, np.float32))
    code, doc = classify_json(capsys, JPEG, "--model", tiny)
    assert code == 3 and doc["results"][0]["probability"] is None and "non-finite" in doc["results"][0]["error"]


@pytest.mark.timeout(120)
def test_fifos_and_devices_are_reported_at_once_never_opened(tmp_path, tiny, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")  # opening it would wait for a writer forever
    os.mkfifo(folder / "1.2.840.99")  # named like a DICOM UID: sniffing it would block too
    (folder / "good.jpeg").write_bytes(JPEG.read_bytes())
    code, doc = classify_json(capsys, folder, "/dev/zero", "--model", tiny, "--recursive", "--include-identifiers")
    assert code == 3
    by_name = {Path(r["path"]).name: r for r in doc["results"]}
    assert by_name["pipe.png"]["error"] == "a FIFO (named pipe): not a regular file"
    assert by_name["zero"]["error"] == "a character device: not a regular file"
    assert by_name["good.jpeg"]["label"] and "1.2.840.99" not in by_name


@pytest.mark.timeout(120)
def test_symlink_loops_under_recursive_end(tmp_path, tiny, capsys):
    root = tmp_path / "scans"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.jpeg").write_bytes(JPEG.read_bytes())
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)  # sub/back -> scans: a loop
    (root / "self").symlink_to(root / "self")  # a link to itself
    (root / "loop.dcm").symlink_to(root / "loop.dcm")
    code, doc = classify_json(capsys, root, "--model", tiny, "--recursive", "--include-identifiers")
    names = sorted(Path(r["path"]).name for r in doc["results"])
    assert names == ["a.jpeg", "loop.dcm"] and code == 3
    assert [r["error"] for r in doc["results"] if r["error"]] == ["symbolic link loop"]


def test_large_images_are_analysed_at_a_reduced_size(tmp_path):
    from PIL import Image

    from pneumonet_core.imaging.limits import MAX_DECODED_PIXELS

    gradient = np.tile(np.linspace(0, 255, 9000, dtype=np.float32).astype(np.uint8), (7000, 1))
    Image.fromarray(gradient).save(tmp_path / "big.png")
    Image.fromarray(gradient).save(tmp_path / "big.jpg", quality=80)
    dcm = make_dicom_from_image(gradient.astype(np.uint16) * 16, tmp_path, name="big.dcm")
    for path in (tmp_path / "big.png", tmp_path / "big.jpg", dcm):
        scan = load_scan(path)
        assert scan.pixels.size <= MAX_DECODED_PIXELS, path
        assert (scan.source.width, scan.source.height) == (9000, 7000)
        assert any("analysed at reduced size" in w for w in scan.warnings)
        row = scan.pixels[scan.shape[0] // 2]
        assert row[0] < 0.02 and row[-1] > 0.98 and np.all(np.diff(row) >= -0.02)  # still the same gradient


def test_native_dicom_read_row_by_row_equals_pydicom(tmp_path):
    """The direct reader (used for large uncompressed files) gives pydicom's values, unused bits included."""
    import pydicom

    from pneumonet_core.imaging.native import native_offset, read_native_frame

    rng = np.random.default_rng(0)
    for dtype, bits in ((np.uint16, 12), (np.int16, 12), (np.uint8, 8)):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, (301, 257), endpoint=True).astype(dtype)
        path = make_dicom_from_image(array, tmp_path, bits_stored=bits)
        ds = pydicom.dcmread(path, defer_size="1 KB")
        syntax = ds.file_meta.TransferSyntaxUID
        offset = native_offset(ds, syntax)
        assert offset is not None
        expected = pydicom.dcmread(path).pixel_array
        np.testing.assert_array_equal(read_native_frame(path, ds, syntax, offset, 1), expected)
        np.testing.assert_array_equal(read_native_frame(path, ds, syntax, offset, 3), expected[::3, ::3])


#: Runs the CLI and prints its peak resident memory. getrusage's ru_maxrss of a child started
#: from pytest also counts the RSS pytest had when it forked (Linux keeps the old mm's high
#: water mark across exec), so the exec'ed process's own high water mark, VmHWM, is used.
MEASURE = textwrap.dedent("""
    import re, sys
    from pneumonet_cli.main import main
    code = main(sys.argv[1:])
    status = open("/proc/self/status").read()
    print("PEAK_MB", int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024, file=sys.stderr)
    sys.exit(code)
""")


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it
@pytest.mark.early
@pytest.mark.slow
def test_batch_peak_memory_stays_under_1_5_gb_with_100_megapixel_inputs(tmp_path):
    """Before: a 3.8 GB peak for one 100-megapixel DICOM. Now, with the bundled ResNet152V2 and
    four decoding threads: large files decoded at reduced size within the shared budget, and
    the one whose codec would need too much at once (a 100-megapixel RGB PNG) refused."""
    from PIL import Image

    big = np.zeros((10000, 10000), np.uint16)
    big[::7] = 4000
    files = [make_dicom_from_image(big, tmp_path, name=f"big{i}.dcm") for i in range(2)]
    del big
    plane = np.zeros((10000, 10000), np.uint8)
    plane[:, ::5] = 200
    Image.fromarray(plane).save(tmp_path / "big.png", compress_level=1)
    Image.fromarray(plane).convert("RGB").save(tmp_path / "big.jpeg", quality=50)
    Image.fromarray(plane).convert("RGB").save(tmp_path / "rgb.png", compress_level=1)
    del plane
    # and enough ordinary films for full forward passes of the model
    films = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))[:12]
    files += [tmp_path / "big.png", tmp_path / "big.jpeg", tmp_path / "rgb.png", JPEG, *films]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PNEUMONET_MODEL", None)
    run = subprocess.run([sys.executable, "-c", MEASURE, "classify", *map(str, files), "--workers", "4", "--json",
                          "--include-identifiers"],
                         capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 3, run.stderr[-2000:]
    peak = float(run.stderr.split("PEAK_MB")[1].split()[0])
    results = {Path(r["path"]).name: r for r in json.loads(run.stdout)["results"]}
    assert "memory limit" in results.pop("rgb.png")["error"]
    assert all(r["label"] for r in results.values()) and len(results) == 5 + len(films)
    assert peak * 2**20 < 1.5e9, f"peak RSS {peak:.0f} MiB " + run.stderr[-3000:]  # 1.5 GB, decimal: 1430 MiB
