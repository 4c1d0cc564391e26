"""Helpers for tests that need a model: a tiny, fast CNN package made on the fly."""

from __future__ import annotations

from pathlib import Path

SHARED_TRAIN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chest_xray" / "train"


def make_tiny_model(path: Path, threshold: float = 0.5, seed: int = 0, labels: str = "binary",
                    name: str = "tiny-test-cnn", width: int = 4) -> Path:
    """Write an untrained width-4 CNN package (random weights, seeded) to ``path``
    (:func:`pneumonet_core.models.untrained.write_untrained_package`)."""
    from pneumonet_core.models.untrained import write_untrained_package

    return write_untrained_package(path, threshold=threshold, seed=seed, labels=labels, name=name, width=width)


def link_films(root: Path, per_class, source: Path = SHARED_TRAIN) -> Path:
    """The first JPEGs by name of each class of ``source``, linked into ``root``/NORMAL and /PNEUMONIA.

    ``per_class`` is a count for both classes, or ``{label: count}`` (a class left out has no folder).
    """
    counts = per_class if isinstance(per_class, dict) else {"NORMAL": per_class, "PNEUMONIA": per_class}
    for label, count in counts.items():
        (root / label).mkdir(parents=True)
        for path in sorted((source / label).glob("*.jpeg"))[:count]:
            (root / label / path.name).symlink_to(path)
    return root


def on_screen(qtbot, widget, size: tuple[int, int] | None = None):
    """``widget`` handed to qtbot, resized to ``size``, shown and exposed; returned."""
    qtbot.addWidget(widget)
    if size is not None:
        widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget
def reseal(source: Path, out: Path, replace: dict | None = None) -> Path:
    """Copy the package ``source`` to ``out`` with files replaced and a *valid* manifest and
    hash, as an attacker who knows the format would: only checks beyond integrity stop it."""
    from pneumonet_core.models import archive, package

    card, files = archive.verified_files(Path(source))
    files.update(replace or {})
    package._write(Path(out), files, card)
    return Path(out)


def forge_architecture(source: Path, out: Path, change) -> Path:
    """Reseal ``source`` with ``change(config)`` applied to its architecture.json."""
    import json
    import zipfile

    with zipfile.ZipFile(source) as zf:
        config = json.loads(zf.read("architecture.json"))
    change(config)
    return reseal(source, out, {"architecture.json": json.dumps(config).encode()})
