"""``Tensor``: an array that remembers how it was computed, and the functions that make one.

A tensor holds its values in ``.data`` (an ndarray). When it was computed by an op from
tensors that require grad, it points to that op's graph node, and ``backward()`` applies
the chain rule from it back to every leaf (a tensor created by the user with
``requires_grad=True``), which receives the gradient in ``.grad``.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Iterable

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import ndarray, to_numpy, xp
from chainrule.autograd.grad_mode import STATE
from chainrule.errors import ShapeError

__all__ = [
    "Tensor",
    "arange",
    "as_tensor",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "is_tensor",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "tensor",
    "zeros",
    "zeros_like",
]


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, fn) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Create one with :func:`chainrule.tensor` (or ``Tensor(data)``, the same thing). The
    attributes follow PyTorch: ``data`` (the ndarray itself), ``grad``, ``requires_grad``,
    ``shape``, ``dtype``, ``ndim``, ``is_leaf``, ``grad_fn``.
    """

    __slots__ = ("__weakref__", "_ctx", "_grad", "_hooks", "_oi", "_rg", "data")
    _seq = 0  # a leaf, as a graph node, comes after every op (see autograd.engine)

    # NumPy defers to Tensor's reflected operators (``array * tensor`` -> Tensor).
    __array_ufunc__ = None
    # As a graph node, a leaf has one output and no parents.
    n_out = 1
    _next = ()
    # Identity hashing (``==`` is elementwise), at C speed: the engine keys dicts by node.
    __hash__ = object.__hash__

    def __init__(self, data, dtype=None, requires_grad: bool = False) -> None:
        self._init_leaf(_to_array(data, dtype, copy=True), requires_grad)

    def _init_leaf(self, arr, requires_grad: bool) -> None:
        """Fill the slots of a new leaf holding ``arr``."""
        self.data = arr
        self._grad = None
        self._ctx = None
        self._oi = 0
        self._hooks = None
        self._rg = False
        if requires_grad:
            self.requires_grad_(True)

    # ----------------------------------------------------------------- attributes
    @property
    def grad(self):
        """The gradient that ``backward`` accumulated here (None until then). Assigning
        checks, as PyTorch does, that the value is a tensor of this tensor's shape and
        dtype (or None), so that an optimizer never updates with a mismatched one."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad must be a tensor or None, got {type(value).__name__}"
                )
            if value.data.shape != self.data.shape:
                raise ShapeError(
                    f"assigned grad has shape {tuple(value.data.shape)}, but the tensor has "
                    f"shape {tuple(self.data.shape)}"
                )
            if value.data.dtype != self.data.dtype:
                raise TypeError(
                    f"assigned grad has dtype {value.data.dtype}, but the tensor has dtype "
                    f"{self.data.dtype}"
                )
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Make this leaf track gradients (in place); only floating tensors can."""
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError(
                "requires_grad can only be switched off on a leaf tensor; use .detach() to "
                "get a tensor that is cut from the graph"
            )
        self._rg = bool(requires_grad)
        return self

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors not computed by a recorded op (user-created tensors)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The graph node that computed this tensor, or None for a leaf."""
        return self._ctx

    @property
    def device(self) -> str:
        return "cpu" if xp is np else "gpu"

    def size(self, dim: int | None = None):
        if dim is None:
            return self.data.shape
        return self.data.shape[_ops.normalize_dim(dim, self.data.ndim, "size")]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def element_size(self) -> int:
        return self.data.itemsize

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shares memory with ``.data``)."""
        return to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        arr = to_numpy(self.data)
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def tolist(self):
        return to_numpy(self.data).tolist()

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can be converted to a Python number, "
                f"got shape {tuple(self.data.shape)}"
            )
        return self.data.reshape(()).item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {tuple(self.data.shape)} is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __repr__(self) -> str:
        arr = to_numpy(self.data)
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if arr.dtype not in (_dt.get_default_dtype(), _dt.int64, _dt.bool) or arr.size == 0:
            extras.append(f"dtype={arr.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # ----------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``gradient`` is the upstream gradient (same shape as self); it may be omitted only
        when self holds a single element.
        """
        _autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        return _make(self.data, None, False)

    def detach_(self) -> Tensor:
        self._ctx = None
        self._rg = False
        return self

    def register_hook(self, hook) -> _HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; if it returns a
        tensor, that tensor is used as the gradient instead."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._ctx._hooks is None:
                self._ctx._hooks = {}
            hooks = self._ctx._hooks.setdefault(self._oi, [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if self._ctx is None:
            return
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                g = grad.detach()
                t.grad = g if t.grad is None else t.grad + g

        self.register_hook(keep)

    # ----------------------------------------------------------------- in place
    def _check_inplace(self, what: str) -> None:
        if STATE.grad and self._rg:
            if self._ctx is None:
                raise RuntimeError(
                    f"{what}: a leaf tensor that requires grad cannot be modified in place "
                    "while grad mode is on; wrap the update in `with cr.no_grad():`"
                )
            raise RuntimeError(
                f"{what}: in-place changes to a tensor that is part of a graph are not "
                "supported (its backward may need the old values); use the out-of-place op"
            )

    def _write(self, values) -> Tensor:
        if not self.data.flags.writeable:
            self.data = self.data.copy()
        self.data[...] = values
        return self

    def zero_(self) -> Tensor:
        self._check_inplace("zero_")
        return self._write(0)

    def fill_(self, value) -> Tensor:
        self._check_inplace("fill_")
        return self._write(value.data if isinstance(value, Tensor) else value)

    def copy_(self, src) -> Tensor:
        self._check_inplace("copy_")
        src = src.data if isinstance(src, Tensor) else xp.asarray(src)
        try:
            xp.broadcast_to(src, self.data.shape)
        except ValueError:
            raise _ops.ShapeError(
                f"copy_: cannot copy a tensor of shape {tuple(src.shape)} into one of shape "
                f"{tuple(self.data.shape)}"
            ) from None
        return self._write(src)

    def _inplace(self, name: str, op, other) -> Tensor:
        self._check_inplace(name)
        result = op(self.detach(), other).data
        if result.shape != self.data.shape:
            raise _ops.ShapeError(
                f"{name}: the result has shape {tuple(result.shape)}, which cannot be written "
                f"into a tensor of shape {tuple(self.data.shape)}"
            )
        return self._write(result)

    def add_(self, other, alpha=1) -> Tensor:
        return self._inplace("add_", _ops.add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1) -> Tensor:
        return self._inplace("sub_", _ops.sub, other if alpha == 1 else other * alpha)

    def mul_(self, other) -> Tensor:
        return self._inplace("mul_", _ops.mul, other)

    def div_(self, other) -> Tensor:
        return self._inplace("div_", _ops.div, other)

    def clamp_(self, min=None, max=None) -> Tensor:
        self._check_inplace("clamp_")
        return self._write(_ops.clamp(self.detach(), min, max).data)

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        """Fill with draws from U(a, b), from the library's generator."""
        from chainrule.random import default_generator

        self._check_inplace("uniform_")
        return self._write(default_generator().uniform(a, b, self.data.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Fill with draws from N(mean, std^2), from the library's generator."""
        from chainrule.random import default_generator

        self._check_inplace("normal_")
        return self._write(default_generator().normal(mean, std, self.data.shape))

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        if isinstance(value, Tensor):
            if STATE.grad and value._rg:
                raise RuntimeError(
                    "__setitem__: assigning a tensor that requires grad into another tensor is "
                    "not supported; build the result with cat, stack or where instead"
                )
            value = value.data
        index = _ops.normalize_index(index, self.data.shape)
        if not self.data.flags.writeable:
            self.data = self.data.copy()
        try:
            self.data[index] = value
        except (IndexError, ValueError) as err:
            raise type(err)(
                f"__setitem__ on a tensor of shape {tuple(self.data.shape)}: {err}"
            ) from None

    # ----------------------------------------------------------------- operators
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __eq__(self, other):  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __and__(self, other):
        return _ops.logical_op("and", self, other)

    def __rand__(self, other):
        return _ops.logical_op("and", other, self)

    def __or__(self, other):
        return _ops.logical_op("or", self, other)

    def __ror__(self, other):
        return _ops.logical_op("or", other, self)

    def __xor__(self, other):
        return _ops.logical_op("xor", self, other)

    def __invert__(self):
        return _ops.logical_not(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # ----------------------------------------------------------------- methods
    # Each method is the function of the same name in chainrule.ops; see there for math.
    def add(self, other):
        return _ops.add(self, other)

    def sub(self, other):
        return _ops.sub(self, other)

    def mul(self, other):
        return _ops.mul(self, other)

    def div(self, other):
        return _ops.div(self, other)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def neg(self):
        return _ops.neg(self)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def clamp(self, min=None, max=None):
        return _ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def sum(self, dim=None, keepdim: bool = False, *, dtype=None):
        return _ops.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim: bool = False):
        return _ops.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    def amax(self, dim=None, keepdim: bool = False):
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim: bool = False):
        return _ops.amin(self, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False):
        return _ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim: bool = False):
        return _ops.min(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False):
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False):
        return _ops.argmin(self, dim, keepdim)

    def logsumexp(self, dim=None, keepdim: bool = False):
        return _ops.logsumexp(self, dim, keepdim)

    def softmax(self, dim: int):
        return _ops.softmax(self, dim)

    def log_softmax(self, dim: int):
        return _ops.log_softmax(self, dim)

    def any(self, dim=None, keepdim: bool = False):
        return _ops.any(self, dim, keepdim)

    def all(self, dim=None, keepdim: bool = False):
        return _ops.all(self, dim, keepdim)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    view = reshape

    def reshape_as(self, other):
        return _ops.reshape(self, other.shape)

    view_as = reshape_as

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int):
        return _ops.transpose(self, dim0, dim1)

    def t(self):
        if self.data.ndim > 2:
            raise ValueError(
                f"t() expects a tensor with at most 2 dimensions, got shape {self.shape}"
            )
        return _ops.permute(self, tuple(reversed(range(self.data.ndim))))

    def permute(self, *dims):
        return _ops.permute(self, *dims)

    @property
    def T(self):
        return _ops.permute(self, tuple(reversed(range(self.data.ndim))))

    @property
    def mT(self):
        return _ops.transpose(self, -1, -2)

    def squeeze(self, dim=None):
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: int):
        return _ops.unsqueeze(self, dim)

    def expand(self, *sizes):
        return _ops.expand(self, *sizes)

    def expand_as(self, other):
        return _ops.broadcast_to(self, other.shape)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def gather(self, dim: int, index):
        return _ops.gather(self, dim, index)

    def contiguous(self):
        return self

    def clone(self):
        """A copy of this tensor that stays in the graph (gradient flows through)."""
        return _ops.cast(self, self.data.dtype)

    def to(self, dtype):
        """This tensor in ``dtype`` (differentiable between floating dtypes)."""
        if isinstance(dtype, str) and dtype in ("cpu", "cuda"):
            return self
        d = _dt.to_dtype(dtype)
        return self if d == self.data.dtype else _ops.cast(self, d)

    def type(self, dtype):
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def bool(self):
        return self.to(_dt.bool)

    def isnan(self):
        return _ops.isnan(self)

    def isfinite(self):
        return _ops.isfinite(self)


