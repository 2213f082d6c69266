r"""The strict products: ``mm`` (matrices), ``bmm`` (batches of matrices), ``dot``
(vectors) and ``outer`` (vectors to a matrix).

Each is :func:`~chainrule.ops.linalg.matmul` (or a broadcast product) restricted to one
case, so the gradients are matmul's: :math:`\bar A = \bar Y B^\top`,
:math:`\bar B = A^\top \bar Y`. What they add is PyTorch's strictness: the exact number
of dimensions, no broadcasting of batches, and, for ``mm``, ``bmm`` and ``dot``, one
dtype on both sides (PyTorch refuses to mix float32 and float64 there, where ``matmul``
and ``outer`` promote).
"""

from __future__ import annotations

from chainrule.errors import ShapeError
from chainrule.ops._out import write_out
from chainrule.ops.arithmetic import mul
from chainrule.ops.linalg import Matmul, matmul
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor, as_tensor

__all__ = ["bmm", "dot", "mm", "outer"]


def _same_dtype(name: str, a: Tensor, b: Tensor) -> None:
    if a._array.dtype != b._array.dtype:
        raise TypeError(
            f"{name}: expected both arguments to have the same dtype, but got "
            f"{a._array.dtype} and {b._array.dtype} (convert one with .to(...))"
        )


def _operands(name: str, input, mat2, labels: tuple, ndim: int, what: str) -> tuple:
    """The two operands as tensors, each with ``ndim`` dimensions, else a ShapeError."""
    a, b = as_tensor(input), as_tensor(mat2)
    for label, t in zip(labels, (a, b)):
        if t._array.ndim != ndim:
            raise ShapeError(f"{name}: {label} must be {what}, got shape {tuple(t.shape)}")
    return a, b


def _product(name: str, a: Tensor, b: Tensor, out) -> Tensor:
    """The (batched) matrix product of checked operands of one dtype, into ``out`` if given."""
    _same_dtype(name, a, b)
    return write_out(name, Matmul.apply(a, b), out)


def mm(input, mat2, *, out=None) -> Tensor:
    """The matrix product of two 2-D tensors, (n, m) @ (m, p) -> (n, p)."""
    a, b = _operands("mm", input, mat2, ("self", "mat2"), 2, "a matrix")
    if a.shape[1] != b.shape[0]:
        raise ShapeError(
            f"mm: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})"
        )
    return _product("mm", a, b, out)


def bmm(input, mat2, *, out=None) -> Tensor:
    """Batched matrix product of two 3-D tensors: (b, n, m) @ (b, m, p) -> (b, n, p), with
    the same batch size on both sides (no broadcasting, unlike ``matmul``)."""
    a, b = _operands("bmm", input, mat2, ("batch1", "batch2"), 3, "a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ShapeError(
            f"bmm: expected batch2 of shape [{a.shape[0]}, {a.shape[2]}, p] to match batch1 "
            f"of shape {list(a.shape)}, but got {list(b.shape)}"
        )
    return _product("bmm", a, b, out)


def dot(input, tensor, *, out=None) -> Tensor:
    r"""The inner product :math:`\sum_i a_i b_i` of two 1-D tensors of one length."""
    a, b = as_tensor(input), as_tensor(tensor)
    if a._array.ndim != 1 or b._array.ndim != 1:
        raise ShapeError(
            f"dot: 1D tensors expected, but got {a._array.ndim}D and {b._array.ndim}D tensors"
        )
    if a.shape[0] != b.shape[0]:
        raise ShapeError(
            f"dot: the vectors have {a.shape[0]} and {b.shape[0]} elements; they must have "
            "the same number"
        )
    _same_dtype("dot", a, b)
    return write_out("dot", matmul(a, b), out)


def outer(input, vec2, *, out=None) -> Tensor:
    r"""The outer product :math:`y_{ij} = a_i b_j` of two 1-D tensors (dtypes promote)."""
    a, b = as_tensor(input), as_tensor(vec2)
    for label, t in (("input", a), ("vec2", b)):
        if t._array.ndim != 1:
            raise ShapeError(f"outer: expected 1-D argument {label}, but got shape {t.shape}")
    return write_out("outer", mul(reshape(a, (-1, 1)), b), out)
