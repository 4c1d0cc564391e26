"""The user's Pneumonet folder and its ``settings.json``, read defensively.

``settings.json`` is a file a person may edit by hand, so a broken or mistyped file never
stops Pneumonet: broken JSON gives the defaults, a value of the wrong type is ignored,
and every problem is one line in :attr:`Settings.problems` for the caller to show. The
one exception is a security switch: a ``require_signature`` that is present but not
``true``/``false`` counts as ``true`` (failing closed), with its line.

Keys (all optional): ``active_model`` (a path), ``require_signature`` (bool),
``trusted_keys`` (a list of public-key files, besides ``trusted_keys/*.pub``),
``listener_allowed_aes`` and ``listener_allowed_peers`` (lists: the calling AE titles and
peer addresses the DICOM listener accepts; see ``dicom_node.exposure``), ``accepted_ages``
("MIN-MAX" in years, such as "0-17": the header ages the guard accepts instead of the ages
the model card states, for a site that accepts a wider range), ``subtype_model`` (the
bacterial/viral model's path, or "none" to turn the opinion off; default: the bundled one). Other keys
are kept untouched when the file is rewritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pneumonet_core.atomic import write_text_atomic

SETTINGS_FILE = "settings.json"
#: Each known key and the type its value must have.
SCHEMA = {"active_model": str, "require_signature": bool, "trusted_keys": list,
          "listener_allowed_aes": list, "listener_allowed_peers": list, "accepted_ages": str, "subtype_model": str}


def user_home() -> Path:
    """The user's Pneumonet folder (models, settings, trusted keys)."""
    if env := os.environ.get("PNEUMONET_HOME"):
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("pneumonet", appauthor=False))


def settings_path() -> Path:
    return user_home() / SETTINGS_FILE


@dataclass
class Settings:
    """The usable values of ``settings.json`` and what was wrong with it, if anything."""

    values: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def problem_line(self) -> str | None:
        """Everything wrong with the file, as one line naming it; None when nothing is."""
        if not self.problems:
            return None
        return f"{settings_path()}: {'; '.join(self.problems)}"


def load_settings() -> Settings:
    """Read ``settings.json``: a missing file is empty; nothing here raises."""
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        return Settings(problems=[f"unreadable ({getattr(exc, 'strerror', None) or exc}); using the defaults"])
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return Settings(problems=[f"not valid JSON ({exc.msg}, line {exc.lineno}); using the defaults"])
    except ValueError as exc:  # a number too long to convert, which JSONDecodeError does not cover
        return Settings(problems=[f"not valid JSON ({exc}); using the defaults"])
    if not isinstance(raw, dict):
        return Settings(problems=["not a JSON object; using the defaults"])
    values, problems = {}, []
    for key, value in raw.items():
        kind = SCHEMA.get(key)
        if kind is None or isinstance(value, kind):
            if kind is list and not all(isinstance(item, str) for item in value):
                problems.append(f"'{key}' must be a list of strings; ignored")
                continue
            values[key] = value
        elif key == "require_signature":
            values[key] = True
            problems.append(f"'require_signature' must be true or false, not {value!r}; "
                            "requiring signatures until it is fixed")
        else:
            problems.append(f"'{key}' must be {_type_name(kind)}, not {type(value).__name__}; ignored")
    if "accepted_ages" in values:  # "MIN-MAX" years, checked here so a typo is named, not silently ignored
        from pneumonet_core.ood.population import parse_age_range

        try:
            parse_age_range(values["accepted_ages"])
        except ValueError as exc:
            problems.append(f"'accepted_ages' {exc}; using the model card's ages")
            del values["accepted_ages"]
    return Settings(values, problems)


def read_settings() -> dict:
    """The usable settings as a dict (see :func:`load_settings` for the problems)."""
    return load_settings().values


def write_settings(settings: dict) -> None:
    """Rewrite ``settings.json`` atomically with ``settings``."""
    write_text_atomic(settings_path(), json.dumps(settings, indent=2))


def update_settings(**changes) -> dict:
    """Set (or, with None, remove) keys, keeping every other key of the file as it was."""
    path = settings_path()
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
        current = current if isinstance(current, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError):
        current = {}
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    write_settings(current)
    return current


def env_flag(name: str) -> bool:
    """True when environment variable ``name`` is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _type_name(kind: type) -> str:
    return {str: "a string", bool: "true or false", list: "a list"}.get(kind, kind.__name__)
