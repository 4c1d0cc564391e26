"""Run one plain-Python function off the GUI thread and get its result back as a signal.

The wizard's slow steps (checking files, loading thumbnails, evaluating the trained model)
are plain functions from :mod:`pneumonet_core`; this runs one call on its own Python thread
(not a reused Qt pool thread: TensorFlow caches the Python thread state of the thread it
runs on, and a pool thread gets a new one for every task) and its signals arrive on the
GUI thread. A cancelled or superseded task's signals are ignored by
the caller: each task carries a ``stop`` event it can pass on as ``should_stop``.
"""

from __future__ import annotations

import threading
from typing import Callable

from PySide6.QtCore import QObject, Signal

from pneumonet_gui.analysis import error_message


class _Signals(QObject):
    progress = Signal(int, int)
    item = Signal(object)
    done = Signal(object)
    failed = Signal(str)


class Task:
    """``fn(task)`` on a thread of its own; ``fn`` may call ``task.report_progress``/``task.yield_item``."""

    def __init__(self, fn: Callable[["Task"], object]):
        self.fn = fn
        self.signals = _Signals()
        self.stop = threading.Event()
        self.finished = threading.Event()

    # Names read well at call sites: task.progress.connect(...), task.done.connect(...).
    @property
    def progress(self):
        return self.signals.progress

    @property
    def item(self):
        return self.signals.item

    @property
    def done(self):
        return self.signals.done

    @property
    def failed(self):
        return self.signals.failed

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def report_progress(self, done: int, total: int) -> None:
        self.signals.progress.emit(done, total)

    def yield_item(self, value) -> None:
        self.signals.item.emit(value)

    def cancel(self) -> None:
        self.stop.set()

    def run(self) -> None:
        try:
            result = self.fn(self)
        except Exception as exc:  # noqa: BLE001 - reported as one line, never a crash
            if not self.stop.is_set():
                self.signals.failed.emit(error_message(exc))
        else:
            if not self.stop.is_set():
                self.signals.done.emit(result)
        finally:
            self.finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


def start(fn: Callable[[Task], object], *, progress=None, item=None, done=None, failed=None) -> Task:
    """Start ``fn(task)`` on a new daemon thread and return the task (keep a reference to it).

    The slots are connected before the task starts, so no early signal can be missed.
    """
    task = Task(fn)
    for signal, slot in ((task.progress, progress), (task.item, item), (task.done, done), (task.failed, failed)):
        if slot is not None:
            signal.connect(slot)
    threading.Thread(target=task.run, name="pneumonet-wizard-task", daemon=True).start()
    return task
