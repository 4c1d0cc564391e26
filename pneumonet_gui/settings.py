"""The viewer's own preferences (recent files, overlay look, window layout) in an INI file
beside the user's models, so ``PNEUMONET_HOME`` isolates them exactly like the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings

from pneumonet_core.models.registry import user_home

if TYPE_CHECKING:  # for the annotations only
    from pneumonet_gui.window_parts import LayoutParts

RECENT_KEY = "recent_files"
#: Recent files whose path contains their patient's name, ID or birth date (hidden on request).
IDENTIFYING_KEY = "recent_files_naming_patients"
RECENT_LIMIT = 10


def viewer_settings() -> QSettings:
    return QSettings(str(user_home() / "viewer.ini"), QSettings.Format.IniFormat)


class RecentFiles:
    """Most recently opened scans first, without duplicates, at most :data:`RECENT_LIMIT`."""

    def __init__(self, settings: QSettings, limit: int = RECENT_LIMIT):
        self._settings = settings
        self._limit = limit

    def paths(self) -> list[Path]:
        value = self._settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [Path(p) for p in (value or []) if p]

    def add(self, path, identifying: bool = False) -> None:
        """Put ``path`` first; ``identifying``: its path names the patient (see :meth:`names_patient`)."""
        path = Path(path).resolve()
        paths = [path] + [p for p in self.paths() if p != path]
        kept = paths[: self._limit]
        flagged = {p for p in self._identifying() if p in kept and p != path} | ({path} if identifying else set())
        self._settings.setValue(RECENT_KEY, [str(p) for p in kept])
        self._settings.setValue(IDENTIFYING_KEY, [str(p) for p in kept if p in flagged])
        self._settings.sync()

    def _identifying(self) -> set[Path]:
        value = self._settings.value(IDENTIFYING_KEY, [])
        if isinstance(value, str):
            value = [value]
        return {Path(p) for p in (value or []) if p}

    def names_patient(self, path) -> bool:
        """True when the recent file's path contains its patient's identifiers."""
        return Path(path) in self._identifying()

    def remove(self, path) -> None:
        path = Path(path)
        self._settings.setValue(RECENT_KEY, [str(p) for p in self.paths() if p != path])
        self._settings.sync()

    def clear(self) -> None:
        self._settings.setValue(RECENT_KEY, [])
        self._settings.setValue(IDENTIFYING_KEY, [])
        self._settings.sync()


def restore_window(parts: LayoutParts, settings: QSettings) -> None:
    """The window's layout, the heat map's look and the identifiers switch, as last left."""
    geometry = settings.value("geometry")
    if isinstance(geometry, QByteArray):
        parts.window.restoreGeometry(geometry)
    state = settings.value("window_state")
    if isinstance(state, QByteArray):
        parts.window.restoreState(state)
    controls = parts.heatmap_controls
    try:
        opacity = int(settings.value("overlay_opacity", 45))
    except (TypeError, ValueError):
        opacity = 45
    # The heat-map presenter carries a new opacity and colour map to the viewer.
    controls.opacity.setValue(max(0, min(100, opacity)))
    colormap = str(settings.value("colormap", controls.colormap.currentText()))
    if controls.colormap.findText(colormap) >= 0:
        controls.colormap.setCurrentText(colormap)
    panel = parts.metadata_panel
    panel.hide_identifiers.setChecked(_flag(settings, "hide_identifiers"))
    panel.hideIdentifiersChanged.connect(lambda hide: settings.setValue("hide_identifiers", bool(hide)))
    parts.heatmap_presenter.set_show_for_normal(_flag(settings, "heatmap_for_normal"))
    parts.corners_action.setChecked(_flag(settings, "corner_overlays", True))


def _flag(settings: QSettings, key: str, default: bool = False) -> bool:
    return str(settings.value(key, "true" if default else "false")).lower() == "true"


def save_window(parts: LayoutParts, settings: QSettings) -> None:
    settings.setValue("geometry", parts.window.saveGeometry())
    settings.setValue("window_state", parts.window.saveState())
    settings.setValue("overlay_opacity", parts.heatmap_controls.opacity.value())
    settings.setValue("colormap", parts.heatmap_controls.colormap.currentText())
    settings.setValue("hide_identifiers", parts.metadata_panel.hide_identifiers.isChecked())
    settings.setValue("heatmap_for_normal", parts.heatmap_presenter.show_for_normal)
    settings.setValue("corner_overlays", parts.corners_action.isChecked())
    settings.sync()
