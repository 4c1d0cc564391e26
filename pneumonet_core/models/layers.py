"""Custom Keras layers that live inside saved models; backend-agnostic (``keras.ops`` only).

They are registered for serialization so a package's architecture JSON can be rebuilt on
TensorFlow, JAX or torch without the code that built it.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pneumonet")
class GrayToBackboneInput(keras.layers.Layer):
    """Map model input (gray, [0, 1]) to what a backbone expects: 3 channels, scaled.

    ResNetV2 expects [-1, 1] ("tf" mode); the custom CNN works on [0, 1] directly.
    Keeping this inside the model means the package alone fixes its input contract.
    """

    def __init__(self, channels: int = 3, scale: float = 2.0, offset: float = -1.0, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.scale = scale
        self.offset = offset

    def call(self, inputs):
        x = inputs * self.scale + self.offset
        if self.channels != 1:
            x = ops.repeat(x, self.channels, axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "scale": self.scale, "offset": self.offset}


@keras.saving.register_keras_serializable(package="pneumonet")
class UnitScale(keras.layers.Layer):
    """uint8 pixels (0..255) to float32 model input (0..1), on the device (training only)."""

    def call(self, inputs):
        return ops.cast(inputs, "float32") / 255.0


@keras.saving.register_keras_serializable(package="pneumonet")
class ChestAugment(keras.layers.Layer):
    """Random rotation, zoom, shift, brightness and contrast, in training only.

    One batched affine transform per call (``keras.ops.image.affine_transform``) so it
    runs on the accelerator under any backend with static shapes. Ranges are small on
    purpose: chest films are roughly aligned and a flip would move the heart.
    """

    def __init__(
        self,
        rotation_deg: float = 7.0,
        zoom: float = 0.10,
        shift: float = 0.06,
        brightness: float = 0.08,
        contrast: float = 0.15,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rotation_deg = rotation_deg
        self.zoom = zoom
        self.shift = shift
        self.brightness = brightness
        self.contrast = contrast
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, batch, low, high):
        return keras.random.uniform((batch,), minval=low, maxval=high, seed=self.seed_generator)

    def call(self, images, training=None):
        if not training:
            return images
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        angle = self._uniform(batch, -1.0, 1.0) * (self.rotation_deg * math.pi / 180.0)
        scale = 1.0 + self._uniform(batch, -self.zoom, self.zoom)
        tx = self._uniform(batch, -self.shift, self.shift) * ops.cast(width, "float32")
        ty = self._uniform(batch, -self.shift, self.shift) * ops.cast(height, "float32")
        cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
        cx = (ops.cast(width, "float32") - 1.0) / 2.0
        cy = (ops.cast(height, "float32") - 1.0) / 2.0
        # Output pixel (x, y) samples input (a0*x + a1*y + a2, b0*x + b1*y + b2): a rotation
        # and zoom about the centre, then a shift.
        a0, a1 = cos, -sin
        b0, b1 = sin, cos
        a2 = cx - a0 * cx - a1 * cy + tx
        b2 = cy - b0 * cx - b1 * cy + ty
        zeros = ops.zeros_like(a0)
        transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        out = ops.image.affine_transform(
            ops.cast(images, "float32"), transform, interpolation="bilinear", fill_mode="nearest"
        )
        mean = ops.mean(out, axis=(1, 2, 3), keepdims=True)
        contrast = ops.reshape(1.0 + self._uniform(batch, -self.contrast, self.contrast), (-1, 1, 1, 1))
        bright = ops.reshape(self._uniform(batch, -self.brightness, self.brightness), (-1, 1, 1, 1))
        out = (out - mean) * contrast + mean + bright
        return ops.cast(ops.clip(out, 0.0, 1.0), images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rotation_deg": self.rotation_deg,
            "zoom": self.zoom,
            "shift": self.shift,
            "brightness": self.brightness,
            "contrast": self.contrast,
            "seed": self.seed,
        }
