"""The models that ship with Pneumonet, known by content rather than by where they lie.

A file is "bundled (trusted)" only when the SHA-256 of its integrity manifest (which
lists the digest of every file in the package, card included) is one of these: copying
any other file into ``resources/models/`` gives it no trust, and under
``--require-signature`` it is refused like any unsigned package. When the bundled models
are replaced, run ``python -m pneumonet_core.models.bundled_pins`` and paste its output
here (``tests/test_attack_models.py`` fails until the pins match the files).
"""

from __future__ import annotations

import hashlib

#: File name -> SHA-256 of its ``integrity.json``.
BUNDLED_MANIFESTS = {
    "pneumonet-cnn.pneumonet": "69cb745c974029dd1058cb455b5043ef73cf5dfb0edf70bbd2abcd9a75398c5e",
    "pneumonet-resnet152v2.pneumonet": "e87dc28e4aa1f92a6502cfae9d618afb95a0f32a094df1e099a45ca81f16ebcf",
    "pneumonet-subtype.pneumonet": "d0281b6a3f1590972bb4ad6d5c868f133639b5b1ffc7a43485fccc1060042fb9",
}


def is_pinned(manifest: bytes) -> bool:
    """True when a package's manifest is that of a model shipped with Pneumonet."""
    return hashlib.sha256(manifest).hexdigest() in BUNDLED_MANIFESTS.values()


def current_pins() -> dict[str, str]:
    """The pins of the files now in the bundled-models folder."""
    import zipfile

    from pneumonet_core.models.registry import bundled_models_dir

    pins = {}
    for path in sorted(bundled_models_dir().glob("*.pneumonet")):
        with zipfile.ZipFile(path) as zf:
            pins[path.name] = hashlib.sha256(zf.read("integrity.json")).hexdigest()
    return pins


if __name__ == "__main__":
    for name, digest in current_pins().items():
        print(f'    "{name}": "{digest}",')
