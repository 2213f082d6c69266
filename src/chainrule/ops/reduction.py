r"""Reductions over one or more dimensions: ``sum``, ``amax``/``amin`` (primitives) and
``mean``, ``var``, ``std``, ``max``/``min`` (composed from them), plus ``argmax``/``argmin``.

Every reduction takes ``dim`` (None for all dimensions, an int, or a tuple) and
``keepdim`` (keep each reduced dimension with size 1), as in PyTorch.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule._numpy_names import numpy_names
from chainrule.ops._common import normalize_dim, normalize_dims
from chainrule.ops.op import Op
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = [
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "max",
    "mean",
    "min",
    "norm",
    "std",
    "sum",
    "var",
]

MaxMin = namedtuple("MaxMin", ["values", "indices"])


def kept_shape(shape: tuple, axes) -> tuple:
    """``shape`` with the reduced ``axes`` set to 1 (all of them when axes is None)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def kept_dims(lib, in_shape: tuple, axes, keepdim: bool, *arrays) -> tuple:
    """The reduction's output-shaped ``arrays`` (its gradient, its output) with the reduced
    ``axes`` back as 1s where the forward dropped them, so they broadcast against the input."""
    if keepdim:
        return arrays
    shape = kept_shape(in_shape, axes)
    return tuple(lib.reshape(a, shape) for a in arrays)


