"""``pneumonet train``: train one of the three approaches and write a model package."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path

from pneumonet_core.models.approaches import APPROACHES


def _unfreeze(value: str):
    return "all" if value == "all" else int(value)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model (cnn, transfer or finetune) on a labelled folder",
        description="Train on DIR (NORMAL/ and PNEUMONIA/), split by patient into train/validation/test, "
        "keep the epoch with the best validation AUC, choose the threshold on validation patients, "
        "and report metrics on the held-out test patients. SIGINT/SIGTERM cancel cleanly: no file is written.",
    )
    p.add_argument("data_dir", type=Path, metavar="DIR")
    p.add_argument("--approach", choices=APPROACHES, required=True)
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="model package to write (.pneumonet)")
    p.add_argument("--weights", default=None,
                   help="backbone weights: imagenet (default for transfer/finetune; downloaded once and cached "
                   "by Keras), none (random initialisation), a Keras weights file, or a .pneumonet model")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--unfreeze", type=_unfreeze, default=10, metavar="N|all",
                   help="finetune: how many of the last ResNet152V2 blocks to train (or all)")
    p.add_argument("--labels", choices=("binary", "three"), default="binary")
    p.add_argument("--progress", choices=("text", "jsonl", "none"), default="text",
                   help="jsonl: one JSON event per line on stdout (for the app's wizard)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--patience", type=int, default=6, help="epochs without validation AUC gain before stopping")
    p.add_argument("--threshold-rule", default="youden", help="youden or sensitivity>=0.95")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--compression", choices=("auto", "float32", "float16", "int8"), default="auto")
    p.add_argument("--name", default=None, help="model name for the card")
    p.add_argument("--limit", type=int, default=None, help="train on a stratified subset of about N images")
    p.add_argument("--mixed-precision", default="auto", help="auto, float32 or mixed_bfloat16")
    p.add_argument("--cnn-width", type=int, default=32, help="cnn: filters of the first block")
    p.add_argument("--checkpoint", type=Path, default=None, metavar="FILE.weights.h5",
                   help="write the best weights so far to this file at each new best epoch")
    p.add_argument("--resume", action="store_true", help="start from --checkpoint when it exists")
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                   help="stop training after this long and keep the best epoch so far")
    p.add_argument("--predictions", type=Path, default=None, metavar="CSV",
                   help="write the held-out test predictions of the saved package")
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.errors import CancelledError
    from pneumonet_core.training.config import TrainConfig
    from pneumonet_core.training.progress import jsonl_printer, text_printer
    from pneumonet_core.training.trainer import train

    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    emit = {"jsonl": jsonl_printer(), "text": text_printer(), "none": lambda e: None}[args.progress]
    config = TrainConfig(
        data_dir=args.data_dir, out=args.out, approach=args.approach, labels=args.labels, weights=args.weights,
        unfreeze=args.unfreeze, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        seed=args.seed, validation_fraction=args.val_fraction, test_fraction=args.test_fraction,
        augment=not args.no_augment, patience=args.patience, threshold_rule=args.threshold_rule,
        compression=args.compression, name=args.name, limit=args.limit, mixed_precision=args.mixed_precision,
        cnn_width=args.cnn_width, predictions_csv=args.predictions, time_limit_minutes=args.time_limit,
        checkpoint=args.checkpoint, resume=args.resume,
        command="pneumonet train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 else "",
    )
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
