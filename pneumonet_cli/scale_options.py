"""Command-line options for scale: the batch engine (``--engine``, ``--ray-address``,
``--ray-actors``) and the inference precision (``--precision``).

``classify`` and ``pull`` take all of them, ``evaluate`` takes ``--precision``. The
commands call :func:`batch_engine_from_args` and :func:`load_classifier_from_args`, so the
engine and precision logic stays out of the command modules.
"""

from __future__ import annotations

import sys

from pneumonet_core.inference.engines import ENGINES, LOCAL, RAY
from pneumonet_core.runtime.precision import FLOAT32, PRECISIONS


def add_engine_arguments(parser) -> None:
    parser.add_argument("--engine", choices=ENGINES, default=LOCAL,
                        help="local: threads in this process (default); ray: Ray Data, on a local Ray started on "
                        "demand or on the cluster of --ray-address (pip install 'pneumonet[ray]')")
    parser.add_argument("--ray-address", metavar="ADDR", default=None,
                        help="with --engine ray: the cluster to use, e.g. auto (a cluster started by `ray start` on "
                        "this machine), HOST:6379, or ray://HOST:10001 (default: $RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--ray-actors", type=int, metavar="N", default=None,
                        help="with --engine ray: model actors (default: one per GPU, or about one per 4 CPUs)")


def add_precision_argument(parser) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default=FLOAT32,
                        help="float32 (default) or bfloat16: Keras mixed bfloat16, about 1.6x faster for ResNet152V2 "
                        "on CPUs with native bfloat16 (AVX512_BF16, AMX); probabilities within 0.05 of float32")


def engine_usage_problem(args) -> str | None:
    """A usage error in the engine options (exit 2), else None."""
    if getattr(args, "engine", LOCAL) != RAY:
        for flag, value in (("--ray-address", getattr(args, "ray_address", None)),
                            ("--ray-actors", getattr(args, "ray_actors", None))):
            if value is not None:
                return f"{flag} needs --engine ray"
    if getattr(args, "ray_actors", None) is not None and args.ray_actors < 1:
        return "--ray-actors must be at least 1"
    return None


def batch_engine_from_args(args):
    """The batch engine the options name (a one-line error if Ray is asked for but missing)."""
    from pneumonet_core.inference.engines import batch_engine

    return batch_engine(getattr(args, "engine", LOCAL), getattr(args, "ray_address", None),
                        getattr(args, "ray_actors", None))


def load_classifier_from_args(args, command: str):
    """The named or active model at the options' precision; warns once when bfloat16 is emulated."""
    from pneumonet_cli.common import load_classifier
    from pneumonet_core.runtime.precision import slow_bfloat16_note

    precision = getattr(args, "precision", FLOAT32)
    note = slow_bfloat16_note(precision)
    if note:
        print(f"pneumonet {command}: {note}", file=sys.stderr)
    classifier = load_classifier(args.model, precision=precision, allow_subtype=command == "evaluate")
    if getattr(args, "accept_ages", None):  # --accept-ages outranks the setting and the card
        classifier.guard.accepted_ages = args.accept_ages
    return classifier
