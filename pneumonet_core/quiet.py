"""Keep TensorFlow's start-up chatter off stderr unless the user asks for it (``--verbose``).

TensorFlow prints banners from C++ while it is imported (absl's "All log messages before
absl::InitializeLog()", oneDNN and CPU-feature notices), which no Python setting reaches,
so the import itself runs with file descriptor 2 pointed at /dev/null. Python-level
warnings and log records from TensorFlow, Keras and absl are filtered as well. Errors are
not lost: they surface as Python exceptions, reported by the command after the import.

Decoders are fenced the same way: a Rust codec that panics prints its panic (40 lines
with ``RUST_BACKTRACE=1``) from native code before Python sees a ``PanicException``, so
:func:`native_panics_filtered` captures file descriptor 2 while a decoder runs and
passes on everything but the panic; the file's one error line says what failed. Python
warnings from the image libraries (Pillow, pydicom, numpy) and pydicom's log records are
kept off stderr too: a bad file is reported once, by name, with its reason.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
import warnings

VERBOSE_ENV = "PNEUMONET_VERBOSE"
_NOISY_MODULES = ("tensorflow", "keras", "absl", "jax", "PIL", "pydicom", "pylibjpeg", "openjpeg", "numpy")
#: Lines of a Rust panic report: the panic, its note, a backtrace and its frames.
_PANIC_START = re.compile(r"^thread '.*' panicked at |panicked at ")
_capture_lock = threading.Lock()
_capture = {"depth": 0, "saved": None, "file": None}


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration (no-op when verbose or unavailable)."""
    if is_verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, captured)
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Runs the first import of TensorFlow with native stderr silenced, then steps aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is not None and hasattr(loader, "exec_module"):
            original = loader.exec_module

            def exec_module(module):
                with native_stderr_silenced():
                    original(module)

            loader.exec_module = exec_module
        return spec


def _without_panics(text: str) -> str:
    """``text`` without Rust panic reports: from "panicked at" to the note that closes the
    report (it names RUST_BACKTRACE), its message and backtrace included."""
    kept: list[str] = []
    in_panic = False
    for line in text.splitlines(keepends=True):
        if _PANIC_START.search(line):
            in_panic = True
            if kept and not kept[-1].strip():  # the report starts with a blank line
                kept.pop()
        elif not in_panic:
            kept.append(line)
        elif line.startswith("note: ") and "RUST_BACKTRACE" in line:
            in_panic = False
    return "".join(kept)


@contextlib.contextmanager
def native_panics_filtered():
    """Capture file descriptor 2 while a native decoder runs; pass on all but Rust panic reports.

    Threads share descriptor 2, so the first one in redirects it and the last one out
    restores it and writes what others printed meanwhile (a progress line is late, not lost).
    """
    if is_verbose():
        yield
        return
    with _capture_lock:
        captured = _capture["depth"] > 0
        if not captured:
            try:
                sys.stderr.flush()
                handle = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(handle.fileno(), 2)
                _capture.update(saved=saved, file=handle)
                captured = True
            except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, captured)
                pass
        if captured:
            _capture["depth"] += 1
    if not captured:
        yield
        return
    try:
        yield
    finally:
        with _capture_lock:
            _capture["depth"] -= 1
            if _capture["depth"] == 0:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()
                handle, saved = _capture["file"], _capture["saved"]
                os.dup2(saved, 2)
                os.close(saved)
                handle.seek(0)
                text = _without_panics(handle.read().decode("utf-8", "replace"))
                handle.close()
                if text:
                    os.write(2, text.encode("utf-8"))


def configure(verbose: bool = False) -> None:
    """Silence library noise for this process (or, with ``verbose``, let it all through)."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for module in _NOISY_MODULES:
        warnings.filterwarnings("ignore", module=rf"{module}(\..*)?$")
        logging.getLogger(module).setLevel(logging.ERROR)
    # What the image libraries (and numpy, on a file's values) say about a file is that
    # file's business: load_scan reports what matters in the file's one line.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"pneumonet_core(\..*)?$")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pneumonet_core\.(imaging|dicom_node)(\..*)?$")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())
