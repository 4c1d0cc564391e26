"""Hostile inputs without a model (issue 24, items 3, 5, 6 and 8): a deflate bomb, file names
with undecodable bytes and newlines, identifiers in every form for scan-info, links out of
the input folder, unreadable sub-folders, stale temporary files and library noise on stderr.
Every hostile file is made here."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

from pneumonet_cli.scan_info_cmd import run_scan_info
from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import find_scans, load_scan
from tests.test_hardening_inputs import make_panicking_rle

ROOT = Path(__file__).resolve().parents[1]
CR = "1.2.840.10008.5.1.4.1.1.1"


def deflate_bomb(path: Path, inflated_gb: float = 2.0) -> Path:
    """A deflated DICOM of about 2 MB whose data set inflates to ``inflated_gb`` GB (a private
    element of zeros before a 64 x 64 image), written in chunks so the test never holds it."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CR, generate_uid(), "CR"
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    size = int(inflated_gb * (1 << 30)) & ~1
    tail = Dataset()
    tail.Rows = tail.Columns = 64
    tail.SamplesPerPixel, tail.PhotometricInterpretation = 1, "MONOCHROME2"
    tail.BitsAllocated, tail.BitsStored, tail.HighBit, tail.PixelRepresentation = 8, 8, 7, 0
    tail.PixelData = bytes(64 * 64)
    after = DicomBytesIO()
    after.is_little_endian, after.is_implicit_VR = True, False
    write_dataset(after, tail)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CR, ds.SOPInstanceUID
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(head, meta)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    with open(path, "wb") as fh:
        fh.write(head.getvalue())
        fh.write(packer.compress(body.getvalue() + b"\x09\x00\x10\x10OB\0\0" + size.to_bytes(4, "little")))
        zeros = bytes(16 << 20)
        for _ in range(size // len(zeros)):
            fh.write(packer.compress(zeros))
        fh.write(packer.compress(bytes(size % len(zeros)) + after.getvalue()))
        fh.write(packer.flush())
    return path


def test_a_deflate_bomb_is_refused_and_the_peak_stays_small(tmp_path):
    bomb = deflate_bomb(tmp_path / "bomb.dcm")
    assert bomb.stat().st_size < 4 << 20
    with pytest.raises(ScanError, match="decompression bomb"):
        load_scan(bomb)
    # VmHWM, this process's own peak (ru_maxrss would carry the forking test process's over exec).
    probe = ("import re; from pneumonet_cli.main import main; "
             f"code = main(['scan-info', {str(bomb)!r}]); "
             "print(code, int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)) // 1024)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    code, peak_mb = map(int, done.stdout.split()[-2:])
    assert code == 3 and peak_mb < 600, done.stdout  # before: the whole 2 GB and more, inflated
    assert done.stderr == ""


def test_a_deflated_dicom_within_its_plan_still_reads(make_dicom_from_image, some_training_jpeg, tmp_path):
    path = make_dicom_from_image(some_training_jpeg, tmp_path, transfer_syntax=DeflatedExplicitVRLittleEndian)
    assert load_scan(path).pixels.shape == (224, 224)


def odd_names(folder: Path, jpeg: Path) -> list[Path]:
    """A JPEG under a name with undecodable bytes, and one with a newline that imitates a result line."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [b"\xff\xfe-scan.jpeg", b"ok.jpeg\nforged.jpeg: JPEG 1x1 RGB, modality -, body part -, no warnings.jpeg"]
    paths = []
    for raw in names:
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), raw)))
        path.write_bytes(jpeg.read_bytes())
        paths.append(path)
    return paths


def test_odd_file_names_pass_scan_info_as_one_line_each(tmp_path, some_training_jpeg, capsys):
    from pneumonet_cli.main import main

    odd_names(tmp_path / "in", some_training_jpeg)
    assert main(["scan-info", str(tmp_path / "in")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "\\xff\\xfe-scan.jpeg" in "".join(lines) and "\\nforged" in "".join(lines)
    assert main(["scan-info", "--json", "--include-identifiers", str(tmp_path / "in")]) == 0
    paths = [r["path"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert len(paths) == 2 and all("\n" not in p and p.isprintable() for p in paths)


def identified_dicom(make_dicom_from_image, jpeg: Path, tmp_path: Path, age: str = "095") -> Path:
    return make_dicom_from_image(jpeg, tmp_path, PatientName="Müller^Jürgen", PatientID="MRN-00123987",
                                 PatientBirthDate="19310403", PatientAddress="12 Elm Street, Springfield",
                                 PatientTelephoneNumbers="555-0199", PatientAge=age, name="Muller_Jurgen.dcm")


@pytest.mark.filterwarnings("ignore:Invalid value for VR AS")  # the test's own malformed age
def test_scan_info_json_is_de_identified_by_default(make_dicom_from_image, some_training_jpeg, tmp_path, capsys):
    from pneumonet_cli.main import main

    path = identified_dicom(make_dicom_from_image, some_training_jpeg, tmp_path)
    assert main(["scan-info", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    for leak in ("Müller", "Muller", "123987", "1931", "Elm Street", "555-0199", "095"):
        assert leak not in text, leak
    result = json.loads(text)["results"][0]
    assert result["path"].startswith("anon-") and result["metadata"]["patient_age"] == "90+"
    assert main(["scan-info", "--json", "--include-identifiers", str(path)]) == 0
    named = json.loads(capsys.readouterr().out)["results"][0]
    assert named["metadata"]["patient_name"] == "Müller, Jürgen" and named["path"] == str(path)


@pytest.mark.parametrize("age, shown", [("095", "90+"), ("95 YEARS", "90+"), ("1200M", "90+"), ("095Y", "90+"),
                                        ("089Y", "089Y"), ("4 y", "4 y"), ("5000D", "5000D"), ("33000D", "90+"),
                                        ("ninety", None), ("about 97", "90+")])
def test_ages_over_89_in_any_notation(age, shown):
    from pneumonet_core.reports.deidentify import generalise_age

    assert generalise_age(age) == shown


def test_recursive_never_leaves_the_input_folder(tmp_path, some_training_jpeg):
    inside, outside = tmp_path / "in", tmp_path / "elsewhere"
    (inside / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "system.jpeg").write_bytes(some_training_jpeg.read_bytes())
    (inside / "sub" / "a.jpeg").write_bytes(some_training_jpeg.read_bytes())
    (inside / "escape").symlink_to(outside, target_is_directory=True)
    (inside / "again").symlink_to(inside / "sub", target_is_directory=True)  # inside: followed (once)
    problems = []
    found = find_scans([inside], recursive=True, problems=problems)
    assert [p.name for p in found] == ["a.jpeg"]
    assert problems == [(str(inside / "escape"), f"link to a folder outside {inside} not followed")]


def test_an_unreadable_sub_folder_is_reported(tmp_path, some_training_jpeg, monkeypatch, capsys):
    (tmp_path / "in" / "locked").mkdir(parents=True)
    (tmp_path / "in" / "a.jpeg").write_bytes(some_training_jpeg.read_bytes())
    scandir = os.scandir

    def refusing(path="."):  # root reads every folder: refuse this one as a file system would
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    out = io.StringIO()
    assert run_scan_info([str(tmp_path / "in")], recursive=True, out=out) == 3
    assert f"{tmp_path / 'in' / 'locked'}: ERROR: folder skipped: permission denied".lower() in out.getvalue().lower()


def test_stale_hidden_partial_files_are_removed(tmp_path):
    from pneumonet_core.atomic import remove_stale_partials, write_text_atomic

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".r.csv.{dead.pid}.abcd1234.partial"
    live = tmp_path / f".r.csv.{os.getpid()}.efgh5678.partial"
    old = tmp_path / ".r.csv.ijkl9012.partial"  # from before PIDs were in the name
    for path in (stale, live, old):
        path.write_text("half a row")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    remove_stale_partials(tmp_path, force=True)
    assert not stale.exists() and not old.exists() and live.exists()
    live.unlink()
    write_text_atomic(tmp_path / "r.csv", "a,b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


# The test's own hostile header: pydicom warns (into the test's report) while the command line keeps stderr clean.
@pytest.mark.filterwarnings("ignore:The PN component length")
@pytest.mark.filterwarnings("ignore:Unknown encoding")
def test_decoder_panics_and_library_warnings_stay_off_stderr(tmp_path, make_dicom_from_image, some_training_jpeg):
    panic = make_panicking_rle(tmp_path)
    odd = make_dicom_from_image(some_training_jpeg, tmp_path, SpecificCharacterSet="ISO_IR 999",
                                PatientName="x" * 90, name="odd_charset.dcm")
    done = subprocess.run([sys.executable, "-m", "pneumonet_cli.main", "scan-info", str(panic), str(odd)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "RUST_BACKTRACE": "1"})
    assert done.returncode == 3
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and "PanicException" in lines[0]
    assert done.stderr == ""  # no panic report, no backtrace, no pydicom or numpy warnings
