"""Generated data sets, each a small picture of one phenomenon: spirals, moons and
circles (not linearly separable), blobs (separable), XOR (needs a hidden layer), and a
1-D regression with outliers (absolute versus squared loss). Every function takes a
``seed`` and returns ``(X, y)`` as NumPy arrays: float32 features and int64 labels (or
float32 targets for the regression)."""

from __future__ import annotations

import numpy as np

__all__ = ["blobs", "circles", "moons", "regression", "spirals", "xor"]


def _rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


def spirals(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed=0):
    """``classes`` interleaved spiral arms in the plane (the classic CS231n toy problem)."""
    rng = _rng(seed)
    xs, ys = [], []
    for k in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = (
            np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class)
            + rng.standard_normal(n_per_class) * noise
        )
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def moons(n: int = 200, noise: float = 0.1, seed=0):
    """Two interleaving half circles."""
    rng = _rng(seed)
    a, b = n // 2, n - n // 2
    t1, t2 = np.linspace(0, np.pi, a), np.linspace(0, np.pi, b)
    upper = np.stack([np.cos(t1), np.sin(t1)], axis=1)
    lower = np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], axis=1)
    x = np.concatenate([upper, lower]) + rng.standard_normal((n, 2)) * noise
    return x.astype(np.float32), np.concatenate([np.zeros(a), np.ones(b)]).astype(np.int64)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed=0):
    """A small circle inside a large one (radius ratio ``factor``)."""
    rng = _rng(seed)
    a, b = n // 2, n - n // 2
    t1 = np.linspace(0, 2 * np.pi, a, endpoint=False)
    t2 = np.linspace(0, 2 * np.pi, b, endpoint=False)
    outer = np.stack([np.cos(t1), np.sin(t1)], axis=1)
    inner = factor * np.stack([np.cos(t2), np.sin(t2)], axis=1)
    x = np.concatenate([outer, inner]) + rng.standard_normal((n, 2)) * noise
    return x.astype(np.float32), np.concatenate([np.zeros(a), np.ones(b)]).astype(np.int64)


def blobs(n: int = 300, centers: int = 3, dim: int = 2, std: float = 1.0, seed=0):
    """Gaussian clusters around ``centers`` random centres in [-10, 10]^dim."""
    rng = _rng(seed)
    means = rng.uniform(-10, 10, (centers, dim))
    labels = np.arange(n) % centers
    x = means[labels] + rng.standard_normal((n, dim)) * std
    return x.astype(np.float32), labels.astype(np.int64)


def xor(n: int = 200, noise: float = 0.1, seed=0):
    """Points around the four corners (±1, ±1), labelled by whether the signs differ: no
    line separates the classes, one hidden layer does."""
    rng = _rng(seed)
    corners = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    labels = np.arange(n) % 4
    x = corners[labels] + rng.standard_normal((n, 2)) * noise
    return x.astype(np.float32), (labels >= 2).astype(np.int64)


def regression(n: int = 200, noise: float = 0.1, outlier_fraction: float = 0.1, seed=0):
    """y = 2x + 1 + noise on x in [-1, 1], with a fraction of targets replaced by large
    errors: the least-squares fit is dragged toward them, the least-absolute one is not.
    Returns X (n, 1) and y (n, 1), float32."""
    rng = _rng(seed)
    x = rng.uniform(-1, 1, (n, 1))
    y = 2 * x + 1 + rng.standard_normal((n, 1)) * noise
    k = round(n * outlier_fraction)
    idx = rng.choice(n, size=k, replace=False)
    y[idx] += rng.uniform(5, 10, (k, 1))
    return x.astype(np.float32), y.astype(np.float32)
