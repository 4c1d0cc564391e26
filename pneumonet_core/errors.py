"""Typed errors whose message is one line a user can read: the file and the reason."""

from __future__ import annotations

from pathlib import Path


class PneumonetError(Exception):
    """Base of every error Pneumonet reports to a user as a single line."""


class ScanError(PneumonetError):
    """A scan file could not be read; names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason.strip().splitlines()[0] if reason.strip() else "unknown error"
        super().__init__(f"{self.path}: {self.reason}")


class ModelPackageError(PneumonetError):
    """A model package is missing, corrupt, or not a Pneumonet model."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DatasetError(PneumonetError):
    """A training or evaluation folder cannot be used (missing class, too few images...)."""


class CancelledError(PneumonetError):
    """Long work (training, batch classification) was cancelled by the user."""
