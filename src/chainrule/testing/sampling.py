"""What the op tables are made of: the entry (:class:`OpInfo`), its samples and kinks,
the two ways most entries are written (:func:`tensor_op` and :func:`functional`: one name
for chainrule's function, PyTorch's and the method), the conversion of sample values to
chainrule and PyTorch inputs, and the value makers the entries draw from.

Sample arguments are plain NumPy values: floating arrays become tensors that require
grad (the differentiable inputs), integer and bool arrays and floating arrays wrapped in
:class:`Const` become constant tensors, lists of arrays become lists of tensors, and
everything else is passed as is.
"""

from __future__ import annotations

import operator
import warnings
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
    "functional",
    "plain",
    "tensor_op",
    "to_chainrule",
    "to_torch",
    "torch_function",
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


def torch_function(path: str, quiet: bool = False) -> Callable:
    """PyTorch's function at ``path`` below the ``torch`` module (``"sin"``,
    ``"linalg.norm"``, ``"nn.functional.conv2d"``), called as an entry's ``torch`` is:
    ``(torch, *args, **kwargs)``. ``quiet``: without its warnings (such as the one for an
    even kernel with padding='same')."""
    find = operator.attrgetter(path)

    def call(torch, *args, **kwargs):
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            return find(torch)(*args, **kwargs)

    return call


def tensor_op(name: str, ref, samples, *kinks: Kink, method: bool = True, **options) -> OpInfo:
    """The entry of ``chainrule.<name>``, with its reference, samples and kinks, compared
    with ``torch.<name>`` and, unless ``method=False``, with the method ``x.<name>(...)``;
    ``options``: the other fields of :class:`OpInfo`."""
    op, twin = operator.attrgetter(name)(cr), torch_function(name)
    method_name = name if method else None
    return OpInfo(name, op, ref, twin, samples, method=method_name, kinks=kinks, **options)


def functional(
    name: str, ref, samples, *kinks: Kink, torch: bool = True, quiet: bool = False, **options
) -> OpInfo:
    """The entry of ``chainrule.nn.functional.<name>``, with its reference, samples and
    kinks, compared with PyTorch's functional of the same name (``torch=False`` where
    PyTorch has none; ``quiet``: see :func:`torch_function`)."""
    twin = torch_function(f"nn.functional.{name}", quiet) if torch else None
    fn = getattr(cr.nn.functional, name)
    return OpInfo(name, fn, ref, twin, samples, kinks=kinks, **options)


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
