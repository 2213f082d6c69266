"""The Tensor methods and operators that are functions of ``chainrule.ops``, from tables.

Most of a tensor's methods are the function of the same name with the tensor first:
``x.exp()`` is ``cr.exp(x)``, ``x.sum(1, keepdim=True)`` is ``cr.sum(x, 1, keepdim=True)``.
Its in-place forms compute the same into the tensor's memory: ``x.exp_()`` is x = x.exp()
(``ops/inplace.py`` keeps gradients right). Its operators are functions too: ``x + y`` is
``cr.add(x, y)``, ``2 - x`` is ``cr.sub(2, x)``, ``x += y`` is ``x.add_(y)``.

Rather than a two-line method for each of about 150 names, the tables below name them,
and :func:`install`, which ``chainrule/ops/__init__.py`` calls once the functions exist
(Tensor is below ops, so tensor.py cannot import them), sets them on Tensor. Each method
carries its function's signature (``self`` for the tensor) and docstring, so
``help(cr.Tensor.exp)`` shows the math. The methods whose arguments differ from their
function's are written out in ``tensor.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from chainrule import dtypes as _dt
from chainrule._numpy_names import numpy_names

__all__ = ["install"]

# ``x.name(*args, **kwargs)`` is ``cr.name(x, *args, **kwargs)``.
_METHODS = """
    add sub mul div pow neg exp log sqrt abs sin cos tanh sigmoid relu sign floor ceil
    round trunc log10 log2 rsqrt square clamp clamp_min clamp_max maximum minimum isnan
    isfinite eq ne gt ge lt le floor_divide remainder allclose isclose equal
    sum mean var std prod amax amin max min argmax argmin logsumexp any all
    softmax log_softmax cumsum cumprod sort argsort topk unique
    matmul mm bmm outer tril triu diag diagonal trace
    reshape flatten transpose permute squeeze unsqueeze expand broadcast_to chunk unbind
    roll masked_fill gather index_select index_add scatter scatter_add nonzero
""".split()  # noqa: SIM905 (a table of names reads best as words)

# ``x.name_(*args)`` makes x hold ``x.name(*args)``.
_IN_PLACE = """
    add sub mul div pow neg abs exp log sqrt sigmoid tanh relu sign floor ceil round trunc
    log10 log2 rsqrt square clamp clamp_min clamp_max floor_divide remainder tril triu
    cumsum masked_fill index_add scatter scatter_add
