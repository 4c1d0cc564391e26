"""Optional ed25519 signatures on model packages, for models shared between sites.

A signature (``signature.json`` in the package) is made over the exact bytes of the
integrity manifest ``integrity.json``, which lists the SHA-256 of every other file, the
card included; so one signature covers the whole package, and any change to it breaks
either the manifest check or the signature. The manifest leaves ``signature.json`` out,
so signing adds a file without changing the package's content hash.

Trusted public keys are PEM files in ``$PNEUMONET_HOME/trusted_keys/*.pub`` and any listed
under ``trusted_keys`` in ``settings.json``. Signatures are *required* when
``PNEUMONET_REQUIRE_SIGNATURE=1``, when ``settings.json`` says ``"require_signature":
true``, or for one command with ``--require-signature``; then :func:`check_package`,
called by the one model loader, refuses an unsigned, wrongly signed or untrusted package
in one line. The models bundled with Pneumonet are part of the installation and are
trusted as its code is: by the digest of their manifest, pinned in
:mod:`~pneumonet_core.models.bundled_pins`, not by the folder they are in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pneumonet_core.atomic import atomic_path
from pneumonet_core.errors import ModelPackageError, PneumonetError
from pneumonet_core.models.archive import verified_files
from pneumonet_core.models.bundled_pins import is_pinned
from pneumonet_core.models.integrity import MANIFEST, SIGNATURE
from pneumonet_core.settings import env_flag, read_settings, user_home

if TYPE_CHECKING:  # cryptography is imported when a signature is read or made (see _crypto)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ALGORITHM = "ed25519"
SIGNATURE_FORMAT = "pneumonet-signature"
REQUIRE_ENV = "PNEUMONET_REQUIRE_SIGNATURE"
TRUSTED_DIR = "trusted_keys"
PUBLIC_SUFFIX = ".pub"


class SigningKeyError(PneumonetError):
    """A key file is missing, unreadable or not an ed25519 key (one line)."""


@dataclass(frozen=True)
class SignatureStatus:
    """What a package's signature says: ``state`` is unsigned, trusted, untrusted, invalid or bundled."""

    state: str
    text: str
    key_id: str | None = None

    @property
    def trusted(self) -> bool:
        return self.state in ("trusted", "bundled")


def _crypto():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - a declared dependency
        raise PneumonetError("signatures need the 'cryptography' package (pip install cryptography)") from None
    return ed25519, serialization, InvalidSignature


def key_id(public_key) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


def _raw_public(public_key) -> bytes:
    _, serialization, _ = _crypto()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate_key_pair(private_path: str | Path, public_path: str | Path | None = None) -> tuple[Path, Path, str]:
    """Write a new ed25519 private key (PEM, mode 0600) and its public key; refuse to overwrite."""
    ed25519, serialization, _ = _crypto()
    private_path = Path(private_path)
    public_path = Path(public_path) if public_path else private_path.with_suffix(PUBLIC_SUFFIX)
    for existing in (private_path, public_path):
        if existing.exists():
            raise SigningKeyError(f"{existing}: already exists; not overwritten")
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    with atomic_path(private_path, mode=0o600) as tmp:
        tmp.write_bytes(private_pem)
    with atomic_path(public_path, mode=0o644) as tmp:
        tmp.write_bytes(public_pem)
    return private_path, public_path, key_id(key.public_key())


def load_private_key(path: str | Path):
    ed25519, serialization, _ = _crypto()
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({' '.join(str(exc).split())})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an ed25519 private key")
    return key


def load_public_key(path: str | Path):
    ed25519, serialization, _ = _crypto()
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not a PEM public key ({' '.join(str(exc).split())})") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an ed25519 public key")
    return key


