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
    "pneumonet-cnn.pneumonet": "6040dfa2bdfd1f70283119068f0fcb99aefc5b3e13adc7884a9cad17536e07ad",
    "pneumonet-resnet152v2.pneumonet": "ea4f14fed72cd8222130d5bac32bc7e8e8a424efc9a55bff3c467c81b28acaca",
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
