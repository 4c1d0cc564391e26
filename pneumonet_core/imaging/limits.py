"""How big a scan may be, and how much memory decoding may take, decided from the header.

Three limits, all checked before any pixel is decoded:

- :data:`MAX_PIXELS`: what a file may *declare* (all frames together). More is refused as
  a possible decompression bomb.
- :data:`MAX_DECODED_PIXELS`: what is kept in memory per scan. A larger image is decoded
  at a reduced size (an integer factor; JPEG by DCT scaling, PNG by Pillow's ``reduce``,
  uncompressed DICOM by reading only every k-th row and column) with a warning. The model
  sees 224 x 224 pixels, so this changes nothing it sees beyond resampling.
- :data:`MAX_WHOLE_DECODE_BYTES`: the most a codec may produce in one piece before the
  reduction can apply (a compressed DICOM frame, a PNG's decoded buffer). Larger is refused
  in one line; uncompressed DICOM is never read whole (see ``native.py``).
- :data:`DECODE_BUDGET_BYTES`: the memory that all decodes running at once may use. Each
  decode reserves its estimate from :data:`BUDGET` first and waits while others hold it,
  so the peak of a batch stays bounded whatever the number of threads or the inputs.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import sys
import threading
from collections.abc import Iterator

#: Most pixels a scan may declare, all DICOM frames together: 100 megapixels, about ten
#: times a large radiograph.
MAX_PIXELS = 100_000_000
#: Most pixels kept per decoded scan: 4096 x 4096, above any chest radiograph detector.
MAX_DECODED_PIXELS = 4096 * 4096
#: Memory shared by every decode in progress (bytes).
DECODE_BUDGET_BYTES = 160 * 1024 * 1024
#: Largest buffer a codec may decode whole: a 4300 x 3500 16-bit radiograph is 30 MB.
MAX_WHOLE_DECODE_BYTES = 128 * 1024 * 1024
#: Uncompressed DICOM pixel data above this (all frames) is read row by row, never whole.
NATIVE_READ_ABOVE_BYTES = 64 * 1024 * 1024
#: Images kept above this many pixels are computed in float32 rather than float64.
FLOAT32_ABOVE_PIXELS = 4 * 1024 * 1024


def too_large_message(what: str, nbytes: int) -> str:
    return (f"{what} needs {nbytes / 2**20:,.0f} MB to decode, more than the {MAX_WHOLE_DECODE_BYTES // 2**20} MB "
            "memory limit for one image")


def reduction_factor(width: int, height: int, limit: int = MAX_DECODED_PIXELS) -> int:
    """The smallest integer k such that a (width/k) x (height/k) image fits ``limit`` pixels."""
    k = max(1, math.isqrt(max(0, width * height - 1) // max(1, limit)))
    while math.ceil(width / k) * math.ceil(height / k) > limit:
        k += 1
    return k


def reduced_warning(width: int, height: int, new_width: int, new_height: int) -> str:
    return (f"Large image ({width} x {height}) analysed at reduced size ({new_width} x {new_height}) "
            "to bound memory")


def bomb_message(width: int, height: int, frames: int = 1, limit: int = MAX_PIXELS) -> str:
    frames_text = f" x {frames} frames" if frames > 1 else ""
    total = width * height * frames
    return (f"declares {width} x {height} pixels{frames_text} = {total:,} pixels, more than the "
            f"{limit:,}-pixel limit (possible decompression bomb)")


class DecodeBudget:
    """A byte budget shared by decoding threads; one request larger than it runs alone.

    Reservations nest within a thread: a caller that reserved for a whole step (the
    batch reserves for decoding *and* preprocessing a file) covers the decoder's own
    reservation inside it, which then neither counts twice nor waits.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0
        self._cond = threading.Condition()
        self._local = threading.local()

    @contextlib.contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the budget for the duration of the block."""
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        nbytes = max(0, int(nbytes))
        with self._cond:
            while self.in_use and self.in_use + nbytes > self.capacity:
                self._cond.wait()
            self.in_use += nbytes
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            with self._cond:
                self.in_use -= nbytes
                self._cond.notify_all()


#: The process-wide budget every :func:`~pneumonet_core.imaging.load_scan` draws from.
BUDGET = DecodeBudget(DECODE_BUDGET_BYTES)


_heap_policy_set = False


def return_large_buffers_to_the_system(threshold: int = 1 << 20) -> None:
    """Have buffers above ``threshold`` bytes mapped and unmapped directly (glibc only).

    After the first large buffer is freed, glibc raises its mmap threshold up to 32 MB and
    later image buffers come from per-thread heaps that keep their memory when freed; over a
    batch with several decoding threads that adds hundreds of megabytes to the peak. A fixed
    threshold gives each decoded image's memory back as soon as it is freed. Called once by
    batch runs; harmless elsewhere.
    """
    global _heap_policy_set
    if _heap_policy_set or not sys.platform.startswith("linux"):
        return
    _heap_policy_set = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl...): nothing to set
        return
    M_MMAP_THRESHOLD = -3
    mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(threshold))


def give_free_heap_back() -> None:
    """Return the heap's free pages to the system now (glibc's ``malloc_trim``; elsewhere nothing).

    Loading a model frees its compressed weights and the building's leftovers; without this
    the process keeps tens of megabytes it no longer uses for the rest of a batch.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(ctypes.c_size_t(0))
    except (OSError, AttributeError):  # not glibc
        pass
