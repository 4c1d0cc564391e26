"""PNG and JPEG loading: grayscale conversion, bit depths, alpha, palette, CMYK, EXIF."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pneumonet_core.imaging import METADATA_KEYS, SourceInfo, load_scan

#: One 8-bit grey level, plus float slack.
ATOL = 1 / 255 + 1e-6


def pillow_gray(path) -> np.ndarray:
    """What the training pipeline historically used: Pillow's "L" conversion / 255."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255


def training_l(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def luma(rgb: np.ndarray, full_scale: float) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / full_scale


def save(image: Image.Image, path, fmt: str, **params):
    image.save(path, fmt, **params)
    return path


def test_training_jpeg_loads_like_pillow_grayscale(some_training_jpeg):
    scan = load_scan(some_training_jpeg)

    assert scan.pixels.dtype == np.float32
    assert scan.pixels.shape == (224, 224)
    np.testing.assert_allclose(scan.pixels, pillow_gray(some_training_jpeg), atol=ATOL)
    assert scan.source == SourceInfo(format="JPEG", width=224, height=224, photometric="RGB", bits_stored=8)
    assert scan.raw is None and scan.default_window is None
    assert list(scan.metadata) == list(METADATA_KEYS)
    assert all(value is None for value in scan.metadata.values())
    assert scan.warnings == ()


def test_training_jpegs_of_both_classes_match_pillow(shared_train_dir):
    images = sorted((shared_train_dir / "NORMAL").glob("*.jpeg"))[:3] + sorted(
        (shared_train_dir / "PNEUMONIA").glob("*.jpeg")
    )[:3]
    assert len(images) == 6
    for path in images:
        np.testing.assert_allclose(load_scan(path).pixels, pillow_gray(path), atol=ATOL, err_msg=str(path))


def test_png_8bit_grayscale_is_exact(some_training_jpeg, tmp_path):
    gray = training_l(some_training_jpeg)
    path = save(Image.fromarray(gray), tmp_path / "gray8.png", "PNG")

    scan = load_scan(path)

    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)
    assert (scan.source.format, scan.source.photometric, scan.source.bits_stored) == ("PNG", "L", 8)


def test_png_16bit_grayscale_divides_by_65535(some_training_jpeg, tmp_path):
    values = training_l(some_training_jpeg).astype(np.uint16) * 257
    values[0, 0] = 1  # 1/65535: lost if only the high byte were used
    values[0, 1] = 65534
    path = save(Image.fromarray(values), tmp_path / "gray16.png", "PNG")

    scan = load_scan(path)

    np.testing.assert_allclose(scan.pixels, values / 65535, atol=1e-6)
    assert scan.pixels[0, 0] > 0
    assert scan.source.bits_stored == 16
    assert scan.source.photometric.startswith("I;16")


def quadrants(colours, size=224) -> np.ndarray:
    """An RGB(A) image made of four flat quadrants, top-left, top-right, bottom-left, bottom-right."""
    half = size // 2
    image = np.zeros((size, size, len(colours[0])), dtype=np.uint8)
    for index, colour in enumerate(colours):
        row, col = divmod(index, 2)
        image[row * half : (row + 1) * half, col * half : (col + 1) * half] = colour
    return image


