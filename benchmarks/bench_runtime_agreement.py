"""Do LiteRT and TensorFlow give the same answers? One model, the films of a labelled folder.

For the TensorFlow path (the Keras model) and each LiteRT variant (``mixed-int8``, the
default; ``float16``; ``dynamic-int8``; ``full-int8`` calibrated on ``--calibration``
training films; ``float32``), the
script classifies every film of ``--folder`` (default: external/, never trained on) and
prints: the largest |p_LiteRT - p_TF| (calibrated probabilities), both ROC AUCs, the share
of films with the same decision, the guard flags that differ, and how far each heat map
is from TensorFlow's gradient Grad-CAM (on ``--maps`` films). The issue's bar: max |dp|
<= 0.01, AUC within 0.002, decisions identical on >= 99.5% of films, guard flags identical.

It also checks, on the Keras model itself, that CAM from the last feature map and the
dense weights equals the gradient Grad-CAM (the identity the LiteRT heat map rests on).

    python benchmarks/bench_runtime_agreement.py --model resources/models/pneumonet-resnet152v2.pneumonet \
        [--variants mixed-int8 float16 dynamic-int8 full-int8 float32] [--out benchmarks/results/bench_runtime_agreement.txt] \\
        [--reference-cache /tmp/agreement_ref.pkl]

``--reference-cache`` keeps TensorFlow's side (three minutes on 2 cores) in a file, so trying
graph variants one after another costs LiteRT passes only. A variant the cache
(``$PNEUMONET_HOME/cache/litert``) already holds under its key is read from there.

Never part of the test suite (minutes on 2 cores: two or three runs over 288 films).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pneumonet_core.data.discovery import find_labelled_images  # noqa: E402
from pneumonet_core.imaging import load_scan  # noqa: E402
from pneumonet_core.models.threshold import decision_label  # noqa: E402
from pneumonet_core.preprocessing import preprocess  # noqa: E402
from pneumonet_core.results import ScanResult  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "chest_xray"


def answers(classifier, scans, inputs) -> dict:
    outputs, features = classifier.forward(inputs)
    results = [classifier.decide(ScanResult.of_scan(s), o, x, None if features is None else f)
               for s, o, x, f in zip(scans, outputs, inputs, features if features is not None else [None] * len(scans))]
    # A withheld result (guard, population check) keeps its probability aside: the model's
    # answer is compared on every film, and the decision it would give, whatever the guard says.
    p = np.array([r.withheld_probability_not_for_use if r.probability is None else r.probability for r in results])
    return {"p": p, "label": [decision_label(q, classifier.threshold) for q in p],
            "flag": np.array([bool(r.out_of_distribution) for r in results]), "results": results}


def auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def cam_identity(classifier, inputs) -> float:
    """Largest difference between normalised CAM (feature map, dense weights) and gradient Grad-CAM."""
    import keras

    from pneumonet_core.inference import gradcam
    from pneumonet_core.inference.litert_export import head_of
    from pneumonet_core.inference.litert_runtime import class_maps
    from pneumonet_core.models.ensemble import members

    layer = classifier.architecture.gradcam_layer
    worst = 0.0
    for member in members(classifier.model):
        head = head_of(member, layer)
        if not head["cam"]:
            return float("nan")
        cut = keras.Model(member.inputs, member.get_layer(layer).output)
        for x in inputs:
            _, grad_maps = gradcam.outputs_and_class_maps(member, layer, x)
            cam = class_maps(np.asarray(cut(x[None]))[0], head)
            for a, b in zip(grad_maps, cam):
                worst = max(worst, float(np.abs(gradcam.finish_map(a) - gradcam.finish_map(b)).max()))
    return worst


def reference(args, scans, inputs, y) -> tuple[dict, list, list[str]]:
    """TensorFlow's answers, heat maps and report lines: computed (minutes), or read from
    ``--reference-cache`` when it holds them for this model and folder (then no TensorFlow)."""
    import pickle

    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.models.package import read_card

    tag = (read_card(args.model).hash, str(args.folder.resolve()), len(scans), args.maps)
    cache = args.reference_cache
    if cache is not None and cache.exists():
        saved = pickle.loads(cache.read_bytes())  # a file this script wrote (never a foreign one)
        if saved.get("tag") == tag:
            return saved["ref"], saved["maps"], [line + " [cached reference]" for line in saved["lines"]]
    t = time.perf_counter()
    tf = Classifier.load(args.model, runtime="tensorflow")
    ref = answers(tf, scans, inputs)
    lines = [f"tensorflow: AUC {auc(y, ref['p']):.4f}, {int(ref['flag'].sum())} flagged "
             f"({time.perf_counter() - t:.0f} s)",
             f"CAM vs gradient Grad-CAM on the Keras model ({args.maps} films, every class, normalised 7x7 maps): "
             f"max |diff| {cam_identity(tf, inputs[: args.maps]):.2e}"]
    tf_maps = [tf.heatmap(s, r) for s, r in zip(scans[: args.maps], ref["results"])]
    if cache is not None:
        cache.write_bytes(pickle.dumps({"tag": tag, "ref": ref, "maps": tf_maps, "lines": lines}))
    return ref, tf_maps, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources/models/pneumonet-resnet152v2.pneumonet")
    parser.add_argument("--folder", type=Path, default=DATA / "external")
    parser.add_argument("--variants", nargs="+",
                        default=["mixed-int8", "float16", "dynamic-int8", "full-int8", "float32"])
    parser.add_argument("--calibration", type=int, default=64, help="training films that calibrate full-int8")
    parser.add_argument("--maps", type=int, default=12, help="films whose heat maps are compared")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--reference-cache", type=Path, default=None,
                        help="file keeping TensorFlow's answers between runs (e.g. /tmp/agreement_ref.pkl): "
                             "a second run evaluates the LiteRT variants only")
    args = parser.parse_args()

    from pneumonet_core.inference import litert_cache
    from pneumonet_core.inference.litert_runtime import load_lite
    from pneumonet_core.models.package import read_card

    images = find_labelled_images(args.folder)
    scans = [load_scan(i.path) for i in images]
    y = np.array([i.label == "PNEUMONIA" for i in images], int)
    inputs = np.stack([preprocess(s.pixels) for s in scans])
    lines = [f"model {args.model.name}, {len(images)} films of {args.folder.name}/"]
    ref, tf_maps, reference_lines = reference(args, scans, inputs, y)
    lines += reference_lines
    for variant in args.variants:
        t = time.perf_counter()
        if variant == "full-int8":
            train = find_labelled_images(DATA / "train")[:: max(1, 5216 // args.calibration)][: args.calibration]
            films = np.stack([preprocess(load_scan(i.path).pixels) for i in train])
            data, meta = litert_cache.derive(args.model, variant, representative=films)
            litert_cache.store(litert_cache.graph_key(read_card(args.model).hash, variant), data, meta)
        lite = load_lite(args.model, variant=variant)
        got = answers(lite, scans, inputs)
        dp = np.abs(got["p"] - ref["p"])
        same = np.mean([a == b for a, b in zip(got["label"], ref["label"])])
        flags = int((got["flag"] != ref["flag"]).sum())
        map_diff = max(float(np.abs(lite.heatmap(s, r) - m).max())
                       for s, r, m in zip(scans[: args.maps], ref["results"], tf_maps))
        holds = dp.max() <= 0.01 and abs(auc(y, got["p"]) - auc(y, ref["p"])) <= 0.002 and same >= 0.995 and flags == 0
        lines.append(f"litert {variant}: max |dp| {dp.max():.4f} (mean {dp.mean():.4f}), AUC {auc(y, got['p']):.4f}, "
                     f"same decision {same:.2%}, guard flags differing {flags}, heat maps max |diff| {map_diff:.3f}, "
                     f"graph {lite.graph.size / 1e6:.1f} MB ({time.perf_counter() - t:.0f} s) -> "
                     f"{'HOLDS' if holds else 'FAILS'} the bar")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
