"""The study browser: a strip of thumbnails of the scans in the open scan's folder.

Thumbnails are decoded by one worker job after the open scan's own work is done, so they
never delay a result. Each is marked with its result once the viewer has classified it,
and names follow "Hide identifiers". Page Up / Page Down step through the folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from pneumonet_gui import theme
from pneumonet_gui.folder_scans import FolderScans
from pneumonet_gui.privacy import screen_name
from pneumonet_gui.qimage import gray_to_qimage
from pneumonet_gui.workers import LatestJob

THUMB = 96
#: Thumbnails made around the open scan each time; paging on makes the next ones.
NEAR = 40
PATH_ROLE = Qt.ItemDataRole.UserRole


def make_thumbnails(paths, size: int = THUMB):
    """Yield (path, uint8 grey thumbnail or None, metadata) for each file (runs in a worker)."""
    from PIL import Image

    from pneumonet_core.errors import PneumonetError
    from pneumonet_core.imaging import load_scan

    for path in paths:
        try:
            scan = load_scan(path)
        except PneumonetError:
            yield path, None, {}
            continue
        image = Image.fromarray((np.clip(scan.pixels, 0, 1) * 255).astype(np.uint8))
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        yield path, np.asarray(image), dict(scan.metadata or {})


def result_badge(result) -> tuple[str, str]:
    """(short text, colour) marking a thumbnail with its result."""
    if result is None:
        return "", theme.MUTED
    if result.withheld:
        return "withheld", theme.MUTED
    if not result.classified:
        return "no result", theme.ERROR_FG
    words = "Pneumonia" if result.label == "PNEUMONIA" else "No pneumonia"  # short: the tile is 96 px wide
    return f"{words} {result.probability:.2f}", theme.PNEUMONIA if result.label == "PNEUMONIA" else theme.NORMAL


class ThumbnailStrip(QListWidget):
    """The folder's scans as a vertical strip; activating one asks to open it."""

    scanChosen = Signal(object)  # Path

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scans = FolderScans()
        self.hide_identifiers = False
        self._thumbs: dict[Path, QPixmap] = {}
        self._metadata: dict[Path, dict] = {}
        self._blanks: dict = {}  # a folder of thousands shares one blank tile per colour
        self._job = LatestJob()
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.TopToBottom)
        self.setWrapping(False)
        self.setMovement(QListWidget.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setUniformItemSizes(True)
        self.setGridSize(QSize(THUMB + 28, THUMB + 44))
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMinimumWidth(THUMB + 40)
        self.itemActivated.connect(self._on_activated)
        self.itemClicked.connect(self._on_activated)

    # --- the folder ------------------------------------------------------------------------
    def browse(self, folder) -> None:
        """List a folder (a dropped one) without opening anything; its thumbnails start now."""
        if self.scans.browse(folder):
            self._rebuild()
            self.finished()

    def opened(self, path) -> None:
        """The viewer opened ``path``: list its folder and highlight it."""
        if self.scans.open(path):
            self._rebuild()
        self._highlight()

    def finished(self) -> None:
        """The open scan's work is done: now the thumbnails near it may take the CPU."""
        paths, here = self.scans.paths, max(0, self.scans.index())
        near = sorted(range(len(paths)), key=lambda i: abs(i - here))[:NEAR]
        todo = [paths[i] for i in near if paths[i] not in self._thumbs]
        if todo:
            self._job.start(make_thumbnails, todo, _connect={"yielded": self._on_thumbnail})

    def set_result(self, path, result) -> None:
        self.scans.set_result(path, result)
        self._metadata.setdefault(Path(path).resolve(), dict(result.metadata or {}))
        item = self._item(Path(path).resolve())
        if item is not None:
            self._decorate(item)

    def set_hide_identifiers(self, hide: bool) -> None:
        self.hide_identifiers = bool(hide)
        for row in range(self.count()):
            self._decorate(self.item(row))

    def shutdown(self, timeout: float = 30.0) -> None:
        self._job.shutdown(timeout)

    # --- items ---------------------------------------------------------------------------
    def _rebuild(self) -> None:
        self._job.cancel()
        self.clear()
        for path in self.scans.paths:
            item = QListWidgetItem()
            item.setData(PATH_ROLE, str(path))
            item.setSizeHint(self.gridSize())
            self.addItem(item)
            self._decorate(item)

    def _item(self, path: Path) -> QListWidgetItem | None:
        for row in range(self.count()):
            if self.item(row).data(PATH_ROLE) == str(path):
                return self.item(row)
        return None

    def _highlight(self) -> None:
        item = self._item(self.scans.current) if self.scans.current else None
        if item is not None:
            self.setCurrentItem(item)
            self.scrollToItem(item)

    def _decorate(self, item: QListWidgetItem) -> None:
        path = Path(item.data(PATH_ROLE))
        name = screen_name(path, self._metadata.get(path), self.hide_identifiers)
        if self.hide_identifiers and path not in self._metadata:
            name = "(name hidden until read)"
        badge, colour = result_badge(self.scans.result(path))
        # Elided in the middle: "person104_bacte…" read the same for two films; the start and
        # the end (the number, the view) tell them apart. The tooltip has the whole name.
        shown = self.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, self.gridSize().width() - 8)
        item.setText(f"{shown}\n{badge}" if badge else shown)
        item.setToolTip(name if self.hide_identifiers else str(path))
        item.setForeground(QColor(colour if badge else theme.TEXT))
        item.setIcon(QIcon(self._badged(self._thumbs.get(path), colour if badge else None)))

    def _badged(self, thumb: QPixmap | None, colour: str | None) -> QPixmap:
        """The thumbnail (or a blank tile, shared) with a coloured bar along its foot for a result."""
        if thumb is None:
            blank = self._blanks.get(colour)
            if blank is None:
                blank = self._blanks[colour] = self._tile(None, colour)
            return blank
        return self._tile(thumb, colour)

    @staticmethod
    def _tile(thumb: QPixmap | None, colour: str | None) -> QPixmap:
        pixmap = QPixmap(THUMB, THUMB)
        pixmap.fill(QColor(theme.BASE))
        painter = QPainter(pixmap)
        if thumb is not None:
            painter.drawPixmap((THUMB - thumb.width()) // 2, (THUMB - thumb.height()) // 2, thumb)
        if colour is not None:
            painter.fillRect(0, THUMB - 6, THUMB, 6, QColor(colour))
        painter.end()
        return pixmap

    def _on_thumbnail(self, value) -> None:
        path, gray, metadata = value
        path = Path(path)
        self._metadata[path] = metadata
        if gray is not None:
            self._thumbs[path] = QPixmap.fromImage(gray_to_qimage(gray))
        item = self._item(path)
        if item is not None:
            self._decorate(item)

    def _on_activated(self, item: QListWidgetItem) -> None:
        path = Path(item.data(PATH_ROLE))
        if path != self.scans.current:
            self.scanChosen.emit(path)
