"""Images for reports: the heat-map overlay, grayscale renders and thumbnails, as uint8 arrays."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from pneumonet_core.atomic import write_bytes_atomic
from pneumonet_core.imaging.scan import Scan
from pneumonet_core.reports.deidentify import safe_stem

#: Strongest opacity of the colour map, reached from :data:`HEAT_FULL` up; regions of little
#: influence stay plain gray so the anatomy under the map remains readable.
OVERLAY_ALPHA = 0.55
#: Side of the largest images embedded in PDFs; more adds megabytes, not detail on paper.
MAX_REPORT_SIDE = 1024
#: Heat-map colour maps (matplotlib names), the first the default everywhere a map is drawn
#: (the viewer, PDFs, DICOM captures): perceptually uniform ones first (equal steps of
#: influence look like equal steps of colour, and they read in grey), jet last for those used to it.
COLORMAPS = ("inferno", "viridis", "turbo", "jet")
#: Heat below this fraction of the maximum is drawn fully transparent, so the overlay marks
#: the regions that drove the decision and leaves the rest of the film readable.
HEAT_FLOOR = 0.2
#: From this fraction up the colour is fully opaque (before the overlay's own opacity);
#: between the two, opacity rises linearly: low influence stays nearly clear.
HEAT_FULL = 0.7


@lru_cache(maxsize=8)
def colormap_lut(name: str) -> np.ndarray:
    """A (256, 4) uint8 RGBA table for a matplotlib colour map."""
    from matplotlib import colormaps

    return colormaps[name](np.linspace(0.0, 1.0, 256), bytes=True).astype(np.uint8)


def heatmap_rgba(heat: np.ndarray, colormap: str = COLORMAPS[0]) -> np.ndarray:
    """A Grad-CAM map (H, W, values 0..1) as (H, W, 4) uint8 RGBA for drawing over the scan.

    Colour follows the map; opacity rises linearly from :data:`HEAT_FLOOR` (clear) to
    :data:`HEAT_FULL` (opaque), so regions of little influence do not tint the film.
    """
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0)
    np.clip(heat, 0.0, 1.0, out=heat)
    rgba = colormap_lut(colormap)[(heat * 255.0 + 0.5).astype(np.uint8)]
    alpha = np.clip((heat - HEAT_FLOOR) / (HEAT_FULL - HEAT_FLOOR), 0.0, 1.0)
    rgba[..., 3] = (alpha * 255.0 + 0.5).astype(np.uint8)
    return rgba


def _fit(image: Image.Image, max_side: int | None) -> Image.Image:
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def gray_image(pixels: np.ndarray, max_side: int | None = MAX_REPORT_SIDE) -> Image.Image:
    """The scan's pixels (0..1) as an 8-bit grayscale PIL image, at most ``max_side``."""
    arr = np.round(np.clip(np.asarray(pixels, dtype=np.float32), 0.0, 1.0) * 255).astype(np.uint8)
    return _fit(Image.fromarray(arr, mode="L"), max_side)


def overlay_image(pixels: np.ndarray, heatmap: np.ndarray, max_side: int | None = MAX_REPORT_SIDE,
                  alpha: float = OVERLAY_ALPHA) -> Image.Image:
    """The scan in gray with the heat map blended on top in colour (RGB PIL image)."""
    gray = gray_image(pixels, max_side)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != (gray.height, gray.width):
        heat = np.asarray(Image.fromarray(heat, mode="F").resize(gray.size, Image.Resampling.BILINEAR))
    rgba = heatmap_rgba(heat).astype(np.float32)
    colour = rgba[..., :3]
    base = np.asarray(gray, dtype=np.float32)[..., None]
    weight = (alpha * rgba[..., 3] / 255.0)[..., None]
    blended = base * (1.0 - weight) + colour * weight
    return Image.fromarray(np.round(blended).astype(np.uint8), mode="RGB")


def thumbnail(pixels: np.ndarray, size: int = 64) -> np.ndarray:
    """A small uint8 grayscale copy (longest side ``size``) for tables; kept instead of scans."""
    arr = np.asarray(pixels, dtype=np.float32)
    # Reduce in two steps: a cheap box filter to about 4x the target, then a good filter.
    image = Image.fromarray(np.round(np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8), mode="L")
    if max(image.size) > 4 * size:
        image = image.reduce(max(1, max(image.size) // (4 * size)))
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def heatmap_file_name(scan: Scan, deidentify: bool = True, file_hash: str | None = None) -> str:
    """``<input stem>-gradcam.png``; a hash replaces a stem naming the patient when de-identifying."""
    return f"{safe_stem(scan.path, scan.metadata, deidentify, file_hash)}-gradcam.png"


def write_heatmap_overlay(scan: Scan, heatmap: np.ndarray, out_dir: str | Path, deidentify: bool = True,
                          name: str | None = None, file_hash: str | None = None) -> Path:
    """Write the overlay at the scan's full resolution into ``out_dir``; return its path.

    ``name`` overrides the file name (the CLI uses it to keep same-named files from two
    folders apart).
    """
    out = Path(out_dir) / (name or heatmap_file_name(scan, deidentify, file_hash))
    return write_bytes_atomic(out, png_bytes(overlay_image(scan.pixels, heatmap, max_side=None)))


def _legend_font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _ascii(text: str) -> str:
    """Text the built-in font can draw: dashes and accents folded to plain ASCII."""
    import unicodedata

    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u00b7", "-")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _fit_text(draw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def legend_band(width: int, lines: list[str], title: str = "Grad-CAM") -> Image.Image:
    """A black band ``width`` wide: ``lines`` of text on the left, the colour bar on the right.

    The colour bar runs from dark (low relevance) to bright (high), as in :func:`overlay_image`.
    """
    from PIL import ImageDraw

    size = max(12, width // 48)
    font = _legend_font(size)
    pad, step = size // 2, int(size * 1.35)
    height = pad * 2 + step * max(3, len(lines))
    band = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(band)
    bar_w = max(40, width // 5)
    bar_x = width - bar_w - pad
    text_w = bar_x - 2 * pad
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * step), _fit_text(draw, _ascii(line), font, text_w), fill=(255, 255, 255), font=font)
    bar = colormap_lut(COLORMAPS[0])[np.linspace(0, 255, bar_w).astype(np.uint8), :3][None].repeat(step, axis=0)
    band.paste(Image.fromarray(bar, mode="RGB"), (bar_x, pad + step))
    draw.text((bar_x, pad), _ascii(title), fill=(255, 255, 255), font=font)
    for label, x, anchor in (("low", bar_x, "la"), ("high", bar_x + bar_w, "ra")):
        draw.text((x, pad + 2 * step), label, fill=(255, 255, 255), font=font, anchor=anchor)
    return band


def overlay_with_legend(pixels: np.ndarray, heatmap: np.ndarray, lines: list[str],
                        max_side: int | None = MAX_REPORT_SIDE, min_width: int = 640) -> Image.Image:
    """:func:`overlay_image` with a :func:`legend_band` below it (RGB), for burnt-in captures.

    Images narrower than ``min_width`` are enlarged first so that the legend stays legible.
    """
    overlay = overlay_image(pixels, heatmap, max_side)
    if overlay.width < min_width:
        height = max(1, round(overlay.height * min_width / overlay.width))
        overlay = overlay.resize((min_width, height), Image.Resampling.BILINEAR)
    band = legend_band(overlay.width, lines)
    out = Image.new("RGB", (overlay.width, overlay.height + band.height))
    out.paste(overlay, (0, 0))
    out.paste(band, (0, overlay.height))
    return out
