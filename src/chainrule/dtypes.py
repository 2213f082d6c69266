"""Dtypes, the default floating dtype, and PyTorch's type-promotion rule.

A tensor keeps its values in a NumPy array, so underneath every dtype is a NumPy dtype.
What ``t.dtype`` and ``cr.float32`` give is a :class:`dtype`: one object per NumPy dtype
that prints as PyTorch prints its own (``cr.float32`` where PyTorch says
``torch.float32``; ``cr.float`` is the same object, so it prints ``cr.float32`` too)
and stands for its NumPy dtype everywhere: ``t.dtype == cr.float32``,
``t.dtype == np.float32`` and ``t.dtype is cr.float`` are all true for a float32
tensor, NumPy accepts it wherever it takes a dtype (``np.zeros(3, cr.float64)``), and it
hashes as its NumPy dtype, so either finds the other in a dict. PyTorch's short names
are aliases: ``cr.float`` (float32), ``cr.double`` (float64), ``cr.half`` (float16),
``cr.long`` (int64), ``cr.int`` (int32), ``cr.short`` (int16). There is no bfloat16 and
no complex dtype (NumPy has no bfloat16; chainrule computes on real numbers only).

Promotion follows PyTorch, not NumPy. Operands fall into three tiers: tensors with at
least one dimension, zero-dimensional tensors, and Python scalars. A lower tier changes
the result only when its category (bool < integer < floating) is higher than every
operand of the tiers above it. So ``float32 tensor + 2.5`` stays float32, an integer
tensor plus ``2.5`` becomes the default float dtype, and a float64 zero-dimensional
tensor added to a float32 matrix gives float32.
"""

from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "bool",
    "double",
    "dtype",
    "float",
    "float16",
    "float32",
    "float64",
    "get_default_dtype",
    "half",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_floating",
    "long",
    "or_default",
    "promote_types",
    "result_type",
    "set_default_dtype",
    "short",
    "to_dtype",
    "uint8",
    "wrap",
]


class dtype:
    """The element type of a tensor: a NumPy dtype that prints as PyTorch's dtypes do.

    There is one ``dtype`` object per NumPy dtype (so ``is`` works, as in PyTorch). It
    compares and hashes as its NumPy dtype, and NumPy reads it through its ``dtype``
    attribute wherever a dtype is expected. PyTorch's attributes (``is_floating_point``,
    ``is_signed``, ``is_complex``, ``itemsize``) are here, and any other attribute of the
    NumPy dtype (``kind``, ``name``, ``type``, ...) is read from it.
    """

    __slots__ = ("_hash", "_name", "dtype")

    def __init__(self, np_dtype, name: str) -> None:
        self.dtype = np.dtype(np_dtype)  # the NumPy dtype; the name NumPy looks for
        self._name = name
        self._hash = hash(self.dtype)

    # The attributes internal code reads most, without __getattr__'s detour.
    @property
    def kind(self) -> str:
        return self.dtype.kind

    @property
    def itemsize(self) -> builtins.int:
        return self.dtype.itemsize

    @property
    def is_floating_point(self) -> builtins.bool:
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> builtins.bool:
        return self.dtype.kind == "c"

    @property
    def is_signed(self) -> builtins.bool:
        return self.dtype.kind in "fic"

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dtype, name)

    def __eq__(self, other) -> builtins.bool:
        if other is self:
            return True
        if isinstance(other, dtype):
            return self.dtype == other.dtype
        if other is None:  # (np.dtype(None) is float64: a None must not equal it)
            return False
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __ne__(self, other) -> builtins.bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> builtins.int:
        return self._hash

    def __repr__(self) -> str:
        return f"cr.{self._name}"

    __str__ = __repr__

    def __reduce__(self):
        return (wrap, (self.dtype.str,))


_BY_NUMPY: dict = {}


def _register(np_dtype, name: str) -> dtype:
    d = dtype(np_dtype, name)
    _BY_NUMPY[d.dtype] = d
    return d


def wrap(np_dtype) -> dtype:
    """The :class:`dtype` standing for a NumPy dtype (what ``t.dtype`` returns)."""
    try:
        return _BY_NUMPY[np_dtype]
    except (KeyError, TypeError):
        d = np.dtype(np_dtype)
        found = _BY_NUMPY.get(d)
        return found if found is not None else _register(d, d.name)


float16 = _register("float16", "float16")
float32 = _register("float32", "float32")
float64 = _register("float64", "float64")
int8 = _register("int8", "int8")
int16 = _register("int16", "int16")
int32 = _register("int32", "int32")
int64 = _register("int64", "int64")
uint8 = _register("uint8", "uint8")
bool = _register("bool", "bool")

# PyTorch's other names for the same dtypes.
half = float16
float = float32
double = float64
short = int16
int = int32
long = int64

_default = float32


def get_default_dtype() -> dtype:
    """The dtype given to Python floats and to factories without ``dtype`` (float32)."""
    return _default


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype; only float32 and float64 are accepted."""
    global _default
    d = to_dtype(dtype)
    if d not in (float32, float64):
        raise TypeError(
            f"set_default_dtype: only float32 or float64 can be the default, got {wrap(d)}"
        )
    _default = wrap(d)


def to_dtype(dtype) -> np.dtype:
    """Normalise a dtype given as a dtype, a NumPy type or a name (``"float32"``)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def or_default(dtype) -> np.dtype:
    """``to_dtype(dtype)``, or the default dtype when ``dtype`` is None: the rule of the
    factories and of the layers' ``dtype=`` argument."""
    return get_default_dtype() if dtype is None else to_dtype(dtype)


def is_floating(dtype) -> builtins.bool:
    return dtype.kind == "f"


def _category(dtype) -> builtins.int:
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[dtype.kind]


def promote_types(a, b) -> np.dtype:
    """PyTorch's pairwise promotion: the higher category wins outright (int32 with float16
    gives float16); within a category the wider type wins, as in NumPy."""
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    # A lower tier only matters when it brings a higher category.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if _category(lower) > _category(higher):
        return promote_types(higher, lower)
    return higher


def _scalar_dtype(x) -> np.dtype:
    if isinstance(x, builtins.bool):
        return bool
    if isinstance(x, builtins.int):
        return int64
    if isinstance(x, builtins.float):
        return _default
    raise TypeError(f"unsupported operand of type {type(x).__name__}")


def result_type(*operands) -> np.dtype:
    """The dtype of an elementwise op over ``operands`` (arrays, tensors or Python scalars)."""
    dim = zero = scalar = None
    for x in operands:
        dt = getattr(x, "dtype", None)
        if dt is None:
            d = _scalar_dtype(x)
            scalar = d if scalar is None else promote_types(scalar, d)
        elif x.ndim == 0:
            zero = dt if zero is None else promote_types(zero, dt)
        else:
            dim = dt if dim is None else promote_types(dim, dt)
    return _combine(dim, _combine(zero, scalar))
