"""Progress events of a training run, as the CLI prints them and the wizard plots them.

Each event is a plain dict with an ``event`` key: ``split``, ``decode``, ``start``,
``batch``, ``epoch``, ``evaluate``, ``saved``, ``cancelled`` or ``error``. The CLI writes
them one JSON object per line with ``--progress jsonl``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import numpy as np

ProgressFn = Callable[[dict], None]


def jsonl_printer(stream=None) -> ProgressFn:
    """Write each event as one JSON line (flushed, so a parent process sees it at once)."""

    def emit(event: dict) -> None:
        out = stream or sys.stdout
        out.write(json.dumps(event, default=_plain) + "\n")
        out.flush()

    return emit


def text_printer(stream=None) -> ProgressFn:
    """Human-readable progress lines for a terminal."""

    def emit(event: dict) -> None:
        out = stream or sys.stderr
        kind = event.get("event")
        if kind == "batch":
            out.write(
                f"\repoch {event['epoch']}/{event['epochs']} batch {event['batch']}/{event['batches']} "
                f"loss {event['loss']:.4f}  ETA {format_seconds(event.get('eta_s'))}   "
            )
        elif kind == "epoch":
            best = " *best*" if event.get("best") else ""
            out.write(
                f"\repoch {event['epoch']}/{event['epochs']}: loss {event['loss']:.4f} acc {event.get('accuracy', 0):.4f} "
                f"| val loss {event['val_loss']:.4f} acc {event['val_accuracy']:.4f} auc {event['val_auc']:.4f}"
                f"{best}  ({event['seconds']:.0f}s)\n"
            )
        elif kind == "split":
            s = event["summary"]
            out.write(
                "split by patient: "
                + ", ".join(f"{k} {s[k]['images']} images / {s[k]['patients']} patients" for k in ("train", "validation", "test"))
                + "\n"
            )
        elif kind == "decode":
            out.write(f"\rdecoding {event['split']}: {event['done']}/{event['total']}   ")
            if event["done"] == event["total"]:
                out.write("\n")
        elif kind in ("start", "evaluate", "saved", "cancelled", "error", "warning"):
            out.write(f"{kind}: {event.get('message', '')}\n")
        out.flush()

    return emit


def format_seconds(seconds) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "--:--"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class EtaClock:
    """Estimates the time left from the pace so far."""

    def __init__(self, total_steps: int):
        self.total = max(1, total_steps)
        self.start = time.monotonic()

    def eta(self, done_steps: int) -> float | None:
        if done_steps <= 0:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed / done_steps * (self.total - done_steps)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
