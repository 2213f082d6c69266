"""``Tensor``: an array that remembers how it was computed, and the functions that make one.

A tensor holds its values in an ndarray (``t.numpy()`` shows it). When it was computed
by an op from tensors that require grad, it points to that op's graph node, and
``backward()`` applies the chain rule from it back to every leaf (a tensor created by
the user with ``requires_grad=True``), which receives the gradient in ``.grad``.

Several tensors may share one piece of memory: a view (``x[0]``, ``x.T``, ``x.view(...)``),
``x.detach()`` and ``x.data``. Changing one in place changes them all, and a version
counter that they share (``x._version``) lets autograd notice when a value it saved for
backward was overwritten; ``ops/inplace.py`` explains the rules.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Iterable

import numpy as np

from chainrule import devices as _devices
from chainrule import dtypes as _dt
from chainrule._backend import ndarray, to_numpy, xp
from chainrule._recording import RECORDING, replayable
from chainrule.errors import ShapeError
from chainrule.printing import tensor_repr
from chainrule.random import rng as _rng
from chainrule.size import Size
from chainrule.size import _size as _as_size

# The seam: the one place where this bottom layer calls upward. A tensor's math methods
# (``x + y``, ``x.exp()``, ``x[i] = v``) are ops, and its ``backward()`` is the engine's;
# both are built on Tensor, so this module cannot import them. Instead, each fills in
# its name here as it loads (``chainrule/ops/__init__.py`` and
# ``chainrule/autograd/__init__.py``; importing chainrule loads both), and the methods
# below call through it.
_ops = None  # the package chainrule.ops
_autograd = None  # the package chainrule.autograd

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


class VersionCounter:
    """How many in-place writes a piece of memory has had. A tensor, its views and its
    ``detach()`` share one; a value saved for backward remembers the count it saw."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Create one with :func:`chainrule.tensor` (or ``Tensor(data)``, the same thing). The
    attributes follow PyTorch: ``data`` (a tensor sharing this one's memory, cut from the
    graph), ``grad``, ``requires_grad``, ``shape``, ``dtype``, ``ndim``, ``is_leaf``,
    ``grad_fn``, ``_version``.

    The slots: ``_array`` holds the values; ``_node`` is the graph node that computed
    them (None for a leaf) and ``_output_index`` which of its outputs this is;
    ``_requires_grad``, ``_grad`` and ``_hooks`` back the public attributes;
    ``_version_counter`` is shared with every tensor that shares the memory (None until
    first needed); ``_view`` is None, or what a view knows of its base (see
    ``ops/inplace.py``).
    """

    __slots__ = (
        "__weakref__",
        "_array",
        "_grad",
        "_hooks",
        "_node",
        "_output_index",
        "_requires_grad",
        "_version_counter",
        "_view",
    )
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
        """Fill the slots of a new leaf holding ``arr`` (as ``_make`` does for an op's output)."""
        self._array = arr
        self._grad = self._node = self._hooks = self._version_counter = self._view = None
        self._output_index = 0
        self._requires_grad = False
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
            if value._array.shape != self._array.shape:
                raise ShapeError(
                    f"assigned grad has shape {tuple(value._array.shape)}, but the tensor has "
                    f"shape {tuple(self._array.shape)}"
                )
            if value._array.dtype != self._array.dtype:
                raise TypeError(
                    f"assigned grad has dtype {value._array.dtype}, but the tensor has dtype "
                    f"{self._array.dtype}"
                )
        if RECORDING.tape is not None:  # a step being captured by cr.compile
            if value is not None:
                RECORDING.tape.refuse("the step assigns a tensor to .grad")
            else:
                RECORDING.tape.method(_clear_grad, self)
                return
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        if self._view is not None:
            _autograd.views.refresh_if_stale(self)
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Make this leaf track gradients (in place); only floating tensors can."""
        if requires_grad and self._array.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self._array.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "requires_grad can only be switched off on a leaf tensor; use .detach() to "
                "get a tensor that is cut from the graph"
            )
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def shape(self) -> Size:
        """The sizes of the dimensions, as a :class:`~chainrule.size.Size` (a tuple)."""
        return _as_size(self._array.shape)

    @property
    def dtype(self) -> _dt.dtype:
        """The element type (a :class:`~chainrule.dtypes.dtype`: ``cr.float32``, ...)."""
        return _dt.wrap(self._array.dtype)

    @property
    def ndim(self) -> int:
        return self._array.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors not computed by a recorded op (user-created tensors)."""
        return self.grad_fn is None

    @property
    def grad_fn(self):
        """The graph node that computed this tensor, or None for a leaf."""
        if self._view is not None:
            _autograd.views.refresh_if_stale(self)
        return self._node

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, cut from the graph, as PyTorch's ``.data``.

        Writes through it (``p.data -= lr * p.grad``, ``p.data.copy_(w)``) change this
        tensor but are not counted in its version, so autograd cannot see them: prefer
        ``with cr.no_grad():`` and the tensor itself, which autograd checks. Assigning a
        tensor (``p.data = t``) makes this tensor use ``t``'s memory.
        """
        return _make(self._array, None, False)

    @data.setter
    def data(self, value) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"data must be assigned a tensor, got {type(value).__name__}; wrap an array "
                "with cr.from_numpy(...) (shares its memory) or cr.tensor(...) (copies it)"
            )
        if RECORDING.tape is not None:
            RECORDING.tape.refuse("the step assigns to .data, which replaces a tensor's memory")
        self._array = value._array

    @property
    def _version(self) -> int:
        """How many times this tensor's memory has been written in place."""
        counter = self._version_counter
        return 0 if counter is None else counter.value

    def _counter(self) -> VersionCounter:
        """This tensor's version counter, made on first need."""
        counter = self._version_counter
        if counter is None:
            counter = self._version_counter = VersionCounter()
        return counter

    def _bump_version(self) -> None:
        """Count one in-place write into this tensor's memory."""
        counter = self._version_counter
        if counter is None:
            counter = self._version_counter = VersionCounter()
        counter.value += 1

    @property
    def _base(self):
        """The tensor whose memory this view shares, or None when this is not a view."""
        return None if self._view is None else self._view.base

    def _is_view(self) -> bool:
        return self._view is not None

    @property
    def device(self) -> _devices.device:
        """Where the memory lives: ``device(type='cpu')`` (see ``chainrule/devices.py``)."""
        return _devices.home()

    @property
    def is_cpu(self) -> bool:
        return _devices.home().type == "cpu"

    @property
    def is_cuda(self) -> bool:
        return _devices.home().type == "cuda"

    def size(self, dim: int | None = None):
        """The shape as a ``Size``, or with ``dim`` the size of that dimension (an int)."""
        if dim is None:
            return _as_size(self._array.shape)
        return self._array.shape[_ops.normalize_dim(dim, self._array.ndim, "size")]

    def dim(self) -> int:
        return self._array.ndim

    def numel(self) -> int:
        return int(self._array.size)

    def element_size(self) -> int:
        return self._array.itemsize

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shares this tensor's memory)."""
        if RECORDING.tape is not None:
            RECORDING.tape.read(self, "numpy()")
        return to_numpy(self._array)

    def __array__(self, dtype=None, copy=None):
        if RECORDING.tape is not None:
            RECORDING.tape.read(self, "conversion to a NumPy array")
        arr = to_numpy(self._array)
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def tolist(self):
        if RECORDING.tape is not None:
            RECORDING.tape.read(self, "tolist()")
        return to_numpy(self._array).tolist()

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self._array.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can be converted to a Python number, "
                f"got shape {tuple(self._array.shape)}"
            )
        if RECORDING.tape is not None:
            RECORDING.tape.read(self, "item(), float(), int() or bool()")
        return self._array.reshape(()).item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {tuple(self._array.shape)} is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    def __len__(self) -> int:
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._array.shape[0]))

    def __repr__(self) -> str:
        if RECORDING.tape is not None:
            RECORDING.tape.read(self, "printing")
        return tensor_repr(self)  # PyTorch's layout: chainrule/printing.py

    def __format__(self, spec: str) -> str:
        """``f"{t:.2f}"``: a 0-d tensor formats its value, as PyTorch's does; other tensors
        take only the empty format (their repr)."""
        if self._array.ndim == 0:
            return self.item().__format__(spec)
        if not spec:
            return repr(self)
        raise TypeError(
            f"unsupported format string {spec!r} passed to Tensor.__format__: only 0-d "
            f"tensors format their value (this one has shape {tuple(self._array.shape)}); "
            "use t.item() for a one-element tensor"
        )

    # ----------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``gradient`` is the upstream gradient (same shape as self); it may be omitted only
        when self holds a single element.
        """
        _autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this one's memory and version counter, cut from the graph."""
        t = _make(self._array, None, False)
        t._version_counter = self._counter()
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph, in place (it becomes a leaf)."""
        if self._view is not None:
            raise RuntimeError(
                "detach_(): cannot detach a view in place; use detach(), which returns a new tensor"
            )
        self._node = None
        self._requires_grad = False
        return self

    def __deepcopy__(self, memo) -> Tensor:
        """A copy with its own memory: leaves only, as in PyTorch (``copy.deepcopy`` of a
        ``state_dict`` or a model)."""
        if self._node is not None:
            raise RuntimeError(
                "only tensors created explicitly by the user (graph leaves) support "
                "copy.deepcopy; call .detach() first, or .clone() to copy within the graph"
            )
        new = _new(type(self))
        new._init_leaf(self._array.copy(), False)
        new._requires_grad = self._requires_grad
        if self._grad is not None:
            new._grad = _make(self._grad._array.copy(), None, False)
        memo[id(self)] = new
        return new

    def register_hook(self, hook) -> _HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; if it returns a
        tensor, that tensor is used as the gradient instead."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._node._hooks is None:
                self._node._hooks = {}
            hooks = self._node._hooks.setdefault(self._output_index, [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if self._node is None:
            return
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                g = grad.detach()
                t.grad = g if t.grad is None else t.grad + g

        self.register_hook(keep)

    # ----------------------------------------------------------------- in place
    # Each of these changes this tensor's memory. ``ops/inplace.py`` has the rules
    # that keep gradients right: versions, in-place ops recorded in the graph, views.
    def copy_(self, src) -> Tensor:
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor."""
        if src is not self:  # (a copy onto itself changes nothing, even when expanded)
            _ops.inplace.check_internal_overlap(self._array, "copy_")
            _ops.inplace.check_overlap(self._array, src, "copy_")
        return self._assign("copy_", src)

    def fill_(self, value) -> Tensor:
        """Set every element to ``value`` (a number or a one-element tensor)."""
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(
                f"fill_ only supports a 0-dimensional value tensor, but got a tensor with "
                f"{value.ndim} dimension(s)"
            )
        return self._assign("fill_", value)

    def zero_(self) -> Tensor:
        return self._assign("zero_", 0)

    def _assign(self, name: str, src) -> Tensor:
        """copy_, fill_ and zero_, once the caller has checked for shared memory (one value
        everywhere may be written even into an expanded tensor, as PyTorch allows)."""
        if not _ops.inplace.records(self, src):
            values = src._array if isinstance(src, Tensor) else src
            return _ops.inplace.write(self, values, name, check=False)
        return _ops.inplace.apply_inplace(self, name, _ops.assign, src, check=False)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        """Fill with draws from U(a, b), from ``generator`` (default: the library's)."""
        _float_draw("uniform_", self._array.dtype)
        if a > b:
            raise ValueError(f"uniform_: the range [a, b) needs a <= b, got a={a} > b={b}")
        g = _rng(generator)
        return self.copy_(_make(xp.asarray(g.uniform(a, b, self._array.shape)), None, False))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        """Fill with draws from N(mean, std^2), from ``generator`` (default: the library's)."""
        _float_draw("normal_", self._array.dtype)
        if std < 0:
            raise ValueError(f"normal_: std must be >= 0, got {std}")
        g = _rng(generator)
        return self.copy_(_make(xp.asarray(g.normal(mean, std, self._array.shape)), None, False))

    def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
        """Fill with 1 (probability ``p``, a number or a tensor of probabilities that
        broadcasts to this shape) or 0, from ``generator`` (default: the library's)."""
        return self.copy_(_ops.draws.bernoulli_fill("bernoulli_", self, p, generator))

    def bernoulli(self, p=None, *, generator=None) -> Tensor:
        """``cr.bernoulli(self, p, generator=...)``: 1 with probability ``self`` (or ``p``)."""
        return _ops.draws.bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None):
        """``cr.multinomial(self, ...)``: category indices drawn with these weights."""
        return _ops.draws.multinomial(self, num_samples, replacement, generator=generator)

    def __setitem__(self, index, value) -> None:
        """``x[index] = value``. As in PyTorch, a number fills the indexed region and a
        tensor is copied into it (broadcast, cast to this dtype)."""
        index = _ops.normalize_index(index)
        try:
            region = self._array[index]
        except IndexError as err:
            raise IndexError(
                f"__setitem__ on a tensor of shape {tuple(self._array.shape)}: {err}"
            ) from None
        if region.base is not None:  # basic indexing: the region is a view, as in PyTorch
            _ops.inplace.check_internal_overlap(region, "__setitem__")
        if _ops.inplace.records(self, value):
            _ops.inplace.apply_inplace(
                self, "__setitem__", _ops.assign_at, index, value, check=False, region=index
            )
            return
        if not self._array.flags.writeable:
            _ops.inplace.write(self, 0, "__setitem__")  # raises the read-only error
        if RECORDING.tape is not None:
            RECORDING.tape.write(self, value, index)
        try:
            self._array[index] = value._array if isinstance(value, Tensor) else value
        except ValueError as err:
            raise ShapeError(
                f"__setitem__ on a tensor of shape {tuple(self._array.shape)}: {err}"
            ) from None
        self._bump_version()

    # The in-place forms of ops, ``x.exp_()`` (x = x.exp(), in x's memory), are set on
    # Tensor from the table _IN_PLACE in tensor_methods.py.

    # ----------------------------------------------------------------- operators
    # ``x + y`` is ``cr.add(x, y)``, ``2 - x`` is ``cr.sub(2, x)`` and ``x += y`` is
    # ``x.add_(y)`` (it changes x, and every name and view that shares its memory), and so
    # for every operator: they are set on Tensor from the tables in tensor_methods.py.
    def __pos__(self):
        return self

    # ----------------------------------------------------------------- methods
    # Most methods are the function of the same name in chainrule.ops with this tensor
    # first (``x.exp()`` is ``cr.exp(x)``; see there for the math): they are set on Tensor
    # from _METHODS in tensor_methods.py. Here are the others.
    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None):
        return _ops.norm(self, p, dim, keepdim, dtype=dtype)

    def reshape_as(self, other):
        return _ops.reshape(self, other.shape)

    view_as = reshape_as

    def t(self):
        if self._array.ndim > 2:
            raise ValueError(
                f"t() expects a tensor with at most 2 dimensions, got shape {self.shape}"
            )
        return _ops.permute(self, tuple(reversed(range(self._array.ndim))))

    @property
    def T(self):
        return _ops.permute(self, tuple(reversed(range(self._array.ndim))))

    @property
    def mT(self):
        return _ops.transpose(self, -1, -2)

    def expand_as(self, other):
        return _ops.broadcast_to(self, other.shape)

    def contiguous(self):
        return self

    def clone(self):
        """A copy of this tensor that stays in the graph (gradient flows through)."""
        return _ops.cast(self, self._array.dtype)

    def to(self, *args, **kwargs):
        """This tensor in another dtype or on another device, as PyTorch's ``to``:
        ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` (other's dtype
        and device), with ``non_blocking`` and ``copy`` as PyTorch's.

        Returns this very tensor when nothing changes (unless ``copy=True``), else a copy
        that stays in the graph (differentiable between floating dtypes). The device must
        be the CPU: asking for another (``"cuda"``, ``"mps"``) raises, since chainrule
        runs on the CPU only.
        """
        d, copy = _devices.parse_to("to", args, kwargs)
        if d is None or d == self._array.dtype:
            return _ops.cast(self, self._array.dtype) if copy else self
        return _ops.cast(self, d)

    def cpu(self, memory_format=None) -> Tensor:
        """This tensor, which is on the CPU already (PyTorch returns it unchanged too)."""
        _devices.check_device("cpu", "cpu")
        return self

    def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
        """Raises: chainrule has no GPU (use ``cr.cuda.is_available()`` to choose)."""
        _devices.check_device("cuda", "cuda" if device is None else _cuda_device(device))
        return self

    def type(self, dtype):
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    # ``x.float()`` is ``x.to(cr.float32)``; the others are set from _CASTS in
    # tensor_methods.py.
    def float(self):
        return self.to(_dt.float32)

    # PyTorch names the argument of these two methods otherwise than their functions'.
    def dot(self, other):
        return _ops.dot(self, other)

    def split(self, split_size, dim: int = 0):
        return _ops.split(self, split_size, dim)

    # Sizes as separate numbers or as one tuple, as PyTorch's methods take them.
    def repeat(self, *sizes):
        return _ops.rearrange.repeat(self, *sizes)

    def tile(self, *dims):
        return _ops.tile(self, _varargs(dims))

    def flip(self, *dims):
        return _ops.flip(self, _varargs(dims))

    # Two old names of ``numel`` and ``dim``.
    def nelement(self) -> int:
        return self.numel()

    def ndimension(self) -> int:
        return self.dim()

    # New tensors of this one's dtype (unless ``dtype`` says otherwise), not in the graph.
    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False):
        return zeros(*size, dtype=self._new_dtype(dtype, device), requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False):
        return ones(*size, dtype=self._new_dtype(dtype, device), requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False):
        return empty(*size, dtype=self._new_dtype(dtype, device), requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False):
        dt = self._new_dtype(dtype, device)
        return full(size, fill_value, dtype=dt, requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad: bool = False):
        """A copy of ``data`` with this tensor's dtype by default (a tensor's values too,
        cut from its graph, as PyTorch's ``clone().detach()``)."""
        dt = self._new_dtype(dtype, device)
        return tensor(data, dtype=dt, requires_grad=requires_grad)

    def _new_dtype(self, dtype, device):
        if device is not None and str(device) != "cpu":
            raise RuntimeError(
                f"new tensors can only be made on the CPU in chainrule, got device={device!r}"
            )
        return self._array.dtype if dtype is None else _dt.to_dtype(dtype)


