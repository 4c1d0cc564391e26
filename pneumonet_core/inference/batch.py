"""Classify many files: decoding runs in threads ahead of batched inference.

Scans are decoded and preprocessed by a thread pool up to ``prefetch`` batches ahead of
the model, so the CPU decodes while the model computes. Unless the caller asks for whole
scans (``on_scan``), only the 224 x 224 model input and the few fields a result needs are
kept of each scan, so memory stays flat over any number of files. A file that fails gets
its error and the batch goes on. Results come back in the order of the input paths.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pneumonet_core import imaging
from pneumonet_core.errors import PneumonetError
from pneumonet_core.imaging import limits
from pneumonet_core.imaging.dicom import read_metadata
from pneumonet_core.imaging.files import is_regular_file, regular_file_problem
from pneumonet_core.imaging.limits import return_large_buffers_to_the_system
from pneumonet_core.imaging.loader import decode_estimate
from pneumonet_core.imaging.scan import Scan
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.preprocessing import preprocess
from pneumonet_core.reports.deidentify import display_paths
from pneumonet_core.results import ScanResult, file_sha256

log = logging.getLogger(__name__)

#: How often (seconds) a waiting batch run looks at ``should_stop``.
_POLL_S = 0.05


class Decoded(NamedTuple):
    """A decoded file on its way to the model: its result so far, the model input, the scan."""

    result: ScanResult
    model_input: np.ndarray | None
    scan: Scan | None  # only kept when the caller wants whole scans


def header_metadata(path: Path) -> dict:
    """Patient fields of a DICOM file that failed to decode, so reports can still leave them out."""
    if not is_regular_file(path):
        return {}
    try:
        import pydicom

        return read_metadata(pydicom.dcmread(path, stop_before_pixels=True, force=False))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 - not DICOM or unreadable header: nothing to hide
        return {}


def decode_file(path: Path, keep_scan: bool, on_decoded: Callable[[Path, Scan], None] | None,
                threshold: float) -> Decoded:
    """Decode one file for the model; any failure, however raised, is this file's error only."""
    problem = regular_file_problem(path)
    if problem:  # a FIFO or a device is never opened, not even to hash it
        return Decoded(ScanResult.failed(path, problem, None, None, threshold), None, None)
    digest = file_sha256(path)
    try:
        # One reservation for decoding and preprocessing together (the decoder's own nests
        # inside it), so threads never hold more decoded scans than the budget allows.
        with limits.BUDGET.reserve(decode_estimate(path)):
            scan = imaging.load_scan(path)  # through the package: the one loader, which tests can watch
            model_input = preprocess(scan.pixels)
            if on_decoded is not None:
                try:
                    on_decoded(path, scan)
                except Exception:  # a thumbnail that fails must not fail the scan
                    log.warning("on_decoded failed for %s", path.name, exc_info=True)
            # A kept scan goes to on_scan (heat maps), which needs its pixels but not ``raw``.
            kept = dataclasses.replace(scan, raw=None) if keep_scan else None
            result = ScanResult.of_scan(scan, digest)
            del scan
    except PneumonetError as exc:
        error = getattr(exc, "reason", str(exc))
        return Decoded(ScanResult.failed(path, error, header_metadata(path), digest, threshold), None, None)
    except MemoryError:
        return Decoded(ScanResult.failed(path, "not enough memory to decode this image", None, digest, threshold),
                        None, None)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - preprocess refusing an image, or anything else
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return Decoded(ScanResult.failed(path, reason, header_metadata(path), digest, threshold), None, None)
    return Decoded(result, model_input, kept)


