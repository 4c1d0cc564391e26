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
class CentralCrop(keras.layers.Layer):
    """Keep the central part of the film (a fixed lung-field box) and resize it back.

    ``margin`` is the fraction cut from each side. Part of the model, so training and
    inference crop alike and the one preprocessing stays the same.
    """

    def __init__(self, margin: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.margin = float(margin)

    def call(self, images):
        if self.margin <= 0:
            return images
        height, width = images.shape[1], images.shape[2]
        top, left = round(height * self.margin), round(width * self.margin)
        crop = images[:, top : height - top, left : width - left, :]
        return ops.image.resize(crop, (height, width), interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="pneumonet")
class PerImageStandardize(keras.layers.Layer):
    """Each film to zero mean and unit variance: exposure and contrast stop mattering."""

    def call(self, images):
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        std = ops.std(images, axis=(1, 2, 3), keepdims=True)
        return (images - mean) / (std + 1e-3)


@keras.saving.register_keras_serializable(package="pneumonet")
class ChestAugment(keras.layers.Layer):
    """Geometric and photometric augmentation of chest films, in training only.

    Rotation, zoom, aspect change and shift (a random resized crop) as one batched affine
    transform (``keras.ops.image.affine_transform``), then brightness, contrast, gamma and
    noise, then random erasing of rectangles on the film's borders and corners, where ECG
    electrodes and text markers lie. Everything is ``keras.ops`` with static shapes, so it
    runs on the accelerator under any backend. No flips: a flip would move the heart.
    """

    def __init__(self, rotation_deg: float = 7.0, zoom: float = 0.10, shift: float = 0.06,
                 brightness: float = 0.08, contrast: float = 0.15, aspect: float = 0.0, gamma: float = 0.0,
                 noise: float = 0.0, erase: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rotation_deg, self.zoom, self.shift = rotation_deg, zoom, shift
        self.brightness, self.contrast, self.aspect = brightness, contrast, aspect
        self.gamma, self.noise, self.erase = gamma, noise, erase
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, batch, low, high):
        return keras.random.uniform((batch,), minval=low, maxval=high, seed=self.seed_generator)

    def _per_image(self, values):
        return ops.reshape(values, (-1, 1, 1, 1))

    def call(self, images, training=None):
        if not training:
            return images
        out = self._geometry(ops.cast(images, "float32"))
        out = self._photometry(out)
        if self.erase > 0:
            out = self._erase_borders(out)
        return ops.cast(ops.clip(out, 0.0, 1.0), images.dtype)

    def _geometry(self, images):
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        angle = self._uniform(batch, -1.0, 1.0) * (self.rotation_deg * math.pi / 180.0)
        scale = 1.0 + self._uniform(batch, -self.zoom, self.zoom)
        stretch = ops.exp(self._uniform(batch, -self.aspect, self.aspect)) if self.aspect > 0 else 1.0
        sx, sy = scale * stretch, scale / stretch
        tx = self._uniform(batch, -self.shift, self.shift) * ops.cast(width, "float32")
        ty = self._uniform(batch, -self.shift, self.shift) * ops.cast(height, "float32")
        cos, sin = ops.cos(angle), ops.sin(angle)
        cx = (ops.cast(width, "float32") - 1.0) / 2.0
        cy = (ops.cast(height, "float32") - 1.0) / 2.0
        # Output pixel (x, y) samples input (a0*x + a1*y + a2, b0*x + b1*y + b2): a rotation
        # and an (anisotropic) zoom about the centre, then a shift.
        a0, a1 = cos / sx, -sin / sy
        b0, b1 = sin / sx, cos / sy
        a2 = cx - a0 * cx - a1 * cy + tx
        b2 = cy - b0 * cx - b1 * cy + ty
        zeros = ops.zeros_like(a0)
        transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="nearest")

    def _photometry(self, out):
        batch = ops.shape(out)[0]
        mean = ops.mean(out, axis=(1, 2, 3), keepdims=True)
        contrast = self._per_image(1.0 + self._uniform(batch, -self.contrast, self.contrast))
        bright = self._per_image(self._uniform(batch, -self.brightness, self.brightness))
        out = (out - mean) * contrast + mean + bright
        if self.gamma > 0:
            gamma = self._per_image(ops.exp(self._uniform(batch, -self.gamma, self.gamma)))
            out = ops.power(ops.clip(out, 1e-4, 1.0), gamma)
        if self.noise > 0:
            sigma = self._per_image(self._uniform(batch, 0.0, self.noise))
            out = out + sigma * keras.random.normal(ops.shape(out), seed=self.seed_generator)
        return out

    def _erase_borders(self, out, rectangles: int = 2):
        shape = ops.shape(out)
        batch, height, width = shape[0], shape[1], shape[2]
        ys = ops.reshape(ops.arange(height, dtype="float32") / ops.cast(height, "float32"), (1, -1, 1, 1))
        xs = ops.reshape(ops.arange(width, dtype="float32") / ops.cast(width, "float32"), (1, 1, -1, 1))
        for _ in range(rectangles):
            # A rectangle centred in the outer band of a random side (top, bottom, left, right).
            side = self._uniform(batch, 0.0, 4.0)
            band = self._uniform(batch, 0.0, 0.15)
            cx, cy = self._uniform(batch, 0.0, 1.0), self._uniform(batch, 0.0, 1.0)
            cy = ops.where(side < 1.0, band, ops.where(side < 2.0, 1.0 - band, cy))
            cx = ops.where((side >= 2.0) & (side < 3.0), band, ops.where(side >= 3.0, 1.0 - band, cx))
            half_w, half_h = self._uniform(batch, 0.04, 0.12), self._uniform(batch, 0.04, 0.12)
            active = self._uniform(batch, 0.0, 1.0) < self.erase
            fill = self._per_image(self._uniform(batch, 0.0, 1.0))
            inside = ((ops.abs(xs - self._per_image(cx)) < self._per_image(half_w))
                      & (ops.abs(ys - self._per_image(cy)) < self._per_image(half_h))
                      & ops.reshape(active, (-1, 1, 1, 1)))
            out = ops.where(inside, fill, out)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rotation_deg": self.rotation_deg, "zoom": self.zoom, "shift": self.shift,
                "brightness": self.brightness, "contrast": self.contrast, "aspect": self.aspect,
                "gamma": self.gamma, "noise": self.noise, "erase": self.erase, "seed": self.seed}
