r"""Matrix multiplication, batched and broadcast like ``numpy.matmul`` and ``torch.matmul``."""

from __future__ import annotations

from chainrule.errors import ShapeError
from chainrule.ops._common import broadcast_error
from chainrule.ops._out import write_out
from chainrule.ops.op import Op
from chainrule.ops.promotion import prepare
from chainrule.tensor import as_tensor

__all__ = ["linear", "matmul"]


class Matmul(Op):
    r"""Forward: :math:`Y = A B` over the last two dimensions; leading (batch) dimensions
    broadcast. Both inputs have at least two dimensions (``matmul`` reshapes vectors).

    Backward: :math:`\bar A = \bar Y B^\top`, :math:`\bar B = A^\top \bar Y`, each summed
    over the batch dimensions that broadcasting stretched. Each input is saved only when
    the other's gradient needs it, as PyTorch saves them.
    """

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        na, nb = self.needs_input_grad
        self.save(a if nb else None, b if na else None)
        return a @ b

    def backward(self, lib, g, a, b):
        na, nb = self.needs_input_grad
        return (
            lib.sum_to(lib.matmul(g, lib.mT(b)), self.shapes[0]) if na else None,
            lib.sum_to(lib.matmul(lib.mT(a), g), self.shapes[1]) if nb else None,
        )

    def explain(self, err, args):
        sa, sb = (tuple(x.shape) for x in args)
        return broadcast_error("matmul (batch dimensions)", sa[:-2], sb[:-2])


class Linear(Op):
    r"""Forward: :math:`y = x W^\top + b`, the affine map of a fully connected layer, with
    ``W`` of shape (out, in) as in PyTorch; ``x`` has any number of leading dimensions.

    Backward (with the leading dimensions of :math:`x` and :math:`\bar y` flattened into
    rows): :math:`\bar x = \bar y W`, :math:`\bar W = \bar y^\top x`,
    :math:`\bar b = \sum_{rows} \bar y`. This is backpropagation's "residual times the
    layer's input" (docs/fundamentals.md §1): :math:`\bar y` is the layer's delta.

    One primitive instead of matmul + add: one node, no intermediate, and the bias added
    in place into the fresh product. ``x`` is saved only for :math:`\bar W` and ``W``
    only for :math:`\bar x`, as PyTorch saves them.
    """

    def forward(self, x, w, b):
        nx, nw, _ = self.needs_input_grad
        self.save(x if nw else None, w if nx else None)
        out = x @ w.T
        if b is not None:
            out += b
        return out

    def backward(self, lib, g, x, w):
        nx, nw, nb = self.needs_input_grad
        gx = lib.matmul(g, w) if nx else None
        if g.ndim != 2:  # leading dimensions flattened into rows
            g = lib.reshape(g, (-1, g.shape[-1]))
            x = lib.reshape(x, (-1, x.shape[-1])) if nw else None
        gw = lib.matmul(lib.mT(g), x) if nw else None
        gb = lib.sum(g, 0) if nb else None
        return gx, gw, gb


def linear(input, weight, bias=None):
    """:math:`x W^\top + b`: ``input`` (..., in), ``weight`` (out, in), ``bias`` (out,)."""
    x = as_tensor(input)
    w = as_tensor(weight)
    if w.ndim != 2:
        raise ShapeError(
            f"linear: weight must be 2-D (out_features, in_features), got {tuple(w.shape)}"
        )
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ShapeError(
            f"linear: expected input with last dimension {w.shape[1]} (in_features), "
            f"got shape {tuple(x.shape)}"
        )
    if bias is not None:
        b = as_tensor(bias)
        if tuple(b.shape) != (w.shape[0],):
            raise ShapeError(f"linear: bias must have shape ({w.shape[0]},), got {tuple(b.shape)}")
    else:
        b = None
    dt = w.dtype
    if x.dtype != dt or (b is not None and b.dtype != dt):
        x, w = prepare(x, w)
        if b is not None:
            _, b = prepare(x, b)
    return Linear.apply(x, w, b)


def matmul(input, other, *, out=None):
    """Matrix product. A 1-D first argument is a row vector and a 1-D second argument a
    column vector; the added dimension is removed from the result, as in PyTorch."""
    if out is not None:
        return write_out("matmul", matmul(input, other), out)
    a = as_tensor(input)
    b = as_tensor(other)
    sa, sb = tuple(a.shape), tuple(b.shape)
    if not sa or not sb:
        raise ShapeError(
            f"matmul: both arguments need at least 1 dimension, got shapes {sa} and {sb}"
        )
    inner_a = sa[-1]
    inner_b = sb[-2] if len(sb) > 1 else sb[0]
    if inner_a != inner_b:
        raise ShapeError(
            f"matmul: shapes {sa} and {sb} cannot be multiplied: the last dimension of the "
            f"first ({inner_a}) must equal the "
            f"{'second-to-last' if len(sb) > 1 else 'only'} dimension of the second ({inner_b})"
        )
    a, b = prepare(a, b)
    if len(sa) > 1 and len(sb) > 1:
        return Matmul.apply(a, b)
    a2 = a.unsqueeze(0) if len(sa) == 1 else a
    b2 = b.unsqueeze(-1) if len(sb) == 1 else b
    out = Matmul.apply(a2, b2)
    if len(sb) == 1:
        out = out.squeeze(-1)
    if len(sa) == 1:
        out = out.squeeze(-1 if len(sb) == 1 else -2)
    return out
