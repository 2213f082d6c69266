r"""Products and running totals along a dimension: ``prod``, ``cumsum``, ``cumprod``.

Three primitives, because their derivatives need care that a composition would not take:
a product's gradient is "the product of the others", which the textbook formula
:math:`y / x_i` gets wrong (0/0) as soon as an element is 0, and a running total's
gradient is a running total taken backwards, one pass instead of a matrix.

Dtypes follow PyTorch: ``dtype=`` casts the input first; without it, bool and integer
input give int64, as ``sum`` does.
"""

from __future__ import annotations

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule._numpy_names import numpy_names
from chainrule.ops._common import along, normalize_dim
from chainrule.ops._out import write_out
from chainrule.ops.op import Op
from chainrule.ops.reduction import kept_dims, kept_shape
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor, as_tensor

__all__ = ["cumprod", "cumsum", "prod"]


def _reversed_cumsum(lib, x, axis: int):
    """:math:`r_i = \\sum_{k \\ge i} x_k` along ``axis``."""
    return lib.flip(lib.cumsum(lib.flip(x, (axis,)), axis), (axis,))


def _exclusive_cumprod(lib, x, axis: int):
    """:math:`e_i = \\prod_{k < i} x_k` along ``axis`` (1 for the first), without division."""
    n = x.shape[axis]
    ones = xp.ones(kept_shape(tuple(x.shape), (axis,)), dtype=x.dtype)
    return lib.cumprod(lib.cat([ones, x[along(axis, slice(0, n - 1))]], axis), axis)


class Prod(Op):
    r"""Forward: :math:`y = \prod_i x_i` along one dimension.

    Backward: :math:`\bar x_i = \bar y \prod_{j \ne i} x_j`. Without zeros this is
    :math:`\bar y\, y / x_i`; with zeros (PyTorch's convention, and the true derivative)
    it is computed as the product of the elements before and after :math:`i`,
    :math:`\bar y \cdot \prod_{j<i} x_j \cdot \prod_{j>i} x_j`: one zero gives its own
    position the product of the others and every other position 0; two or more zeros
    give 0 everywhere.
    """

    def forward(self, x, axis, keepdim):
        self.in_shape, self.axis, self.keepdim = x.shape, axis, keepdim
        out = xp.prod(x, axis=axis, keepdims=keepdim)
        self.save(x, out)
        return out

    def backward(self, lib, g, x, out):
        a = self.axis
        g, out = kept_dims(lib, self.in_shape, (a,), self.keepdim, g, out)
        if not (x == 0).any():
            return g * (out / x), None, None
        before = _exclusive_cumprod(lib, x, a)
        after = lib.flip(_exclusive_cumprod(lib, lib.flip(x, (a,)), a), (a,))
        return g * (before * after), None, None


class Cumsum(Op):
    r"""Forward: :math:`y_k = \sum_{i \le k} x_i` along ``dim``.

    Backward: :math:`\bar x_i = \sum_{k \ge i} \bar y_k`, the cumulative sum of the
    gradient taken from the end (flip, cumsum, flip).
    """

    def forward(self, x, axis):
        self.axis = axis
        return xp.cumsum(x, axis=axis)

    def backward(self, lib, g):
        return _reversed_cumsum(lib, g, self.axis), None


