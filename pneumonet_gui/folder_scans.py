"""The study browser's model: the scans in the open scan's folder, which one is open, what
each was classified as, and next/previous. Plain Python (the thumbnail strip shows it).
"""

from __future__ import annotations

import re
from pathlib import Path

from pneumonet_core.imaging import SUPPORTED_SUFFIXES

#: A folder with more scans than this lists only the first ones (by name).
MAX_LISTED = 2000


def natural_key(path: Path) -> list:
    """Sort "IM-2" before "IM-10", as a person would."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def scans_in_folder(folder) -> list[Path]:
    """The scan files directly in ``folder`` (by suffix, as ``find_scans`` picks them), in natural order."""
    try:
        entries = [p for p in Path(folder).iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES and p.is_file()]
    except OSError:
        return []
    return sorted(entries, key=natural_key)[:MAX_LISTED]


class FolderScans:
    """The listed folder, its scans, the open one and the results known so far."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.paths: list[Path] = []
        self.current: Path | None = None
        self.results: dict[Path, object] = {}  # ScanResult by resolved path

    @staticmethod
    def _key(path) -> Path:
        return Path(path).resolve()

    def browse(self, folder) -> bool:
        """List ``folder``; True when it is another folder than the one listed."""
        folder = Path(folder).resolve()
        if folder == self.folder:
            return False
        self.folder, self.paths = folder, [self._key(p) for p in scans_in_folder(folder)]
        return True

    def open(self, path) -> bool:
        """``path`` is now open: list its folder if needed; True when the list changed."""
        path = self._key(path)
        changed = self.browse(path.parent)
        if path not in self.paths and path.exists():
            self.paths.append(path)
            changed = True
        self.current = path
        return changed

    def index(self, path=None) -> int:
        path = self._key(path) if path is not None else self.current
        return self.paths.index(path) if path in self.paths else -1

    def next_path(self, step: int = 1) -> Path | None:
        """The scan ``step`` places after the open one (None at either end)."""
        if not self.paths:
            return None
        index = self.index()
        target = (0 if step > 0 else len(self.paths) - 1) if index < 0 else index + step
        return self.paths[target] if 0 <= target < len(self.paths) else None

    def set_result(self, path, result) -> None:
        self.results[self._key(path)] = result

    def result(self, path):
        return self.results.get(self._key(path))
