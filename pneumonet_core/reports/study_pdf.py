"""The single-study PDF: scan and heat map side by side, the decision, warnings, metadata, model card."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

from pneumonet_core import __version__
from pneumonet_core.imaging.scan import METADATA_KEYS, METADATA_TITLES, Scan
from pneumonet_core.models.card import ModelCard
from pneumonet_core.printable import printable
from pneumonet_core.reports import pdf_common as pc
from pneumonet_core.reports.deidentify import report_path, safe_stem, scrub_metadata, scrub_text
from pneumonet_core.reports.heatmap_images import gray_image, overlay_image
from pneumonet_core.reports.summary import format_pair
from pneumonet_core.reports.wording import readable
from pneumonet_core.results import SUBTYPE_CAVEAT, WITHHELD_MESSAGE, ScanResult, decision_words, file_sha256


def _decision_band(result: ScanResult, card: ModelCard, width: float) -> Table:
    st = pc.styles()
    regular, bold = pc.fonts()
    probability, threshold = result.probability, result.threshold
    if probability is None or threshold is None:  # a withheld or failed result has no band (see _withheld_band)
        raise ValueError("a decision band needs the result's probability and threshold")
    colour = pc.label_colour(result.label)
    label = decision_words(result.label)
    p_text, t_text = format_pair(probability, threshold)
    sign = "\u2265" if probability >= threshold else "<"
    cells = [
        [Paragraph("DECISION AT THE MODEL'S THRESHOLD", st["muted"]),
         Paragraph("PROBABILITY OF PNEUMONIA", st["muted"]),
         Paragraph("OPERATING THRESHOLD", st["muted"])],
        [Paragraph(f'<font name="{bold}" size="18" color="{colour.hexval()}">{escape(label)}</font>', st["body"]),
         Paragraph(f'<font name="{bold}" size="18">{probability * 100:.1f} %</font>', st["body"]),
         Paragraph(f'<font name="{bold}" size="18">{t_text}</font>', st["body"])],
        [Paragraph(escape(f"p = {p_text} {sign} threshold {t_text}"), st["muted"]),
         Paragraph(f"p = {p_text}", st["muted"]),
         Paragraph(escape(_short(card.threshold_rule)), st["muted"])],
    ]
    band = Table(cells, colWidths=[width * 0.40, width * 0.32, width * 0.28], rowHeights=[None, 9 * mm, None])
    band.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), pc.PANEL),
        ("LINEBEFORE", (0, 0), (0, -1), 3, colour),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, 0), 6),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
    ]))
    return band


def _subtype_lines(result: ScanResult) -> list:
    """The bacterial/viral opinion under a PNEUMONIA decision, with its caveat; nothing otherwise."""
    if not result.subtype_text:
        return []
    st = pc.styles()
    _, bold = pc.fonts()
    return [Spacer(1, 1.5 * mm),
            Paragraph(f'Bacterial or viral: <font name="{bold}">{escape(result.subtype_text)}</font>', st["body"]),
            Paragraph(escape(SUBTYPE_CAVEAT), st["muted"])]


def _withheld_band(result: ScanResult, width: float) -> Table:
    """The decision band of a scan the guard flagged: the message and why, the probability greyed out."""
    st = pc.styles()
    _, bold = pc.fonts()
    grey = pc.MUTED.hexval()
    cells = [
        [Paragraph("RESULT", st["muted"]), Paragraph("PROBABILITY OF PNEUMONIA", st["muted"])],
        [Paragraph(f'<font name="{bold}" size="13" color="{pc.ERROR_COLOUR.hexval()}">'
                   f'{escape(WITHHELD_MESSAGE)}</font>', st["body"]),
         Paragraph(f'<font name="{bold}" size="18" color="{grey}">withheld</font>', st["body"])],
        [Paragraph(escape(f"Why: {result.ood_reason} (out-of-distribution score {result.ood_score:.2f}, "
                          "flagged from 1.00)"), st["muted"]),
         Paragraph(f'<font color="{grey}">not shown: the model was not made for this image</font>', st["muted"])],
    ]
    band = Table(cells, colWidths=[width * 0.68, width * 0.32], rowHeights=[None, 11 * mm, None])
    band.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), pc.PANEL),
        ("LINEBEFORE", (0, 0), (0, -1), 3, pc.ERROR_COLOUR),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, 0), 6),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
    ]))
    return band


def _short(text: str, n: int = 60) -> str:
    text = str(text or "")
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _images(scan: Scan, heatmap: np.ndarray | None, width: float, withheld: bool = False,
            heatmap_note: str | None = None) -> Table:
    st = pc.styles()
    gap = 5 * mm
    col = (width - gap) / 2
    max_h = 58 * mm  # one page, with the disclaimer's scope sentence
    left = pc.image_flowable(gray_image(scan.pixels), col, max_h)
    if heatmap is not None:
        right = pc.image_flowable(overlay_image(scan.pixels, heatmap), col, max_h)
        caption = ("Grad-CAM heat map: the regions that most raised the model's score for its decision "
                   "(red = strongest); it marks areas, not the outline of a finding")
    elif withheld:
        right = Paragraph('<font color="white">No heat map: result withheld</font>', st["caption"])
        caption = "No Grad-CAM heat map: it would explain a result this model cannot give for this image"
    elif heatmap_note:
        right = Paragraph(f'<font color="white">{escape(heatmap_note)}</font>', st["caption"])
        caption = "No heat map in this report; the decision above stands on its own"
    else:
        right = Paragraph('<font color="white">Heat map unavailable for this scan</font>', st["caption"])
        caption = "No Grad-CAM heat map could be computed; the decision above still holds"
    table = Table(
        [[left, "", right],
         [Paragraph("Scan", st["caption"]), "", Paragraph(caption, st["caption"])]],
        colWidths=[col, gap, col],
    )
    table.setStyle(TableStyle([
        ("ALIGN", (0, 0), (-1, 0), "CENTER"),
        ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
        ("BACKGROUND", (0, 0), (0, 0), colors.black),
        ("BACKGROUND", (2, 0), (2, 0), colors.black),
        ("TOPPADDING", (0, 0), (-1, 0), 0),
        ("BOTTOMPADDING", (0, 0), (-1, 0), 0),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 1), (-1, 1), 3),
    ]))
    return table


def metadata_rows(scan: Scan, deidentify: bool) -> list[tuple[str, str]]:
    """The study's metadata as (key, value) rows, without identifiers when de-identifying."""
    metadata = scrub_metadata(scan.metadata, deidentify)
    rows = [(METADATA_TITLES.get(k, k), str(readable(k, metadata[k])))
            for k in METADATA_KEYS if metadata.get(k) not in (None, "")]
    return rows or [("Metadata", "none in this file (PNG/JPEG carry no study header)")]


