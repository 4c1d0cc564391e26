"""TensorFlow as a separate, lazily loaded part of the packaged app (the "training part").

The reading-room app (``dist/Pneumonet/``) shows, classifies, explains and reports with
LiteRT and leaves TensorFlow and Keras out: they weigh more than the rest of the app
together. ``tools/build_app.sh`` builds them as a second folder, ``dist/Pneumonet-training/``,
holding only what TensorFlow adds to that very app build. Whoever trains (the wizard,
``train``), compares (``--runtime tensorflow``), explains a model whose head CAM does not
cover, or installs a model with no LiteRT graph yet puts that folder inside the app as
``training/`` (or beside it, or names it in ``$PNEUMONET_TRAINING_PART``).

This module is the one place that knows it. In the frozen app, :func:`install` puts a
finder in front of the import system: the first ``import tensorflow`` or ``import keras``
anywhere puts the part on ``sys.path`` (:func:`activate`), or, without it, fails with
:class:`TrainingPartMissing`: an ``ImportError`` (code that probes for TensorFlow still
sees "not installed") and a :class:`~pneumonet_core.errors.PneumonetError` whose one line
says what is missing and how to add it. Entry points that need TensorFlow call
:func:`require` first, so they fail at once rather than minutes into a run. In a venv
(not frozen) nothing here does anything: TensorFlow is installed or it is not.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from pneumonet_core.errors import PneumonetError

#: A folder that holds the training part, chosen over the places the app looks by itself.
PART_ENV = "PNEUMONET_TRAINING_PART"
#: The part's folder inside the app folder (beside the executable).
PART_FOLDER = "training"
#: The part's folder as tools/build_app.sh builds it, beside the app folder.
SIBLING_FOLDER = "Pneumonet-training"
#: Written into the part and into the app's resources by one build: both say the same build id.
STAMP = "training-part.json"
#: Top-level modules whose import needs the part.
TRIGGERS = frozenset({"tensorflow", "keras"})
HOW_TO_ADD = (f"copy the Pneumonet-training folder built with it (tools/build_app.sh) into the app folder as "
              f"'{PART_FOLDER}', or set {PART_ENV} to that folder")

_lock = threading.RLock()
_active: Path | None = None


class TrainingPartMissing(PneumonetError, ModuleNotFoundError):
    """TensorFlow is not part of this install (or the part found belongs to another build)."""

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.msg, self.name = message, name


def is_frozen() -> bool:
    """True in the PyInstaller app."""
    return bool(getattr(sys, "frozen", False))


def app_folder() -> Path:
    """The folder that holds the app's executable."""
    return Path(sys.executable).resolve().parent


def candidates() -> list[Path]:
    """Where the part may be, in order: ``$PNEUMONET_TRAINING_PART`` alone when set, else inside, then beside the app."""
    named = os.environ.get(PART_ENV)
    if named:
        return [Path(named).expanduser()]
    folder = app_folder()
    return [folder / PART_FOLDER, folder.parent / SIBLING_FOLDER]


def _read_stamp(path: Path) -> dict | None:
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def app_stamp() -> dict | None:
    """The build stamp the app carries (``resources/training-part.json``); None outside a split build."""
    base = getattr(sys, "_MEIPASS", None)
    return _read_stamp(Path(base) / "resources" / STAMP) if base else None


def bundles_tensorflow() -> bool:
    """True when TensorFlow is importable without the part (a venv, or an app built with it inside)."""
    if "tensorflow" in sys.modules:
        return True
    # Only the finders that find modules: not this one, nor pneumonet_core.quiet's, which step aside.
    finders = [f for f in sys.meta_path if not type(f).__module__.startswith("pneumonet_core")]
    return any(_has_spec(f, "tensorflow") for f in finders)


def _has_spec(finder, name: str) -> bool:
    find_spec = getattr(finder, "find_spec", None)
    if find_spec is None:
        return False
    try:
        return find_spec(name, None) is not None
    except (ImportError, ValueError, TypeError):
        return False


def find_part() -> tuple[Path | None, str | None]:
    """(the part's folder, None) when a part of this app's build is found; else (None, why not, in one line)."""
    wanted = (app_stamp() or {}).get("build")
    for folder in candidates():
        stamp = _read_stamp(folder / STAMP)
        if stamp is None:
            continue
        if wanted and stamp.get("build") != wanted:
            return None, (f"the training part in {folder} was built with another Pneumonet build "
                          f"({stamp.get('build')}, this app is {wanted}): {HOW_TO_ADD}")
        return folder, None
    return None, None


