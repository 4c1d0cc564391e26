"""A small evaluation set of inputs that are not chest X-rays, generated on the fly.

The out-of-distribution guard must flag these; the tests and ``benchmarks/bench_ood.py``
write them with :func:`write_ood_samples`. Everything is drawn with Pillow and numpy
(seeded, so the set is the same on every run) or taken from pydicom's own test files,
so nothing is downloaded. Each category holds images a user could plausibly drop on
the app by mistake:

- ``document``: rendered text pages, letters and forms (white paper, some scanned grey);
- ``screenshot``: application windows, dark terminals and dashboards;
- ``photo``: synthetic colour photographs (landscapes, shapes, textures, a face);
- ``photo_gray``: the same kind of scenes in black and white (no colour to give them away);
- ``ct_mr_dicom``: CT, MR and other modality slices from pydicom's test files, and
  synthetic chest CT slices, as DICOM (their tags say what they are);
- ``ct_mr_image``: the same slices exported to PNG, so only the pixels can tell;
- ``anatomy_dicom``: synthetic radiographs of other body parts (hand, skull, forearm,
  pelvis, knee, foot) as DICOM with their Body Part Examined;
- ``anatomy_image``: the same radiographs as PNG, without tags;
- ``blank``: uniform, gradient and noise images.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests.dicom_factory import make_dicom_from_image

CATEGORIES = ("document", "screenshot", "photo", "photo_gray", "ct_mr_dicom", "ct_mr_image", "anatomy_dicom",
              "anatomy_image", "blank")
#: pydicom test files that hold a CT, MR or other non-radiograph slice (what their tags say).
PYDICOM_SLICES = ("CT_small.dcm", "MR_small.dcm", "693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm",
                  "examples_overlay.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "examples_palette.dcm")
_WORDS = ("patient report result normal value figure table analysis invoice total amount date page section the of "
          "and to with for summary clinical history signed reference number account order delivery please").split()


def _font(size: int):
    return ImageFont.load_default(size=size)


def _sentence(rng, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize()


def _document(rng, i: int) -> Image.Image:
    width, height = ((620, 877), (877, 620), (612, 792))[i % 3]
    paper = int(rng.integers(235, 256))
    img = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(img)
    y = 40
    draw.text((50, y), _sentence(rng, 3).upper(), fill=10, font=_font(26))
    y += 60
    while y < height - 60:
        if rng.random() < 0.15:  # a table
            rows, cols = int(rng.integers(3, 7)), int(rng.integers(2, 5))
            cell_w, cell_h = (width - 100) // cols, 24
            for r in range(rows):
                for c in range(cols):
                    box = (50 + c * cell_w, y + r * cell_h, 50 + (c + 1) * cell_w, y + (r + 1) * cell_h)
                    draw.rectangle(box, outline=40)
                    draw.text((box[0] + 4, box[1] + 5), _sentence(rng, 1), fill=20, font=_font(12))
            y += rows * cell_h + 20
        else:
            draw.text((50, y), _sentence(rng, int(rng.integers(6, 12))), fill=int(rng.integers(0, 60)),
                      font=_font(int(rng.integers(12, 18))))
            y += int(rng.integers(20, 30))
    if i % 4 == 3:  # scanned: slightly rotated, grey, noisy
        img = img.rotate(float(rng.uniform(-2, 2)), fillcolor=200)
        arr = np.asarray(img, dtype=np.float32) * 0.85 + rng.normal(0, 6, (height, width))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


def _screenshot(rng, i: int) -> Image.Image:
    width, height = ((960, 540), (800, 500), (1024, 640), (720, 720))[i % 4]
    dark = i % 3 == 2
    background = (30, 30, 30) if dark else tuple(int(v) for v in rng.integers(220, 250, 3))
    img = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(img)
    if dark:  # a terminal or code editor: text on black, a few colours
        for row, y in enumerate(range(10, height - 16, 18)):
            colour = (200, 200, 200) if row % 5 else (120, 200, 120)
            draw.text((10, y), "$ " + _sentence(rng, int(rng.integers(2, 9))).lower(), fill=colour, font=_font(13))
        return img if i % 2 else img.convert("L")  # half of them grey: only the pixels' layout tells
    accent = tuple(int(v) for v in rng.integers(40, 200, 3))
    draw.rectangle((0, 0, width, 32), fill=accent)
    draw.text((12, 8), _sentence(rng, 3), fill=(255, 255, 255), font=_font(16))
    draw.rectangle((0, 32, 180, height), fill=tuple(max(0, c - 25) for c in background))
    for y in range(50, height - 30, 30):
        draw.text((14, y), _sentence(rng, 2), fill=(40, 40, 40), font=_font(13))
    for k in range(int(rng.integers(2, 5))):  # panels: text, buttons, a bar chart
        x0, y0 = 200 + k * (width - 220) // 4, 50
        draw.rectangle((x0, y0, x0 + (width - 240) // 4, y0 + 120), outline=(150, 150, 150), fill=(255, 255, 255))
        draw.text((x0 + 8, y0 + 8), _sentence(rng, 2), fill=(0, 0, 0), font=_font(14))
        draw.rounded_rectangle((x0 + 8, y0 + 80, x0 + 90, y0 + 105), 6, fill=accent)
    for k in range(8):
        bar = int(rng.integers(20, height - 260))
        draw.rectangle((220 + k * 50, height - 30 - bar, 250 + k * 50, height - 30), fill=accent)
    for y in range(200, height - 40, 22):
        draw.text((width - 300, y), _sentence(rng, 4), fill=(60, 60, 60), font=_font(12))
    return img


def _smooth_noise(rng, height: int, width: int, scale: int) -> np.ndarray:
    """Value noise in [0, 1]: random numbers on a coarse grid, enlarged smoothly."""
    coarse = rng.random((max(2, height // scale), max(2, width // scale))).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BICUBIC)).clip(0, 1)


def _photo(rng, i: int) -> Image.Image:
    width, height = ((640, 480), (600, 400), (800, 450), (512, 512), (480, 640))[i % 5]
    kind = i % 4
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:  # landscape: sky, sun, hills, grass
        sky = np.stack([90 + 100 * yy / height, 150 + 60 * yy / height, 250 - 30 * yy / height], -1)
        img = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        sx, sy = int(rng.integers(50, width - 50)), int(rng.integers(30, height // 3))
        draw.ellipse((sx - 30, sy - 30, sx + 30, sy + 30), fill=(255, 230, 120))
        horizon = height * 0.6
        waves = rng.uniform(1, 3)
        hills = [(x, horizon - 60 * math.sin(x / width * math.pi * waves) - 30) for x in range(0, width, 20)]
        draw.polygon([(0, height)] + hills + [(width, height)], fill=(60, 120, 50))
        arr = np.asarray(img, dtype=np.float32)
        arr += (_smooth_noise(rng, height, width, 8)[..., None] - 0.5) * 50 * (yy[..., None] > horizon)
    elif kind == 1:  # objects on a table: coloured shapes, blurred like a real lens
        arr = np.full((height, width, 3), rng.integers(120, 200, 3), dtype=np.float32)
        img = Image.fromarray(arr.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(5, 12))):
            x, y, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(20, 90))
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
        arr = np.asarray(img.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32)
    elif kind == 2:  # natural texture: leaves, rock, water
        base = np.stack([_smooth_noise(rng, height, width, s) for s in (40, 12, 4)], -1) @ np.array([0.5, 0.3, 0.2])
        tint = rng.uniform(0.3, 1.0, 3)
        arr = 255 * base[..., None] * tint + 20 * rng.standard_normal((height, width, 1))
    else:  # a face-like portrait: skin ellipse, hair, eyes, on a coloured wall
        arr = np.zeros((height, width, 3), np.float32) + rng.integers(60, 200, 3)
        img = Image.fromarray(arr.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        cx, cy, r = width // 2, height // 2, min(width, height) // 3
        draw.ellipse((cx - r, cy - int(1.3 * r), cx + r, cy + int(0.6 * r)), fill=(60, 40, 20))
        draw.ellipse((cx - int(0.8 * r), cy - r, cx + int(0.8 * r), cy + int(1.1 * r)), fill=(225, 180, 150))
        for ex in (-0.35, 0.35):
            draw.ellipse((cx + ex * r - 12, cy - 0.2 * r - 8, cx + ex * r + 12, cy - 0.2 * r + 8), fill=(50, 60, 90))
        draw.arc((cx - 0.4 * r, cy + 0.2 * r, cx + 0.4 * r, cy + 0.6 * r), 20, 160, fill=(150, 60, 60), width=5)
        draw.rectangle((cx - r, cy + int(1.1 * r), cx + r, height), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        arr = np.asarray(img.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32)
    arr = arr + rng.normal(0, 3, arr.shape)  # sensor noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _body(shape, rng, draw_parts) -> np.ndarray:
    """A synthetic radiograph: bright bone and grey soft tissue drawn on black, blurred, with noise."""
    height, width = shape
    soft = Image.new("L", (width, height), 0)
    bone = Image.new("L", (width, height), 0)
    draw_parts(ImageDraw.Draw(soft), ImageDraw.Draw(bone), width, height)
    arr = (0.35 * np.asarray(soft.filter(ImageFilter.GaussianBlur(6)), np.float32)
           + 0.6 * np.asarray(bone.filter(ImageFilter.GaussianBlur(2)), np.float32))
    arr *= 0.9 + 0.2 * _smooth_noise(rng, height, width, 16)
    # Each film placed a little differently: turned, shifted and exposed its own way.
    film = Image.fromarray(np.clip(arr * rng.uniform(0.8, 1.1), 0, 255).astype(np.uint8))
    film = film.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR,
                       translate=(float(rng.uniform(-0.08, 0.08) * width), float(rng.uniform(-0.08, 0.08) * height)))
    noisy = np.asarray(film, np.float32) + rng.normal(0, 3, arr.shape) + rng.uniform(0, 25)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _hand(soft, bone, w, h):
    soft.rounded_rectangle((w * 0.25, h * 0.45, w * 0.75, h * 0.95), 40, fill=255)
    for k, length in enumerate((0.30, 0.38, 0.40, 0.36, 0.26)):
        x = w * (0.28 + 0.11 * k) if k else w * 0.18
        top = h * (0.45 - length) if k else h * 0.35
        soft.rounded_rectangle((x - 18, top, x + 18, h * 0.6), 18, fill=255)
        for j in range(3 if k else 2):  # phalanges
            y0 = top + 8 + j * (h * 0.6 - top) / 3.2
            bone.rounded_rectangle((x - 8, y0, x + 8, y0 + (h * 0.6 - top) / 3.6), 6, fill=255)
        bone.rounded_rectangle((x - 9, h * 0.6, x + 9, h * 0.82), 6, fill=230)  # metacarpal
    bone.rectangle((w * 0.32, h * 0.84, w * 0.68, h * 0.95), fill=200)


def _skull(soft, bone, w, h):
    soft.ellipse((w * 0.12, h * 0.08, w * 0.88, h * 0.92), fill=255)
    bone.ellipse((w * 0.15, h * 0.1, w * 0.85, h * 0.85), outline=255, width=int(w * 0.04))
    bone.arc((w * 0.28, h * 0.55, w * 0.72, h * 0.95), 0, 180, fill=255, width=int(w * 0.05))  # jaw
    bone.ellipse((w * 0.3, h * 0.35, w * 0.45, h * 0.5), outline=200, width=6)  # orbits
    bone.ellipse((w * 0.55, h * 0.35, w * 0.7, h * 0.5), outline=200, width=6)


def _forearm(soft, bone, w, h):
    soft.rounded_rectangle((w * 0.3, h * 0.02, w * 0.7, h * 0.98), 60, fill=255)
    bone.rounded_rectangle((w * 0.38, h * 0.05, w * 0.46, h * 0.95), 15, fill=255)
    bone.rounded_rectangle((w * 0.53, h * 0.08, w * 0.6, h * 0.92), 15, fill=255)


def _pelvis(soft, bone, w, h):
    soft.rectangle((w * 0.05, h * 0.1, w * 0.95, h * 0.95), fill=255)
    bone.ellipse((w * 0.1, h * 0.15, w * 0.48, h * 0.6), fill=220)
    bone.ellipse((w * 0.52, h * 0.15, w * 0.9, h * 0.6), fill=220)
    bone.ellipse((w * 0.42, h * 0.2, w * 0.58, h * 0.55), fill=255)  # sacrum
    for cx in (0.3, 0.7):
        bone.ellipse((w * (cx - 0.08), h * 0.6, w * (cx + 0.08), h * 0.76), outline=255, width=12)
        bone.rectangle((w * (cx - 0.05), h * 0.72, w * (cx + 0.05), h * 0.98), fill=255)


def _knee(soft, bone, w, h):
    soft.rounded_rectangle((w * 0.22, 0, w * 0.78, h), 80, fill=255)
    bone.rounded_rectangle((w * 0.32, 0, w * 0.68, h * 0.47), 50, fill=255)
    bone.rounded_rectangle((w * 0.3, h * 0.52, w * 0.7, h), 40, fill=255)
    bone.ellipse((w * 0.42, h * 0.38, w * 0.58, h * 0.5), fill=200)


def _foot(soft, bone, w, h):
    soft.polygon([(w * 0.2, h * 0.95), (w * 0.35, h * 0.1), (w * 0.75, h * 0.05), (w * 0.8, h * 0.95)], fill=255)
    for k in range(5):
        x = w * (0.38 + 0.08 * k)
        bone.rounded_rectangle((x - 7, h * 0.08, x + 7, h * 0.55), 6, fill=255)
    bone.ellipse((w * 0.3, h * 0.6, w * 0.75, h * 0.92), fill=230)


ANATOMY = {"HAND": (_hand, (700, 560)), "SKULL": (_skull, (640, 560)), "FOREARM": (_forearm, (900, 420)),
           "PELVIS": (_pelvis, (520, 700)), "KNEE": (_knee, (800, 560)), "FOOT": (_foot, (760, 520))}


def _ct_slice(rng, i: int) -> np.ndarray:
    """A synthetic chest CT slice in Hounsfield units: body, lungs, heart, spine, table."""
    n = 512
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    hu = np.full((n, n), -1000.0, np.float32)
    a, b = rng.uniform(0.36, 0.44) * n, rng.uniform(0.26, 0.32) * n

    def inside(cx, cy, rx, ry):
        return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1

    hu[inside(n / 2, n / 2, a, b)] = -100  # fat
    hu[inside(n / 2, n / 2, a - 15, b - 15)] = 40  # muscle and organs
    for side in (-1, 1):
        hu[inside(n / 2 + side * a * 0.45, n / 2 - 10, a * 0.35, b * 0.7)] = -850  # lungs
    hu[inside(n / 2 + 15, n / 2, a * 0.22, b * 0.35)] = 45  # heart
    hu[inside(n / 2, n / 2 + b * 0.7, 22, 20)] = 700  # vertebra
    ring = inside(n / 2, n / 2, a - 8, b - 8) & ~inside(n / 2, n / 2, a - 16, b - 16) & (np.abs(yy - n / 2) < b * 0.6)
    hu[ring & (np.sin(np.arctan2(yy - n / 2, xx - n / 2) * 9) > 0.3)] = 600  # ribs
    hu[(yy > n / 2 + b + 20) & (yy < n / 2 + b + 30)] = 200  # table
    return (hu + rng.normal(0, 12, hu.shape)).astype(np.float32)


def _pixels_to_png(pixels: np.ndarray, path: Path) -> Path:
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def _blank(rng, i: int) -> Image.Image:
    size = ((512, 512), (640, 480), (300, 400))[i % 3]
    kind = i % 7
    if kind < 3:
        return Image.new("L", size, (0, 255, 128)[kind])
    if kind == 3:
        ramp = np.tile(np.linspace(0, 255, size[0], dtype=np.float32), (size[1], 1))
        return Image.fromarray(ramp.astype(np.uint8))
    if kind == 4:
        return Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8))
    if kind == 5:
        tiles = (np.add.outer(np.arange(size[1]) // 32, np.arange(size[0]) // 32) % 2) * 255
        return Image.fromarray(tiles.astype(np.uint8))
    return Image.fromarray(np.clip(rng.normal(128, 40, (size[1], size[0])), 0, 255).astype(np.uint8))


def write_ood_samples(folder: Path, per_category: int = 8, seed: int = 0,
                      categories: tuple[str, ...] = CATEGORIES) -> dict[str, list[Path]]:
    """Write ``per_category`` images of each category under ``folder/<category>/``; return the paths."""
    from pydicom.data import get_testdata_file

    from pneumonet_core.imaging import load_scan

    rng = np.random.default_rng(seed)
    out: dict[str, list[Path]] = {}
    folder = Path(folder)
    for category in categories:
        (folder / category).mkdir(parents=True, exist_ok=True)
        out[category] = []

    def add(category: str, path: Path) -> None:
        out[category].append(path)

    for i in range(per_category):
        for category, make, suffix in (("document", _document, ".png"), ("screenshot", _screenshot, ".png"),
                                       ("photo", _photo, ".jpg"), ("blank", _blank, ".png")):
            if category in categories:
                path = folder / category / f"{category}_{i:02d}{suffix if i % 2 == 0 else '.jpg'}"
                make(rng, i).save(path)
                add(category, path)
        if "photo_gray" in categories:
            path = folder / "photo_gray" / f"photo_gray_{i:02d}.jpg"
            _photo(rng, i).convert("L").save(path)
            add("photo_gray", path)
        part, (draw_parts, (h, w)) = list(ANATOMY.items())[i % len(ANATOMY)]
        film = _body((h, w), rng, draw_parts)
        if "anatomy_image" in categories:
            path = folder / "anatomy_image" / f"{part.lower()}_{i:02d}.png"
            Image.fromarray(film).save(path)
            add("anatomy_image", path)
        if "anatomy_dicom" in categories:
            add("anatomy_dicom", make_dicom_from_image(film, folder / "anatomy_dicom", Modality="DX",
                                                       BodyPartExamined=part, name=f"{part.lower()}_{i:02d}.dcm"))
    slices: list[tuple[str, Path]] = []
    if {"ct_mr_dicom", "ct_mr_image"} & set(categories):
        for name in PYDICOM_SLICES[:per_category]:
            slices.append((Path(name).stem, Path(get_testdata_file(name))))
        for i in range(max(0, per_category - len(PYDICOM_SLICES)) or 2):
            hu = _ct_slice(rng, i)
            stored = np.round(hu + 1024).clip(0, 4095).astype(np.uint16)
            window = ((-600, 1500) if i % 2 else (40, 400))
            path = make_dicom_from_image(stored, folder / "ct_mr_dicom", Modality="CT", BodyPartExamined="CHEST",
                                         rescale=(1, -1024), window=window, bits_stored=12,
                                         SOPClassUID="1.2.840.10008.5.1.4.1.1.2", name=f"synthetic_ct_{i:02d}.dcm")
            slices.append((path.stem, path))
    for stem, path in slices:
        if "ct_mr_dicom" in categories:
            add("ct_mr_dicom", path)
        if "ct_mr_image" in categories:
            add("ct_mr_image", _pixels_to_png(load_scan(path).pixels, folder / "ct_mr_image" / f"{stem}.png"))
    return out


def write_chest_dicoms(films: list[Path], folder: Path) -> list[Path]:
    """DICOM copies (CR, CHEST, 8-bit MONOCHROME2) of chest films: the guard must pass them."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_dicom_from_image(film, folder, name=f"{film.stem}.dcm") for film in films]
