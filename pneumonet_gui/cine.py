"""Multi-frame DICOM: a frame slider and cine play.

The loader decodes the first frame, the one the model classifies; the others are decoded
by one worker job in the background as soon as the scan is open, and the bar plays the
ones already there. The heat map belongs to the first frame, so it is hidden while
another frame is shown.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from pneumonet_gui.workers import LatestJob

#: Cine speed when the file gives no Frame Time.
DEFAULT_FRAME_MS = 100.0


def decode_frames(path):
    """Yield (index, modality values) for frames 2.. of a DICOM file (runs in a worker)."""
    from pneumonet_core.imaging.dicom_display import iter_frames

    yield from iter_frames(path, start=1)


class CineBar(QWidget):
    """Slider, play/pause and "Frame i / n"; hidden for single-frame scans."""

    #: The frame to show, 0-based (0 is the frame the model classified).
    frameChanged = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.frames: dict[int, object] = {}  # decoded frames by index (0 needs none)
        self.count = 1
        self._job = LatestJob()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.step_forward)
        self.play_button = QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setText("\u25b6 Play")
        self.play_button.setToolTip("Play the frames in a loop (P)")
        self.play_button.toggled.connect(self.set_playing)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Frame (, and . step back and forward)")
        self.slider.valueChanged.connect(self._on_slider)
        self.label = QLabel()
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("Frame 0000 / 0000 (loading)") + 8)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.hide()

    @property
    def index(self) -> int:
        return self.slider.value()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_scan(self, path, count: int, frame_ms: float | None) -> None:
        """A new scan: ``count`` frames; the others start decoding now."""
        self.set_playing(False)
        self._job.cancel()
        self.frames, self.count = {}, max(1, int(count))
        self._timer.setInterval(int(max(20.0, frame_ms or DEFAULT_FRAME_MS)))
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.count - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.setVisible(self.count > 1)
        self._update_label()
        if self.count > 1:
            self._job.start(decode_frames, path, _error_path=path,
                            _connect={"yielded": self._on_frame, "failed": self._on_failed})

    def clear(self) -> None:
        self.set_scan(None, 1, None)

    def shutdown(self, timeout: float = 30.0) -> None:
        self.set_playing(False)
        self._job.shutdown(timeout)

    def ready(self, index: int) -> bool:
        return index == 0 or index in self.frames

    def set_playing(self, playing: bool) -> None:
        playing = bool(playing) and self.count > 1
        if playing:
            self._timer.start()
        else:
            self._timer.stop()
        if self.play_button.isChecked() != playing:
            self.play_button.blockSignals(True)
            self.play_button.setChecked(playing)
            self.play_button.blockSignals(False)
        self.play_button.setText("\u23f8 Pause" if playing else "\u25b6 Play")

    def toggle_playing(self) -> None:
        self.set_playing(not self.playing)

    def step_forward(self) -> None:
        self._step(+1)

    def step_back(self) -> None:
        self._step(-1)

    def _step(self, delta: int) -> None:
        if self.count <= 1:
            return
        target = (self.index + delta) % self.count
        if self.ready(target):
            self.slider.setValue(target)

    def _on_slider(self, index: int) -> None:
        self._update_label()
        if self.ready(index):
            self.frameChanged.emit(index)

    def _on_frame(self, item) -> None:
        index, values = item
        self.frames[index] = values
        self._update_label()
        if index == self.index:
            self.frameChanged.emit(index)

    def _on_failed(self, message: str) -> None:
        self.label.setToolTip(message)
        self.label.setText(f"Frame {self.index + 1} / {self.count} (error)")

    def _update_label(self) -> None:
        loading = "" if len(self.frames) >= self.count - 1 else " (loading)"
        self.label.setText(f"Frame {self.index + 1} / {self.count}{loading}")