def _read_key_file(path: str | Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(64 * 1024)
    except OSError as exc:
        raise SigningKeyError(f"{path}: {exc.strerror or exc}") from None


def trusted_keys_dir() -> Path:
    return user_home() / TRUSTED_DIR


def trusted_keys() -> dict[str, tuple[str, Ed25519PublicKey]]:
    """key id -> (name, public key) for every readable trusted key; unreadable files are skipped."""
    paths = sorted(trusted_keys_dir().glob(f"*{PUBLIC_SUFFIX}")) if trusted_keys_dir().is_dir() else []
    paths += [Path(p) for p in read_settings().get("trusted_keys", [])]
    keys: dict[str, tuple[str, Ed25519PublicKey]] = {}
    for path in paths:
        try:
            key = load_public_key(path)
        except PneumonetError:
            continue
        keys.setdefault(key_id(key), (path.stem, key))
    return keys


def trust_public_key(path: str | Path) -> Path:
    """Copy a public key into the trusted-keys folder (after checking it); return the copy."""
    key = load_public_key(path)
    target = trusted_keys_dir() / f"{Path(path).stem}-{key_id(key)}{PUBLIC_SUFFIX}"
    with atomic_path(target, mode=0o644) as tmp:
        tmp.write_bytes(_read_key_file(path))
    return target


def signature_required(override: bool | None = None) -> bool:
    """Whether unsigned packages are refused: ``override``, else the environment, else the settings."""
    if override is not None:
        return override
    return env_flag(REQUIRE_ENV) or bool(read_settings().get("require_signature", False))


def signature_status(files: dict[str, bytes], path: Path | None = None) -> SignatureStatus:
    """Check the signature of a package's (already integrity-checked) files."""
    if SIGNATURE not in files and MANIFEST in files and is_pinned(files[MANIFEST]):
        # Trusted by content (the manifest pinned in the code), never by folder: a file
        # dropped into the bundled folder is as unsigned as anywhere else.
        return SignatureStatus("bundled", "bundled with Pneumonet (trusted as part of the installation)")
    if SIGNATURE not in files:
        return SignatureStatus("unsigned", "not signed")
    ed25519, _, InvalidSignature = _crypto()
    try:
        record = json.loads(files[SIGNATURE])
        if record.get("format") != SIGNATURE_FORMAT or record.get("algorithm") != ALGORITHM:
            return SignatureStatus("invalid", f"signature is not an {ALGORITHM} Pneumonet signature")
        signature = base64.b64decode(record["signature"], validate=True)
        embedded = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(record["public_key"], validate=True))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return SignatureStatus("invalid", f"unreadable signature ({exc})")
    kid = key_id(embedded)
    trusted = trusted_keys().get(kid)
    try:
        (trusted[1] if trusted else embedded).verify(signature, files[MANIFEST])
    except InvalidSignature:
        return SignatureStatus("invalid", f"signature by key {kid} does not match the package", kid)
    if trusted:
        return SignatureStatus("trusted", f"signed by trusted key {trusted[0]} ({kid})", kid)
    return SignatureStatus("untrusted", f"signed by key {kid}, which is not among the trusted keys", kid)


def check_package(path: Path, files: dict[str, bytes], require: bool | None = None) -> SignatureStatus:
    """The loader's check: when signatures are required, refuse anything but a trusted signature."""
    if not signature_required(require):
        return SignatureStatus("unchecked", "signature not checked (not required)")
    status = signature_status(files, path)
    if not status.trusted:
        hint = {"unsigned": "; sign it with 'pneumonet sign' or turn off require_signature",
                "untrusted": f"; trust its public key by copying it to {trusted_keys_dir()}"}.get(status.state, "")
        raise ModelPackageError(path, f"refused: a signature is required and the model is {status.text}{hint}")
    return status


def require_trusted(path: str | Path, require: bool | None = None) -> None:
    """Refuse ``path`` now when signatures are required and it lacks a trusted one (install, use)."""
    if signature_required(require):
        check_package(Path(path), verified_files(Path(path))[1], require=True)


def sign_package(path: str | Path, private_key_path: str | Path, out: str | Path | None = None) -> tuple[Path, str]:
    """Verify the package at ``path``, sign its manifest and write it to ``out`` (default: in place)."""
    key = load_private_key(private_key_path)
    path = Path(path)
    _, files = verified_files(path)
    public = key.public_key()
    kid = key_id(public)
    record = {"format": SIGNATURE_FORMAT, "version": 1, "algorithm": ALGORITHM, "key_id": kid,
              "public_key": base64.b64encode(_raw_public(public)).decode(), "signed_file": MANIFEST,
              "signature": base64.b64encode(key.sign(files[MANIFEST])).decode()}
    files[SIGNATURE] = json.dumps(record, indent=1).encode()
    target = Path(out) if out else path
    with atomic_path(target, mode=0o644, suffix=path.suffix) as tmp:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for info in source.infolist():
                if info.filename != SIGNATURE:
                    zf.writestr(info.filename, files[info.filename])
            zf.writestr(SIGNATURE, files[SIGNATURE])
    return target, kid


def package_signature_status(path: str | Path) -> SignatureStatus:
    """The signature status of the package at ``path`` (verified first), for ``info`` and listings."""
    path = Path(path)
    return signature_status(verified_files(path)[1], path)

