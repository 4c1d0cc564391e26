"""The reading-room look: dark neutral greys, low glare, one muted accent.

Radiologists read in dim rooms; a bright frame around a film hurts both the eyes and the
perceived contrast of the image, so every surface is a dark, neutral (unsaturated) grey
and colour is kept for meaning: amber for warnings, red for errors, the decision colours.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication

WINDOW = "#1c1d20"
BASE = "#141517"
PANEL = "#222327"
BORDER = "#34363b"
TEXT = "#d4d5d8"
MUTED = "#8d9097"
ACCENT = "#5b8fb9"
WARNING_BG = "#5a4310"
WARNING_FG = "#ffdd99"
ERROR_BG = "#5c1f1f"
ERROR_FG = "#ffc9c9"
PNEUMONIA = "#e8a13a"
NORMAL = "#56b39a"
DISABLED = "#5f6268"
DISABLED_BG = "#19191c"

STYLESHEET = f"""
QMainWindow, QDialog {{ background: {WINDOW}; }}
QToolTip {{ color: {TEXT}; background: {PANEL}; border: 1px solid {BORDER}; }}
QToolBar {{ background: {WINDOW}; border: 0; border-bottom: 1px solid {BORDER}; spacing: 4px; padding: 3px; }}
QToolButton {{ color: {TEXT}; padding: 4px 8px; border: 1px solid transparent; border-radius: 4px; }}
QToolButton:hover {{ background: {PANEL}; border-color: {BORDER}; }}
QToolButton:checked {{ background: #2d3b48; border-color: {ACCENT}; }}
QStatusBar {{ background: {WINDOW}; color: {MUTED}; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QDockWidget {{ color: {MUTED}; font-weight: bold; }}
QDockWidget::title {{ background: {WINDOW}; padding: 6px 8px; border-bottom: 1px solid {BORDER}; }}
QMenuBar {{ background: {WINDOW}; color: {TEXT}; }}
QMenuBar::item:selected {{ background: {PANEL}; }}
QMenu {{ background: {PANEL}; color: {TEXT}; border: 1px solid {BORDER}; }}
QMenu::item:selected {{ background: #2d3b48; }}
QMenu::item:disabled {{ color: {MUTED}; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 4px 8px; }}
QTableWidget {{ background: {BASE}; alternate-background-color: #191a1d; gridline-color: transparent;
               border: 1px solid {BORDER}; color: {TEXT}; }}
QHeaderView::section {{ background: {PANEL}; color: {MUTED}; border: 0; padding: 3px; }}
QGroupBox {{ color: {MUTED}; border: 1px solid {BORDER}; border-radius: 6px; margin-top: 12px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; }}
QComboBox {{ background: {PANEL}; color: {TEXT}; border: 1px solid {BORDER}; border-radius: 4px; padding: 2px 8px; }}
QComboBox QAbstractItemView {{ background: {PANEL}; color: {TEXT}; selection-background-color: #2d3b48; }}
QSlider::groove:horizontal {{ height: 4px; background: {BORDER}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {ACCENT}; width: 14px; margin: -6px 0; border-radius: 7px; }}
QSlider::sub-page:horizontal {{ background: #3e6383; border-radius: 2px; }}
QPlainTextEdit {{ background: {BASE}; color: {TEXT}; border: 1px solid {BORDER}; }}
QPushButton {{ background: {PANEL}; color: {TEXT}; border: 1px solid {BORDER}; border-radius: 4px; padding: 4px 12px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:disabled, QComboBox:disabled {{ color: {DISABLED}; background: {DISABLED_BG}; border-color: #2a2b2f; }}
QToolButton:disabled {{ color: {DISABLED}; }}
QSlider::handle:horizontal:disabled {{ background: #4a4d52; }}
QCheckBox {{ color: {TEXT}; spacing: 8px; }}
QCheckBox:disabled {{ color: {DISABLED}; }}
QCheckBox::indicator {{ width: 13px; height: 13px; border: 1px solid #6a6e75; border-radius: 3px; background: {BASE}; }}
QCheckBox::indicator:hover {{ border-color: {ACCENT}; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: #8fb6d6; image: url(TICK); }}
QCheckBox::indicator:disabled {{ border-color: #3a3c41; background: {DISABLED_BG}; }}
QCheckBox::indicator:checked:disabled {{ background: #34414d; border-color: #4a5866; image: url(TICK); }}
QRadioButton {{ color: {TEXT}; spacing: 8px; }}
QRadioButton:disabled {{ color: {DISABLED}; }}
QRadioButton::indicator {{ width: 13px; height: 13px; border: 1px solid #6a6e75; border-radius: 7px;
                          background: {BASE}; }}
QRadioButton::indicator:hover {{ border-color: {ACCENT}; }}
QRadioButton::indicator:checked {{ border-color: #8fb6d6; background: qradialgradient(cx: 0.5, cy: 0.5,
    radius: 0.5, fx: 0.5, fy: 0.5, stop: 0 #ffffff, stop: 0.4 #ffffff, stop: 0.5 {ACCENT}, stop: 1 {ACCENT}); }}
QRadioButton::indicator:disabled {{ border-color: #3a3c41; background: {DISABLED_BG}; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#sectionTitle {{ color: {MUTED}; font-weight: bold; letter-spacing: 1px; }}
QLabel#disclaimer {{ color: {MUTED}; font-style: italic; }}
QLabel#placeholder {{ color: {MUTED}; font-size: 15px; }}
"""


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: PANEL,
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#2d4f6c",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.PlaceholderText: MUTED,
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(DISABLED))
    return palette


def tick_image() -> Path:
    """The checkbox tick as a PNG (and its @2x twin), drawn once per user: a stylesheet that
    styles the indicator must supply its own mark, and drawing it needs no image plugin."""
    folder = Path(tempfile.gettempdir()) / f"pneumonet-theme-{os.getuid() if hasattr(os, 'getuid') else 0}"
    path = folder / "tick.png"
    if path.exists() and (folder / "tick@2x.png").exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    for size, name in ((13, "tick.png"), (26, "tick@2x.png")):
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#ffffff"), size / 6.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        s = size / 13.0
        painter.drawPolyline([QPointF(3 * s, 6.8 * s), QPointF(5.4 * s, 9.2 * s), QPointF(10 * s, 3.8 * s)])
        painter.end()
        image.save(str(folder / name))
    return path


def stylesheet() -> str:
    return STYLESHEET.replace("url(TICK)", f"url(\"{tick_image().as_posix()}\")")


def apply_theme(app: QApplication) -> None:
    """Fusion style with the dark palette and the stylesheet, on the whole application."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(stylesheet())
