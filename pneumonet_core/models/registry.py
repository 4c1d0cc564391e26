"""Where models live: the bundled ones, the user's own, and which one is active.

The active model is, in order: ``$PNEUMONET_MODEL``, the user's choice in
``settings.json``, then the bundled default. When the user's choice has been deleted,
the bundled default is used *visibly*: :func:`active_model` says why in
``fallback_reason``, which the CLI prints and the app can show. The user folder is
``$PNEUMONET_HOME`` or the platform's data folder (see :mod:`pneumonet_core.settings`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.atomic import copy_file_atomic
from pneumonet_core.errors import ModelPackageError
from pneumonet_core.models.archive import SUFFIX, read_card
from pneumonet_core.models.card import ModelCard
from pneumonet_core.settings import read_settings, update_settings, user_home, write_settings  # noqa: F401

#: Bundled models in order of preference for the default.
BUNDLED_PREFERENCE = ("pneumonet-resnet152v2.pneumonet", "pneumonet-cnn.pneumonet")


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the packages in a checkout or a PyInstaller bundle."""
    if env := os.environ.get("PNEUMONET_RESOURCES"):
        return Path(env)
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
    return base / "resources"


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def user_models_dir() -> Path:
    return user_home() / "models"


def bundled_default_path() -> Path:
    folder = bundled_models_dir()
    for name in BUNDLED_PREFERENCE:
        if (folder / name).exists():
            return folder / name
    raise ModelPackageError(folder, "no bundled model found (resources/models is empty)")


@dataclass(frozen=True)
class ActiveModel:
    """The model used when none is named, where that choice came from, and any fallback.

    ``source`` is "environment" ($PNEUMONET_MODEL), "settings" (the user's choice) or
    "bundled". ``fallback_reason`` is a sentence when the user's choice could not be used
    and the bundled default stands in for it; None otherwise.
    """

    path: Path
    source: str
    fallback_reason: str | None = None


def active_model() -> ActiveModel:
    """The active model; a deleted user choice falls back to the bundled default, saying so."""
    if env := os.environ.get("PNEUMONET_MODEL"):
        return ActiveModel(Path(env), "environment")
    chosen = read_settings().get("active_model")
    if not chosen:
        return ActiveModel(bundled_default_path(), "bundled")
    chosen_path = Path(chosen)
    if chosen_path.is_file():
        return ActiveModel(chosen_path, "settings")
    default = bundled_default_path()
    why = "no longer exists" if not chosen_path.exists() else "is not a file"
    return ActiveModel(default, "bundled",
                       f"the active model {chosen_path.name} {why}; using the bundled default {default.name}")


def active_model_path() -> Path:
    """The model the viewer and the CLI use when none is named (see :func:`active_model`)."""
    return active_model().path


def set_active_model(path: Path | None) -> None:
    """Make ``path`` the active model (None: back to the bundled default)."""
    if path is not None and read_card(path).is_subtype:  # read_card also refuses a file that is not a model
        raise ModelPackageError(path, "is a bacterial/viral model: choose it with `pneumonet models subtype FILE`")
    update_settings(active_model=None if path is None else str(Path(path).resolve()))


def set_subtype_model(path: Path | None | str) -> None:
    """Choose the bacterial/viral model: a package, None (back to the bundled one) or "none" (off)."""
    if path is None or str(path) == "none":
        update_settings(subtype_model=None if path is None else "none")
        return
    if not read_card(Path(path)).is_subtype:
        raise ModelPackageError(path, "is not a bacterial/viral model (train one with --labels subtype)")
    update_settings(subtype_model=str(Path(path).resolve()))


@dataclass(frozen=True)
class InstalledModel:
    path: Path
    card: ModelCard
    bundled: bool
    active: bool


def installed_models() -> list[InstalledModel]:
    """Bundled and user models with their cards; unreadable files are skipped."""
    try:
        active = active_model_path().resolve()
    except ModelPackageError:
        active = None
    found = []
    for folder, bundled in ((bundled_models_dir(), True), (user_models_dir(), False)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            if path.name.startswith("."):
                continue
            try:
                card = read_card(path)
            except ModelPackageError:
                continue
            found.append(InstalledModel(path, card, bundled, path.resolve() == active))
    return found


def delete_user_model(path: Path) -> None:
    """Delete a user model; bundled models cannot be deleted."""
    path = Path(path).resolve()
    if path.parent != user_models_dir().resolve():
        raise ModelPackageError(path, "only models in the user's model folder can be deleted")
    if read_settings().get("active_model") == str(path):
        set_active_model(None)
    path.unlink()


def install_user_model(path: Path, name: str | None = None) -> Path:
    """Copy a model file into the user's model folder (verified first); return its new path."""
    card = read_card(path)
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in (name or card.name)) or "model"
    target = folder / f"{stem}{SUFFIX}"
    counter = 2
    while target.exists():
        target = folder / f"{stem}-{counter}{SUFFIX}"
        counter += 1
    return copy_file_atomic(path, target)
