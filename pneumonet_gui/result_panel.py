"""The result: pneumonia probability (number and bar), the decision at the model's threshold,
the model that decided, and the reminder that this supports a clinician's reading.

Decisions read in words ("No pneumonia found", with the note that the model assesses
pneumonia only); a withheld result shows no number, bar or threshold: only that no
result is given, and why.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from pneumonet_core.reports.summary import format_pair as fewest_decimals
from pneumonet_core.results import SCOPE_NOTE, WITHHELD_MESSAGE, decision_words
from pneumonet_gui import theme
from pneumonet_gui.subtype_view import SubtypeOpinion

DISCLAIMER = "Decision support for a clinician, not a diagnosis."


def format_pair(probability: float, threshold: float) -> tuple[str, str]:
    """Probability and threshold with the fewest decimals (3 to 6) that keep them apart.

    Three, like the probability printed above them: 0.995 must not read "p = 1.00".
    """
    return fewest_decimals(probability, threshold, min_decimals=3)


def decision_text(result) -> str:
    """E.g. ``Pneumonia (p = 0.93 ≥ threshold 0.41)``: the decision in words and why."""
    p, t = format_pair(result.probability, result.threshold)
    sign = "\u2265" if result.probability >= result.threshold else "<"
    return f"{decision_words(result.label)} (p = {p} {sign} threshold {t})"


def wrappable(text: str) -> str:
    """Let a label wrap long paths: a zero-width space after each '/' and '_'."""
    return text.replace("/", "/\u200b").replace("_", "_\u200b")


def model_text(card) -> str:
    if card is None:
        return "No model loaded"
    short = f" \u00b7 sha256 {card.hash[:8]}" if getattr(card, "hash", "") else ""
    return f"{card.name} \u00b7 version {card.version}{short}"


class ProbabilityBar(QWidget):
    """A horizontal 0..1 bar with the model's threshold marked on it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._value: float | None = None
        self._threshold: float | None = None
        self._threshold_text = ""
        self.greyed = False  # a withheld result: the number is not to be read
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(240, 34)

    def set_values(self, value: float | None, threshold: float | None, threshold_text: str | None = None,
                   greyed: bool = False) -> None:
        self._value, self._threshold, self.greyed = value, threshold, greyed
        self._threshold_text = threshold_text if threshold_text is not None else (
            f"{threshold:.2f}" if threshold is not None else "")
        self.update()

    def value(self) -> float | None:
        return self._value

    def threshold(self) -> float | None:
        return self._threshold

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(1, 6, self.width() - 2, 12)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(theme.BORDER))
        painter.drawRoundedRect(track, 6, 6)
        if self._value is not None:
            above = self._threshold is not None and self._value >= self._threshold
            fill = QRectF(track)
            fill.setWidth(max(0.0, min(1.0, self._value)) * track.width())
            colour = theme.MUTED if self.greyed else (theme.PNEUMONIA if above else theme.NORMAL)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(fill, 6, 6)
        if self._threshold is not None:
            x = track.left() + max(0.0, min(1.0, self._threshold)) * track.width()
            painter.setPen(QPen(QColor(theme.TEXT), 2))
            painter.drawLine(int(x), 2, int(x), 22)
            painter.setPen(QColor(theme.MUTED))
            font = painter.font()
            font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
            painter.setFont(font)
            label = f"threshold {self._threshold_text}"
            width = painter.fontMetrics().horizontalAdvance(label)
            lx = min(max(0.0, x - width / 2), self.width() - width)
            painter.drawText(QRectF(lx, 22, width + 2, 12), Qt.AlignmentFlag.AlignLeft, label)
        painter.end()


