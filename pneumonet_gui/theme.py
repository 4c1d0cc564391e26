"""The reading-room look: dark neutral greys, low glare, one muted accent.

Radiologists read in dim rooms; a bright frame around a film hurts both the eyes and the
perceived contrast of the image, so every surface is a dark, neutral (unsaturated) grey
and colour is kept for meaning: amber for warnings, red for errors, the decision colours.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
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
QCheckBox {{ color: {TEXT}; spacing: 8px; }}
QCheckBox::indicator {{ width: 13px; height: 13px; border: 1px solid #6a6e75; border-radius: 3px; background: {BASE}; }}
QCheckBox::indicator:hover {{ border-color: {ACCENT}; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: #8fb6d6; }}
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
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#65686e"))
    return palette


def apply_theme(app: QApplication) -> None:
    """Fusion style with the dark palette and the stylesheet, on the whole application."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(STYLESHEET)
