"""The one way the app works off the GUI thread: workers with the same signals, cancel and errors.

Every background job (loading the model, opening, classifying and explaining a scan, a
batch run, an export, checking a folder, evaluating, importing a model, the training
process) is started with :func:`start` or :func:`start_process` and reports through the
same signals, which arrive on the GUI thread:

- ``started()`` and ``finished()``, once each (``finished`` also after an error or a cancel);
- ``yielded(value)`` for each value a generator job yields;
- ``progress(done, total)`` from a job that takes a ``progress`` callable;
- ``returned(value)`` with the job's result, unless it was cancelled;
- ``failed(message)``: the error as one line (:func:`error_message`), unless cancelled;
  ``errored(exception)`` carries the exception itself;
- ``aborted()`` when a cancel stopped a generator job at a ``yield``.

``Worker.quit()`` cancels: a generator job stops at its next ``yield``, a job that takes a
``should_stop`` callable (the convention of ``pneumonet_core``) is handed the worker's own
check, and a child process gets SIGTERM, then SIGKILL (the lines it prints while it stops
still arrive). :class:`LatestJob` keeps only the
newest of a kind of job, which is how the viewer never shows an older scan's result.

The workers follow superqt's generator workers (napari's ``thread_worker`` design: the
same signals and ``quit``) in a few lines of our own, with two changes; importing
superqt itself would pull QtOpenGL and its widget set into the app's start, before the
first paint. Each job runs on a fresh Python ``threading.Thread`` instead of Qt's global
thread pool: with
PySide6 and TensorFlow, a pool thread (like a QThread with the default ``run()``) gets a
new Python thread state per task and loses it afterwards, and TensorFlow's pybind11 code,
which caches the thread state of the thread it runs on, then hangs or crashes. A fresh
Python thread keeps one state for its whole life and ends with it. Jobs may run side by
side because the model is serialised where it is used: ``Classifier`` holds a lock around
every model call, so the viewer and a batch run share one instance and take turns between
batches. And ``run()`` is our own: superqt's redirects ``warnings.showwarning`` for the
whole process (racy with several workers) and skips ``finished`` after a RuntimeError.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import subprocess
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from pneumonet_core.errors import PneumonetError

log = logging.getLogger(__name__)

#: Workers whose thread is running: a started worker must outlive its Python references.
_running: set[Worker] = set()

#: How long the interpreter's exit waits for the jobs still running (see :func:`stop_all_at_exit`).
EXIT_WAIT_S = 60.0


def error_message(exc: BaseException, path=None) -> str:
    """One line for the user: Pneumonet's own message, else the file, the type and the reason."""
    if isinstance(exc, PneumonetError):
        return str(exc)
    if isinstance(exc, MemoryError):
        reason = "not enough memory to process this file"
    else:
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return f"{path}: {reason}" if path is not None else reason


class WorkerSignals(QObject):
    """The signals of superqt's workers that the app uses, plus the one-line error and (done, total) progress."""

    started = Signal()
    finished = Signal()
    returned = Signal(object)
    errored = Signal(object)
    yielded = Signal(object)
    aborted = Signal()
    failed = Signal(str)
    progress = Signal(int, int)


def _as_generator(func: Callable) -> Callable:
    """A plain function as a generator function that never yields, so one loop runs both."""

    def generator(*args, **kwargs):
        return func(*args, **kwargs)
        yield  # unreachable; makes this a generator function

    return generator