class Sum(Op):
    r"""Forward: :math:`y = \sum_{i \in dims} x_i`.

    Backward: every summed element receives the output's gradient,
    :math:`\bar x = \mathrm{broadcast}(\bar y)`.
    """

    def forward(self, x, axes, keepdim, dtype):
        self.in_shape = x.shape
        self.axes, self.keepdim = axes, keepdim
        return xp.add.reduce(x, axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(self, lib, g):
        (g,) = kept_dims(lib, self.in_shape, self.axes, self.keepdim, g)
        return lib.broadcast_to(g, self.in_shape), None, None, None


class Mean(Op):
    r"""Forward: :math:`y = \frac1n\sum_{i \in dims} x_i`, with :math:`n` the number of
    reduced elements (the sum, then one division, as NumPy computes it).

    Backward: :math:`\bar x = \mathrm{broadcast}(\bar y / n)`.
    """

    def forward(self, x, axes, keepdim, count):
        self.in_shape, self.axes, self.keepdim, self.count = x.shape, axes, keepdim, count
        return xp.add.reduce(x, axis=axes, keepdims=keepdim) / count

    def backward(self, lib, g):
        (g,) = kept_dims(lib, self.in_shape, self.axes, self.keepdim, g)
        return lib.broadcast_to(g / self.count, self.in_shape), None, None, None


class _Extremum(Op):
    r"""Shared rule of ``amax``/``amin``.

    Backward: the gradient goes to the elements equal to the result. Convention at ties
    (PyTorch's): it is split evenly between them, so each of k tied elements gets
    :math:`\bar y / k`.
    """

    def forward(self, x, axes, keepdim):
        self.in_shape = x.shape
        self.axes, self.keepdim = axes, keepdim
        out = self.reduce(x, axis=axes, keepdims=keepdim)
        self.save(x, out)
        return out

    def backward(self, lib, g, x, out):
        g, out = kept_dims(lib, self.in_shape, self.axes, self.keepdim, g, out)
        mask = lib.cast(x == out, x.dtype)
        return g * mask / lib.sum(mask, self.axes, True), None, None


class Norm(Op):
    r"""Forward: the vector :math:`p`-norm over dims, :math:`y = (\sum_i |x_i|^p)^{1/p}`;
    :math:`p = \infty` gives :math:`\max_i |x_i|`, :math:`-\infty` the minimum, and
    :math:`p = 0` the number of non-zero elements.

    Backward: :math:`\bar x = \bar y\,\mathrm{sign}(x)\,|x|^{p-1} / y^{p-1}`, which is
    :math:`\bar y\, x / y` for :math:`p = 2` (the unit vector along x) and
    :math:`\bar y\,\mathrm{sign}(x)` for :math:`p = 1`. For :math:`\pm\infty` the gradient
    goes to the elements whose :math:`|x_i|` is the result, split evenly at ties; the
    count :math:`p = 0` has gradient 0.

    Conventions (PyTorch's): at :math:`y = 0` the gradient is 0 (a subgradient of a norm
    at the origin), and so is it at :math:`x_i = 0` for :math:`p < 1`.
    """

    def forward(self, x, p, axes, keepdim):
        self.in_shape, self.p, self.axes, self.keepdim = x.shape, p, axes, keepdim
        a = xp.abs(x)
        if p == 2:
            out = xp.sqrt(xp.add.reduce(a * a, axis=axes, keepdims=keepdim))
        elif p == 1:
            out = xp.add.reduce(a, axis=axes, keepdims=keepdim)
        elif p == math.inf:
            out = xp.max(a, axis=axes, keepdims=keepdim)
        elif p == -math.inf:
            out = xp.min(a, axis=axes, keepdims=keepdim)
        elif p == 0:
            out = xp.add.reduce(a != 0, axis=axes, keepdims=keepdim).astype(x.dtype)
        else:
            out = xp.add.reduce(a**p, axis=axes, keepdims=keepdim) ** (1 / p)
        out = xp.asarray(out, dtype=x.dtype)
        self.save(x, out)
        return out

    def backward(self, lib, g, x, out):
        p = self.p
        g, out = kept_dims(lib, self.in_shape, self.axes, self.keepdim, g, out)
        if p == 0:
            return lib.zeros_like(x), None, None, None
        if p == 1:
            return g * lib.sign(x), None, None, None
        if p == 2:
            return g * lib.where(out == 0, 0.0, x / out), None, None, None
        sign = lib.sign(x)
        size = x * sign  # |x|
        if p in (math.inf, -math.inf):
            mask = lib.cast(size == out, x.dtype)
            return sign * mask * (g / lib.sum(mask, self.axes, True)), None, None, None
        scale = lib.where(out == 0, 0.0, g / out ** (p - 1))
        power = size ** (p - 1)
        if p < 1:
            power = lib.where(x == 0, 0.0, power)
        return sign * power * scale, None, None, None


class Amax(_Extremum):
    __doc__ = _Extremum.__doc__.replace(
        "Shared rule of ``amax``/``amin``", "Forward: the maximum over dims"
    )
    reduce = staticmethod(xp.max)


class Amin(_Extremum):
    __doc__ = _Extremum.__doc__.replace(
        "Shared rule of ``amax``/``amin``", "Forward: the minimum over dims"
    )
    reduce = staticmethod(xp.min)


@numpy_names
def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over ``dim``; bool and integer input sum to int64, as in PyTorch."""
    x = as_tensor(input)
    axes = normalize_dims(dim, x._array.ndim, "sum")
    if dtype is None and x._array.dtype.kind in "biu":
        dtype = _dt.int64
    return Sum.apply(x, axes, bool(keepdim), None if dtype is None else _dt.to_dtype(dtype))


def _reduced_count(x: Tensor, axes) -> int:
    if axes is None:
        return x._array.size
    return math.prod(x._array.shape[a] for a in axes)


def _require_float(x: Tensor, op: str) -> None:
    if x._array.dtype.kind != "f":
        raise TypeError(
            f"{op}: needs a floating-point tensor to infer the output dtype, got {x._array.dtype}; "
            "convert with .float() first"
        )


@numpy_names
def mean(input, dim=None, keepdim: bool = False):
    """Arithmetic mean over ``dim``: the sum divided by the number of reduced elements."""
    x = as_tensor(input)
    _require_float(x, "mean")
    axes = normalize_dims(dim, x._array.ndim, "mean")
    return Mean.apply(x, axes, bool(keepdim), _reduced_count(x, axes))


def _correction(unbiased, correction) -> float:
    if unbiased is not None and correction is not None:
        raise ValueError("var/std: give either unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


@numpy_names
def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    r"""Variance over ``dim``: :math:`\sum (x - \bar x)^2 / (N - c)`.

    The correction :math:`c` is 1 by default (the unbiased estimate); ``unbiased=False`` or
    ``correction=0`` gives the biased one. With :math:`N - c \le 0` the result is inf or
    nan, as in PyTorch.
    """
    x = as_tensor(input)
    _require_float(x, "var")
    axes = normalize_dims(dim, x._array.ndim, "var")
    c = _correction(unbiased, correction)
    d = x - Mean.apply(x, axes, True, _reduced_count(x, axes))
    dof = builtins.max(_reduced_count(x, axes) - c, 0)
    return Sum.apply(d * d, axes, bool(keepdim), None) / dof


@numpy_names
def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Standard deviation: the square root of :func:`var` (same arguments)."""
    from chainrule.ops.elementwise import sqrt

    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def _extremum(cls, name, input, dim, keepdim):
    x = as_tensor(input)
    axes = normalize_dims(dim, x._array.ndim, name)
    if x._array.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {tuple(x.shape)}")
    return cls.apply(x, axes, bool(keepdim))


@numpy_names
def amax(input, dim=None, keepdim: bool = False):
    """Maximum over ``dim``; ties share the gradient evenly."""
    return _extremum(Amax, "amax", input, dim, keepdim)


@numpy_names
def amin(input, dim=None, keepdim: bool = False):
    """Minimum over ``dim``; ties share the gradient evenly."""
    return _extremum(Amin, "amin", input, dim, keepdim)


def _arg(fn, name, input, dim, keepdim) -> Tensor:
    x = as_tensor(input)
    if x._array.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {tuple(x.shape)}")
    if dim is None:
        out = fn(x._array.reshape(-1))
        if keepdim:
            out = xp.reshape(out, (1,) * x._array.ndim)
    else:
        axis = normalize_dim(dim, x._array.ndim, name)
        out = fn(x._array, axis=axis, keepdims=keepdim) if x._array.ndim else fn(x._array)
    return _make(xp.asarray(out, dtype=_dt.int64), None, False)


@numpy_names
def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (the first one at ties) over ``dim``, or of the flattened
    tensor when ``dim`` is None."""
    return _arg(xp.argmax, "argmax", input, dim, keepdim)


@numpy_names
def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (the first one at ties)."""
    return _arg(xp.argmin, "argmin", input, dim, keepdim)


def _max_min(reduce, arg, name, input, dim, keepdim):
    if isinstance(dim, Tensor):
        from chainrule.ops import selection

        return (selection.maximum if name == "max" else selection.minimum)(input, dim)
    if dim is None:
        return reduce(input)
    from chainrule.ops.indexing import gather

    x = as_tensor(input)
    idx = arg(x, dim, keepdim=True)
    values = gather(x, dim, idx)
    if not keepdim:
        values = values.squeeze(dim)
        idx = idx.squeeze(dim)
    return MaxMin(values, idx)


@numpy_names
def max(input, dim=None, keepdim: bool = False):
    """``max(x)``: the largest value. ``max(x, dim)``: (values, indices) along ``dim``,
    whose gradient goes to the selected index only. ``max(x, other)``: :func:`maximum`."""
    return _max_min(amax, argmax, "max", input, dim, keepdim)


@numpy_names
def min(input, dim=None, keepdim: bool = False):
    """``min(x)``, ``min(x, dim)`` -> (values, indices), or ``min(x, other)``; see :func:`max`."""
    return _max_min(amin, argmin, "min", input, dim, keepdim)


def norm(input, p="fro", dim=None, keepdim: bool = False, *, dtype=None):
    """The vector ``p``-norm of ``input`` over ``dim`` (all elements when None), as
    PyTorch's ``Tensor.norm``: ``p`` is a number, ``inf``/``-inf``, or ``"fro"`` (the
    2-norm of the elements). ``dtype`` casts the input first."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if x._array.dtype.kind != "f":
        raise TypeError(
            f"norm: the input must be a floating-point tensor, got dtype {x._array.dtype}"
        )
    if p == "fro":
        p = 2
    if isinstance(p, str) or not isinstance(p, int | float) or isinstance(p, bool):
        raise ValueError(
            f"norm: p must be a number, inf, -inf or 'fro', got {p!r} (matrix norms such as "
            "'nuc' are not available)"
        )
    axes = normalize_dims(dim, x._array.ndim, "norm")
    if x._array.size == 0 and p < 0:
        raise ValueError(f"norm: a negative p needs a non-empty tensor, got shape {x.shape}")
    return Norm.apply(x, float(p), axes, bool(keepdim))


@numpy_names
def any(input, dim=None, keepdim: bool = False) -> Tensor:
    x = as_tensor(input)
    axes = normalize_dims(dim, x._array.ndim, "any")
    return _make(xp.asarray(xp.any(x._array, axis=axes, keepdims=keepdim)), None, False)


@numpy_names
def all(input, dim=None, keepdim: bool = False) -> Tensor:
    x = as_tensor(input)
    axes = normalize_dims(dim, x._array.ndim, "all")
    return _make(xp.asarray(xp.all(x._array, axis=axes, keepdims=keepdim)), None, False)
