"""The DICOM listener's settings in the app: port, AE title, storage folder, who may call.

They live in the viewer's settings file (``viewer.ini`` beside the user's models, so
``PNEUMONET_HOME`` isolates them), under ``worklist/``; the Preferences dialog edits them and
the Worklist panel reads them when it starts the listener. The same defaults as
``pneumonet listen``: port 11112, AE title PNEUMONET, calls from this computer only.
Calls from other computers need the calling AE titles allowed (here, or
``listener_allowed_aes`` in ``settings.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.dicom_node.network import DEFAULT_AE_TITLE, DEFAULT_PORT, check_ae_title

PREFIX = "worklist/"


def default_folder() -> Path:
    """Where received images, answers and the journal go unless the user says otherwise."""
    from pneumonet_core.models.registry import user_home

    return user_home() / "dicom-node"


@dataclass(frozen=True)
class NodeSettings:
    """What ``pneumonet listen --port --ae-title --out --bind`` takes, as the panel uses it."""

    port: int = DEFAULT_PORT
    ae_title: str = DEFAULT_AE_TITLE
    folder: Path | None = None
    accept_remote: bool = False  # False: only this computer (127.0.0.1) may call
    allowed_aes: tuple = ()  # calling AE titles allowed; empty: settings.json's, else any on this computer

    @property
    def bind(self) -> str:
        return "0.0.0.0" if self.accept_remote else "127.0.0.1"

    @property
    def out_dir(self) -> Path:
        return self.folder or default_folder()

    def checked(self) -> NodeSettings:
        """These settings, or a ValueError saying in one line what is wrong."""
        if not 0 <= int(self.port) <= 65535:
            raise ValueError(f"port {self.port} is not a number from 0 to 65535 (0 picks a free one)")
        aes = tuple(check_ae_title(a) for a in self.allowed_aes)
        return NodeSettings(int(self.port), check_ae_title(self.ae_title), self.folder, self.accept_remote, aes)

    def describe(self) -> str:
        allowed = f" allowed ({', '.join(self.allowed_aes)})" if self.allowed_aes else " allowed in settings.json"
        where = f"other computers{allowed}" if self.accept_remote else "this computer only"
        return f"AE title {self.ae_title}, port {self.port}, calls from {where}; storing in {self.out_dir}"


def load(settings) -> NodeSettings:
    """The listener settings saved in ``settings`` (a QSettings), defaults for what is missing or broken."""
    def value(key, default):
        return settings.value(PREFIX + key, default)

    try:
        port = int(value("port", DEFAULT_PORT))
    except (TypeError, ValueError):
        port = DEFAULT_PORT
    folder = str(value("folder", "") or "")
    remote = str(value("accept_remote", "false")).lower() == "true"
    aes = tuple(parse_titles(str(value("allowed_aes", "") or "")))
    return NodeSettings(port, str(value("ae_title", DEFAULT_AE_TITLE)), Path(folder) if folder else None, remote, aes)


def parse_titles(text: str) -> list[str]:
    """AE titles typed as a list separated by commas or spaces."""
    return [t for t in text.replace(",", " ").split() if t]


def save(settings, node: NodeSettings) -> None:
    settings.setValue(PREFIX + "port", int(node.port))
    settings.setValue(PREFIX + "ae_title", node.ae_title)
    settings.setValue(PREFIX + "folder", str(node.folder) if node.folder else "")
    settings.setValue(PREFIX + "accept_remote", bool(node.accept_remote))
    settings.setValue(PREFIX + "allowed_aes", " ".join(node.allowed_aes))
    settings.sync()
