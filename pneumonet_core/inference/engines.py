"""Batch engines: which machinery classifies a list of files.

- ``local`` (default): :func:`pneumonet_core.inference.batch.classify_paths`, threads
  decoding ahead of the model in this process.
- ``ray``: :func:`pneumonet_core.inference.ray_engine.classify_paths_ray`, the same work on
  Ray Data, on a local Ray started on demand or on an existing cluster.

Both take the same arguments and yield the same results in the same order, so callers
(the CLI, an evaluation) pick one by name and use it the same way. Choosing ``ray``
checks that Ray is installed; nothing here imports it otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

LOCAL = "local"
RAY = "ray"
ENGINES = (LOCAL, RAY)


def batch_engine(name: str = LOCAL, ray_address: str | None = None, ray_actors: int | None = None) -> Callable:
    """The ``classify_paths``-compatible function of engine ``name``.

    ``ray`` without Ray installed fails with one line saying ``pip install 'pneumonet[ray]'``.
    """
    # Only the chosen engine is imported: Ray's takes seconds and is an optional extra.
    if name == LOCAL:
        from pneumonet_core.inference.batch import classify_paths

        return classify_paths
    if name == RAY:
        from pneumonet_core.inference.ray_engine import classify_paths_ray, require_ray

        require_ray()
        return functools.partial(classify_paths_ray, address=ray_address, actors=ray_actors)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
