"""Keep TensorFlow's start-up chatter off stderr unless the user asks for it (``--verbose``).

TensorFlow prints banners from C++ while it is imported (absl's "All log messages before
absl::InitializeLog()", oneDNN and CPU-feature notices), which no Python setting reaches,
so the import itself runs with file descriptor 2 pointed at /dev/null. Python-level
warnings and log records from TensorFlow, Keras and absl are filtered as well. Errors are
not lost: they surface as Python exceptions, reported by the command after the import.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings

VERBOSE_ENV = "PNEUMONET_VERBOSE"
_NOISY_MODULES = ("tensorflow", "keras", "absl", "jax")


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
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())
