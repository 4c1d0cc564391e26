"""What the bacterial/viral opinion costs: a batch's time with it against without it, in one process.

Issue 27's budget: the opinion must not slow a batch by more than 25 % nor the viewer's
first result by more than 1 s. With the pneumonia model loaded once (the bundled
ResNet152V2 on LiteRT, or ``--model``), this script:

* times the first opinion: loading the subtype model (verification, its LiteRT graph
  from the cache) and its first single-film pass, which is what the viewer's first
  PNEUMONIA result waits for in addition;
* classifies ``--films`` pneumonia films (every one gets an opinion: the worst case)
  with the opinion off and on, alternating ``--repeats`` times, and prints the median
  seconds per film and the ratio on / off.

    python benchmarks/bench_subtype.py [--model M] [--films 48] [--repeats 3] [--out FILE]

The subtype model's LiteRT graph is derived first if it is not cached (printed apart).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_PNEUMONIA = ROOT.parent / "shared" / "data" / "chest_xray" / "train" / "PNEUMONIA"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources" / "models" / "pneumonet-resnet152v2.pneumonet")
    parser.add_argument("--subtype", type=Path, default=ROOT / "resources" / "models" / "pneumonet-subtype.pneumonet")
    parser.add_argument("--films", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from pneumonet_core.imaging import load_scan
    from pneumonet_core.inference.batch import classify_paths
    from pneumonet_core.inference.classifier import Classifier, load_subtype_model
    from pneumonet_core.inference.subtype import SubtypeSlot
    from pneumonet_core.preprocessing import preprocess

    films = sorted(SHARED_PNEUMONIA.glob("*.jpeg"))[: args.films]
    lines = [f"model {args.model.name}, subtype {args.subtype.name}, {len(films)} pneumonia films, "
             f"repeats {args.repeats}"]
    started = time.perf_counter()
    load_subtype_model(args.subtype).viral_probability(preprocess(load_scan(films[0]).pixels)[None])
    lines.append(f"subtype graph ready (derived now or read from the cache): {time.perf_counter() - started:.2f} s")

    classifier = Classifier.load(args.model, subtype="none")
    classifier.classify(load_scan(films[0]))  # the pneumonia model warmed: only the opinion is timed below
    scan = load_scan(films[1])
    model_input = preprocess(scan.pixels)
    started = time.perf_counter()
    model = load_subtype_model(args.subtype)
    loaded = time.perf_counter() - started
    model.viral_probability(model_input[None])
    first = time.perf_counter() - started
    lines.append(f"first opinion (load {loaded:.2f} s + first pass): {first:.2f} s (budget 1 s)")

    off_slot, on_slot = SubtypeSlot(None), SubtypeSlot(args.subtype, lambda p: model)
    times = {"off": [], "on": []}
    for _ in range(args.repeats):
        for name, slot in (("off", off_slot), ("on", on_slot)):
            classifier.subtype = slot
            t = time.perf_counter()
            results = list(classify_paths(films, classifier, batch_size=classifier.batch_size))
            times[name].append((time.perf_counter() - t) / len(films))
            assert all((r.subtype is not None) == (name == "on") for r in results if r.label == "PNEUMONIA")
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    lines.append(f"batch: {off * 1000:.1f} ms per film without the opinion, {on * 1000:.1f} ms with it: "
                 f"ratio {on / off:.3f} (budget 1.25)")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
