r"""Lengths and angles of vectors: ``normalize`` and ``cosine_similarity``
(``CosineSimilarity``), composed from ``norm``, ``clamp`` and arithmetic, so their
derivatives follow from the chain rule.

The gradient of a unit vector :math:`u = x/\lVert x \rVert` is the projection that
removes the radial part, :math:`\bar x = (\bar u - u\,(u \cdot \bar u))/\lVert x\rVert`:
scaling x does not change u, so no gradient points along x.
"""

from __future__ import annotations

import numpy as np

from chainrule import ops
from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.ops.promotion import prepare
from chainrule.tensor import Tensor, as_tensor

__all__ = ["CosineSimilarity", "cosine_similarity", "normalize"]


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    r""":math:`x / \max(\lVert x \rVert_p, \epsilon)` along ``dim``: unit vectors, with
    vectors shorter than :math:`\epsilon` divided by :math:`\epsilon` instead (so zero stays
    zero). As in PyTorch the clamp is an ordinary one: where it is active the divisor is
    the constant :math:`\epsilon`."""
    if out is not None:
        raise ValueError("normalize: out= is not supported; use the returned tensor")
    x = as_tensor(input)
    if x._array.dtype.kind != "f":
        raise TypeError(f"normalize: expected a floating-point input, got dtype {x._array.dtype}")
    denom = ops.clamp(ops.norm(x, p, dim, keepdim=True), min=eps)
    return x / denom


def _floats(x1, x2) -> tuple[Tensor, Tensor]:
    """Two inputs in their common floating dtype (integers join a floating partner)."""
    a, b = as_tensor(x1), as_tensor(x2)
    kinds = {a._array.dtype.kind, b._array.dtype.kind}
    if "f" not in kinds:
        raise TypeError(
            f"cosine_similarity: expected floating-point inputs, got dtypes {a._array.dtype} "
            f"and {b._array.dtype}"
        )
    a, b = prepare(a, b)
    return a, b


def _clamped_norm(x: Tensor, dim: int, eps: float) -> Tensor:
    """:math:`\\max(\\lVert x \\rVert, \\epsilon)` in value, with the gradient of
    :math:`\\lVert x \\rVert` (PyTorch clamps the norm in place outside autograd)."""
    norm = ops.norm(x, 2, dim, keepdim=True)
    lift = ops.clamp(norm.detach(), min=eps) - norm.detach()  # 0 unless the clamp acts
    return norm + lift


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    r"""The cosine of the angle between ``x1`` and ``x2`` along ``dim`` (they broadcast):
    :math:`\sum_i \frac{x_{1i}}{\max(\lVert x_1\rVert, \epsilon)}
    \frac{x_{2i}}{\max(\lVert x_2\rVert, \epsilon)}`, each vector normalised first (so
    the result stays in [-1, 1], as in PyTorch), and ``dim`` removed.

    Gradient, for norms above :math:`\epsilon`: :math:`\bar x_1 = \bar y\,(\hat x_2 -
    c\,\hat x_1)/\lVert x_1 \rVert` with :math:`\hat x = x/\lVert x \rVert` and c the
    result. Convention (PyTorch's): where a norm is below :math:`\epsilon` the value uses
    :math:`\epsilon` but the gradient still differentiates the norm itself (PyTorch clamps
    it outside autograd).
    """
    a, b = _floats(x1, x2)
    if tuple(a.shape) != tuple(b.shape):
        try:
            shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        except ValueError:
            raise ShapeError(
                f"cosine_similarity: shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                "broadcast together"
            ) from None
        a, b = ops.broadcast_to(a, shape), ops.broadcast_to(b, shape)
    d = ops.normalize_dim(dim, a.ndim, "cosine_similarity")
    return ((a / _clamped_norm(a, d, eps)) * (b / _clamped_norm(b, d, eps))).sum(d)


class CosineSimilarity(Module):
    """Module form of :func:`cosine_similarity`."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)