def _parameters(func: Callable) -> set[str]:
    try:
        return set(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # some builtins have no signature
        return set()


class GeneratorWorker:
    """superqt's ``GeneratorWorker`` loop without superqt: runs a generator, emitting
    ``yielded`` for each value, until it returns or :meth:`quit` is asked (``aborted``)."""

    def __init__(self, func: Callable, *args, SignalsClass=WorkerSignals, **kwargs):
        self.signals = SignalsClass()
        self._abort_requested = False
        self._running = False
        self._gen = func(*args, **kwargs)

    def __getattr__(self, name: str):
        """``worker.returned`` is ``worker.signals.returned``, as with superqt."""
        if isinstance(getattr(type(self.__dict__.get("signals")), name, None), Signal):
            return getattr(self.signals, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def quit(self) -> None:
        self._abort_requested = True

    @property
    def abort_requested(self) -> bool:
        return self._abort_requested

    @property
    def is_running(self) -> bool:
        return self._running

    def work(self):
        while True:
            if self.abort_requested:
                self.aborted.emit()
                return None
            try:
                output = next(self._gen)
            except StopIteration as exc:
                return exc.value
            self.yielded.emit(output)


class Worker(GeneratorWorker):
    """One job, ``func(*args, **kwargs)``, a function or a generator function, on its own thread.

    A ``func`` that takes ``should_stop`` or ``progress`` and is not given them gets
    :meth:`should_stop` and :meth:`report_progress`. ``error_path`` names the file that an
    unexpected error's message starts with.
    """

    def __init__(self, func: Callable, *args, error_path=None, **kwargs):
        wanted = _parameters(func)
        if "should_stop" in wanted:
            kwargs.setdefault("should_stop", self.should_stop)
        if "progress" in wanted:
            kwargs.setdefault("progress", self.report_progress)
        if not inspect.isgeneratorfunction(func):
            func = _as_generator(func)
        super().__init__(func, *args, SignalsClass=WorkerSignals, **kwargs)
        self.error_path = error_path
        self._thread: threading.Thread | None = None

    @property
    def cancelled(self) -> bool:
        """True once the job was asked to quit: it then emits neither ``returned`` nor ``failed``."""
        return self.abort_requested

    def should_stop(self) -> bool:
        """The ``should_stop`` of ``pneumonet_core`` functions."""
        return self.cancelled

    def report_progress(self, done: int, total: int) -> None:
        self.progress.emit(int(done), int(total))

    def start(self) -> None:
        """Run the job on a new Python thread (see the module's note on why not Qt's pool)."""
        if self._thread is not None:
            raise RuntimeError("this worker is already started")
        self._running = True
        # Held until ``finished`` has been delivered on the GUI thread: a worker collected
        # earlier would take its queued signals with it. Connected last, so it runs last.
        _running.add(self)
        self.finished.connect(lambda: _running.discard(self))
        self._thread = threading.Thread(target=self.run, name="pneumonet-worker", daemon=True)
        self._thread.start()

    def run(self) -> None:
        self.started.emit()
        try:
            result = self.work()
        except Exception as exc:  # noqa: BLE001 - a job's error is a message, never a crash
            if not self.cancelled:
                self.failed.emit(error_message(exc, self.error_path))
            self.errored.emit(exc)
        else:
            if not self.cancelled:
                self.returned.emit(result)
        finally:
            self._gen.close()  # a stopped generator's cleanup (a thread pool, open files) runs here, on its thread
            self._running = False
            self.finished.emit()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (closing a window); True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.is_running


def _connect_and_start(worker: Worker, connect: dict[str, Callable] | None) -> Worker:
    """Connect first, so that no signal of a quick job can come before its slot."""
    for name, slot in (connect or {}).items():
        getattr(worker, name).connect(slot)
    worker.start()
    return worker


def start(func: Callable, *args, _connect: dict[str, Callable] | None = None, _error_path=None,
          **kwargs) -> Worker:
    """Start ``func(*args, **kwargs)`` on a new thread, with ``_connect`` as ``{"returned": slot, ...}``."""
    return _connect_and_start(Worker(func, *args, error_path=_error_path, **kwargs), _connect)


class ProcessWorker(Worker):
    """A child process as a job: yields each line it prints (stdout and stderr together) and
    returns its exit code.

    :meth:`quit` sends SIGTERM at once and kills the child if it has not exited
    ``kill_after_s`` later. The lines it prints while it stops still arrive (a child that
    stops cleanly says so); then the job ends as cancelled, without ``returned``.
    """

    def __init__(self, command: list[str], env: dict | None = None, kill_after_s: float = 15.0):
        self.command = [str(part) for part in command]
        self.kill_after_s = kill_after_s
        self.process: subprocess.Popen | None = None
        self._cancelled = False  # not superqt's abort flag, which would stop reading at once
        self._lock = threading.Lock()  # quit() on the GUI thread vs. the start on the worker's
        super().__init__(self._lines, env)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _lines(self, env):
        with self._lock:
            if self._cancelled:
                return None
            self.process = process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                text=True, encoding="utf-8", errors="replace", bufsize=1)
        with process.stdout:
            for line in process.stdout:
                yield line.rstrip("\r\n")
        return process.wait()

    def quit(self) -> None:
        with self._lock:
            self._cancelled = True
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            # A silent child that ignores SIGTERM would block the reading thread for ever.
            timer = threading.Timer(self.kill_after_s, self._kill, args=(process,))
            timer.daemon = True
            timer.start()

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.kill()


def stop_all_at_exit(timeout: float | None = None) -> list[Worker]:
    """Quit every job still running and wait for it (at most ``timeout`` seconds in all).

    Runs when the interpreter exits, before it finalises. Job threads are daemons, so
    nothing else waits for them; a daemon thread that is inside native code when the
    interpreter finalises (TensorFlow compiling or running a graph, say a warm-up that no
    window shut down) is ended by ``pthread_exit`` on its way back to Python, an unwind
    through C++ frames that aborts the whole process ("terminate called after throwing an
    instance of ''", exit 134) after its work was done. Returns the workers that did not
    end in time.
    """
    timeout = EXIT_WAIT_S if timeout is None else timeout
    workers = [worker for worker in list(_running) if worker.is_running]
    for worker in workers:
        worker.quit()  # a generator stops at its next yield; should_stop says True; a child gets SIGTERM
    deadline = time.monotonic() + timeout
    late = [worker for worker in workers if not worker.wait(max(0.0, deadline - time.monotonic()))]
    if late:
        log.warning("%d background job(s) still running at exit", len(late))
    return late


# threading's exit hooks run before the atexit ones (which TensorFlow and Keras, imported
# later, also use) and before the interpreter finalises.
try:
    getattr(threading, "_register_atexit", atexit.register)(stop_all_at_exit)
except RuntimeError:  # imported while the interpreter is exiting
    atexit.register(stop_all_at_exit)


def start_process(command: list[str], env: dict | None = None, kill_after_s: float = 15.0,
                  _connect: dict[str, Callable] | None = None) -> ProcessWorker:
    """Start a child process as a job (see :class:`ProcessWorker`), with ``_connect`` as in :func:`start`."""
    return _connect_and_start(ProcessWorker(command, env, kill_after_s), _connect)


class LatestJob:
    """Jobs of one kind where only the newest counts.

    Starting a job quits the one before it, and the slots given to :meth:`start` run only
    while their worker is still the newest: a superseded job's results, errors and end are
    dropped, even those already on their way to the GUI thread.
    """

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self._started: list[Worker] = []  # superseded ones may still be finishing a step

    def start(self, func: Callable, *args, _connect: dict[str, Callable] | None = None, _error_path=None,
              **kwargs) -> Worker:
        self.cancel()
        worker = Worker(func, *args, error_path=_error_path, **kwargs)
        self.worker = worker
        self._started = [w for w in self._started if w.is_running] + [worker]
        return _connect_and_start(worker, {name: self._while_newest(worker, slot)
                                           for name, slot in (_connect or {}).items()})

    def _while_newest(self, worker: Worker, slot: Callable) -> Callable:
        def deliver(*args) -> None:
            if worker is self.worker:
                slot(*args)

        return deliver

    def cancel(self) -> None:
        """Quit the newest job and forget it: nothing it still sends is delivered."""
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.quit()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel, and wait for every job started here to end (the window is closing)."""
        self.cancel()
        for worker in self._started:
            worker.wait(timeout)
        self._started = []
