"""Progress of a long batch on stderr: a bar redrawn in place on a terminal, else a line now
and then (a log file or a pipe gets a readable record, not a wall of carriage returns)."""

from __future__ import annotations

import shutil
import sys
import time

#: Seconds between two progress lines when stderr is not a terminal.
LINE_INTERVAL_S = 15.0


class ProgressBar:
    """A one-line progress bar on stderr, redrawn in place; only used when stderr is a terminal."""

    def __init__(self, total: int, stream=None):
        from pneumonet_core.inference.batch import BatchProgress

        self.stream = stream or sys.stderr
        self.progress = BatchProgress(total)
        self._shown = False

    def advance(self, n: int = 1) -> None:
        self.progress.advance(n)
        self.draw()

    def draw(self) -> None:
        columns = shutil.get_terminal_size((80, 20)).columns
        text = self.progress.text()
        width = max(10, min(40, columns - len(text) - 4))
        total = max(1, self.progress.total)
        filled = int(width * self.progress.done / total)
        line = f"[{'#' * filled}{'.' * (width - filled)}] {text}"
        self.stream.write("\r\033[K" + line[: columns - 1])
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


class ProgressLines:
    """A plain progress line every ``interval`` seconds, for stderr that is not a terminal."""

    def __init__(self, total: int, stream=None, interval: float = LINE_INTERVAL_S, prefix: str = "pneumonet",
                 clock=time.monotonic):
        from pneumonet_core.inference.batch import BatchProgress

        self.stream = stream or sys.stderr
        self.progress = BatchProgress(total, clock=clock)
        self.interval = interval
        self.prefix = prefix
        self._clock = clock
        self._last = clock()

    def advance(self, n: int = 1) -> None:
        self.progress.advance(n)
        now = self._clock()
        if now - self._last >= self.interval and self.progress.done < self.progress.total:
            self._last = now
            self.stream.write(f"{self.prefix}: {self.progress.text()}\n")
            self.stream.flush()

    def clear(self) -> None:
        pass


def progress_for(total: int, stream=None, prefix: str = "pneumonet"):
    """A bar on a terminal, periodic lines otherwise (None when there is nothing to count)."""
    stream = stream or sys.stderr
    if not total:
        return None
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return ProgressBar(total, stream) if tty else ProgressLines(total, stream, prefix=prefix)


class CountProgress:
    """A ``progress(done, total)`` callback (what :func:`predict_folder` reports) shown as
    :func:`progress_for` shows a batch: a bar on a terminal, a line now and then otherwise.
    Made at the first count, so the total is known; :meth:`clear` before printing results."""

    def __init__(self, prefix: str, stream=None):
        self.prefix = prefix
        self.stream = stream
        self.shown = None

    def __call__(self, done: int, total: int) -> None:
        if self.shown is None:
            self.shown = progress_for(total, self.stream, prefix=self.prefix) or False
        if self.shown and done > self.shown.progress.done:
            self.shown.advance(done - self.shown.progress.done)

    def clear(self) -> None:
        if self.shown:
            self.shown.clear()