""".split()  # noqa: SIM905

# Other names of the same methods, as PyTorch has them.
_ALIASES = {"clip": "clamp", "clip_": "clamp_", "view": "reshape"}

# ``x <op> y`` is ``cr.name(x, y)``; ``y <op> x`` with a number y is ``cr.name(y, x)``
# (``__r<op>__``), and ``x <op>= y`` is ``x.name_(y)`` (``__i<op>__``).
_OPERATORS = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "truediv": "div",
    "floordiv": "floor_divide",
    "mod": "remainder",
    "pow": "pow",
    "matmul": "matmul",  # no ``@=``, as in PyTorch
}
# Python tries ``y > x`` when ``x < y`` fails, so comparisons have no reflected form.
_COMPARISONS = {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}
_UNARY = {"neg": "neg", "abs": "abs", "invert": "logical_not"}
# ``x & y``, ``|`` and ``^`` on boolean tensors (``ops/selection.py``, ``logical_op``).
_LOGICAL = ("and", "or", "xor")

# ``x.double()`` is ``x.to(cr.float64)``; ``float`` is written out in tensor.py.
_CASTS = {"double": "float64", "half": "float16", "long": "int64", "int": "int32", "bool": "bool"}

# The reductions that also take NumPy's ``axis=`` and ``keepdims=`` (``_numpy_names.py``).
_NUMPY_NAMED = ("all", "any", "amax", "amin", "argmax", "argmin", "max", "min")
_NUMPY_NAMED += ("logsumexp", "mean", "prod", "std", "sum", "var")


def install(tensor_class: type, ops) -> None:
    """Set the methods named in the tables above on ``tensor_class``, calling ``ops``."""
    for name in _METHODS:
        _set(tensor_class, name, _calling(getattr(ops, name)))
    for name in _IN_PLACE:
        _set(tensor_class, name + "_", _in_place(ops, name + "_", getattr(ops, name)))
    for alias, name in _ALIASES.items():
        setattr(tensor_class, alias, getattr(tensor_class, name))
    for symbol, name in _OPERATORS.items():
        fn = getattr(ops, name)
        _set(tensor_class, f"__{symbol}__", _binary(fn))
        _set(tensor_class, f"__r{symbol}__", _reflected(fn))
        if hasattr(tensor_class, name + "_"):
            setattr(tensor_class, f"__i{symbol}__", getattr(tensor_class, name + "_"))
    for symbol, name in {**_COMPARISONS, "getitem": "getitem"}.items():
        _set(tensor_class, f"__{symbol}__", _binary(getattr(ops, name)))
    for symbol, name in _UNARY.items():
        _set(tensor_class, f"__{symbol}__", _calling(getattr(ops, name)))
    for kind in _LOGICAL:
        fn = _logical(ops.logical_op, kind)
        _set(tensor_class, f"__{kind}__", _binary(fn))
        if kind != "xor":  # PyTorch has no reflected ``^`` on tensors either
            _set(tensor_class, f"__r{kind}__", _reflected(fn))
        _set(tensor_class, f"__i{kind}__", _in_place(ops, f"__i{kind}__", fn))
    for name, dtype in _CASTS.items():
        _set(tensor_class, name, _cast(getattr(_dt, dtype)))
    for name in _NUMPY_NAMED:
        setattr(tensor_class, name, numpy_names(getattr(tensor_class, name)))


# The makers of the methods: each closes over the function it calls, so a call costs
# one Python frame more than calling the function, as a written-out method does.
def _calling(fn: Callable) -> Callable:
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)

    method.__doc__ = fn.__doc__
    method.__signature__ = _as_method(fn)
    return method


def _binary(fn: Callable) -> Callable:
    def method(self, other):
        return fn(self, other)

    method.__doc__ = fn.__doc__
    return method


def _reflected(fn: Callable) -> Callable:
    def method(self, other):
        return fn(other, self)

    method.__doc__ = f"``{fn.__name__}(other, self)``: the operator with a number on its left."
    return method


def _in_place(ops, name: str, fn: Callable) -> Callable:
    apply_inplace = ops.inplace.apply_inplace

    def method(self, *args, **kwargs):
        return apply_inplace(self, name, fn, *args, **kwargs)

    method.__doc__ = f"``x.{name}(...)`` makes x hold ``{fn.__name__}(x, ...)``, in place."
    method.__signature__ = _as_method(fn)
    return method


def _logical(logical_op: Callable, kind: str) -> Callable:
    def fn(input, other):
        return logical_op(kind, input, other)

    fn.__name__ = f"logical_{kind}"
    fn.__doc__ = f"``input {kind} other`` elementwise, on booleans (``logical_op``)."
    return fn


def _cast(dtype) -> Callable:
    def method(self):
        return self.to(dtype)

    method.__doc__ = f"This tensor as {dtype} (``x.to({dtype})``)."
    return method


def _as_method(fn: Callable) -> inspect.Signature:
    """``fn``'s signature with its first parameter, the tensor, named ``self`` and without
    ``out=`` (PyTorch's methods have none)."""
    signature = inspect.signature(fn)
    first, *rest = signature.parameters.values()
    params = [first.replace(name="self")] + [p for p in rest if p.name != "out"]
    return signature.replace(parameters=params)


def _set(tensor_class: type, name: str, method: Callable) -> None:
    method.__name__ = name
    method.__qualname__ = f"{tensor_class.__name__}.{name}"
    method.__module__ = tensor_class.__module__
    setattr(tensor_class, name, method)
