"""Where models live: the bundled ones, the user's own, and which one is active.

The active model is, in order: ``$PNEUMONET_MODEL``, the user's choice in
``settings.json`` (if that file still exists), then the bundled default. The user folder
is ``$PNEUMONET_HOME`` or the platform's data folder.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.atomic import copy_file_atomic, write_text_atomic
from pneumonet_core.errors import ModelPackageError
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.package import SUFFIX, read_card

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


def user_home() -> Path:
    """The user's Pneumonet folder (models, settings)."""
    if env := os.environ.get("PNEUMONET_HOME"):
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("pneumonet", appauthor=False))


def user_models_dir() -> Path:
    return user_home() / "models"


def _settings_path() -> Path:
    return user_home() / "settings.json"


def read_settings() -> dict:
    try:
        return json.loads(_settings_path().read_text())
    except (OSError, ValueError):
        return {}


def write_settings(settings: dict) -> None:
    write_text_atomic(_settings_path(), json.dumps(settings, indent=2))


def bundled_default_path() -> Path:
    folder = bundled_models_dir()
    for name in BUNDLED_PREFERENCE:
        if (folder / name).exists():
            return folder / name
    raise ModelPackageError(folder, "no bundled model found (resources/models is empty)")


def active_model_path() -> Path:
    """The model the viewer and the CLI use when none is named."""
    if env := os.environ.get("PNEUMONET_MODEL"):
        return Path(env)
    chosen = read_settings().get("active_model")
    if chosen and Path(chosen).exists():
        return Path(chosen)
    return bundled_default_path()


def set_active_model(path: Path | None) -> None:
    """Make ``path`` the active model (None: back to the bundled default)."""
    settings = read_settings()
    if path is None:
        settings.pop("active_model", None)
    else:
        read_card(path)  # refuse a file that is not a model
        settings["active_model"] = str(Path(path).resolve())
    write_settings(settings)


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
