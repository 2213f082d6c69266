r"""Writing values into a tensor, as ops: the out-of-place forms of ``copy_``, ``fill_``,
``zero_`` and ``x[index] = value``.

An in-place write that autograd must record (see ``ops/inplace.py``) is computed by
one of these ops from a copy of the old values, so that its backward knows what the
write did: the overwritten elements of the old tensor receive no gradient (they no
longer influence anything), and the written values receive the gradient of the places
they went to.
"""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.errors import ShapeError
from chainrule.ops._common import shape_of
from chainrule.ops.indexing import normalize_index
from chainrule.ops.op import Op
from chainrule.ops.shape import cast
from chainrule.tensor import Tensor, as_tensor

__all__ = ["assign", "assign_at"]


class Assign(Op):
    r"""Forward: :math:`y = s` broadcast to the shape of :math:`x` (every value of
    :math:`x` is replaced; only its shape and dtype remain).

    Backward: :math:`\bar x = 0`, :math:`\bar s = \mathrm{sum\_to}(\bar y)` over the
    broadcast dimensions.
    """

    def forward(self, x, src):
        self.src_shape = shape_of(src)
        out = xp.empty_like(x)
        out[...] = src
        return out

    def backward(self, lib, g):
        nx, ns = self.needs_input_grad
        return (
            lib.zeros_like(g) if nx else None,
            lib.sum_to(g, self.src_shape) if ns else None,
        )


class AssignAt(Op):
    r"""Forward: :math:`y = x` except :math:`y[\text{index}] = v` (``v`` broadcast to the
    region's shape).

    Backward: :math:`\bar x = \bar y` outside the region and 0 inside it;
    :math:`\bar v = \mathrm{sum\_to}(\bar y[\text{index}])`.

    Conventions: where an integer index repeats, the last write wins the value (NumPy's
    assignment; PyTorch leaves the order unspecified), and every occurrence passes its
    place's gradient back to ``v``, as PyTorch's ``index_put`` does.
    """

    def forward(self, x, v, index):
        self.index = index
        self.v_shape = shape_of(v)
        out = x.copy()
        out[index] = v
        keep = xp.ones(x.shape, dtype=bool)
        keep[index] = False
        self.keep = keep
        return out

    def backward(self, lib, g):
        nx, nv, _ = self.needs_input_grad
        gv = None
        if nv:
            gv = g[self.index]
            lead = len(self.v_shape) - len(gv.shape)
            if lead > 0:  # v had leading dimensions of size 1 that the region lacks
                gv = lib.reshape(gv, (1,) * lead + tuple(gv.shape))
            gv = lib.sum_to(gv, self.v_shape)
        return (lib.where(self.keep, g, 0.0) if nx else None), gv, None


def assign(input, src):
    """A tensor of ``input``'s shape and dtype holding ``src`` (broadcast): the value of
    ``input`` after ``input.copy_(src)``."""
    x = as_tensor(input)
    s = _value_for(x, src)
    if not isinstance(s, Tensor) or s.shape == ():
        return Assign.apply(x, s)
    try:
        xp.broadcast_shapes(tuple(s.shape), tuple(x.shape))
        fits = xp.broadcast_shapes(tuple(s.shape), tuple(x.shape)) == tuple(x.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(
            f"copy_: the source of shape {tuple(s.shape)} cannot be broadcast to the "
            f"destination's shape {tuple(x.shape)}"
        )
    return Assign.apply(x, s)


def assign_at(input, index, value):
    """A copy of ``input`` with ``value`` written at ``index``: the value of ``input``
    after ``input[index] = value``."""
    x = as_tensor(input)
    return AssignAt.apply(x, _value_for(x, value), normalize_index(index))


def _value_for(x, value):
    """``value`` in ``x``'s dtype: a tensor cast differentiably, or a constant."""
    if isinstance(value, Tensor):
        return value if value._array.dtype == x._array.dtype else cast(value, x._array.dtype)
    if isinstance(value, bool | int | float):
        return value
    return as_tensor(xp.asarray(value, dtype=x._array.dtype))
