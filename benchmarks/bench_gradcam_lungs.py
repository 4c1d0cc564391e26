"""Where do the models look? The share of Grad-CAM mass inside the lung fields.

For every film of ``external/`` (patients outside the training split), the Grad-CAM map of
the decided class is computed at the film's size and the share of its mass inside two
fixed lung boxes (left and right lung of a squashed pediatric AP film; together 54% of the
film's area, so a map spread evenly scores 0.54) is averaged. Shortcut learning (ECG
electrodes, shoulders, text markers) shows as a low share.

    python benchmarks/bench_gradcam_lungs.py --model resources/models/pneumonet-cnn.pneumonet [--model ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXTERNAL = ROOT.parent / "shared" / "data" / "chest_xray" / "external"
#: (left, top, right, bottom) as fractions of the film, for the right and the left lung.
LUNG_BOXES = ((0.12, 0.10, 0.48, 0.85), (0.52, 0.10, 0.88, 0.85))


def lung_mask(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for left, top, right, bottom in LUNG_BOXES:
        mask[round(top * height):round(bottom * height), round(left * width):round(right * width)] = True
    return mask


def lung_share(heatmap: np.ndarray) -> float:
    """Share of the map's mass inside the lung boxes (nan for an all-zero map)."""
    total = float(heatmap.sum())
    return float(heatmap[lung_mask(*heatmap.shape)].sum() / total) if total > 0 else float("nan")


def measure(model_path: Path, folder: Path, limit: int | None) -> dict:
    from pneumonet_core.data.discovery import find_labelled_images
    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.classifier import Classifier

    classifier = Classifier.load(model_path)
    images = find_labelled_images(folder)[: limit or None]
    shares, pneumonia_shares = [], []
    for im in images:
        scan = load_scan(im.path)
        result = classifier.classify(scan)
        share = lung_share(classifier.heatmap(scan, result))
        shares.append(share)
        if result.label == "PNEUMONIA":
            pneumonia_shares.append(share)
    return {"model": classifier.card.name, "hash": classifier.card.short_hash, "films": len(images),
            "share": float(np.nanmean(shares)), "share_pneumonia": float(np.nanmean(pneumonia_shares or [np.nan])),
            "below_half": float(np.mean(np.asarray(shares) < 0.5))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--data", type=Path, default=EXTERNAL)
    parser.add_argument("--limit", type=int, default=None, help="first N films only")
    args = parser.parse_args(argv)
    uniform = lung_mask(224, 224).mean()
    print(f"lung boxes cover {uniform:.2f} of the film (an evenly spread map scores that)")
    print("| model | hash | films | Grad-CAM mass in the lungs | in the lungs, PNEUMONIA decisions | films under 0.5 |")
    print("|---|---|---|---|---|---|")
    for path in args.model:
        r = measure(path, args.data, args.limit)
        print(f"| {r['model']} | {r['hash']} | {r['films']} | {r['share']:.3f} | {r['share_pneumonia']:.3f} | "
              f"{r['below_half']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
