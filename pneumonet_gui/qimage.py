"""numpy arrays to QImage and back, copying so Qt never points into freed numpy memory."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def gray_to_qimage(gray: np.ndarray) -> QImage:
    """(H, W) uint8 to an 8-bit greyscale QImage (own copy of the data)."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    height, width = gray.shape
    return QImage(gray.data, width, height, gray.strides[0], QImage.Format.Format_Grayscale8).copy()


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """(H, W, 4) uint8 RGBA to a QImage (own copy of the data)."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    height, width, _ = rgba.shape
    return QImage(rgba.data, width, height, rgba.strides[0], QImage.Format.Format_RGBA8888).copy()


def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage as (H, W, 4) uint8 RGBA, e.g. a widget grab for tests and checks."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = image.width(), image.height()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return buffer.reshape(height, image.bytesPerLine())[:, : width * 4].reshape(height, width, 4).copy()