def default_workers() -> int:
    """Decoding threads: enough to keep the model fed, leaving cores to the model itself."""
    return max(2, min(8, (os.cpu_count() or 2) // 2))


def classify_paths(
    paths: Iterable[Path],
    classifier: Classifier,
    batch_size: int = 16,
    workers: int | None = 2,
    should_stop: Callable[[], bool] = lambda: False,
    on_scan: Callable[[ScanResult, Scan], None] | None = None,
    on_decoded: Callable[[Path, Scan], None] | None = None,
    prefetch: int = 2,
) -> Iterator[ScanResult]:
    """Yield one :class:`ScanResult` per path, in order; stops early when ``should_stop()``.

    ``on_scan`` is called with each successful result and its full scan while the scan is
    still in memory (the CLI uses it to write heat maps). ``on_decoded(path, scan)`` is
    called in a decoding thread as soon as a scan is decoded (thumbnails are made there,
    in parallel); it must be thread-safe. ``workers`` None picks :func:`default_workers`.
    ``should_stop`` is checked between batches and while waiting for decoding, so a stop
    takes at most one model batch; every result already computed is still yielded.
    """
    return_large_buffers_to_the_system()
    paths = [Path(p) for p in paths]
    shown = display_paths(paths)  # de-identified exports name files relative to the batch's folder
    chunks = [paths[i : i + batch_size] for i in range(0, len(paths), max(1, batch_size))]
    keep = on_scan is not None
    if keep:  # whole scans wait for the model: hold fewer of them
        prefetch = 1
    pool = ThreadPoolExecutor(max_workers=max(1, workers or default_workers()), thread_name_prefix="pneumonet-decode")
    queued: collections.deque[list[Future]] = collections.deque()
    next_chunk = 0

    def fill() -> None:
        nonlocal next_chunk
        while next_chunk < len(chunks) and len(queued) < max(1, prefetch):
            queued.append([pool.submit(decode_file, p, keep, on_decoded, classifier.threshold)
                           for p in chunks[next_chunk]])
            next_chunk += 1

    stopped = False
    try:
        fill()
        while queued:
            current = queued.popleft()
            fill()  # keep decoding ahead while this batch waits for the model
            while not stopped and not all(f.done() for f in current):
                wait([f for f in current if not f.done()], timeout=_POLL_S, return_when=FIRST_COMPLETED)
                stopped = should_stop()
            if stopped or should_stop():
                stopped = True
                return
            decoded = [f.result() for f in current]
            del current  # let each full scan go as soon as it is reported
            good = [i for i, d in enumerate(decoded) if d.model_input is not None]
            outputs: np.ndarray | list = []
            features: np.ndarray | None = None
            if good:
                outputs, features = classifier.forward(np.stack([decoded[i].model_input for i in good]))
            results = [d.result for d in decoded]
            for row, (i, output) in enumerate(zip(good, outputs)):
                results[i] = classifier.decide(results[i], output, decoded[i].model_input,
                                               None if features is None else features[row])
            results = classifier.with_subtypes(results, [d.model_input for d in decoded])
            for i, result in enumerate(results):
                if result.display_path is None:
                    result = dataclasses.replace(result, display_path=shown.get(str(result.path)))
                scan = decoded[i].scan
                decoded[i] = None
                if on_scan is not None and scan is not None and result.ok:
                    on_scan(result, scan)
                yield result
    finally:
        for chunk in queued:
            for f in chunk:
                f.cancel()
        # A stop (or an abandoned generator) must not wait for queued decodes.
        pool.shutdown(wait=not stopped, cancel_futures=True)


class BatchProgress:
    """Counts finished scans and estimates the rate and the time left of a batch run.

    The rate is measured from the first finished scan on, over the most recent scans (a
    sliding window): the time before it (loading the model, compiling it, the first
    decodes) is not a rate and would make the first estimate far too long. Results come in
    bursts (a model batch at a time): counts that arrive within :data:`BURST_S` of each
    other are one stamp, so a window that starts inside a burst does not inflate the rate.
    """

    #: Seconds within which finished scans count as one burst (one model batch).
    BURST_S = 0.01

    def __init__(self, total: int, window: int = 64, clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.done = 0
        self._clock = clock
        self.started = clock()
        self._stamps: collections.deque[tuple[float, int]] = collections.deque(maxlen=window)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self._clock()
        if self._stamps and now - self._stamps[-1][0] < self.BURST_S:
            self._stamps[-1] = (now, self.done)  # the same burst: its end is the stamp
        else:
            self._stamps.append((now, self.done))

    @property
    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def rate(self) -> float | None:
        """Scans per second since the first finished burst, over the window; None before
        two bursts have finished."""
        if len(self._stamps) < 2:
            return None
        (t0, n0), (t1, n1) = self._stamps[0], self._stamps[-1]
        return (n1 - n0) / (t1 - t0) if n1 > n0 and t1 > t0 else None

    @property
    def seconds_left(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate else None

    def text(self) -> str:
        """``"37 / 200 · 12.3 scans/s · about 0:14 left"``."""
        parts = [f"{self.done} / {self.total}"]
        if self.rate:
            parts.append(f"{self.rate:.1f} scans/s")
        elif self.done and self.done >= self.total and self.elapsed > 0:
            # All in one burst (a cluster's results, one model batch): the whole run's rate,
            # start-up included, said as such; an estimate is no longer needed.
            parts.append(f"{self.done / self.elapsed:.1f} scans/s overall")
        left = self.seconds_left
        if left is not None and self.done < self.total:
            parts.append(f"about {format_duration(left)} left")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