class Cumprod(Op):
    r"""Forward: :math:`y_k = \prod_{i \le k} x_i` along ``dim``.

    Backward: :math:`\bar x_i = \sum_{k \ge i} \bar y_k \prod_{j \le k, j \ne i} x_j`.
    Without zeros this is :math:`\big(\sum_{k \ge i} \bar y_k y_k\big) / x_i`. With zeros
    (PyTorch's method): before the first zero :math:`z` the same formula holds; at
    :math:`z` the gradient is :math:`\sum_{k \ge z} \bar y_k P_k`, with :math:`P` the
    running product with :math:`x_z` replaced by 1; after :math:`z` it is 0. That form's
    own derivative is not cumprod's second derivative, so a differentiable backward
    (``create_graph=True``) with zeros uses the direct :math:`O(n^2)` sum instead.
    """

    def forward(self, x, axis):
        self.axis = axis
        out = xp.cumprod(x, axis=axis)
        self.save(x, out)
        return out

    def backward(self, lib, g, x, out):
        a = self.axis
        if x.shape[a] == 1:
            return g, None
        zero = x == 0
        if not zero.any():
            return _reversed_cumsum(lib, g * out, a) / x, None
        if lib.differentiable:
            return _cumprod_grad_direct(lib, g, x, a), None
        seen = xp.cumsum(_array(zero), axis=a)  # zeros up to and including each position
        before = seen == 0
        first = _array(zero) & (seen == 1)
        up_to_first = _reversed_cumsum(lib, g * out, a) / lib.where(before, x, 1.0)
        skip_first = lib.cumprod(lib.where(first, 1.0, x), a)
        at_first = _reversed_cumsum(lib, g * skip_first, a)
        return lib.where(before, up_to_first, lib.where(first, at_first, 0.0)), None


def _array(x):
    return x._array if isinstance(x, Tensor) else x


def _cumprod_grad_direct(lib, g, x, a: int):
    r""":math:`\bar x_k = \sum_{j \ge k} \bar y_j \prod_{i \le j, i \ne k} x_i`, one
    :math:`k` at a time, from products that leave :math:`x_k` out (differentiable)."""
    n = x.shape[a]
    ones = xp.ones(kept_shape(tuple(x.shape), (a,)), dtype=x.dtype)
    grads = []
    for k in range(n):
        until_k = ones if k == 0 else lib.prod(x[along(a, slice(0, k))], a, True)
        if k + 1 < n:
            after_k = lib.cumprod(x[along(a, slice(k + 1, None))], a)
            omitted = lib.cat([until_k, until_k * after_k], a)
        else:
            omitted = until_k
        grads.append(lib.sum(g[along(a, slice(k, None))] * omitted, a, True))
    return lib.cat(grads, a)


def _integer_to_int64(x: Tensor, dtype) -> Tensor:
    if dtype is not None:
        return x.to(dtype)
    return x.to(_dt.int64) if x._array.dtype.kind in "biu" else x


def _scan(cls, name: str, input, dim, dtype, out) -> Tensor:
    x = _integer_to_int64(as_tensor(input), dtype)
    axis = normalize_dim(dim, x._array.ndim, name)
    if x._array.ndim == 0:
        return write_out(name, reshape(cls.apply(reshape(x, (1,)), 0), ()), out)
    return write_out(name, cls.apply(x, axis), out)


def cumsum(input, dim: int, *, dtype=None, out=None) -> Tensor:
    """Running sums along ``dim``: ``y[k] = x[0] + ... + x[k]``."""
    return _scan(Cumsum, "cumsum", input, dim, dtype, out)


def cumprod(input, dim: int, *, dtype=None, out=None) -> Tensor:
    """Running products along ``dim``: ``y[k] = x[0] * ... * x[k]`` (zeros handled in
    the gradient as PyTorch does)."""
    return _scan(Cumprod, "cumprod", input, dim, dtype, out)


@numpy_names
def prod(input, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """Product of all elements, or along one ``dim`` (PyTorch takes one dimension here,
    not a tuple); bool and integer input give int64."""
    x = _integer_to_int64(as_tensor(input), dtype)
    if dim is None:
        return write_out("prod", Prod.apply(reshape(x, (-1,)), 0, False), out)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"prod: dim must be a single integer, got {dim!r}")
    axis = normalize_dim(dim, x._array.ndim, "prod")
    if x._array.ndim == 0:  # one element: its product, as a new tensor
        return write_out("prod", reshape(Prod.apply(reshape(x, (1,)), 0, False), ()), out)
    return write_out("prod", Prod.apply(x, axis, bool(keepdim)), out)
