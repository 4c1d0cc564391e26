"""The four corner overlays on the scan, as text: who, what study, which image, how shown.

Like every reading-room viewer: patient top left, study top right, series and image
bottom left, window/level, zoom and orientation bottom right. They follow "Hide
identifiers" (through :mod:`pneumonet_gui.privacy`). Plain Python; the scan view paints
the lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pneumonet_core.imaging.clinical_warnings import with_age
from pneumonet_core.imaging.dicom_display import DisplayHeader
from pneumonet_core.reports.wording import age_text, sex_text
from pneumonet_gui.display import format_window, window_scale
from pneumonet_gui.privacy import screen_metadata, screen_name

TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT, BOTTOM_RIGHT = "top_left", "top_right", "bottom_left", "bottom_right"
CORNERS = (TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT, BOTTOM_RIGHT)


@dataclass
class ViewState:
    """What the bottom-right corner reports about the view."""

    window: tuple[float, float] | None = None  # (centre, width)
    preset: str = ""
    zoom: float = 1.0
    inverted: bool = False
    orientation: str = ""
    frame: tuple[int, int] | None = None  # (1-based index, count)
    calibration: str = ""
    #: Patient directions at the screen edges ("left", "right", "top", "bottom"), when known.
    edges: dict = field(default_factory=dict)


@dataclass
class CornerTexts:
    lines: dict = field(default_factory=lambda: {corner: [] for corner in CORNERS})
    #: Orientation markers at the middle of each screen edge, e.g. {"left": "R", "right": "L"}.
    edges: dict = field(default_factory=dict)

    def __getitem__(self, corner: str) -> list[str]:
        return self.lines[corner]

    def all_text(self) -> str:
        return "\n".join(line for corner in CORNERS for line in self.lines[corner])


def _join(*parts) -> str:
    return " \u00b7 ".join(str(p) for p in parts if p not in (None, ""))


def corner_texts(scan, header: DisplayHeader | None, view: ViewState, hide: bool) -> CornerTexts:
    """The lines of each corner for ``scan`` under ``view``; identifiers hidden when ``hide``."""
    texts = CornerTexts(edges=dict(view.edges))
    if scan is None:
        return CornerTexts()
    header = header or DisplayHeader()
    metadata = with_age(scan.metadata or {})  # one age for the corner, the panel and the warning
    shown = screen_metadata(metadata, hide)
    identified = any(shown.get(k) for k in ("patient_name", "patient_id", "patient_birth_date"))
    if hide and identified:
        who = ["Patient identifiers hidden"]
    else:
        who = [shown.get("patient_name"),
               _join(f"ID {shown['patient_id']}" if shown.get("patient_id") else "",
                     f"born {shown['patient_birth_date']}" if shown.get("patient_birth_date") else "")]
    texts[TOP_LEFT].extend(line for line in (
        *who, _join(age_text(metadata.get("patient_age")), sex_text(metadata.get("patient_sex"))),
    ) if line)
    if not texts[TOP_LEFT]:  # PNG, JPEG: no patient header, the file name stands in
        texts[TOP_LEFT].append(screen_name(scan.path, metadata, hide))
    texts[TOP_RIGHT].extend(line for line in (
        header.study_description,
        shown.get("study_date"),
        _join(metadata.get("modality"), metadata.get("body_part"), metadata.get("view_position")),
    ) if line)
    height, width = scan.pixels.shape
    texts[BOTTOM_LEFT].extend(line for line in (
        _join(header.series_description, f"Series {header.series_number}" if header.series_number else ""),
        _join(f"Image {header.instance_number}" if header.instance_number else "",
              f"Frame {view.frame[0]}/{view.frame[1]}" if view.frame and view.frame[1] > 1 else ""),
        f"{width} \u00d7 {height} px \u00b7 {scan.source.format}",
    ) if line)
    window = ""
    if view.window is not None:
        centre, width_ = view.window
        window = format_window(centre, width_, window_scale(scan)) + (f" ({view.preset})" if view.preset else "")
    texts[BOTTOM_RIGHT].extend(line for line in (
        window,
        _join(f"Zoom {view.zoom * 100:.0f}%", "Inverted" if view.inverted else "", view.orientation),
        view.calibration,
    ) if line)
    return texts
