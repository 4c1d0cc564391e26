"""PNG and JPEG scans, decoded with Pillow into grayscale in [0, 1].

Pillow is never allowed to hand back a partly decoded image: the whole image is decoded
with ``load()`` (``ImageFile.LOAD_TRUNCATED_IMAGES`` stays off), and the declared size is
checked against the pixel limit before decoding. EXIF orientation is applied, so the
pixels, width and height are the image as it should be displayed.

Alpha policy: transparency is dropped, not composited. Exported radiographs that carry
an alpha channel are opaque in practice, and compositing a transparent area on black
would invent dark pixels that the model would read as anatomy; when some pixels are
not opaque a warning says the transparency was ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pneumonet_core.errors import ScanError
from pneumonet_core.imaging import limits
from pneumonet_core.imaging.clinical_warnings import colour_warning
from pneumonet_core.imaging.files import open_regular
from pneumonet_core.imaging.scan import METADATA_KEYS, Scan, SourceInfo

#: Weights of ITU-R BT.601 luma, the usual float grayscale of an RGB image.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_PNG_COLOUR_TYPES_WITH_CHANNELS = (2, 4, 6)  # RGB, gray + alpha, RGBA


def luminance(rgb: np.ndarray, full_scale: float) -> tuple[np.ndarray, float]:
    """Return (grayscale in [0, 1] as float32, mean channel spread in [0, 1]).

    ``rgb`` is (H, W, 3) in stored units whose white is ``full_scale``. The spread tells
    a grayscale image saved as RGB (spread 0) from a real colour image.
    """
    channels = np.asarray(rgb)[..., :3]
    # One channel at a time: a float32 copy of all three would triple the peak memory.
    gray = np.zeros(channels.shape[:2], dtype=np.float32)
    for index, weight in enumerate(LUMA_WEIGHTS / np.float32(full_scale)):
        gray += channels[..., index].astype(np.float32) * weight
    spread = float(np.mean(np.ptp(channels, axis=-1), dtype=np.float64)) / full_scale
    return np.clip(gray, 0.0, 1.0, out=gray), spread


def load_raster(path: Path, fmt: str, max_pixels: int) -> Scan:
    """Decode a PNG or JPEG file (``fmt`` as sniffed) into a :class:`Scan`.

    The declared size is checked first; an image above
    :data:`~pneumonet_core.imaging.limits.MAX_DECODED_PIXELS` is decoded at a reduced
    size (JPEG by DCT scaling while decoding, PNG by ``reduce`` right after), and the
    decode holds its memory estimate from the shared budget.
    """
    warnings: list[str] = []
    try:
        with open_regular(path) as handle, Image.open(handle, formats=[fmt]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ScanError(
                    path,
                    f"image declares {width} x {height} = {width * height:,} pixels, more than "
                    f"the {max_pixels:,}-pixel limit (possible decompression bomb)",
                )
            step, estimate = plan_decode(image, fmt)
            buffer = image.size[0] * image.size[1] * _BYTES_PER_PIXEL.get(image.mode, 4)
            if buffer > limits.MAX_WHOLE_DECODE_BYTES:
                raise ScanError(path, limits.too_large_message(
                    f"a {width} x {height} {image.mode} {fmt}" + (" (at its smallest JPEG scale)" if step > 1 and
                                                                  fmt == "JPEG" else ""), buffer))
            with limits.BUDGET.reserve(estimate):
                pixels, spread, alpha_dropped, photometric, bits, swapped = _decode(path, fmt, image, step, warnings)
            if step > 1:
                warnings.append(limits.reduced_warning(width, height, pixels.shape[1], pixels.shape[0]))
    except Image.DecompressionBombError as exc:
        # Pillow refuses before our own check can run; say it in our terms, with its count.
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(declared.group(1)):,} pixels" if declared else "too many pixels"
        raise ScanError(
            path,
            f"image too large to decode safely: declares {count}, more than the "
            f"{max_pixels:,}-pixel limit (possible decompression bomb)",
        ) from exc
    except UnidentifiedImageError as exc:
        raise ScanError(path, f"not a valid {fmt} file") from exc
    except (ScanError, MemoryError):
        raise
    except Exception as exc:  # a header Pillow cannot parse (cut short, bad marker...)
        raise ScanError(path, f"corrupt {fmt} file: {one_line(exc)}") from exc

    if not np.isfinite(pixels).all():
        raise ScanError(path, "non-finite pixel values")
    if alpha_dropped:
        warnings.append("Transparency ignored: the alpha channel was dropped")
    colour = colour_warning(spread, photometric)
    if colour:
        warnings.append(colour)
    if swapped:
        width, height = height, width
    source = SourceInfo(format=fmt, width=width, height=height, photometric=photometric, bits_stored=bits,
                        colour_spread=round(spread, 6))
    return Scan(
        path=path,
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        source=source,
        metadata={key: None for key in METADATA_KEYS},
        warnings=tuple(warnings),
    )


def plan_decode(image: Image.Image, fmt: str) -> tuple[int, int]:
    """(reduction step, bytes the decode may use at its peak) for an opened, unloaded image.

    A JPEG to reduce is set to decode at a smaller scale here (``draft``).
    """
    width, height = image.size
    step = limits.reduction_factor(width, height)
    if step > 1 and fmt == "JPEG":
        image.draft(image.mode, (-(-width // step), -(-height // step)))
    decoded = image.size[0] * image.size[1]
    kept = -(-width // step) * -(-height // step)
    # The decoded image (and its reduced copy), then float32 channels and gray for the kept size.
    return step, decoded * _BYTES_PER_PIXEL.get(image.mode, 4) + kept * 24


def _decode(path: Path, fmt: str, image: Image.Image, step: int, warnings: list[str]):
    """Load the pixels (reduced when ``step`` > 1), orient them and make them gray.

    Returns (pixels, colour spread, alpha dropped, mode, bits, whether width and height
    swapped by the EXIF orientation).
    """
    try:
        image.load()
    except MemoryError:
        raise
    except Exception as exc:  # truncated or corrupt data: Pillow raises several types
        raise ScanError(path, f"truncated or corrupt {fmt} file: {one_line(exc)}") from exc
    photometric = image.mode
    bits = _bits_per_sample(path, fmt, image, warnings)
    factor = limits.reduction_factor(*image.size) if step > 1 else 1  # what JPEG's draft left to do
    if factor == 1:
        oriented = _apply_exif_orientation(image, warnings)
        swapped = oriented.size != image.size
    else:
        orientation = _orientation(image)
        oriented = _transpose(_reduce(image, factor), orientation)
        image.close()  # the full-size pixels are no longer needed: give their memory back now
        swapped = orientation in (5, 6, 7, 8)
    pixels, spread, alpha_dropped = _to_gray(oriented)
    return pixels, spread, alpha_dropped, photometric, bits, swapped


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """``image`` smaller by ``factor``: averaged where Pillow can, else every factor-th pixel."""
    if image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode not in ("1", "P") and not image.mode.startswith("I;16"):
        return image.reduce(factor)
    array = np.asarray(image)[::factor, ::factor]
    small = Image.fromarray(array.astype(np.uint16) if image.mode.startswith("I;16") else array)
    if image.mode == "P":
        small.putpalette(image.getpalette() or [])
        small.info.update({k: v for k, v in image.info.items() if k == "transparency"})
    return small


#: Bytes per pixel of Pillow's in-memory modes (RGB is stored with a fourth byte).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_TRANSPOSES = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_90}


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112) or 1)
    except Exception:  # noqa: BLE001 - unreadable EXIF: shown as stored
        return 1


def _transpose(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSES.get(orientation)
    return image.transpose(method) if method is not None else image


def _to_gray(image: Image.Image) -> tuple[np.ndarray, float, bool]:
    """Return (grayscale in [0, 1], colour spread, whether non-opaque alpha was dropped)."""
    mode = image.mode
    alpha_dropped = False
    if mode in ("LA", "RGBA", "PA"):
        alpha_dropped = bool(np.any(np.asarray(image.getchannel("A")) < 255))
    elif mode in ("L", "RGB", "P") and "transparency" in image.info:  # tRNS chunk
        alpha_dropped = bool(np.any(np.asarray(image.convert("RGBA").getchannel("A")) < 255))
    if mode == "1":
        return np.asarray(image, dtype=np.float32), 0.0, alpha_dropped
    if mode in ("L", "LA"):
        return np.asarray(image.getchannel(0), dtype=np.float32) / 255.0, 0.0, alpha_dropped
    if mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.float32)
        return np.clip(values / 65535.0, 0.0, 1.0), 0.0, alpha_dropped
    if mode not in ("RGB", "RGBA", "RGBX"):
        image = image.convert("RGBA" if mode in ("P", "PA") else "RGB")  # palette, CMYK, YCbCr...
    gray, spread = luminance(np.asarray(image), 255.0)
    return gray, spread, alpha_dropped


def _bits_per_sample(path: Path, fmt: str, image: Image.Image, warnings: list[str]) -> int:
    """Bits per sample as stored; warns when Pillow keeps 8 of 16 bits (RGB, RGBA, LA PNG)."""
    if image.mode == "1":
        return 1
    if image.mode in _SIXTEEN_BIT_MODES:
        return 16
    if fmt == "PNG":
        with open(path, "rb") as handle:
            header = handle.read(26)  # signature, IHDR length/type, width, height, depth, type
        if len(header) == 26 and header[24] == 16 and header[25] in _PNG_COLOUR_TYPES_WITH_CHANNELS:
            warnings.append("16-bit PNG read at 8 bits per channel (Pillow limitation)")
            return 16
    return 8


def _apply_exif_orientation(image: Image.Image, warnings: list[str]) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception as exc:  # noqa: BLE001 - unreadable EXIF must not hide an otherwise good image
        warnings.append(f"EXIF orientation could not be read ({one_line(exc)}): image shown as stored")
        return image


def one_line(exc: BaseException) -> str:
    """Return an exception's message on one line, for a ScanError reason.

    Decoder libraries (pydicom's plugin errors in particular) raise multi-line messages,
    and ScanError keeps only the first line, which alone often says nothing.
    """
    return " ".join(str(exc).split()) or type(exc).__name__
