"""The vocabulary that backward rules are written in, in two implementations.

A rule uses Python operators and the functions below, always through the ``F`` it is
given. :class:`ArrayMath` runs them on raw arrays, the fast path of an ordinary backward.
:class:`TensorMath` runs them as chainrule ops, so the gradients it produces have a graph
of their own (``create_graph=True``: second derivatives, Hessian-vector products). Each
rule is therefore written once and serves both.
"""

from __future__ import annotations

from chainrule import _kernels
from chainrule._backend import xp

__all__ = ["ArrayMath", "TensorMath"]


def _sum_to(F, g, shape: tuple):
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
    out = F.sum(g, axes, True)
    return F.reshape(out, shape) if lead else out


class ArrayMath:
    """Backward vocabulary on raw arrays."""

    differentiable = False

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return xp.add.reduce(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def sum_to(g, shape):
        return g if g.shape == shape else _sum_to(ArrayMath, g, tuple(shape))

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
    where = staticmethod(_kernels.where)
    threshold_grad = staticmethod(_kernels.threshold_grad)
    maximum = staticmethod(xp.maximum)
    sigmoid = staticmethod(_kernels.sigmoid)
    index_add = staticmethod(_kernels.index_add)
    unfold = staticmethod(_kernels.unfold)
    fold = staticmethod(_kernels.fold)
    im2col = staticmethod(_kernels.im2col)
    col2im = staticmethod(_kernels.col2im)
    pool_scatter = staticmethod(_kernels.pool_scatter)
    pool_gather = staticmethod(_kernels.pool_gather)

    @staticmethod
    def softmax(x, axis):
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return e / xp.add.reduce(e, axis=axis, keepdims=True)

    @staticmethod
    def cast(x, dtype):
        return x.astype(dtype, copy=False)


class TensorMath:
    """Backward vocabulary as chainrule ops, so the result is differentiable."""

    differentiable = True

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return _ops().sum(x, axis, keepdim=keepdims)

    @staticmethod
    def sum_to(g, shape):
        return _sum_to(TensorMath, g, tuple(shape))

    @staticmethod
    def broadcast_to(x, shape):
        return _ops().broadcast_to(x, shape)

    @staticmethod
    def reshape(x, shape):
        return _ops().reshape(x, shape)

    @staticmethod
    def permute(x, axes):
        return _ops().permute(x, axes)

    @staticmethod
    def mT(x):
        return _ops().transpose(x, -1, -2)

    @staticmethod
    def matmul(a, b):
        return _ops().matmul(a, b)

    @staticmethod
    def exp(x):
        return _ops().exp(x)

    @staticmethod
    def log(x):
        return _ops().log(x)

    @staticmethod
    def sin(x):
        return _ops().sin(x)

    @staticmethod
    def cos(x):
        return _ops().cos(x)

    @staticmethod
    def sign(x):
        # The derivative of sign is zero wherever it exists, so a constant is exact.
        from chainrule.tensor import Tensor, _make

        return _make(xp.sign(x._array if isinstance(x, Tensor) else x), None, False)

    @staticmethod
    def where(cond, a, b):
        return _ops().where(cond, a, b)

    @staticmethod
    def zeros_like(x):
        # A constant: zeros do not depend on x.
        from chainrule.tensor import _make

        return _make(xp.zeros_like(x._array), None, False)

    @staticmethod
    def threshold_grad(g, out, overwrite=False):
        return _ops().where(out <= 0, 0.0, g)

    @staticmethod
    def cast(x, dtype):
        return _ops().cast(x, dtype)

    @staticmethod
    def maximum(a, b):
        return _ops().maximum(a, b)

    @staticmethod
    def sigmoid(x):
        return _ops().sigmoid(x)

    @staticmethod
    def softmax(x, axis):
        return _ops().softmax(x, axis)

    @staticmethod
    def index_add(shape, index, g, accumulate):
        return _ops().index_add(shape, index, g, accumulate)

    @staticmethod
    def unfold(x, kernel, dilation, padding, stride, pad_value=0.0):
        from chainrule.ops.conv import Unfold

        return Unfold.apply(x, kernel, dilation, padding, stride, pad_value)

    @staticmethod
    def fold(cols, output_size, kernel, dilation, padding, stride):
        from chainrule.ops.conv import Fold

        return Fold.apply(cols, output_size, kernel, dilation, padding, stride)

    @staticmethod
    def im2col(x, kernel, dilation, padding, stride, pad_value=0.0):
        # (N, K, L) windows -> (K, L*N): the same numbers as the array kernel, via unfold.
        cols = TensorMath.unfold(x, kernel, dilation, padding, stride, pad_value)
        return _ops().reshape(_ops().permute(cols, (1, 2, 0)), (cols.shape[1], -1))

    @staticmethod
    def col2im(cols, output_size, kernel, dilation, padding, stride):
        oh, ow = _kernels.conv_output_size_2d(output_size, kernel, dilation, padding, stride)
        n = cols.shape[1] // (oh * ow)
        per_image = _ops().permute(_ops().reshape(cols, (cols.shape[0], oh * ow, n)), (2, 0, 1))
        return TensorMath.fold(per_image, output_size, kernel, dilation, padding, stride)

    @staticmethod
    def pool_scatter(g, route):
        from chainrule.ops.conv import PoolScatter

        return PoolScatter.apply(g, route)

    @staticmethod
    def pool_gather(x, route):
        # Composed from differentiable pieces (slices and selects along the routing), so a
        # third derivative of max pooling needs no further primitive.
        from chainrule.ops.conv import pool_gather

        return pool_gather(x, route)


def _ops():
    import chainrule.ops as ops

    return ops
