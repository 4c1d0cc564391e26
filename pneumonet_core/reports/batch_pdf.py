"""The batch PDF: summary counts, a probability histogram with the threshold, one line per scan."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer, Table, TableStyle

from pneumonet_core import __version__
from pneumonet_core.errors import PneumonetError
from pneumonet_core.imaging import load_scan
from pneumonet_core.models.card import ModelCard
from pneumonet_core.printable import printable
from pneumonet_core.reports import pdf_common as pc
from pneumonet_core.reports.charts import probability_histogram_png
from pneumonet_core.reports.deidentify import deidentified
from pneumonet_core.reports.heatmap_images import thumbnail
from pneumonet_core.reports.summary import BatchSummary, format_pair
from pneumonet_core.results import SUBTYPE_CAVEAT, WITHHELD_MESSAGE, ScanResult, decision_words

#: Rows per table: reportlab splits long tables in quadratic time, so many short tables
#: keep a report of thousands of scans fast.
ROWS_PER_TABLE = 40
THUMB_SIZE = 64


def load_thumbnail(path: str, size: int = THUMB_SIZE) -> np.ndarray | None:
    """Decode a scan just for its thumbnail; None when it cannot be read."""
    try:
        return thumbnail(load_scan(path).pixels, size)
    except (PneumonetError, MemoryError, ValueError):
        return None


def _thumbnails(results: Sequence[ScanResult], given: Mapping[str, np.ndarray] | None, load_missing: bool):
    thumbs = dict(given or {})
    missing = [str(r.path) for r in results if r.ok and str(r.path) not in thumbs]
    if load_missing and missing:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
            for path, thumb in zip(missing, pool.map(load_thumbnail, missing)):
                if thumb is not None:
                    thumbs[path] = thumb
    return thumbs


def _thumb_flowable(thumb: np.ndarray | None, box: float):
    if thumb is None:
        return ""
    image = PILImage.fromarray(np.asarray(thumb, dtype=np.uint8), mode="L")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    buf.seek(0)
    scale = box / max(image.size)
    return Image(buf, width=image.width * scale, height=image.height * scale)


def _tiles(summary: BatchSummary, width: float) -> Table:
    st = pc.styles()
    _, bold = pc.fonts()
    items = [
        ("SCANS", summary.total, pc.INK),
        ("PNEUMONIA", summary.labels.get("PNEUMONIA", 0), pc.LABEL_COLOURS["PNEUMONIA"]),
        ("NO PNEUMONIA", summary.labels.get("NORMAL", 0), pc.LABEL_COLOURS["NORMAL"]),  # found: one line
        ("WITH WARNINGS", summary.warnings, pc.ERROR_COLOUR),
        ("ERRORS", summary.errors, pc.ERROR_COLOUR if summary.errors else pc.INK),
    ]
    if summary.withheld:  # scans the guard flagged: not a chest X-ray this model knows
        items.insert(3, ("WITHHELD", summary.withheld, pc.ERROR_COLOUR))
    row1 = [Paragraph(title, st["muted"]) for title, _, _ in items]
    row2 = [Paragraph(f'<font name="{bold}" size="16" color="{c.hexval()}">{n}</font>', st["body"]) for _, n, c in items]
    table = Table([row1, row2], colWidths=[width / len(items)] * len(items), rowHeights=[None, 9 * mm])
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), pc.PANEL),
        ("LINEAFTER", (0, 0), (-2, -1), 2, colors.white),
        ("LEFTPADDING", (0, 0), (-1, -1), 7),
        ("TOPPADDING", (0, 0), (-1, 0), 5),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 5),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def _common_folder(paths: Sequence[str]) -> str | None:
    try:
        common = os.path.commonpath([os.path.dirname(p) or "." for p in paths]) if paths else None
    except ValueError:  # mixed drives or absolute and relative
        return None
    return common if common not in (None, "", ".") else None


def _scan_rows(results: Sequence[ScanResult], thumbs: Mapping[str, np.ndarray], originals: Sequence[str],
               folder: str | None, widths: list[float]):
    st = pc.styles()
    _, bold = pc.fonts()
    for index, (r, original) in enumerate(zip(results, originals), start=1):
        shown = printable(os.path.relpath(r.path, folder) if folder else r.path)  # any bytes a name holds
        if r.withheld:  # flagged by the guard: no decision or probability for people
            decision = Paragraph(f'<font name="{bold}" color="{pc.ERROR_COLOUR.hexval()}">WITHHELD</font>', st["cell"])
            prob = Paragraph(f'<font color="{pc.MUTED.hexval()}">withheld</font>', st["cell"])
            why = "; ".join([f"{WITHHELD_MESSAGE}: {r.ood_reason}"] + list(r.warnings))
            note = Paragraph(f'<font color="{pc.ERROR_COLOUR.hexval()}">{escape(why)}</font>', st["cell"])
        elif r.ok:
            colour = pc.label_colour(r.label).hexval()
            decision = Paragraph(f'<font name="{bold}" color="{colour}">{escape(decision_words(r.label))}</font>', st["cell"])
            p_text = "\u2014" if r.probability is None else format_pair(
                r.probability, r.threshold if r.threshold is not None else 0.5)[0]
            prob = Paragraph(p_text, st["cell"])
            notes = "; ".join(([r.subtype_text] if r.subtype_text else []) + list(r.warnings))
            note = Paragraph(escape(notes), st["cell"]) if notes else ""
        else:
            decision = Paragraph(f'<font name="{bold}" color="{pc.ERROR_COLOUR.hexval()}">ERROR</font>', st["cell"])
            prob = Paragraph("—", st["cell"])
            note = Paragraph(f'<font color="{pc.ERROR_COLOUR.hexval()}">{escape(r.error or "")}</font>', st["cell"])
        yield [Paragraph(str(index), st["muted"]), _thumb_flowable(thumbs.get(original), widths[1] - 2 * mm),
               Paragraph(escape(shown), st["cell"]), prob, decision, note]


def _scan_tables(results, thumbs, originals, folder, width):
    st = pc.styles()
    widths = [9 * mm, 13 * mm, 0.0, 20 * mm, 21 * mm, 0.0]
    rest = width - sum(widths)
    widths[2], widths[5] = rest * 0.6, rest * 0.4
    header = [Paragraph(t, st["cellbold"]) for t in ("#", "", "File", "Probability", "Decision", "Warnings / error")]
    rows = list(_scan_rows(results, thumbs, originals, folder, widths))
    style = TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, pc.ACCENT),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, pc.RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("ALIGN", (1, 1), (1, -1), "CENTER"),
    ])
    tables = []
    for start in range(0, len(rows), ROWS_PER_TABLE):
        table = Table([header] + rows[start : start + ROWS_PER_TABLE], colWidths=widths, repeatRows=1)
        table.setStyle(style)
        tables.append(table)
    return tables


def write_batch_report(path: str | Path, results: Sequence[ScanResult], card: ModelCard, *,
                       thumbnails: Mapping[str, np.ndarray] | None = None, deidentify: bool = True,
                       app_version: str | None = None, load_missing_thumbnails: bool = True,
                       title_note: str | None = None) -> Path:
    """Write the batch PDF to ``path`` (atomically) and return the path.

    ``thumbnails`` maps a result's path (its text) to a small uint8 image (the batch run makes them
    while scans are in memory); missing ones are decoded again unless told not to.
    ``title_note`` adds a line under the title (e.g. "cancelled after 120 of 400 scans").
    """
    app_version = app_version or __version__
    results = list(results)
    thumbs = _thumbnails(results, thumbnails, load_missing_thumbnails)
    originals = [str(r.path) for r in results]  # the thumbnails' keys
    shown = [deidentified(r, deidentify) for r in results]
    summary = BatchSummary.of(shown)
    st = pc.styles()
    width = pc.PAGE[0] - 2 * pc.MARGIN
    folder = _common_folder([str(r.path) for r in shown])
    subtitle = f"Pneumonet {app_version} · generated {pc.now_text()} · {summary.total} scans"
    story = [
        Paragraph("Batch classification report", st["title"]),
        Paragraph(escape(subtitle), st["subtitle"]),
    ]
    if title_note:
        story.append(Paragraph(escape(title_note), st["subtitle"]))
    story += [Spacer(1, 4 * mm), _tiles(summary, width), Spacer(1, 2.5 * mm), pc.disclaimer_box(width)]
    probabilities = [r.probability for r in shown if r.ok and not r.withheld and r.probability is not None]
    hist = probability_histogram_png(probabilities, card.threshold)
    story += [
        Paragraph("Distribution of probabilities", st["h2"]),
        Image(io.BytesIO(hist), width=width, height=width * 2.4 / 7.0),
        KeepTogether([Paragraph("Model", st["h2"]), pc.key_value_table(pc.card_rows(card), width, 26 * mm)]),
    ]
    notes = []
    if folder:
        notes.append(f"File paths are relative to the folder {folder}.")
    if deidentify:
        notes.append("De-identified: patient names, IDs, accession numbers, institutions and dates are left out; "
                     "file or folder names that contain them are replaced by a pseudonym.")
    if any(r.subtype for r in shown):
        notes.append(f"Bacterial or viral (beside a pneumonia): {SUBTYPE_CAVEAT}")
    story.append(Paragraph("Scans", st["h2"]))
    story += [Paragraph(escape(n), st["muted"]) for n in notes]
    story.append(Spacer(1, 1.5 * mm))
    story += _scan_tables(shown, thumbs, originals, folder, width)
    return pc.write_document(path, story, "Batch classification report", app_version,
                             f"Pneumonet {app_version} · batch report")
