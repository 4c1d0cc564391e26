"""The viewer's own preferences (recent files, overlay look, window layout) in an INI file
beside the user's models, so ``PNEUMONET_HOME`` isolates them exactly like the models.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from pneumonet_core.models.registry import user_home

RECENT_KEY = "recent_files"
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

    def add(self, path) -> None:
        path = Path(path).resolve()
        paths = [path] + [p for p in self.paths() if p != path]
        self._settings.setValue(RECENT_KEY, [str(p) for p in paths[: self._limit]])
        self._settings.sync()

    def remove(self, path) -> None:
        path = Path(path)
        self._settings.setValue(RECENT_KEY, [str(p) for p in self.paths() if p != path])
        self._settings.sync()

    def clear(self) -> None:
        self._settings.setValue(RECENT_KEY, [])
        self._settings.sync()
