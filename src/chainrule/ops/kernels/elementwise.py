"""Elementwise kernels on arrays that several ops and backward rules share: PyTorch's
ReLU and its backward, a sigmoid that never overflows, ``where``, and the scatter-add
that reading ``x[index]`` needs in backward. Pure functions of arrays.

The definitions here are the plain forms. Three of them have a faster form with the
same bits (``fast.py``), which replaces the plain one where noted.
"""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.ops.kernels import fast

__all__ = ["index_add", "relu", "sigmoid", "threshold_grad", "where"]


def relu(x):
    """PyTorch's :math:`\\max(x, 0)`: +0.0 where :math:`x < 0`, x elsewhere, so -0.0 and
    NaN (of either sign) pass through unchanged, as they do in PyTorch."""
    if x.dtype.kind != "f":
        return xp.maximum(x, 0)
    return xp.where(x < 0, 0.0, x)


relu = fast.relu(relu)  # one pass of NumPy's clip, where it gives these bits (fast.py)


def threshold_grad(g, out, overwrite=False):
    """ReLU's backward from its output: ``g`` except where ``out`` is 0, which gets +0.0.
    The output is never negative, so ``out == 0`` is PyTorch's ``out <= 0`` (a NaN lets
    the gradient through, as in PyTorch's ``threshold_backward``). ``overwrite``: the
    caller owns ``g`` and the result may be written into it."""
    return fast.threshold_grad(g, out, overwrite)  # where(out == 0, 0.0, g), sliced


where = fast.where  # NumPy's where, by a bit select in the common case of backward rules


def sigmoid(x):
    """1 / (1 + e^-x) without overflow: e^-|x| never exceeds 1."""
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)


def index_add(shape, index, values, accumulate: bool):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated indices add up when
    ``accumulate``; plain assignment is used when the index cannot repeat)."""
    out = xp.zeros(shape, dtype=values.dtype)
    if accumulate:
        xp.add.at(out, index, values)
    else:
        out[index] = values
    return out
