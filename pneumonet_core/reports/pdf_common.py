"""What every Pneumonet PDF shares: fonts, styles, the page frame, the model card and the disclaimer."""

from __future__ import annotations

import datetime as _dt
import io
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Table, TableStyle

from pneumonet_core.atomic import atomic_path
from pneumonet_core.models.card import ModelCard, describe_guard

DISCLAIMER = (
    "Decision support for a clinician, not a diagnosis. The probability comes from a machine-learning "
    "model and must be read by a qualified clinician together with the clinical picture and the full "
    "images; it does not replace a radiologist's report. The model assesses pneumonia only: "
    "\u201cno pneumonia found\u201d does not exclude other findings such as TB, nodules or devices."
)
DISCLAIMER_SHORT = "Decision support for a clinician, not a diagnosis."

PAGE = A4
MARGIN = 16 * mm
INK = colors.HexColor("#1B2733")
MUTED = colors.HexColor("#5B6875")
ACCENT = colors.HexColor("#1F4E79")
RULE = colors.HexColor("#C9D3DD")
PANEL = colors.HexColor("#F2F5F8")
LABEL_COLOURS = {"PNEUMONIA": colors.HexColor("#B3261E"), "NORMAL": colors.HexColor("#1E7B34")}
ERROR_COLOUR = colors.HexColor("#8A5300")


def label_colour(label: str | None):
    """The colour a decision is printed in: ink for anything but PNEUMONIA and NORMAL."""
    return LABEL_COLOURS.get(label, INK) if label is not None else INK

_FONTS: tuple[str, str] | None = None


def fonts() -> tuple[str, str]:
    """(regular, bold) font names: DejaVu Sans from matplotlib (covers accents and non-Latin
    names), else the PDF base Helvetica."""
    global _FONTS
    if _FONTS is None:
        try:
            import matplotlib

            base = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
            pdfmetrics.registerFont(TTFont("PnSans", str(base / "DejaVuSans.ttf")))
            pdfmetrics.registerFont(TTFont("PnSans-Bold", str(base / "DejaVuSans-Bold.ttf")))
            _FONTS = ("PnSans", "PnSans-Bold")
        except Exception:  # noqa: BLE001 - any font trouble: the base-14 fonts always work
            _FONTS = ("Helvetica", "Helvetica-Bold")
    return _FONTS


def styles() -> dict[str, ParagraphStyle]:
    regular, bold = fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=17, leading=21, textColor=INK, spaceAfter=1 * mm),
        "subtitle": ParagraphStyle("subtitle", fontName=regular, fontSize=9, leading=12, textColor=MUTED),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14, textColor=ACCENT,
                             spaceBefore=4 * mm, spaceAfter=1.5 * mm),
        "body": ParagraphStyle("body", fontName=regular, fontSize=9, leading=12, textColor=INK, alignment=TA_LEFT),
        "small": ParagraphStyle("small", fontName=regular, fontSize=7.5, leading=9.5, textColor=INK),
        "muted": ParagraphStyle("muted", fontName=regular, fontSize=8, leading=10.5, textColor=MUTED),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=7.5, leading=9, textColor=INK),
        "cellbold": ParagraphStyle("cellbold", fontName=bold, fontSize=7.5, leading=9, textColor=INK),
        "key": ParagraphStyle("key", fontName=bold, fontSize=8.5, leading=11, textColor=MUTED),
        "value": ParagraphStyle("value", fontName=regular, fontSize=8.5, leading=11, textColor=INK),
        "caption": ParagraphStyle("caption", fontName=regular, fontSize=8, leading=10, textColor=MUTED, alignment=1),
        "disclaimer": ParagraphStyle("disclaimer", fontName=bold, fontSize=9, leading=12, textColor=INK),
    }


