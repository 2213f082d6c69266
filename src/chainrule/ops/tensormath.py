"""The rules' vocabulary on tensors: the names of :class:`~chainrule.ops.rulemath.ArrayMath`,
computed by chainrule ops, so that a gradient computed with it has a graph of its own
and can be differentiated again (``create_graph=True``)."""

from __future__ import annotations

import chainrule.ops.kernels as kernels
from chainrule._backend import xp
from chainrule.ops import (
    conv,
    cumulative,
    elementwise,
    indexing,
    linalg,
    rearrange,
    reduction,
    selection,
)
from chainrule.ops import shape as shapes
from chainrule.ops.einsum import einsum as _einsum
from chainrule.ops.rulemath import sum_to
from chainrule.ops.softmax import softmax as _softmax
from chainrule.tensor import Tensor, _make

__all__ = ["TensorMath"]


class TensorMath:
    """Backward vocabulary as chainrule ops, so the result is differentiable.

    Besides the methods below, the names in ``_OPS_AS_THEY_STAND`` (``exp``, ``reshape``,
    ``matmul``, ...) are the chainrule ops of those names."""

    differentiable = True

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return reduction.sum(x, axis, keepdim=keepdims)

    @staticmethod
    def sum_to(g, shape):
        return sum_to(TensorMath, g, tuple(shape))

    @staticmethod
    def mT(x):
        return shapes.transpose(x, -1, -2)

    @staticmethod
    def sign(x):
        # The derivative of sign is zero wherever it exists, so a constant is exact.
        return _make(xp.sign(x._array if isinstance(x, Tensor) else x), None, False)

    @staticmethod
    def zeros_like(x):
        # A constant: zeros do not depend on x.
        return _make(xp.zeros_like(x._array), None, False)

    @staticmethod
    def threshold_grad(g, out, overwrite=False):
        return selection.where(out <= 0, 0.0, g)

    @staticmethod
    def unfold(x, kernel, dilation, padding, stride, pad_value=0.0):
        return conv.Unfold.apply(x, kernel, dilation, padding, stride, pad_value)

    @staticmethod
    def fold(cols, output_size, kernel, dilation, padding, stride):
        return conv.Fold.apply(cols, output_size, kernel, dilation, padding, stride)

    @staticmethod
    def im2col(x, kernel, dilation, padding, stride, pad_value=0.0):
        # (N, K, L) windows -> (K, L*N): the same numbers as the array kernel, via unfold.
        cols = TensorMath.unfold(x, kernel, dilation, padding, stride, pad_value)
        return shapes.reshape(shapes.permute(cols, (1, 2, 0)), (cols.shape[1], -1))

    @staticmethod
    def col2im(cols, output_size, kernel, dilation, padding, stride):
        oh, ow = kernels.conv_output_size_2d(output_size, kernel, dilation, padding, stride)
        n = cols.shape[1] // (oh * ow)
        per_image = shapes.permute(shapes.reshape(cols, (cols.shape[0], oh * ow, n)), (2, 0, 1))
        return TensorMath.fold(per_image, output_size, kernel, dilation, padding, stride)

    @staticmethod
    def pool_scatter(g, route):
        return conv.PoolScatter.apply(g, route)

    @staticmethod
    def pool_gather(x, route):
        # Composed from differentiable pieces (slices and selects along the routing), so a
        # third derivative of max pooling needs no further primitive.
        return conv.pool_gather(x, route)


# The names whose op is the rule's operation as it stands (a gradient through
# ``TensorMath.exp`` is the op ``exp``'s), set on TensorMath as static methods.
_OPS_AS_THEY_STAND = {
    "broadcast_to": shapes.broadcast_to,
    "reshape": shapes.reshape,
    "permute": shapes.permute,
    "cast": shapes.cast,
    "cat": shapes.cat,
    "matmul": linalg.matmul,
    "einsum": _einsum,
    "exp": elementwise.exp,
    "log": elementwise.log,
    "sin": elementwise.sin,
    "cos": elementwise.cos,
    "sigmoid": elementwise.sigmoid,
    "softmax": _softmax,
    "where": selection.where,
    "maximum": selection.maximum,
    "index_add": indexing.add_at,
    "cumsum": cumulative.cumsum,
    "cumprod": cumulative.cumprod,
    "prod": cumulative.prod,
    "flip": rearrange.flip,
}
for _name, _op in _OPS_AS_THEY_STAND.items():
    setattr(TensorMath, _name, staticmethod(_op))
del _name, _op