# -------------------------------------------------------------------------- construction
_new = object.__new__


def _make(data, ctx, requires_grad: bool) -> Tensor:
    """Wrap an ndarray without copying or checking: the constructor ops use."""
    t = _new(Tensor)
    t.data = data
    t._grad = None
    t._ctx = ctx
    t._oi = 0
    t._hooks = None
    t._rg = requires_grad
    return t


def _to_array(data, dtype=None, copy: bool = True):
    """Convert user data to an array: arrays keep their dtype, Python floats get the
    default dtype, Python ints int64, Python bools bool."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, ndarray | np.ndarray | np.generic):
        arr = xp.asarray(data)
    else:
        if isinstance(data, str | bytes):
            raise TypeError(f"cannot make a tensor from a {type(data).__name__}")
        try:
            arr = np.asarray(data)
        except ValueError as err:
            raise ValueError(f"cannot make a tensor from this data: {err}") from None
        if arr.dtype == np.float64 and not _holds_numpy_float64(data):
            arr = arr.astype(_dt.get_default_dtype())
        arr = xp.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot make a tensor from data of dtype {arr.dtype}")
    if dtype is not None:
        target = _dt.to_dtype(dtype)
        if arr.dtype != target:
            return arr.astype(target)
    return arr.copy() if copy else arr


def _holds_numpy_float64(data) -> bool:
    """Whether a (nested) sequence contains float64 arrays or scalars, which keep float64."""
    if isinstance(data, np.ndarray | np.float64 | Tensor):
        return data.dtype == np.float64
    if isinstance(data, list | tuple):
        return builtins.any(_holds_numpy_float64(d) for d in data[:1])
    return False


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array, a tensor).

    A NumPy array keeps its dtype (float64 stays float64); Python floats get the default
    dtype (float32), Python ints int64, Python bools bool.
    """
    t = _make(_to_array(data, dtype, copy=True), None, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` as a tensor, without copying when it already is an array of that dtype."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dt.to_dtype(dtype)):
        return data
    return _make(_to_array(data, dtype, copy=False), None, False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(array).__name__}")
    return _make(xp.asarray(array), None, False)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], Iterable):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, int | np.integer) or isinstance(s, bool) or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _factory(arr, requires_grad: bool) -> Tensor:
    t = _make(arr, None, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype_or_default(dtype):
    return _dt.get_default_dtype() if dtype is None else _dt.to_dtype(dtype)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.zeros(_size(size), _dtype_or_default(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.ones(_size(size), _dtype_or_default(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.empty(_size(size), _dtype_or_default(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value's type."""
    if dtype is None:
        dtype = _dt.result_type(fill_value)
    return _factory(xp.full(_size((size,)), fill_value, _dt.to_dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.zeros(t.shape, dtype or t.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.ones(t.shape, dtype or t.dtype), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.full(t.shape, fill_value, dtype or t.dtype), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Draws from the standard normal distribution (the library's seeded generator)."""
    from chainrule.random import default_generator

    g = generator or default_generator()
    arr = g.standard_normal(_size(size)).astype(_dtype_or_default(dtype))
    return _factory(xp.asarray(arr), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Draws from U[0, 1) (the library's seeded generator)."""
    from chainrule.random import default_generator

    g = generator or default_generator()
    arr = g.random(_size(size)).astype(_dtype_or_default(dtype))
    return _factory(xp.asarray(arr), requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype=None, generator=None) -> Tensor:
    """Integers drawn uniformly from [low, high) (``randint(high, size=...)`` for [0, high))."""
    from chainrule.random import default_generator

    if high is None:
        low, high = 0, low
    g = generator or default_generator()
    arr = g.integers(low, high, _size((size,)) if not isinstance(size, int) else (size,))
    return _factory(xp.asarray(arr.astype(dtype or _dt.int64)), False)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; integers give int64,
    any float argument gives the default float dtype."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = _dt.result_type(start, end, step)
    return _factory(xp.arange(start, end, step, dtype=_dt.to_dtype(dtype)), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.linspace(start, end, steps, dtype=_dtype_or_default(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return _factory(xp.eye(n, m, dtype=_dtype_or_default(dtype)), requires_grad)


import chainrule.autograd as _autograd  # noqa: E402  (both need Tensor; Tensor needs them)
import chainrule.ops as _ops  # noqa: E402
