"""What the losses share: the reductions, the checks of input against target (one shape;
targets in {-1, +1}; class indices), and the metric tensor that refuses ``backward``."""

from __future__ import annotations

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import to_numpy, xp
from chainrule._recording import replayable
from chainrule.errors import LabelError, ShapeError
from chainrule.ops.promotion import float_input
from chainrule.tensor import Tensor, as_tensor

__all__ = [
    "Metric",
    "check_reduction",
    "class_targets",
    "matched",
    "metric",
    "plus_minus_one",
    "reduce",
    "with_batch",
]

_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(name: str, reduction: str, choices: tuple = _REDUCTIONS) -> str:
    """``reduction`` if it is one of ``choices`` (PyTorch's three unless a loss has
    more), else a ValueError naming it."""
    if reduction not in choices:
        *most, last = map(repr, choices)
        raise ValueError(
            f"{name}: reduction must be {', '.join(most)} or {last}, got {reduction!r}"
        )
    return reduction


def reduce(loss: Tensor, reduction: str, divisor=None):
    """The unreduced losses, their sum, or their sum divided by ``divisor`` (default: the
    number of elements)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / (loss._array.size if divisor is None else divisor)


def matched(
    name: str, input, target, reduction: str, reductions: tuple = _REDUCTIONS
) -> tuple[Tensor, Tensor]:
    """Input and target as floating tensors of one shape and dtype."""
    check_reduction(name, reduction, reductions)
    x = float_input(input)
    t = as_tensor(target)
    if tuple(t.shape) != tuple(x.shape):
        raise ShapeError(
            f"{name}: input shape {tuple(x.shape)} and target shape {tuple(t.shape)} differ; "
            "they must be equal (no broadcasting between a prediction and its target)"
        )
    if t._array.dtype != x._array.dtype:
        t = t.to(x._array.dtype)
    return x, t


def plus_minus_one(name: str, input, target, reduction: str) -> tuple[Tensor, Tensor]:
    """As :func:`matched`, and every target must be -1 or +1."""
    x, t = matched(name, input, target, reduction)
    _check_plus_minus_one(name, t._array)
    return x, t


@replayable  # a check of the targets: a step captured by cr.compile repeats it
def _check_plus_minus_one(name: str, t) -> None:
    values = to_numpy(t)
    bad = ~np.isin(values, (-1.0, 1.0))
    if bad.any():
        found = np.unique(values[bad])[:5].tolist()
        raise LabelError(
            f"{name}: targets must be -1 or +1, got {found} ({int(bad.sum())} of {values.size} targets)"
        )


class Metric(Tensor):
    """A tensor that is a count or a rate, not a differentiable loss: ``backward`` raises
    with a message that names what to differentiate instead."""

    __slots__ = ("reason",)

    def backward(self, *args, **kwargs):
        raise RuntimeError(self.reason)


def metric(arr, reason: str) -> Metric:
    """``arr`` as a :class:`Metric` whose ``backward`` raises ``reason``."""
    t = Metric.__new__(Metric)
    t._init_leaf(xp.asarray(arr), False)
    t.reason = reason
    return t


@replayable
def class_targets(name: str, shape: tuple, target, ignore_index: int | None) -> tuple:
    """Validated class-index targets as an int64 array of shape (N, d1, ...); labels equal
    to ``ignore_index`` (None: no label is ignored) are exempt from the range check. Also
    returns whether every label is a class (so that none is ignored). ``shape``: the
    input's, (N, C, d1, ...)."""
    t = target._array if isinstance(target, Tensor) else xp.asarray(target)
    expected = (shape[0], *shape[2:])
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: class-index targets must be integers, got dtype {t.dtype}; for class "
            f"probabilities pass a floating target of the input's shape {shape}"
        )
    if tuple(t.shape) != expected:
        raise ShapeError(
            f"{name}: input of shape {shape} needs class-index targets of shape "
            f"{expected}, got {tuple(t.shape)}"
        )
    c = shape[1]
    t = t.astype(_dt.int64, copy=False)
    if _in_range(t, c):
        return t, True
    bad = (t < 0) | (t >= c)
    if ignore_index is not None:
        bad &= t != ignore_index
    if bad.any():
        found = sorted(set(to_numpy(t[bad]).tolist()))[:5]
        ignored = (
            ""
            if ignore_index is None or 0 <= ignore_index < c
            else f", or ignore_index={ignore_index}"
        )
        raise LabelError(
            f"{name}: target contains class {found[0] if len(found) == 1 else found}, but the input "
            f"has {c} classes (valid labels are 0..{c - 1}{ignored})"
        )
    return t, False


def _in_range(t, c: int) -> bool:
    """Whether every int64 label lies in [0, c): one comparison, since a negative label
    read as unsigned is larger than any class count."""
    return t.size == 0 or int(xp.maximum.reduce(t.view(xp.uint64), axis=None)) < c


def with_batch(x: Tensor, target, name: str):
    """Accept an unbatched (C,) input with a scalar target by adding the batch dimension."""
    if x.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if x.ndim == 1:
        t = target._array if isinstance(target, Tensor) else xp.asarray(target)
        if t.ndim == 0:
            return x.unsqueeze(0), xp.reshape(t, (1,)), True
        if t.dtype.kind == "f" and t.ndim == 1:
            return x.unsqueeze(0), xp.reshape(t, (1, -1)), True
    return x, target, False