class ResultPanel(QWidget):
    """Shows one scan's result, or what is going on when there is none yet."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        self.label = QLabel()
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 2.0)
        big.setBold(True)
        self.label.setFont(big)
        self.decision = QLabel()
        self.decision.setWordWrap(True)
        self.decision.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.probability_caption = QLabel("Pneumonia probability")
        self.probability_caption.setObjectName("muted")
        self.probability = QLabel()
        number = QFont(self.font())
        number.setPointSizeF(number.pointSizeF() * 1.5)
        number.setBold(True)
        self.probability.setFont(number)
        self.bar = ProbabilityBar()
        self.subtype = SubtypeOpinion()  # the bacterial/viral opinion on a PNEUMONIA decision, with its caveat
        self.details = QLabel()
        self.details.setObjectName("muted")
        self.details.setWordWrap(True)
        self.model = QLabel()
        self.model.setObjectName("muted")
        self.model.setWordWrap(True)
        self.model.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.disclaimer = QLabel(DISCLAIMER)
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setWordWrap(True)
        for widget in (self.label, self.decision, self.probability_caption, self.probability, self.bar,
                       self.subtype, self.details, self.model, self.disclaimer):
            layout.addWidget(widget)
        layout.addStretch(1)
        self._card = None
        self.show_idle()

    # --- states ------------------------------------------------------------------------
    def set_model(self, card, note: str = "") -> None:
        self._card = card
        self.model.setText(f"Model: {model_text(card)}{note}")

    def show_idle(self, text: str = "Open a chest X-ray to see the model's result.") -> None:
        self._set(label="", colour=theme.MUTED, decision=text)

    def show_waiting(self, text: str) -> None:
        self._set(label="\u2026", colour=theme.MUTED, decision=text)

    def show_error(self, message: str) -> None:
        self._set(label="No result", colour=theme.ERROR_FG, decision=wrappable(message))

    def show_result(self, result) -> None:
        if result.withheld:
            self.show_withheld(result)
            return
        colour = theme.PNEUMONIA if result.label == "PNEUMONIA" else theme.NORMAL
        lines = []
        if len(result.class_probabilities or {}) > 2:
            parts = [f"{name.title()} {value:.2f}" for name, value in result.class_probabilities.items()]
            lines.append("Class probabilities: " + ", ".join(parts))
        lines.append(SCOPE_NOTE)  # "No pneumonia found" is not "nothing found"
        details = "\n".join(lines)
        _, threshold_text = format_pair(result.probability, result.threshold)
        self._set(label=decision_words(result.label), colour=colour, decision=decision_text(result),
                  probability=f"{result.probability:.3f}",
                  bar=(result.probability, result.threshold, threshold_text), details=details)
        self.subtype.set_result(result)  # nothing unless the core gave an opinion (PNEUMONIA only)

    def show_withheld(self, result) -> None:
        """The guard flagged the scan: what was withheld and why; no number, bar or threshold."""
        reason = f"Why: {result.ood_reason}" if result.ood_reason else ""
        self._set(label="Withheld", colour=theme.MUTED, decision=WITHHELD_MESSAGE,
                  details="\n".join(filter(None, [reason, "No probability or decision is given for this image."])))

    def _set(self, label: str, colour: str, decision: str, probability: str = "",
             bar: tuple | None = None, details: str = "", greyed: bool = False) -> None:
        self.label.setText(label)
        self.label.setStyleSheet(f"color: {colour};")
        self.label.setVisible(bool(label))
        self.decision.setText(decision)
        has_number = bool(probability)
        self.probability.setText(probability)
        self.probability.setStyleSheet(f"color: {theme.MUTED};" if greyed else "")
        self.probability.setToolTip("Greyed out: not meaningful for a film the model does not know" if greyed else "")
        self.probability_caption.setVisible(has_number)
        self.probability.setVisible(has_number)
        self.bar.setVisible(has_number)
        self.bar.set_values(*(bar or (None, None, None)), greyed=greyed)
        self.details.setText(details)
        self.details.setVisible(bool(details))
        self.subtype.set_result(None)

    # --- for tests and reports -----------------------------------------------------------
    def shown_decision(self) -> str:
        return self.decision.text().replace("\u200b", "")

    def shown_label(self) -> str:
        return self.label.text()

    def shown_probability(self) -> str:
        return self.probability.text()
