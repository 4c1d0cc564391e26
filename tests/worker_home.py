"""Each pytest-xdist worker's own ``PNEUMONET_HOME`` (tools/test.sh runs the light tests in two).

The settings, the active model and LiteRT's cache are files a test may change: two workers
sharing one home would see each other's.
"""

from __future__ import annotations

import os


def worker_home(environ) -> str | None:
    """The home this process should use, or None to keep the one it has (not a worker, or no home set)."""
    worker, home = environ.get("PYTEST_XDIST_WORKER"), environ.get("PNEUMONET_HOME")
    if not worker or not home:
        return None
    return os.path.join(home, worker)
