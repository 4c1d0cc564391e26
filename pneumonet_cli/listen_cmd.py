"""``pneumonet listen``: run Pneumonet as a DICOM node (C-STORE and C-ECHO SCP).

Every received image is stored in ``--out`` before it is acknowledged, classified in
the background with the model loaded once, and answered with a Structured Report and a
heat-map Secondary Capture in the source study; ``--forward`` sends the answers on to a
PACS. SIGINT and SIGTERM stop it cleanly (exit 0); what was received and not yet
answered is done on the next start with the same ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from pneumonet_cli.common import add_model_argument, load_classifier


def peer_type(text: str):
    from pneumonet_core.dicom_node.network import Peer

    try:
        return Peer.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ae_title(text: str) -> str:
    from pneumonet_core.dicom_node.network import check_ae_title

    try:
        return check_ae_title(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_node_arguments(p, out_help: str) -> None:
    """Options every DICOM network command shares: our AE title and the output folder."""
    from pneumonet_core.dicom_node.network import DEFAULT_AE_TITLE

    p.add_argument("--ae-title", type=_ae_title, default=DEFAULT_AE_TITLE,
                   help=f"Pneumonet's own AE title (default: {DEFAULT_AE_TITLE})")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help=out_help)


def register(subparsers) -> None:
    from pneumonet_core.dicom_node.network import DEFAULT_PORT

    p = subparsers.add_parser(
        "listen", help="run as a DICOM node: receive images, answer with SR and heat-map captures",
        description="Listen for DICOM C-STORE (and C-ECHO). Each image is stored in --out before it is "
        "acknowledged, classified in the background, and answered with a Structured Report and a Secondary "
        "Capture (heat map, not for primary diagnosis) in its own study; --forward sends them to a PACS. "
        "Stop with Ctrl-C or SIGTERM; unanswered images are done on the next start.",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--bind", default=None, metavar="ADDRESS",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface, "
                   "which needs --allow-ae or --allow-peer)")
    p.add_argument("--allow-ae", action="append", type=_ae_title, metavar="AE",
                   help="a calling AE title allowed to send (repeatable; default: listener_allowed_aes in "
                   "settings.json, else any AE on this machine)")
    p.add_argument("--allow-peer", action="append", metavar="ADDRESS",
                   help="a peer address or network allowed to connect, e.g. 10.1.2.3 or 10.1.0.0/16 (repeatable; "
                   "default: listener_allowed_peers in settings.json)")
    p.add_argument("--max-object-mb", type=int, default=None, metavar="MB",
                   help="refuse received objects larger than this (default 128)")
    add_node_arguments(p, "where received images, answers and the journal are kept")
    p.add_argument("--forward", type=peer_type, metavar="HOST:PORT:AE", help="send the answers to this PACS by C-STORE")
    add_model_argument(p)
    p.set_defaults(func=run)


@contextlib.contextmanager
def _stop_requested():
    """An Event set by SIGINT or SIGTERM while inside the block (previous handlers restored after)."""
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in signals}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _log(event) -> None:
    from pneumonet_core.dicom_node import events as ev

    stream = sys.stderr if event.kind in (ev.FAILED, ev.REJECTED, ev.FORWARD_FAILED) else sys.stdout
    print(f"pneumonet listen: {event.time:%H:%M:%S} {event.line()}", file=stream, flush=True)


def run(args) -> int:
    from pneumonet_core.dicom_node.exposure import Exposure
    from pneumonet_core.dicom_node.listener import Listener, ListenerError

    try:  # who may call is checked before the model is loaded, which takes a while
        Exposure.configured(args.bind, args.allow_ae, args.allow_peer).checked()
    except ValueError as exc:
        raise ListenerError(str(exc)) from None
    classifier = load_classifier(args.model)
    limits = {"max_object_bytes": args.max_object_mb << 20} if args.max_object_mb else {}
    listener = Listener(args.out, classifier, ae_title=args.ae_title, port=args.port, bind=args.bind,
                        forward=args.forward, on_event=_log, allowed_aes=args.allow_ae, allowed_peers=args.allow_peer,
                        **limits)
    with _stop_requested() as stop:
        listener.start()
        try:
            card = classifier.card
            forward = f"; answers forwarded to {args.forward}" if args.forward else ""
            print(f"pneumonet listen: listening on {listener.bind}:{listener.port} as AE '{args.ae_title}' "
                  f"({listener.exposure.describe()}) with model "
                  f"{card.name} v{card.version}; files in {args.out}{forward}; {listener.pending()} to resume",
                  flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            listener.stop()
    print(f"pneumonet listen: stopped; {listener.pending()} object(s) left to answer on the next start", flush=True)
    return 0
