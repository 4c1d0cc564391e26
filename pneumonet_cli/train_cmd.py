"""``pneumonet train``: train one of the three approaches and write a model package."""

from __future__ import annotations

import shlex
import signal
import sys
import threading

from pneumonet_cli.common import add_signature_argument
from pneumonet_core.training.config import add_arguments


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model (cnn, transfer or finetune) on a labelled folder",
        description="Train on DIR (NORMAL/ and PNEUMONIA/), split by patient into train/validation/test, "
        "keep the epoch with the best validation AUC, choose the threshold on validation patients, "
        "and report metrics on the held-out test patients. SIGINT/SIGTERM cancel cleanly: no file is written.",
    )
    add_arguments(p)
    p.add_argument("--progress", choices=("text", "jsonl", "none"), default="text",
                   help="jsonl: one JSON event per line on stdout (for the app's wizard)")
    add_signature_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.errors import CancelledError
    from pneumonet_core.runtime import training_part

    training_part.require("training")  # the packaged app without TensorFlow says so before any work
    from pneumonet_core.training.config import from_arguments
    from pneumonet_core.training.progress import jsonl_printer, text_printer
    from pneumonet_core.training.trainer import train

    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    emit = {"jsonl": jsonl_printer(), "text": text_printer(), "none": lambda e: None}[args.progress]
    command = "pneumonet train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 else ""
    config = from_arguments(args, command=command)
    try:
        result = train(config, emit=emit, should_stop=stop.is_set)
    except CancelledError as exc:
        print(f"pneumonet train: {exc}", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    m = result.card.metrics
    if args.progress != "jsonl":
        print(f"saved {result.out}")
        if m:
            print(f"held-out test patients: n={m['n']} AUC={m['roc_auc']:.4f} accuracy={m['accuracy']:.4f} "
                  f"sensitivity={m['sensitivity']:.4f} specificity={m['specificity']:.4f} "
                  f"at threshold {result.card.threshold:.4f}")
    return 0
