r"""Dropout: randomly silence units during training only.

Inverted dropout, as in PyTorch: each element is kept with probability :math:`1 - p` and
the kept ones are scaled by :math:`1/(1 - p)`, so the expected output equals the input and
nothing needs rescaling at evaluation, where dropout is the identity. The gradient flows
through the same mask: :math:`\bar x = \bar y \cdot mask/(1 - p)`. Masks come from the
library's generator, so ``cr.manual_seed`` reproduces them.
"""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.nn.module import Module
from chainrule.ops.inplace import apply_inplace
from chainrule.random import default_generator
from chainrule.tensor import as_tensor

__all__ = ["Dropout", "dropout"]


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
    draw_dtype = (
        x._array.dtype if x._array.dtype.kind == "f" and x._array.itemsize >= 4 else "float32"
    )
    keep = default_generator().random(x.shape, dtype=draw_dtype) >= p
    mask = xp.asarray(keep).astype(x._array.dtype) * (1.0 / (1.0 - p))
    return x * mask


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
