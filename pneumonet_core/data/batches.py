"""Model inputs for training: decoded once, packed as uint8, served in static-shape batches.

Images go through the one preprocessing and are kept only at model size (50 kB each), never
at full resolution. Training batches have a fixed size (the last partial batch is dropped
after shuffling, so every image is still seen) because XLA/JAX compile again for every new
batch shape; augmentation runs inside the training model, on the accelerator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumonet_core.errors import CancelledError, PneumonetError
from pneumonet_core.imaging import load_scan
from pneumonet_core.preprocessing import INPUT_SIZE, preprocess, to_uint8


def load_input(path: Path) -> np.ndarray:
    """Decode one file and return its packed model input (224, 224, 1) uint8."""
    return to_uint8(preprocess(load_scan(path).pixels))


@dataclass
class DecodedInputs:
    """Packed model inputs for the files that decoded, and the reasons of those that did not."""

    inputs: np.ndarray  # (N, 224, 224, 1) uint8
    kept: list[int]  # indices into the requested paths
    errors: list[str]  # one line per failed file


def decode_inputs(
    paths: Sequence[Path],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DecodedInputs:
    """Decode many files in parallel threads (Pillow and pydicom release the GIL)."""
    workers = workers or min(8, (os.cpu_count() or 2))
    out = np.zeros((len(paths), *INPUT_SIZE, 1), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    errors: list[str] = []

    def work(i: int):
        try:
            out[i] = load_input(Path(paths[i]))
            ok[i] = True
        except PneumonetError as exc:
            errors.append(str(exc))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(work, range(len(paths))), start=1):
            if progress and (done % 64 == 0 or done == len(paths)):
                progress(done, len(paths))
            if should_stop and should_stop():
                raise CancelledError("cancelled while decoding images")
    kept = [int(i) for i in np.flatnonzero(ok)]
    return DecodedInputs(out[ok], kept, errors)


def class_weights(y_index: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class weights n / (k * n_c) that balance the loss across imbalanced classes."""
    counts = np.bincount(y_index, minlength=n_classes).astype(np.float64)
    counts[counts == 0] = 1.0
    return (len(y_index) / (n_classes * counts)).astype(np.float32)


def make_training_batches(inputs, targets, weights, batch_size: int, seed: int, balanced_classes=None,
                          mixup: float = 0.0):
    """A Keras PyDataset of shuffled, full-size training batches (x, y, w).

    Inputs stay uint8 up to the device (a quarter of the bytes to copy); the training
    model scales them to [0, 1] itself. ``balanced_classes`` (a class index per image)
    draws each epoch's images so that every class is seen equally often; ``mixup`` > 0
    blends each batch with a shuffled copy of itself (Zhang et al., 2018), targets and
    weights alike, and then yields float32 films in 0..255.
    """
    import keras

    class _TrainingBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed)
            self.batch = min(batch_size, len(inputs))
            self.order = self._draw()

        def _draw(self):
            if balanced_classes is None:
                return self.rng.permutation(len(inputs))
            labels = np.asarray(balanced_classes)
            counts = np.bincount(labels)
            p = 1.0 / counts[labels]
            return self.rng.choice(len(inputs), size=len(inputs), replace=True, p=p / p.sum())

        def __len__(self):
            return max(1, len(inputs) // self.batch)

        def __getitem__(self, index):
            idx = np.sort(self.order[index * self.batch : (index + 1) * self.batch])
            x, y, w = inputs[idx], targets[idx], weights[idx]
            if mixup > 0:
                lam = self.rng.beta(mixup, mixup, size=len(idx)).astype(np.float32)
                other = self.rng.permutation(len(idx))
                shape = (-1,) + (1,) * (x.ndim - 1)
                x = lam.reshape(shape) * x.astype(np.float32) + (1 - lam.reshape(shape)) * x[other].astype(np.float32)
                lam_y = lam.reshape((-1,) + (1,) * (np.ndim(y) - 1))
                y = lam_y * y + (1 - lam_y) * y[other]
                w = lam * w + (1 - lam) * w[other]
            return x, y, w

        def on_epoch_end(self):
            self.order = self._draw()

    return _TrainingBatches()


def padded_batches(n: int, batch_size: int):
    """Yield (start, stop) index ranges for predicting n items in batches of one fixed size."""
    for start in range(0, n, batch_size):
        yield start, min(n, start + batch_size)
