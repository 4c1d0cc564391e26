"""The fitted feature reference of the guard, and its file ``extra/ood.npz`` in the model package.

Method (``mahalanobis-pca-ledoit-wolf``): the guard features of the fitting films (the
channel means of a feature map, :mod:`.features`: 512 numbers per film for ResNet152V2,
32 for the bundled custom CNN) are centred and projected on their first principal
components; a Ledoit-Wolf shrunk covariance of the projections gives a Mahalanobis
distance that stays well conditioned with few films and many dimensions. What the
projection leaves out (the residual) counts too, scaled by its mean on the fitting films,
because a strange image often lies off the films' subspace rather than far along it:

    d(x)^2 = (z - m)' P (z - m) / k  +  |r|^2 / mean_fit(|r|^2),   z = V (x - mu),  r = (x - mu) - V' z

with ``k`` components (both terms are about 1 for a typical film; without a residual,
when ``k`` covers every dimension, only the first). The file stores ``mu``, ``V``, ``m``,
``P`` and the residual scale, float32, with :func:`numpy.savez` (no pickle): about
0.15 MB for ResNet152V2 (512 x 64 components), 0.5 MB were it read at ``gap`` (2048 x 64).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

METHOD = "mahalanobis-pca-ledoit-wolf"
#: Principal components kept (fewer when there are fewer films or features).
DEFAULT_COMPONENTS = 64
_FIELDS = ("mean", "components", "location", "precision", "residual_scale")


@dataclass
class FeatureReference:
    """A fitted reference: where the fitting films lie in the model's feature space."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D), orthonormal rows
    location: np.ndarray  # (k,)
    precision: np.ndarray  # (k, k)
    residual_scale: float  # mean squared residual of the fitting films (0: no residual term)

    @property
    def dimensions(self) -> int:
        return int(self.mean.shape[0])

    def distances(self, features: np.ndarray) -> np.ndarray:
        """The distance of each feature vector (N, D) from the fitting films; about 1.4 for a typical one."""
        x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
        if x.shape[1] != self.dimensions:
            raise ValueError(f"features have {x.shape[1]} dimensions, the reference {self.dimensions}")
        centred = x - self.mean
        z = centred @ self.components.T.astype(np.float64)
        dz = z - self.location
        k = max(1, self.components.shape[0])
        squared = np.einsum("ij,jk,ik->i", dz, self.precision.astype(np.float64), dz) / k
        if self.residual_scale > 0:
            residual = centred - z @ self.components.astype(np.float64)
            squared = squared + np.sum(residual**2, axis=1) / self.residual_scale
        return np.sqrt(np.maximum(squared, 0.0))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, mean=self.mean.astype(np.float32), components=self.components.astype(np.float32),
                 location=self.location.astype(np.float32), precision=self.precision.astype(np.float32),
                 residual_scale=np.float32(self.residual_scale))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureReference:
        """Read ``ood.npz``; raises ValueError when it is not a consistent reference."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: np.asarray(npz[name], dtype=np.float64) for name in _FIELDS}
        except (KeyError, OSError, EOFError, ValueError) as exc:
            raise ValueError(f"unreadable out-of-distribution reference ({type(exc).__name__}: {exc})") from None
        mean, components, location, precision = (arrays[n] for n in _FIELDS[:4])
        k = components.shape[0] if components.ndim == 2 else -1
        if (mean.ndim != 1 or components.shape != (k, mean.shape[0]) or location.shape != (k,)
                or precision.shape != (k, k) or not all(np.isfinite(a).all() for a in arrays.values())):
            raise ValueError("inconsistent out-of-distribution reference (array shapes or values)")
        return cls(mean, components, location, precision, float(arrays["residual_scale"]))


def fit_reference(features: np.ndarray, components: int = DEFAULT_COMPONENTS) -> FeatureReference:
    """Fit the reference to the fitting films' features (N, D); needs at least 3 films."""
    from sklearn.covariance import LedoitWolf

    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if len(x) < 3:
        raise ValueError(f"{len(x)} films are too few to fit a feature reference (at least 3)")
    mean = x.mean(axis=0)
    centred = x - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    k = int(max(1, min(components, len(x) - 1, x.shape[1])))
    basis = vt[:k]
    z = centred @ basis.T
    shrunk = LedoitWolf().fit(z)
    residual = centred - z @ basis
    scale = float(np.mean(np.sum(residual**2, axis=1)))
    # Features that span no more than k dimensions leave no residual to measure.
    scale = scale if scale > 1e-12 * max(1.0, float(np.mean(np.sum(centred**2, axis=1)))) else 0.0
    return FeatureReference(mean, basis, shrunk.location_, shrunk.precision_, scale)
