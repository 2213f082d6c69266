r"""Dropout: randomly silence units during training only.

Inverted dropout, as in PyTorch: each element is kept with probability :math:`1 - p` and
the kept ones are scaled by :math:`1/(1 - p)`, so the expected output equals the input and
nothing needs rescaling at evaluation, where dropout is the identity. The gradient flows
through the same mask: :math:`\bar x = \bar y \cdot mask/(1 - p)`. Masks come from the
library's generator, so ``cr.manual_seed`` reproduces them.
"""

from __future__ import annotations

import warnings

from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.ops.inplace import apply_inplace
from chainrule.random import default_generator
from chainrule.tensor import as_tensor

__all__ = ["Dropout", "Dropout2d", "dropout", "dropout2d"]


def _check_p(p) -> float:
    if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
    return float(p)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training);
    return the input unchanged otherwise."""
    p = _check_p(p)
    x = as_tensor(input)
    if not training or p == 0:
        return x
    if inplace:
        return apply_inplace(x, "dropout_", dropout, p, training)
    return x * dropout_mask(tuple(x.shape), x._array.dtype, p)


@replayable
def dropout_mask(shape: tuple, dtype, p: float):
    """A random mask of ``shape``: 0 with probability ``p``, else 1/(1-p), from the
    library's generator (drawn in ``dtype``, or float32 for narrower floats)."""
    draw_dtype = dtype if dtype.kind == "f" and dtype.itemsize >= 4 else "float32"
    keep = default_generator().random(shape, dtype=draw_dtype) >= p
    return xp.asarray(keep).astype(dtype) * (1.0 / (1.0 - p))


class Dropout(Module):
    """Inverted dropout with drop probability ``p``; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _check_p(p)
        self.inplace = inplace

    def forward(self, x):
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


# ----------------------------------------------------------------- channel dropout
def _check_channel_p(p) -> float:
    if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"dropout2d: the probability must be in [0, 1], got {p!r}")
    return float(p)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    r"""Zero whole channels: each (sample, channel) feature map of an (N, C, H, W) input is
    dropped with probability ``p`` and the kept ones scaled by 1/(1-p) (training), so
    neighbouring pixels, which are strongly correlated, are dropped together. The
    gradient goes through the same mask, :math:`\bar x = \bar y \cdot mask/(1 - p)`;
    ``p = 1`` drops everything.

    As in PyTorch, a 3-D input is read as (N, C, L) (one mask entry per sample and
    channel, with a warning that says so), and other shapes are accepted with a warning.
    """
    p = _check_channel_p(p)
    x = as_tensor(input)
    if x.ndim < 2:
        raise ShapeError(
            f"dropout2d: expected an (N, C, H, W) input, got shape {tuple(x.shape)} (channel "
            "dropout needs at least 2 dimensions)"
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: a 3-D input is read as (N, C, L), as PyTorch does, and each of its "
            "N*C rows is dropped whole; for one (C, H, W) image, add the batch dimension "
            "(x.unsqueeze(0)), or use dropout1d semantics knowingly",
            stacklevel=2,
        )
    elif x.ndim != 4:
        warnings.warn(
            f"dropout2d: expected a 4-D (N, C, H, W) input, got {x.ndim}-D; each (sample, "
            "channel) slice is dropped whole",
            stacklevel=2,
        )
    if not training or p == 0:
        return x
    if inplace:
        return apply_inplace(x, "dropout2d_", _channel_mask_applied, p)
    return _channel_mask_applied(x, p)


def _channel_mask_applied(x, p: float):
    """``x`` times a random (N, C, 1, ...) mask: 0 with probability ``p``, else 1/(1-p)."""
    return x * _channel_mask(tuple(x.shape[:2]) + (1,) * (x.ndim - 2), x._array.dtype, p)


@replayable
def _channel_mask(shape: tuple, dtype, p: float):
    if p == 1:
        return xp.zeros(shape, dtype=dtype)
    keep = default_generator().random(shape) >= p
    return keep.astype(dtype) * (1.0 / (1.0 - p))


class Dropout2d(Dropout):
    """Channel dropout (:func:`dropout2d`) with drop probability ``p``; the identity in
    eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        Module.__init__(self)
        self.p = _check_channel_p(p)
        self.inplace = inplace

    def forward(self, x):
        return dropout2d(x, self.p, self.training, self.inplace)