def _varargs(dims) -> tuple:
    """``f(0, 1)`` or ``f((0, 1))``: PyTorch's methods take sizes either way."""
    return tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], Iterable) else dims


# -------------------------------------------------------------------------- construction
_new = object.__new__


def _clear_grad(t: Tensor) -> None:
    """``t.grad = None``, as a captured step (cr.compile) replays it."""
    t._grad = None


def _make(data, ctx, requires_grad: bool) -> Tensor:
    """Wrap an ndarray without copying or checking: the constructor ops use."""
    t = _new(Tensor)
    t._array = data
    t._grad = None
    t._node = ctx
    t._output_index = 0
    t._hooks = None
    t._requires_grad = requires_grad
    t._version_counter = None
    t._view = None
    return t


def _to_array(data, dtype=None, copy: bool = True):
    """Convert user data to an array: arrays keep their dtype, Python floats get the
    default dtype, Python ints int64, Python bools bool."""
    if isinstance(data, Tensor):
        arr = data._array
    elif isinstance(data, ndarray | np.ndarray | np.generic):
        arr = xp.asarray(data)
    else:
        if isinstance(data, str | bytes):
            raise TypeError(f"cannot make a tensor from a {type(data).__name__}")
        try:
            arr = np.asarray(data)
        except ValueError as err:
            raise ValueError(f"cannot make a tensor from this data: {err}") from None
        if dtype is None and arr.dtype == np.float64 and not _holds_numpy_float64(data):
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