def file_rows(scan: Scan, deidentify: bool, file_hash: str | None) -> list[tuple[str, str]]:
    """Where the pixels came from: file, format and size, content hash."""
    src = scan.source
    rows = [("File", printable(report_path(scan.path, scan.metadata, deidentify, file_hash)))]
    detail = f"{src.format}, {src.width} × {src.height} px, {src.photometric}"
    if src.bits_stored:
        detail += f", {src.bits_stored} bits"
    if src.inverted:
        detail += " (MONOCHROME1 inverted for display)"
    if src.transfer_syntax:
        detail += f", {src.transfer_syntax}"
    rows.append(("Image", detail))
    if file_hash:
        rows.append(("File SHA-256", file_hash))
    if deidentify:
        rows.append(("De-identified", "patient names, IDs, accession number, institution and dates other than "
                                      "the year are left out of this report"))
    return rows


def study_report_name(scan: Scan, deidentify: bool, file_hash: str | None = None) -> str:
    """A file name to suggest for the report: ``<scan stem>-report.pdf``, hashed if it names the patient."""
    if deidentify and file_hash is None:
        file_hash = file_sha256(scan.path)
    return f"{safe_stem(scan.path, scan.metadata, deidentify, file_hash)}-report.pdf"


def write_study_report(path: str | Path, scan: Scan, result: ScanResult, heatmap: np.ndarray | None, card: ModelCard,
                       deidentify: bool = True, app_version: str | None = None,
                       file_hash: str | None = None, measurements=None, heatmap_note: str | None = None) -> Path:
    """Write the one-study PDF report to ``path`` (atomically) and return the path.

    ``heatmap`` (H x W, 0..1, as :meth:`Classifier.heatmap` returns it) may be None when it
    could not be computed. The report is de-identified like every export unless the
    caller passes ``deidentify=False``, which it should do only on the user's explicit
    choice (the CLI's ``--include-identifiers``, the export dialog's checkbox): only then
    may a clinical report name the patient. A scan the out-of-distribution guard flagged
    gets "result withheld", its reason, and no probability or heat map.
    ``measurements`` are (name, value) rows the reader made on the scan, e.g.
    ("Distance 1", "42.3 mm"), printed as they are. ``heatmap_note`` says why a heat map
    that exists is left out (the viewer shows maps for PNEUMONIA decisions by default).
    """
    app_version = app_version or __version__
    file_hash = file_hash or file_sha256(scan.path)
    st = pc.styles()
    width = pc.PAGE[0] - 2 * pc.MARGIN
    story = [
        Paragraph("Chest X-ray decision support report", st["title"]),
        Paragraph(escape(f"Pneumonet {app_version} · generated {pc.now_text()} · single study"), st["subtitle"]),
        Spacer(1, 4 * mm),
        _withheld_band(result, width) if result.withheld else _decision_band(result, card, width),
        *_subtype_lines(result),
        Spacer(1, 2.5 * mm),
        pc.disclaimer_box(width),
        Spacer(1, 3 * mm),
        _images(scan, None if result.withheld else heatmap, width, result.withheld, heatmap_note),
        Paragraph("Warnings", st["h2"]),
    ]
    warnings = [scrub_text(w, scan.metadata, deidentify) for w in scan.warnings]
    if warnings:
        story += [Paragraph(f"• {escape(w)}", st["body"]) for w in warnings]
    else:
        story.append(Paragraph("None: the image was read without anything to report.", st["muted"]))
    if measurements:
        story.append(KeepTogether([Paragraph("Measurements", st["h2"]),
                                   pc.key_value_table([(str(k), str(v)) for k, v in measurements], width, 26 * mm)]))
    story += [
        KeepTogether([Paragraph("Study", st["h2"]), pc.grid_table(metadata_rows(scan, deidentify), width),
                      Spacer(1, 1.5 * mm), pc.key_value_table(file_rows(scan, deidentify, file_hash), width, 26 * mm)]),
        KeepTogether([Paragraph("Model", st["h2"]), pc.key_value_table(pc.card_rows(card), width, 26 * mm)]),
    ]
    return pc.write_document(path, story, "Chest X-ray decision support report", app_version,
                             f"Pneumonet {app_version}")
