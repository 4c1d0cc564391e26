"""Derive the LiteRT graphs of the bundled models into a folder the app bundle carries.

    python tools/derive_litert.py OUT_DIR [PACKAGE ...]   (default: resources/models/*.pneumonet)

``tools/build_app.sh`` runs it before PyInstaller (OUT_DIR build/litert, bundled as
``resources/litert``), so the packaged app shows its first result without TensorFlow,
whatever packages ``resources/models`` holds at build time: a replaced package gets its
own graph, keyed by its content hash, with nothing to do by hand. Each graph is listed in
``index.json`` with its SHA-256 (see :mod:`pneumonet_core.inference.litert_cache`); the
folder is emptied first, so no graph of an older package stays behind.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    from pneumonet_core.inference.litert_cache import write_bundle
    from pneumonet_core.inference.litert_export import DEFAULT_VARIANT

    out = Path(argv[0])
    packages = [Path(p) for p in argv[1:]] or sorted((ROOT / "resources" / "models").glob("*.pneumonet"))
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    keys = write_bundle(packages, out, DEFAULT_VARIANT)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"derive_litert: {len(keys)} graph(s) for {', '.join(p.name for p in packages)} in {out} "
          f"({size / 1e6:.1f} MB, {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