@replayable
def tensor(
    data, dtype=None, requires_grad: bool = False, *, device=None, pin_memory: bool = False
) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array, a tensor).

    A NumPy array keeps its dtype (float64 stays float64); Python floats get the default
    dtype (float32), Python ints int64, Python bools bool. ``device`` may only be the CPU
    (as on every factory here); ``pin_memory`` is accepted and means nothing on the CPU.
    """
    _devices.check_device("tensor", device)
    t = _make(_to_array(data, dtype, copy=True), None, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, without copying when it already is an array of that dtype."""
    if device is not None:
        _devices.check_device("as_tensor", device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dt.to_dtype(dtype)):
        return data
    return _converted(data, dtype)


@replayable
def _converted(data, dtype) -> Tensor:
    """``data`` (not a tensor of that dtype) as a tensor, without copying an array."""
    return _make(_to_array(data, dtype, copy=False), None, False)


@replayable
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


@replayable
def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _devices.check_device("zeros", device)
    return _factory(xp.zeros(_size(size), _dt.or_default(dtype)), requires_grad)


@replayable
def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _devices.check_device("ones", device)
    return _factory(xp.ones(_size(size), _dt.or_default(dtype)), requires_grad)


@replayable
def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _devices.check_device("empty", device)
    return _factory(xp.empty(_size(size), _dt.or_default(dtype)), requires_grad)