def p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: file names may hold '&' or '<')."""
    return Paragraph(escape(str(text)), style)


def now_text() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


def fmt_metric(value) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def card_rows(card: ModelCard) -> list[tuple[str, str]]:
    """The model card summary as (key, value) rows: name, approach, threshold, then the figures on
    independent patients first and the held-out split of the training data second, labelled as such
    (see :mod:`pneumonet_core.models.figures`)."""
    from pneumonet_core.models import figures

    rows = [
        ("Model", f"{card.name} (version {card.version}) · {card.approach}, backbone {card.backbone}"),
        ("Threshold", f"{card.threshold:.4f} — {card.threshold_rule}"),
    ]
    # Short keys: the key column is narrow, and a wrapped key reads as two rows.
    found = figures.independent(card)
    rows.append(("Independent", "not measured on patients outside the training split: the held-out figures "
                                "below flatter the model" if found is None else
                 f"{figures.figures_text(found.figures)} — {found.title}"))
    held = figures.held_out(card)
    rows.append(("Held-out", f"{figures.figures_text(held.figures)} — {held.title}" if held else
                 "no held-out metrics recorded for this model"))
    rows += [
        ("Model hash", f"sha256:{card.hash}" if card.hash else "n/a"),
        ("Guard", f"out-of-distribution: {describe_guard(card.ood or {})}"),
    ]
    return rows


#: Key/value tables: text from the top, rows divided by thin rules.
ROW_RULES = (
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LINEBELOW", (0, 0), (-1, -2), 0.25, RULE),
    ("TOPPADDING", (0, 0), (-1, -1), 2.2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
    ("LEFTPADDING", (0, 0), (-1, -1), 2),
)


def key_value_table(rows: list[tuple[str, str]], width: float, key_width: float = 32 * mm) -> Table:
    st = styles()
    data = [[p(k, st["key"]), p(v, st["value"])] for k, v in rows]
    table = Table(data, colWidths=[key_width, width - key_width], hAlign="LEFT")
    table.setStyle(TableStyle(ROW_RULES))
    return table


def grid_table(rows: list[tuple[str, str]], width: float, key_width: float = 26 * mm) -> Table:
    """Short (key, value) rows laid out in two column pairs, filled down then across."""
    st = styles()
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [("", "")] * (half - len(rows[half:]))
    value_width = width / 2 - key_width
    data = [[p(k1, st["key"]), p(v1, st["value"]), p(k2, st["key"]), p(v2, st["value"])]
            for (k1, v1), (k2, v2) in zip(left, right)]
    table = Table(data, colWidths=[key_width, value_width, key_width, value_width], hAlign="LEFT")
    table.setStyle(TableStyle(ROW_RULES))
    return table


def disclaimer_box(width: float) -> Table:
    st = styles()
    box = Table([[Paragraph(escape(DISCLAIMER), st["disclaimer"])]], colWidths=[width])
    box.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#FFF6E0")),
        ("BOX", (0, 0), (-1, -1), 0.8, colors.HexColor("#D9A400")),
        ("LEFTPADDING", (0, 0), (-1, -1), 7),
        ("RIGHTPADDING", (0, 0), (-1, -1), 7),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    return box


def image_flowable(image: PILImage.Image, max_width: float, max_height: float, jpeg: bool = True) -> Image:
    """A PIL image scaled to fit the box (aspect kept); scans go in as JPEG to keep PDFs small."""
    buf = io.BytesIO()
    if jpeg:
        image.save(buf, format="JPEG", quality=90, optimize=True)
    else:
        image.save(buf, format="PNG")
    buf.seek(0)
    scale = min(max_width / image.width, max_height / image.height)
    return Image(buf, width=image.width * scale, height=image.height * scale)


def numbered_canvas(footer_left: str):
    """A canvas class that draws the header rule and 'page N of M' footer on every page."""
    regular, _ = fonts()

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._draw_frame(total)
                super().showPage()
            super().save()

        def _draw_frame(self, total: int):
            width, height = PAGE
            self.saveState()
            self.setStrokeColor(ACCENT)
            self.setLineWidth(1.2)
            self.line(MARGIN, height - MARGIN + 4 * mm, width - MARGIN, height - MARGIN + 4 * mm)
            self.setStrokeColor(RULE)
            self.setLineWidth(0.4)
            self.line(MARGIN, MARGIN - 4 * mm, width - MARGIN, MARGIN - 4 * mm)
            self.setFont(regular, 7)
            self.setFillColor(MUTED)
            self.drawString(MARGIN, MARGIN - 8 * mm, f"{footer_left} · {DISCLAIMER_SHORT}")
            self.drawRightString(width - MARGIN, MARGIN - 8 * mm, f"Page {self._pageNumber} of {total}")
            self.restoreState()

    return NumberedCanvas


def write_document(path: str | Path, story: list, title: str, app_version: str, footer: str) -> Path:
    """Lay ``story`` out on Pneumonet's page, numbered with ``footer``, and write it to ``path`` atomically."""
    with atomic_path(path) as tmp:
        doc = SimpleDocTemplate(
            str(tmp), pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
            title=title, author=f"Pneumonet {app_version}", subject=DISCLAIMER_SHORT,
            creator=f"Pneumonet {app_version}",
        )
        doc.build(story, canvasmaker=numbered_canvas(footer))
    return Path(path)
