"""Bad input: always a ScanError naming the file and the reason on one line.

Never another exception type, a traceback, a hang or a memory blow-up: sizes are checked
before decoding, truncated images are refused, not padded.
"""

from __future__ import annotations

import os
import struct
import time
import zlib

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import MPEG4HP41, JPEG2000Lossless

from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import MAX_PIXELS, load_scan


def scan_error(path) -> str:
    """Load ``path`` expecting a ScanError; return its one-line message."""
    with pytest.raises(ScanError) as caught:
        load_scan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and "Traceback" not in message
    assert caught.value.path == str(path)
    return message


def bundled(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path, f"pydicom test file {name} is not installed"
    return path


# --- not a file, or not a scan -----------------------------------------------------------


def test_missing_path(tmp_path):
    assert scan_error(tmp_path / "nowhere.png").endswith(": no such file")


def test_directory(tmp_path):
    assert scan_error(tmp_path).endswith(": is a folder, not a scan file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dcm"
    path.touch()
    assert scan_error(path).endswith(": empty file (0 bytes)")


def test_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.png"
    os.mkfifo(path)  # opening it for reading would wait for a writer forever
    assert scan_error(path).endswith(": not a regular file")


def test_text_file_named_dcm(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("Patient was seen on Monday.\nChest X-ray to follow.\n" * 20)
    message = scan_error(path)
    assert "not a PNG, JPEG or DICOM file" in message
    assert "has no DICOM header" in message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("image.png", b"GIF89a" + bytes(200)),
        ("scan.jpg", b"%PDF-1.7\n" + bytes(300)),
        ("archive.dcm", b"PK\x03\x04" + bytes(300)),
        ("tiny.png", b"\x89P"),
    ],
)
def test_unknown_formats(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert "not a PNG, JPEG or DICOM file" in scan_error(path)


# --- truncated and corrupt images --------------------------------------------------------


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_training_jpeg(some_training_jpeg, tmp_path, keep):
    data = some_training_jpeg.read_bytes()
    path = tmp_path / "cut.jpeg"
    path.write_bytes(data[: int(len(data) * keep)])
    assert "truncated" in scan_error(path)


def test_jpeg_cut_inside_its_header(some_training_jpeg, tmp_path):
    path = tmp_path / "header_cut.jpeg"
    path.write_bytes(some_training_jpeg.read_bytes()[:200])
    assert "JPEG" in scan_error(path)


def test_truncated_png(some_training_jpeg, tmp_path):
    full = tmp_path / "full.png"
    Image.open(some_training_jpeg).convert("L").save(full, "PNG")
    data = full.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in scan_error(path)


def test_truncated_made_dicom(some_training_jpeg, make_dicom_from_image, tmp_path):
    full = make_dicom_from_image(some_training_jpeg, tmp_path)
    data = full.read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) - 5000])
    message = scan_error(path)
    assert "cannot decode Explicit VR Little Endian pixel data" in message
    assert "less than expected" in message


@pytest.mark.parametrize("keep", [300, 400, 600])
def test_dicom_cut_inside_its_header(some_training_jpeg, make_dicom_from_image, tmp_path, keep):
    full = make_dicom_from_image(some_training_jpeg, tmp_path)
    path = tmp_path / "header_cut.dcm"
    path.write_bytes(full.read_bytes()[:keep])
    assert scan_error(path).endswith(": the file may be cut short")


def test_bundled_truncated_dicom():
    assert "less than expected" in scan_error(bundled("MR_truncated.dcm"))


def test_corrupt_jpeg2000_codestream(some_training_jpeg, make_dicom_from_image, tmp_path):
    good = make_dicom_from_image(some_training_jpeg, tmp_path, transfer_syntax=JPEG2000Lossless)
    ds = pydicom.dcmread(good)
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(256)) * 8])  # SOC, SIZ, then noise
    path = tmp_path / "corrupt_j2k.dcm"
    ds.save_as(path)
    assert "cannot decode JPEG 2000 Image Compression (Lossless Only) pixel data" in scan_error(path)


def test_bundled_undecodable_jpeg_extended():
    assert "cannot decode JPEG Extended" in scan_error(bundled("JPEG-lossy.dcm"))


@pytest.mark.parametrize(
    "magic", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", bytes(128) + b"DICM"], ids=["png", "jpeg", "dicom"]
)
def test_random_bytes_behind_a_valid_magic(tmp_path, magic):
    rng = np.random.default_rng(11)
    path = tmp_path / "noise.bin"
    path.write_bytes(magic + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    scan_error(path)


# --- DICOM without an image --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sop_class"),
    [
        ("reportsi.dcm", "Basic Text SR Storage"),
        ("test-SR.dcm", "Comprehensive SR Storage"),
        ("waveform_ecg.dcm", "12-lead ECG Waveform Storage"),
        ("rtplan.dcm", "RT Plan Storage"),
    ],
)
def test_dicom_without_pixel_data(name, sop_class):
    assert scan_error(bundled(name)).endswith(f": no pixel data (SOP class: {sop_class})")


def test_headerless_dicom_without_pixel_data():
    assert scan_error(bundled("ExplVR_LitEndNoMeta.dcm")).endswith(": no pixel data (SOP class: RT Ion Plan Storage)")


# --- transfer syntaxes that cannot be decoded here ----------------------------------------


def test_unsupported_transfer_syntax(some_training_jpeg, make_dicom_from_image, tmp_path):
    ds = pydicom.dcmread(make_dicom_from_image(some_training_jpeg, tmp_path))
    ds.file_meta.TransferSyntaxUID = MPEG4HP41
    ds.PixelData = encapsulate([b"\x00\x00\x00\x01" + bytes(64)])
    path = tmp_path / "video.dcm"
    ds.save_as(path)
    assert scan_error(path).endswith(
        ": transfer syntax MPEG-4 AVC/H.264 High Profile / Level 4.1 is not supported"
    )


