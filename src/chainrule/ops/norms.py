r"""``linalg.vector_norm``, ``linalg.matrix_norm`` and ``linalg.norm``, PyTorch's norms.

The vector :math:`p`-norm :math:`(\sum_i |x_i|^p)^{1/p}` is the ``Norm`` primitive of
``ops/reduction.py`` (with its derivative and its conventions at 0 and at ties).

The matrix norms are compositions over two dimensions (rows ``dim[0]``, columns
``dim[1]``): Frobenius is the 2-norm of all the elements; :math:`\infty` is the largest
row sum of :math:`|a_{ij}|` and 1 the largest column sum (:math:`-\infty` and -1 the
smallest), so their gradient goes to the winning row or column, split evenly at ties
(``amax``'s rule, as PyTorch). The spectral norms (2, -2) and the nuclear norm are the
singular values' largest, smallest and sum: they need the singular value decomposition,
which chainrule does not differentiate, and raise.
"""

from __future__ import annotations

import math

from chainrule import dtypes as _dt
from chainrule.errors import ShapeError
from chainrule.ops._common import normalize_dim, normalize_dims
from chainrule.ops._out import write_out
from chainrule.ops.elementwise import abs as _abs
from chainrule.ops.reduction import Norm, amax, amin
from chainrule.ops.reduction import sum as _sum
from chainrule.tensor import Tensor, as_tensor

__all__ = ["matrix_norm", "norm", "vector_norm"]


def _float_input(name: str, x, dtype) -> Tensor:
    x = as_tensor(x)
    if x._array.dtype.kind != "f":
        raise TypeError(
            f"linalg.{name}: expected a floating point tensor as input, got {x._array.dtype}"
        )
    if dtype is not None:
        want = _dt.to_dtype(dtype)
        if _dt.promote_types(x._array.dtype, want) != want:
            raise TypeError(
                f"linalg.{name}: the dtype of the input ({x._array.dtype}) should be "
                f"convertible without narrowing to the specified dtype ({want})"
            )
        x = x.to(want)
    return x


def _is_number(p) -> bool:
    return isinstance(p, int | float) and not isinstance(p, bool)


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    r""":math:`(\sum_i |x_i|^{ord})^{1/ord}` over ``dim`` (every element when None);
    ``ord`` may be any number, ``inf`` (max :math:`|x_i|`), ``-inf`` (min) or 0 (the
    count of non-zeros)."""
    x = _float_input("vector_norm", x, dtype)
    if not _is_number(ord):
        raise TypeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    axes = normalize_dims(dim, x._array.ndim, "linalg.vector_norm")
    count = x._array.size if axes is None else math.prod(x._array.shape[a] for a in axes)
    if count == 0 and (ord < 0 or ord == math.inf):
        raise ValueError(
            f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because "
            "the operation does not have an identity"
        )
    return write_out("linalg.vector_norm", Norm.apply(x, float(ord), axes, bool(keepdim)), out)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None, out=None):
    """The matrix norm ``ord`` ('fro', inf, -inf, 1, -1) of the matrices over the two
    dimensions ``dim`` (rows, columns)."""
    A = _float_input("matrix_norm", A, dtype)
    ndim = A._array.ndim
    if ndim < 2:
        raise ShapeError(
            "linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got "
            f"shape {tuple(A.shape)}"
        )
    if isinstance(dim, int) or len(dim) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must be a 2-tuple, got {dim!r}")
    rows, cols = (normalize_dim(d, ndim, "linalg.matrix_norm") for d in dim)
    if rows == cols:
        raise ValueError(f"linalg.matrix_norm: dims must be different, got {dim!r}")
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim, out=out)
    if ord in (2, -2, "nuc"):
        raise NotImplementedError(
            f"linalg.matrix_norm: ord={ord!r} is a function of the singular values, which "
            "needs a differentiable SVD that chainrule does not have; 'fro', inf, -inf, 1 "
            "and -1 are available"
        )
    if ord not in (math.inf, -math.inf, 1, -1):
        raise ValueError(f"linalg.matrix_norm: Order {ord!r} not supported.")
    # inf: the largest row sum (sum over columns, then the max over rows); 1: columns.
    summed, over = (cols, rows) if abs(ord) == math.inf else (rows, cols)
    sums = _sum(_abs(A), summed, keepdim=True)
    result = (amax if ord > 0 else amin)(sums, over, keepdim=True)
    if not keepdim:
        result = result.squeeze((rows, cols))
    return write_out("linalg.matrix_norm", result, out)


def norm(A, ord=None, dim=None, keepdim: bool = False, *, out=None, dtype=None) -> Tensor:
    """PyTorch's ``linalg.norm``: a vector norm when ``dim`` is one dimension (or when
    neither ``ord`` nor ``dim`` is given: every element), a matrix norm when ``dim`` is
    two (or ``A`` is 2-D and only ``ord`` is given)."""
    A = _float_input("norm", A, dtype)
    dims = (dim,) if isinstance(dim, int) else dim
    if dims is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, out=out)
        if A._array.ndim not in (1, 2):
            raise ShapeError(
                "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                f"Got {A._array.ndim}D."
            )
        dims = (-2, -1) if isinstance(ord, str) else tuple(range(A._array.ndim))
    if isinstance(ord, str):  # 'fro' and 'nuc' are matrix norms only
        return matrix_norm(A, ord, tuple(dims), keepdim, out=out)
    if len(dims) == 1:
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, out=out)
    if len(dims) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, tuple(dims), keepdim, out=out)
    raise ValueError(f"linalg.norm: dim must be an int or a 1- or 2-tuple, got {dim!r}")
