"""The speed devices of ``ops/kernels/fast.py`` give the bits of the plain forms they
replace, special values included."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.ops.kernels import fast

SPECIAL = [-0.0, 0.0, np.nan, -np.nan, -1.5, 2.5, np.inf, -np.inf, 1e-45, -3e4]


def _values(rng, n, dtype):
    x = rng.standard_normal(n).astype(dtype)
    k = min(n, len(SPECIAL))
    x[:k] = np.asarray(SPECIAL[:k], dtype)
    return x


def _bits(a):
    return np.ascontiguousarray(a).view({2: np.int16, 4: np.int32, 8: np.int64}[a.itemsize])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [10, 5000], ids=["small", "large"])
def test_where_gives_numpys_bits(dtype, n):
    rng = np.random.default_rng(0)
    x = _values(rng, n, dtype)
    mask = rng.random(n) > 0.5
    for a, b in ((x, 0.0), (0.0, x), (x, -0.0), (x, x[::-1].copy()), (x, 1.0)):
        np.testing.assert_array_equal(_bits(fast.where(mask, a, b)), _bits(np.where(mask, a, b)))
    np.testing.assert_array_equal(_bits(fast.keep_where(mask, x)), _bits(np.where(mask, x, 0.0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [100, 3 * (1 << 16) + 5], ids=["small", "sliced"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_threshold_grad_gives_the_plain_bits(dtype, n, layout, overwrite):
    rng = np.random.default_rng(1)
    out = np.maximum(_values(rng, n, dtype), 0)
    out[rng.random(n) < 0.3] = 0.0
    g = _values(rng, n, dtype)[::-1].copy()
    if layout == "transposed":
        out, g = out[: n - n % 5].reshape(5, -1).T, g[: n - n % 5].reshape(5, -1).T
    plain = np.where(out == 0, 0.0, g)
    mine = fast.threshold_grad(g.copy() if overwrite else g, out, overwrite)
    np.testing.assert_array_equal(_bits(mine), _bits(plain))
