"""The listener as one worker job: start it, hand its events to the GUI thread, stop it.

:func:`serve` is a generator job for :func:`pneumonet_gui.workers.start`. It builds a
``pneumonet_core.dicom_node.listener.Listener`` around the app's one classifier, first
yields :class:`Started` (the port really bound), then the studies the journal already
holds (``Listener.history()``), then the listener's events in small batches as they come.
Cancelling the worker (Stop, closing the window) ends the loop within a fraction of a
second, and the listener is stopped on the worker's thread: what was received and not yet
answered stays in the journal and is done on the next start.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

#: How long the job waits for an event before it looks at the cancel flag again.
POLL_S = 0.2


@dataclass(frozen=True)
class Started:
    """The listener is listening: the object (to swap its classifier) and the port it bound."""

    listener: object
    port: int


def drain(events: queue.Queue, timeout: float) -> list:
    """The events waiting in ``events``, after waiting up to ``timeout`` for the first."""
    try:
        batch = [events.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            batch.append(events.get_nowait())
        except queue.Empty:
            return batch


def serve(node, classifier, should_stop):
    """Run a listener with ``node``'s settings (a NodeSettings) until cancelled; yields as above."""
    from pneumonet_core.dicom_node.listener import Listener

    listener = Listener(node.out_dir, classifier, ae_title=node.ae_title, port=node.port, bind=node.bind,
                        allowed_aes=node.allowed_aes or None)
    events: queue.Queue = queue.Queue()
    listener.subscribe(events.put)
    history = listener.history()  # before start: what the journal holds, then only what is new
    listener.start()
    try:
        yield Started(listener, listener.port)
        if history:
            yield history
        while not should_stop():
            batch = drain(events, POLL_S)
            if batch:
                yield batch
    finally:
        listener.stop()
