"""What the op tables are made of: the entry (:class:`OpInfo`), its samples and kinks,
the conversion of sample values to chainrule and PyTorch inputs, and the value makers
the entries draw from.

Sample arguments are plain NumPy values: floating arrays become tensors that require
grad (the differentiable inputs), integer and bool arrays and floating arrays wrapped in
:class:`Const` become constant tensors, lists of arrays become lists of tensors, and
everything else is passed as is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import chainrule as cr

__all__ = [
    "Const",
    "Kink",
    "OpInfo",
    "Sample",
    "away",
    "distinct",
    "float_leaves",
    "plain",
    "to_chainrule",
    "to_torch",
    "uniform",
]


@dataclass(frozen=True)
class Const:
    """A floating array passed as a constant (a tensor that does not require grad)."""

    value: np.ndarray


def plain(value):
    """A sample value for the NumPy reference: Const unwrapped."""
    if isinstance(value, Const):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""
    torch: bool = True  # False where PyTorch does not support the case (NumPy extensions)
    gradcheck: bool = True  # False where float64 finite differences cannot apply


@dataclass(frozen=True)
class Kink:
    """Exact gradients at a point where the function is not smooth, for an upstream
    gradient of ones: ``grads[i]`` belongs to the i-th floating array in ``args``."""

    args: tuple
    grads: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""


@dataclass(frozen=True)
class OpInfo:
    name: str
    op: Callable
    ref: Callable | None
    torch: Callable | None
    samples: Callable[[np.random.Generator], list]
    method: str | None = None
    differentiable: bool = True
    gradgrad: bool = True
    kinks: tuple = ()
    rtol32: float = 2e-5


# --------------------------------------------------------------------------- conversion
def to_chainrule(value, dtype=np.float64, requires_grad: bool = True):
    """A sample value as chainrule input (see the module docstring)."""
    if isinstance(value, Const):
        return to_chainrule(value.value, dtype, requires_grad=False)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return cr.tensor(value.astype(dtype), requires_grad=requires_grad)
        return cr.tensor(value)
    if isinstance(value, list):
        return [to_chainrule(v, dtype, requires_grad) for v in value]
    return value


def to_torch(torch, value, dtype=None, requires_grad: bool = True):
    """A sample value as PyTorch input (the same conventions)."""
    if isinstance(value, Const):
        return to_torch(torch, value.value, dtype, requires_grad=False)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            t = torch.tensor(value.astype(np.float64) if dtype is None else value.astype(dtype))
            return t.requires_grad_(requires_grad)
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, list):
        return [to_torch(torch, v, dtype, requires_grad) for v in value]
    return value


def float_leaves(args) -> list:
    """The differentiable inputs among converted args, in order."""
    out = []
    for a in args:
        if isinstance(a, list):
            out.extend(float_leaves(a))
        elif hasattr(a, "requires_grad") and a.requires_grad:
            out.append(a)
    return out


# --------------------------------------------------------------------------- sample makers
def uniform(rng, shape, low=-2.0, high=2.0):
    return np.asarray(rng.uniform(low, high, shape))


def away(rng, shape, points=(0.0,), gap=0.1, low=-2.0, high=2.0):
    """Uniform values at least ``gap`` away from every kink in ``points``."""
    x = np.asarray(rng.uniform(low, high, shape))
    for p in points:
        near = np.abs(x - p) < gap
        x = np.where(near, p + np.sign(x - p + 1e-12) * gap * 2, x)
    return x


def distinct(rng, shape):
    """Values with no ties (so max/min and sorting have unique answers)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.15 + rng.uniform(0, 0.1, n)).reshape(shape)