def quadrant_values(pixels: np.ndarray) -> list[float]:
    half = pixels.shape[0] // 2
    return [float(pixels[row * half + half // 2, col * half + half // 2]) for row in (0, 1) for col in (0, 1)]


def test_png_rgb_uses_float_luminance(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 200, 60)]
    path = save(Image.fromarray(quadrants(colours)), tmp_path / "rgb.png", "PNG")

    scan = load_scan(path)

    expected = [luma(np.array(colour), 255.0) for colour in colours]
    assert quadrant_values(scan.pixels) == pytest.approx(expected, abs=1e-6)
    assert scan.source.photometric == "RGB"
    assert "Colour image (RGB) converted to grayscale: X-rays are grayscale" in scan.warnings


def test_grayscale_saved_as_rgb_png_has_no_colour_warning(some_training_jpeg, tmp_path):
    with Image.open(some_training_jpeg) as image:
        path = save(image.convert("RGB"), tmp_path / "gray_as_rgb.png", "PNG")

    scan = load_scan(path)

    np.testing.assert_allclose(scan.pixels, pillow_gray(some_training_jpeg), atol=ATOL)
    assert scan.warnings == ()


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: list[bytes]) -> bytes:
    """A PNG written by hand, for what Pillow cannot write (16-bit RGB, declared giants)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\x00" + row for row in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_png_16bit_rgb_loads_with_a_precision_warning(tmp_path):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 65536, size=(240, 250, 3), dtype=np.uint16)
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_bytes(250, 240, 16, 2, [row.astype(">u2").tobytes() for row in rgb]))

    scan = load_scan(path)

    assert scan.pixels.shape == (240, 250)
    np.testing.assert_allclose(scan.pixels, luma(rgb, 65535.0), atol=ATOL)
    assert scan.source.bits_stored == 16
    assert "16-bit PNG read at 8 bits per channel (Pillow limitation)" in scan.warnings


ALPHA_WARNING = "Transparency ignored: the alpha channel was dropped"


def test_rgba_png_drops_alpha_instead_of_compositing(tmp_path):
    colours = [(255, 0, 0, 0), (255, 0, 0, 255), (255, 255, 255, 0), (0, 0, 0, 128)]
    path = save(Image.fromarray(quadrants(colours), mode="RGBA"), tmp_path / "rgba.png", "PNG")

    scan = load_scan(path)

    # A transparent red pixel keeps red's luminance; compositing on black would give 0.
    assert quadrant_values(scan.pixels) == pytest.approx([0.299, 0.299, 1.0, 0.0], abs=1e-6)
    assert ALPHA_WARNING in scan.warnings


def test_opaque_rgba_and_la_png_have_no_alpha_warning(some_training_jpeg, tmp_path):
    gray = training_l(some_training_jpeg)
    opaque = np.full_like(gray, 255)
    la = save(Image.fromarray(np.dstack([gray, opaque]), mode="LA"), tmp_path / "la.png", "PNG")
    rgba = save(Image.fromarray(np.dstack([gray, gray, gray, opaque]), mode="RGBA"), tmp_path / "rgba.png", "PNG")

    for path in (la, rgba):
        scan = load_scan(path)
        np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6, err_msg=path.name)
        assert scan.warnings == (), path.name


def test_la_png_with_transparency_warns(some_training_jpeg, tmp_path):
    gray = training_l(some_training_jpeg)
    alpha = np.full_like(gray, 255)
    alpha[:10, :10] = 0
    path = save(Image.fromarray(np.dstack([gray, alpha]), mode="LA"), tmp_path / "la.png", "PNG")

    scan = load_scan(path)

    np.testing.assert_allclose(scan.pixels, gray / 255, atol=1e-6)
    assert scan.warnings == (ALPHA_WARNING,)


def test_palette_png_uses_the_palette_colours(tmp_path):
    palette = [0, 0, 0, 255, 255, 255, 255, 0, 0, 40, 80, 120]
    indices = quadrants([(0,), (1,), (2,), (3,)])[..., 0]
    image = Image.fromarray(indices, mode="P")
    image.putpalette(palette)
    path = save(image, tmp_path / "palette.png", "PNG")

    scan = load_scan(path)

    expected = [luma(np.array(palette[i * 3 : i * 3 + 3]), 255.0) for i in range(4)]
    assert quadrant_values(scan.pixels) == pytest.approx(expected, abs=1e-6)
    assert scan.source.photometric == "P"


def test_palette_png_with_a_transparent_entry_warns(tmp_path):
    image = Image.fromarray(quadrants([(0,), (1,), (1,), (1,)])[..., 0], mode="P")
    image.putpalette([255, 255, 255, 90, 90, 90])
    path = save(image, tmp_path / "palette_trns.png", "PNG", transparency=0)

    scan = load_scan(path)

    assert quadrant_values(scan.pixels)[0] == pytest.approx(1.0)
    assert ALPHA_WARNING in scan.warnings


def test_grayscale_jpeg(some_training_jpeg, tmp_path):
    path = save(Image.fromarray(training_l(some_training_jpeg)), tmp_path / "gray.jpg", "JPEG", quality=90)

    scan = load_scan(path)

    with Image.open(path) as decoded:
        assert decoded.mode == "L"
        np.testing.assert_allclose(scan.pixels, np.asarray(decoded) / 255, atol=1e-6)
    assert scan.source.photometric == "L"


def test_cmyk_jpeg_is_not_inverted(some_training_jpeg, tmp_path):
    with Image.open(some_training_jpeg) as image:
        path = save(image.convert("CMYK"), tmp_path / "cmyk.jpg", "JPEG", quality=95)

    scan = load_scan(path)

    assert scan.source.photometric == "CMYK"
    with Image.open(path) as decoded:
        np.testing.assert_allclose(scan.pixels, luma(np.asarray(decoded.convert("RGB")), 255.0), atol=1e-5)
    # Dark stays dark: close to the original X-ray, not its negative.
    assert np.mean(np.abs(scan.pixels - pillow_gray(some_training_jpeg))) < 0.02


@pytest.mark.parametrize(
    ("orientation", "marked_corner"),
    [(1, "top_left"), (3, "bottom_right"), (6, "top_right"), (8, "bottom_left")],
)
def test_exif_orientation_is_applied(tmp_path, orientation, marked_corner):
    stored = np.zeros((200, 300), dtype=np.uint8)  # 300 wide, 200 high
    stored[:40, :40] = 255  # mark the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(Image.fromarray(stored), tmp_path / f"exif{orientation}.jpg", "JPEG", exif=exif.tobytes(), quality=95)

    scan = load_scan(path)

    turned = orientation in (6, 8)
    assert scan.pixels.shape == ((300, 200) if turned else (200, 300))
    assert (scan.source.width, scan.source.height) == ((200, 300) if turned else (300, 200))
    corners = {
        "top_left": scan.pixels[:20, :20],
        "top_right": scan.pixels[:20, -20:],
        "bottom_left": scan.pixels[-20:, :20],
        "bottom_right": scan.pixels[-20:, -20:],
    }
    assert {name for name, block in corners.items() if block.mean() > 0.9} == {marked_corner}


def test_format_comes_from_the_content_not_the_suffix(some_training_jpeg, tmp_path):
    png_named_dcm = save(Image.fromarray(training_l(some_training_jpeg)), tmp_path / "really_png.dcm", "PNG")
    jpeg_named_png = tmp_path / "really_jpeg.png"
    jpeg_named_png.write_bytes(some_training_jpeg.read_bytes())

    assert load_scan(png_named_dcm).source.format == "PNG"
    assert load_scan(jpeg_named_png).source.format == "JPEG"


def test_bilevel_png(tmp_path):
    bits = np.zeros((224, 224), dtype=bool)
    bits[:, 112:] = True
    path = save(Image.fromarray(bits), tmp_path / "bits.png", "PNG")

    scan = load_scan(path)

    np.testing.assert_array_equal(scan.pixels, bits.astype(np.float32))
    assert scan.source.bits_stored == 1


def test_load_scan_accepts_str_paths(some_training_jpeg):
    scan = load_scan(str(some_training_jpeg))

    assert scan.shape == (224, 224)
    assert scan.path == some_training_jpeg