def test_missing_decoder_plugin_is_named(some_training_jpeg, make_dicom_from_image, tmp_path, monkeypatch):
    path = make_dicom_from_image(some_training_jpeg, tmp_path, transfer_syntax=JPEG2000Lossless)
    decoder = get_decoder(JPEG2000Lossless)
    # As if neither pylibjpeg-openjpeg nor Pillow's OpenJPEG were installed.
    monkeypatch.setattr(decoder, "_available", {})
    monkeypatch.setattr(decoder, "_unavailable", {"pylibjpeg": ("pylibjpeg-openjpeg",), "pillow": ("Pillow",)})

    message = scan_error(path)

    assert message.endswith(
        ": JPEG 2000 Image Compression (Lossless Only) needs pylibjpeg-openjpeg or Pillow with OpenJPEG, "
        "which is not installed"
    )


# --- decompression bombs -------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A real 1-bit PNG of width x height black pixels: tiny on disk, huge decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row * 1000) for _ in range(height // 1000))
    idat += compressor.compress(row * (height % 1000)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_png_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(30_000, 30_000))
    assert path.stat().st_size < 2_000_000

    started = time.perf_counter()
    message = scan_error(path)

    assert "too large to decode safely" in message and "900,000,000 pixels" in message
    assert f"{MAX_PIXELS:,}-pixel limit" in message
    assert time.perf_counter() - started < 2.0


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_png_over_our_limit_but_under_pillows_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_declaring(12_000, 10_000))  # 120 MP: Pillow alone would decode it

    message = scan_error(path)

    assert "declares 12000 x 10000 = 120,000,000 pixels" in message
    assert f"{MAX_PIXELS:,}-pixel limit (possible decompression bomb)" in message


def resized_header(path, tmp_path, rows: int, columns: int, frames: int | None = None):
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = rows, columns
    if frames:
        ds.NumberOfFrames = frames
    out = tmp_path / f"declares_{columns}x{rows}x{frames or 1}.dcm"
    ds.save_as(out)
    return out


def test_dicom_bomb_is_refused_before_decoding(make_dicom_from_image, tmp_path):
    small = make_dicom_from_image(np.zeros((64, 64), np.uint8), tmp_path, transfer_syntax=JPEG2000Lossless)
    path = resized_header(small, tmp_path, 30_000, 30_000)

    message = scan_error(path)

    assert "declares 30000 x 30000 pixels = 900,000,000 pixels" in message
    assert "possible decompression bomb" in message


def test_dicom_frames_count_toward_the_limit(make_dicom_from_image, tmp_path):
    small = make_dicom_from_image(np.zeros((64, 64), np.uint8), tmp_path)
    path = resized_header(small, tmp_path, 4_000, 4_000, frames=10)  # 10 x 16 MP

    assert "declares 4000 x 4000 pixels x 10 frames = 160,000,000 pixels" in scan_error(path)


# --- header values that make no sense ------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")
def test_invalid_number_of_frames():
    assert scan_error(bundled("badVR.dcm")).endswith(": invalid NumberOfFrames '1A' in the DICOM header")


def test_pixel_data_without_rows(make_dicom_from_image, tmp_path):
    ds = pydicom.dcmread(make_dicom_from_image(np.zeros((64, 64), np.uint8), tmp_path))
    del ds.Rows
    path = tmp_path / "no_rows.dcm"
    ds.save_as(path)
    assert scan_error(path).endswith(": the DICOM header has pixel data but no Rows")


def test_unsupported_photometric(make_dicom_from_image, tmp_path):
    ds = pydicom.dcmread(make_dicom_from_image(np.zeros((64, 64), np.uint8), tmp_path))
    ds.PhotometricInterpretation = "HSV"
    path = tmp_path / "hsv.dcm"
    ds.save_as(path)
    assert scan_error(path).endswith(": photometric interpretation 'HSV' is not supported")


def test_empty_rescale_slope_is_refused(make_dicom_from_image, tmp_path):
    ds = pydicom.dcmread(make_dicom_from_image(np.zeros((64, 64), np.uint8), tmp_path, rescale=(1.0, 0.0)))
    ds.RescaleSlope = None  # present but empty: loading as if slope 1 could mislead
    path = tmp_path / "empty_slope.dcm"
    ds.save_as(path)
    assert "invalid rescale or modality LUT" in scan_error(path)


def test_missing_photometric_is_refused(make_dicom_from_image, tmp_path):
    ds = pydicom.dcmread(make_dicom_from_image(np.zeros((64, 64), np.uint8), tmp_path))
    del ds.PhotometricInterpretation
    path = tmp_path / "no_photometric.dcm"
    ds.save_as(path)
    assert scan_error(path).endswith(": photometric interpretation 'missing' is not supported")


def test_library_failures_become_scan_errors(some_training_jpeg, tmp_path, monkeypatch):
    """Anything unexpected inside a decoder still leaves as one ScanError line."""
    from pneumonet_core.imaging import raster

    def explode(*args, **kwargs):
        raise RuntimeError("decoder exploded\nwith a second line")

    monkeypatch.setattr(raster, "load_raster", explode)
    assert scan_error(some_training_jpeg).endswith(": decoder exploded with a second line")


def test_running_out_of_memory_while_decoding_is_a_scan_error(some_training_jpeg, monkeypatch):
    from PIL import ImageFile

    def no_memory(self):
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_memory)
    assert scan_error(some_training_jpeg).endswith(": not enough memory to decode this image")
