"""The vocabulary that backward rules are written in, in two implementations.

A rule uses Python operators and the functions of :class:`ArrayMath`, always through the
``lib`` it is given. :class:`ArrayMath` (here) runs them on raw arrays, the fast path of
an ordinary backward. :class:`~chainrule.ops.tensormath.TensorMath` runs the same names as
chainrule ops, so the gradients it produces have a graph of their own
(``create_graph=True``: second derivatives, Hessian-vector products). Each rule is
therefore written once and serves both.
"""

from __future__ import annotations

import chainrule.ops.kernels as kernels
from chainrule._backend import xp

__all__ = ["ArrayMath", "sum_to"]


def sum_to(lib, g, shape: tuple):
    """Sum ``g`` down to ``shape``: the backward of broadcasting ``shape`` up to ``g.shape``.

    Leading dimensions that broadcasting added are summed away; dimensions of size 1 in
    ``shape`` that were stretched are summed with keepdims.
    """
    gshape = tuple(g.shape)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    out = lib.sum(g, axes, True)
    return lib.reshape(out, shape) if lead else out


class ArrayMath:
    """Backward vocabulary on raw arrays."""

    differentiable = False

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return xp.add.reduce(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def sum_to(g, shape):
        return g if g.shape == shape else sum_to(ArrayMath, g, tuple(shape))

    @staticmethod
    def broadcast_to(x, shape):
        # A fresh writable array rather than a read-only view: the gradient it becomes can
        # then be kept by a leaf without a defensive copy.
        out = xp.empty(shape, dtype=x.dtype)
        out[...] = x
        return out

    @staticmethod
    def reshape(x, shape):
        return x.reshape(shape)

    @staticmethod
    def permute(x, axes):
        return x.transpose(axes)

    @staticmethod
    def mT(x):
        return x.T if x.ndim == 2 else xp.swapaxes(x, -1, -2)

    matmul = staticmethod(xp.matmul)
    zeros_like = staticmethod(xp.zeros_like)

    exp = staticmethod(xp.exp)
    log = staticmethod(xp.log)
    sin = staticmethod(xp.sin)
    cos = staticmethod(xp.cos)
    sign = staticmethod(xp.sign)
    where = staticmethod(kernels.where)
    threshold_grad = staticmethod(kernels.threshold_grad)
    maximum = staticmethod(xp.maximum)
    sigmoid = staticmethod(kernels.sigmoid)
    index_add = staticmethod(kernels.index_add)
    unfold = staticmethod(kernels.unfold)
    fold = staticmethod(kernels.fold)
    im2col = staticmethod(kernels.im2col)
    col2im = staticmethod(kernels.col2im)
    pool_scatter = staticmethod(kernels.pool_scatter)
    pool_gather = staticmethod(kernels.pool_gather)

    @staticmethod
    def cast(x, dtype):
        return x.astype(dtype, copy=False)

    # The rules of the cumulative ops, einsum and flip (ops/cumulative.py, einsum.py,
    # rearrange.py) also use these.
    @staticmethod
    def cumsum(x, axis):
        return xp.cumsum(x, axis=axis)

    @staticmethod
    def cumprod(x, axis):
        return xp.cumprod(x, axis=axis)

    @staticmethod
    def prod(x, axis, keepdims=False):
        return xp.prod(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def flip(x, axes):
        return xp.flip(x, axes).copy()  # a gradient of its own, not a view of another

    @staticmethod
    def cat(arrays, axis):
        return xp.concatenate(arrays, axis=axis)

    @staticmethod
    def einsum(equation, *operands):
        return xp.einsum(equation, *operands, optimize=len(operands) > 1)
