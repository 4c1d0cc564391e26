"""Where the app looks for a labelled folder of external films (patients outside any training
split): the folder the user chose last, else ``shared/data/chest_xray/external`` beside the
checkout when it is there. The model card's "Measure on a folder…" and the training wizard's
comparison both start from it, and both remember the folder the user picks.
"""

from __future__ import annotations

from pathlib import Path

EXTERNAL_KEY = "external_folder"


def checkout_external_folder() -> Path:
    """``../shared/data/chest_xray/external`` beside the checkout (it exists on a development machine)."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "chest_xray" / "external"


def _settings(settings):
    if settings is not None:
        return settings
    from pneumonet_gui.settings import viewer_settings

    return viewer_settings()


def default_external_folder(settings=None) -> Path | None:
    """The folder used before (if it still exists), else the one beside the checkout, else None."""
    used = _settings(settings).value(EXTERNAL_KEY)
    if used and Path(str(used)).is_dir():
        return Path(str(used))
    beside = checkout_external_folder()
    return beside if beside.is_dir() else None


def remember_external_folder(folder, settings=None) -> None:
    settings = _settings(settings)
    settings.setValue(EXTERNAL_KEY, str(folder))
    settings.sync()