def problem(purpose: str = "this") -> str | None:
    """None when TensorFlow can be imported; else one line: what is missing and how to get it."""
    if _active is not None or not is_frozen() or bundles_tensorflow():
        return None
    folder, why = find_part()
    if folder is not None:
        return None
    return why or (f"{purpose} needs TensorFlow, which this reading-room install leaves out: {HOW_TO_ADD}")


def status() -> str | None:
    """Where the packaged app's TensorFlow comes from, in one line (``pneumonet info``); None in a venv."""
    if not is_frozen() or (_active is None and bundles_tensorflow()):
        return None
    folder, why = (_active, None) if _active is not None else find_part()
    if folder is not None:
        return f"the training part in {folder} (loaded when training or --runtime tensorflow needs it)"
    return why or f"not in this reading-room install: {HOW_TO_ADD}"


def activate(purpose: str = "this") -> Path | None:
    """Put the training part on ``sys.path`` (once); the part's folder, or None where none is needed.

    Raises :class:`TrainingPartMissing` in a frozen app that has neither TensorFlow nor the part.
    """
    global _active
    with _lock:
        if _active is not None or not is_frozen() or bundles_tensorflow():
            return _active
        folder, why = find_part()
        if folder is None:
            raise TrainingPartMissing(why or problem(purpose) or "TensorFlow is missing", "tensorflow")
        # After the app's own paths: the part holds only what the app lacks, never a second copy.
        for path in part_paths(folder):
            if str(path) not in sys.path:
                sys.path.append(str(path))
        _as_site_packages(folder)
        importlib.invalidate_caches()
        _active = folder
        return folder


def part_paths(folder: Path) -> list[Path]:
    """The part's folder, then its copy of each app folder on ``sys.path`` that it has (the
    standard-library extensions only TensorFlow uses, in ``python3.X/lib-dynload``)."""
    paths = [folder]
    base = getattr(sys, "_MEIPASS", None)
    if base is None:
        return paths
    for entry in list(sys.path):
        try:
            relative = Path(entry).relative_to(base)
        except ValueError:
            continue
        if relative.parts and (folder / relative).is_dir() and folder / relative not in paths:
            paths.append(folder / relative)
    return paths


def _as_site_packages(folder: Path) -> None:
    """What PyInstaller's TensorFlow run-time hook does, for the part: TensorFlow looks for its
    plug-ins only when it believes it runs from site-packages, judged by its (anonymised,
    relative) file name; a frozen app's ``site.USER_SITE`` is None, which old versions trip on."""
    import site

    if site.USER_SITE is None:
        site.USER_SITE = ""
    original = getattr(site, "getsitepackages", None)
    if getattr(original, "_pneumonet_part", False):
        return

    def getsitepackages(prefixes: Iterable[str] | None = None) -> list[str]:
        return [str(folder), "tensorflow", *(original(prefixes) if original is not None else [])]

    getsitepackages._pneumonet_part = True  # type: ignore[attr-defined]
    getsitepackages._pneumonet_original = original  # type: ignore[attr-defined]
    site.getsitepackages = getsitepackages


def require(purpose: str) -> None:
    """Make TensorFlow importable for ``purpose`` ("training", "--runtime tensorflow"...), or fail in one line."""
    activate(purpose)


def active_part() -> Path | None:
    """The training part's folder once activated (``--selftest --training``, ``info``)."""
    return _active


class _PartFinder(importlib.abc.MetaPathFinder):
    """Activates the part on the first import of a :data:`TRIGGERS` module; finds nothing itself."""

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in TRIGGERS and _active is None:
            activate("this")
        return None


def install() -> None:
    """In the frozen app, route the first TensorFlow/Keras import through :func:`activate` (idempotent)."""
    if is_frozen() and not any(isinstance(f, _PartFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PartFinder())


def uninstall() -> None:
    """Remove the finder, forget the activation and restore ``site`` (tests; sys.path is the caller's)."""
    global _active
    import site

    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _PartFinder)]
    _active = None
    original = getattr(site.getsitepackages, "_pneumonet_original", None)
    if original is not None:
        site.getsitepackages = original


__all__ = ["HOW_TO_ADD", "PART_ENV", "STAMP", "TrainingPartMissing", "activate", "active_part", "app_stamp",
           "bundles_tensorflow", "candidates", "find_part", "install", "is_frozen", "problem", "require", "status"]
