"""A random secret kept in the user's Pneumonet folder, for keyed digests.

Pseudonyms of folder names must be stable (the same folder gets the same name in every
export, so results can be joined and resumed) yet not reversible by hashing a list of
likely names; and the rows of a results CSV must carry a check that an edit cannot
recompute. Both are HMAC-SHA256 under this secret (``$PNEUMONET_HOME/secret.key``, 32
random bytes, readable by the user only), with a different purpose label each.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading

from pneumonet_core.settings import user_home

SECRET_FILE = "secret.key"
_lock = threading.Lock()
_cache: dict[str, bytes] = {}


def local_secret() -> bytes:
    """The installation's secret, made on first use; a process-only one if it cannot be stored."""
    path = user_home() / SECRET_FILE
    key = str(path)
    with _lock:
        if key in _cache:
            return _cache[key]
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        if len(data) < 32:
            data = secrets.token_bytes(32)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except FileExistsError:  # another process made it first: use theirs
                data = path.read_bytes()
            except OSError:
                pass  # read-only home: pseudonyms are stable for this run only
        _cache[key] = data
        return data


def keyed_digest(purpose: str, text: str | bytes) -> str:
    """HMAC-SHA256 (hex) of ``text`` under the local secret, separated by ``purpose``."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hmac.new(local_secret(), purpose.encode() + b"\0" + data, hashlib.sha256).hexdigest()