@replayable
def full(size, fill_value, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value's type."""
    _devices.check_device("full", device)
    if dtype is None:
        dtype = _dt.result_type(fill_value)
    return _factory(xp.full(_size((size,)), fill_value, _dt.to_dtype(dtype)), requires_grad)


@replayable
def zeros_like(t, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    _devices.check_device("zeros_like", device)
    return _factory(xp.zeros(t.shape, dtype or t.dtype), requires_grad)


@replayable
def ones_like(t, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    _devices.check_device("ones_like", device)
    return _factory(xp.ones(t.shape, dtype or t.dtype), requires_grad)


@replayable
def full_like(t, fill_value, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    _devices.check_device("full_like", device)
    return _factory(xp.full(t.shape, fill_value, dtype or t.dtype), requires_grad)


def _float_draw(where: str, dtype) -> None:
    """Continuous draws need a floating dtype (PyTorch refuses integer ones too)."""
    if _dt.to_dtype(dtype).kind != "f":
        raise TypeError(
            f"{where}: draws from a continuous distribution need a floating dtype, got "
            f"{_dt.wrap(dtype)}; use randint for integers"
        )


def _continuous_draw(where: str, draw, size, dtype, requires_grad, generator, device) -> Tensor:
    """``draw(rng, shape)`` as a new tensor: what ``randn`` and ``rand`` share."""
    _devices.check_device(where, device)
    dt = _dt.or_default(dtype)
    _float_draw(where, dt)
    return _factory(xp.asarray(draw(_rng(generator), _size(size)).astype(dt)), requires_grad)


@replayable
def randn(*size, dtype=None, requires_grad: bool = False, generator=None, device=None) -> Tensor:
    """Draws from the standard normal distribution, from ``generator`` (default: the
    library's seeded generator)."""
    draw = np.random.Generator.standard_normal
    return _continuous_draw("randn", draw, size, dtype, requires_grad, generator, device)


@replayable
def rand(*size, dtype=None, requires_grad: bool = False, generator=None, device=None) -> Tensor:
    """Draws from U[0, 1), from ``generator`` (default: the library's seeded generator)."""
    draw = np.random.Generator.random
    return _continuous_draw("rand", draw, size, dtype, requires_grad, generator, device)


@replayable
def randint(
    low: int = 0,
    high: int | None = None,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers drawn uniformly from [low, high), as PyTorch's two forms:
    ``randint(high, size)`` and ``randint(low, high, size)`` (``size`` a tuple). The dtype
    is int64 unless given (a float dtype holds the same whole numbers)."""
    _devices.check_device("randint", device)
    if size is None and isinstance(high, tuple | list):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError(
            "randint() needs a size: randint(high, size) or randint(low, high, size), "
            "with size a tuple such as (3,)"
        )
    if not isinstance(size, tuple | list):
        raise TypeError(
            f"randint(): size must be a tuple of ints, not {type(size).__name__} (write (n,))"
        )
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"randint(): {name} must be an integer, got {v!r}")
    if low >= high:
        raise ValueError(f"randint(): low must be less than high, got low={low} >= high={high}")
    dt = _dt.int64 if dtype is None else _dt.to_dtype(dtype)
    arr = _rng(generator).integers(low, high, _size((size,)))
    return _factory(xp.asarray(arr.astype(dt)), requires_grad)


def _cuda_device(index):
    """``t.cuda(i)``'s argument as a device description."""
    return index if not isinstance(index, int) or isinstance(index, bool) else f"cuda:{index}"


@replayable
def arange(
    start, end=None, step=1, dtype=None, requires_grad: bool = False, *, device=None
) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; integers give int64,
    any float argument gives the default float dtype. Raises RuntimeError, in PyTorch's
    words, for a zero step, a non-finite bound or step, and a step pointing away from
    ``end``."""
    _devices.check_device("arange", device)
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    for name, value in (("start", start), ("end", end), ("step", step)):
        if not isinstance(value, int | float | np.integer | np.floating) or isinstance(value, bool):
            raise TypeError(f"arange: {name} must be a number, got {value!r}")
    if step == 0:
        raise RuntimeError(f"arange: step must be nonzero (got start={start}, end={end}, step=0)")
    if not all(np.isfinite((start, end, step))):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end} by {step}")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound and lower bound inconsistent with step sign ({start} -> {end} "
            f"by {step})"
        )
    if dtype is None:
        dtype = _dt.result_type(start, end, step)
    return _factory(xp.arange(start, end, step, dtype=_dt.to_dtype(dtype)), requires_grad)


@replayable
def linspace(
    start, end, steps: int, dtype=None, requires_grad: bool = False, *, device=None
) -> Tensor:
    _devices.check_device("linspace", device)
    return _factory(xp.linspace(start, end, steps, dtype=_dt.or_default(dtype)), requires_grad)


@replayable
def eye(
    n: int, m: int | None = None, dtype=None, requires_grad: bool = False, *, device=None
) -> Tensor:
    _devices.check_device("eye", device)
    return _factory(xp.eye(n, m, dtype=_dt.or_default(dtype)), requires_grad)
