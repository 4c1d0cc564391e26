"""The one preprocessing that turns a scan into model input, for training and inference alike.

The training images were squashed to 224 x 224 without keeping the aspect ratio (see the
data README), so every scan, whatever its size, is brought to the model the same way:
grayscale in [0, 1], resized to 224 x 224 with an anti-aliased bilinear filter.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: (height, width) of the model input.
INPUT_SIZE = (224, 224)
#: Name recorded in every model card so a model is only ever fed what it was trained on.
PREPROCESSING_ID = "squash-bilinear-224-gray01-v1"


def preprocess(pixels: np.ndarray) -> np.ndarray:
    """Return the model input for a scan's pixels: float32, (224, 224, 1), values in [0, 1].

    ``pixels`` is a 2-D float array in the MONOCHROME2 sense (0 black, 1 white), as
    :class:`pneumonet_core.imaging.scan.Scan` holds it.
    """
    arr = np.asarray(pixels, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {arr.shape}")
    if arr.shape != INPUT_SIZE:
        height, width = INPUT_SIZE
        arr = np.asarray(
            Image.fromarray(arr, mode="F").resize((width, height), Image.Resampling.BILINEAR),
            dtype=np.float32,
        )
    return np.clip(arr, 0.0, 1.0)[..., None]


def to_uint8(model_input: np.ndarray) -> np.ndarray:
    """Pack model input in [0, 1] as uint8 (what training caches hold: 4x less memory)."""
    return np.round(np.clip(model_input, 0.0, 1.0) * 255.0).astype(np.uint8)
