"""Data-parallel training: one training step spread over every accelerator (and host).

``pneumonet train --distribute data-parallel`` uses the Keras 3 distribution API
(:class:`keras.distribution.DataParallel`) on the JAX backend: the weights are replicated
on every device, each batch is split along its first axis between the devices, and the
gradients are averaged by XLA. The batch size is the global batch, so it must divide by
the device count (batches keep one static shape).

Several hosts: start ``pneumonet train`` on each with the same arguments and the Keras
variables ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (``host0:port,host1:port,...``),
``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``; each process
feeds its own share of every global batch, and only process 0 writes the model (the
others write into a temporary folder, as they must run the same steps in lockstep).

The card records the distribution and the device count (:meth:`TrainingDistribution.record`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pneumonet_core.errors import PneumonetError

NONE = "none"
DATA_PARALLEL = "data-parallel"
DISTRIBUTIONS = (NONE, DATA_PARALLEL)
_HOST_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES")


@dataclass(frozen=True)
class TrainingDistribution:
    """How a run spreads its steps: the strategy, the devices, and this process's place."""

    kind: str = NONE
    devices: int = 1
    device_kind: str = ""
    processes: int = 1
    process_index: int = 0

    @property
    def primary(self) -> bool:
        """True in the process that writes the model (the only one, unless several hosts train)."""
        return self.process_index == 0

    def record(self) -> dict:
        """The card's ``training.distribution`` block."""
        strategy = "DataParallel" if self.kind == DATA_PARALLEL else "none"
        return {"strategy": strategy, "devices": self.devices, "device_kind": self.device_kind,
                "processes": self.processes}

    def describe(self) -> str:
        """``data-parallel over 2 cpu devices`` (for the start event)."""
        if self.kind == NONE:
            return "one device"
        hosts = f" on {self.processes} hosts" if self.processes > 1 else ""
        return f"data-parallel over {self.devices} {self.device_kind} devices{hosts}"

    def batch_size(self, wanted: int) -> int:
        """The largest global batch up to ``wanted`` that divides by the device count."""
        return max(self.devices, wanted - wanted % self.devices)

    def process_config(self, config):
        """``config`` for this process: outside the primary process, outputs go to a temporary folder."""
        if self.primary:
            return config
        folder = Path(tempfile.mkdtemp(prefix=f"pneumonet-process{self.process_index}-"))
        out = folder / Path(config.out).name if config.out else None
        checkpoint = folder / Path(config.checkpoint).name if config.checkpoint else None
        return dataclasses.replace(config, out=out, checkpoint=checkpoint, predictions=None, resume=False)

    def process_batches(self, batches):
        """This process's share of each global batch (the batches themselves with one process)."""
        if self.processes == 1:
            return batches
        return _process_share(batches, self.process_index, self.processes)


def _process_share(batches, index: int, count: int):
    """A PyDataset of rows ``[index*k, (index+1)*k)`` of each batch of ``batches`` (k = batch / count).

    Every process draws the same shuffled batches (same seed), so the shares are disjoint
    and together make the global batch.
    """
    import keras

    class _Share(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)

        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            x, y, w = batches[i]
            k = len(x) // count
            part = slice(index * k, (index + 1) * k)
            return x[part], y[part], w[part]

        def on_epoch_end(self):
            batches.on_epoch_end()

    return _Share()


def _initialize_hosts() -> None:
    """Join the other hosts when the Keras multi-host variables are set (a no-op otherwise)."""
    import keras

    if all(os.environ.get(name) for name in _HOST_VARIABLES) and int(os.environ[_HOST_VARIABLES[1]]) > 1:
        keras.distribution.initialize()


@contextlib.contextmanager
def distribution_scope(kind: str, batch_size: int) -> Iterator[TrainingDistribution]:
    """Run the body under ``kind`` ("none" or "data-parallel") and say how it is spread.

    Data-parallel needs the JAX backend and a batch size that divides by the device count;
    otherwise it fails with one line before any work. Models must be built inside the
    scope, so their weights are laid out on every device.
    """
    if kind == NONE:
        yield TrainingDistribution()
        return
    if kind != DATA_PARALLEL:
        raise PneumonetError(f"unknown distribution {kind!r}; choose one of {', '.join(DISTRIBUTIONS)}")
    import keras

    backend = keras.backend.backend()
    if backend != "jax":
        raise PneumonetError(f"--distribute {DATA_PARALLEL} needs the JAX backend: run it with KERAS_BACKEND=jax "
                             f"(this run uses {backend})")
    _initialize_hosts()
    import jax

    devices = keras.distribution.list_devices()
    n = len(devices)
    if batch_size % n:
        raise PneumonetError(f"--batch-size {batch_size} does not divide by the {n} devices of --distribute "
                             f"{DATA_PARALLEL}: use a multiple of {n}, e.g. {max(n, batch_size - batch_size % n)}")
    distribution = keras.distribution.DataParallel(devices=devices)
    info = TrainingDistribution(kind=DATA_PARALLEL, devices=n, device_kind=jax.devices()[0].platform,
                                processes=jax.process_count(), process_index=jax.process_index())
    with distribution.scope():
        yield info
