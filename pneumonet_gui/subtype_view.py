"""The bacterial/viral second opinion as the GUI shows it: the result panel's line and caveat,
the short words of the batch and worklist tables, and the heat map's legend for it.

Only words: the opinion itself (``ScanResult.subtype``, ``viral_probability`` and
``subtype_text``) comes from the core, which gives it for PNEUMONIA decisions only, so
NORMAL, withheld and failed scans show nothing here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from pneumonet_core.results import SUBTYPE_CAVEAT, UNDETERMINED, subtype_words

#: What the heat map can be asked to explain (the choice beside the heat map).
EXPLAIN_PNEUMONIA, EXPLAIN_SUBTYPE = "pneumonia", "bacterial/viral"
#: The side of the opinion a subtype heat map explains, in the words people read.
SIDE_WORDS = {"VIRUS": "viral", "BACTERIA": "bacterial"}


def short_subtype(subtype: str | None, viral_probability: float | None) -> str:
    """A table cell: "viral 0.81", "bacterial 0.82" (the named cause's probability), "undetermined"; "" without one."""
    if not subtype or viral_probability is None:
        return ""
    if subtype == UNDETERMINED:
        return "undetermined"
    if subtype == "VIRUS":
        return f"viral {viral_probability:.2f}"
    return f"bacterial {1.0 - viral_probability:.2f}"


def subtype_tooltip(subtype: str | None, viral_probability: float | None) -> str:
    """The full opinion and its caveat, for a table cell's tooltip; "" without one."""
    words = subtype_words(subtype, viral_probability)
    return f"Bacterial or viral: {words}\n{SUBTYPE_CAVEAT}" if words else ""


def heatmap_side(result) -> str:
    """Which side a subtype heat map explains: the opinion's, or "VIRUS" when it is undetermined."""
    subtype = getattr(result, "subtype", None)
    return subtype if subtype in SIDE_WORDS else "VIRUS"


def subtype_legend(toward: str) -> str:
    """The legend of a subtype heat map: which question it explains."""
    side = SIDE_WORDS.get(toward, "viral")
    return (f"Explaining bacterial/viral \u00b7 brightest colours: the regions that drove \u2018{side}\u2019 "
            "\u00b7 clear: little influence")


class SubtypeOpinion(QWidget):
    """"Bacterial or viral: looks viral (p = 0.81)" and the caveat in muted text; hidden without an opinion."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(2)
        self.line = QLabel()
        self.line.setWordWrap(True)
        self.line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caveat = QLabel(SUBTYPE_CAVEAT)
        self.caveat.setObjectName("muted")
        self.caveat.setWordWrap(True)
        layout.addWidget(self.line)
        layout.addWidget(self.caveat)
        self.set_result(None)

    def set_result(self, result) -> None:
        """Show the opinion of ``result`` (None, or one without an opinion: hide)."""
        words = getattr(result, "subtype_text", "") if result is not None else ""
        self.line.setText(f"Bacterial or viral: {words}" if words else "")
        self.setVisible(bool(words))

    def shown_text(self) -> str:
        """The line as shown ("" when hidden), for tests and reports."""
        return self.line.text() if not self.isHidden() else ""


def subtype_model_note(classifier) -> str:
    """After the model's name: the bacterial/viral model it runs; nothing when off (one line less
    in the Result dock; ``pneumonet info`` and the model manager say it is off)."""
    slot = getattr(classifier, "subtype", None)
    path = getattr(slot, "path", None)
    return f"\nBacterial/viral: {path.stem}" if path is not None else ""
