"""What weight compression changes: size, largest probability difference, AUC difference.

Takes a float32 model package, stores it again as float16 and as int8 (per output
channel), reloads each, and compares their predictions on the model's held-out patients
(the card's test patients) in DATA. Prints a table; each ratio is against the float32
package measured in the same run.

    python benchmarks/bench_compression.py MODEL.pneumonet --data ../shared/data/chest_xray/train
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a float32 .pneumonet package")
    parser.add_argument("--data", type=Path, required=True, help="labelled folder holding the held-out patients")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from pneumonet_core.data.batches import decode_inputs
    from pneumonet_core.data.discovery import find_labelled_images
    from pneumonet_core.models.package import load_package, save_package
    from pneumonet_core.models.threshold import is_pneumonia
    from pneumonet_core.runtime.predict import predict_pneumonia

    reference = load_package(args.model)
    card = reference.card
    if card.compression != "float32":
        print(f"note: the reference is stored as {card.compression}, not float32: differences are relative to it")
    held_out = set(card.data.get("test_patients", []))
    images = [im for im in find_labelled_images(args.data) if im.patient in held_out] if held_out else []
    if not images:
        raise SystemExit("no held-out images of this model found in --data")
    decoded = decode_inputs([im.path for im in images])
    y = np.array([images[i].label == "PNEUMONIA" for i in decoded.kept], dtype=int)
    x = decoded.inputs

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        variants = {"float32": (args.model, reference)}
        for compression in ("float16", "int8"):
            path = Path(tmp) / f"{compression}.pneumonet"
            save_package(reference.model, copy.deepcopy(card), path, compression=compression)
            variants[compression] = (path, load_package(path))
        p_ref = None
        for compression, (path, package) in variants.items():
            start = time.perf_counter()
            p = predict_pneumonia(package.model, card.class_names, x, args.batch_size)
            seconds = time.perf_counter() - start
            if p_ref is None:
                p_ref = p
            size = path.stat().st_size
            rows.append((compression, size, np.abs(p - p_ref).max(), roc_auc_score(y, p), roc_auc_score(y, p_ref),
                         int((is_pneumonia(p, card.threshold) != is_pneumonia(p_ref, card.threshold)).sum()), seconds))
    f32_size = rows[0][1]
    print(f"model {card.name} ({card.backbone}), {len(y)} held-out images of {len(held_out)} patients, "
          f"threshold {card.threshold:.4f}")
    print(f"{'storage':8s} {'size MB':>9s} {'vs f32':>7s} {'max |dp|':>10s} {'AUC':>8s} {'dAUC':>9s} {'flips':>6s}")
    for name, size, max_dp, auc, auc_ref, flips, _ in rows:
        print(f"{name:8s} {size / 1e6:9.2f} {size / f32_size:7.3f} {max_dp:10.2e} {auc:8.5f} {auc - auc_ref:+9.2e} {flips:6d}")


if __name__ == "__main__":
    main()
