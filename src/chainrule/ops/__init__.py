"""chainrule's ops, by family. Each primitive is an :class:`~chainrule.autograd.function.Op`
subclass holding its forward, its derivative and its conventions; the functions here
check arguments, promote dtypes and call them."""

import sys

from chainrule import tensor as _tensor_module
from chainrule import tensor_methods as _tensor_methods
from chainrule.errors import ShapeError
from chainrule.ops import reduction  # its __all__ joins this package's, below
from chainrule.ops._common import normalize_dim, normalize_dims
from chainrule.ops.arithmetic import add, div, mul, neg, pow, sub

# PyTorch's tensor functions of issue 14 (part A), by family.
from chainrule.ops.compare import allclose, equal, isclose
from chainrule.ops.cumulative import cumprod, cumsum, prod
from chainrule.ops.einsum import einsum
from chainrule.ops.elementwise import (
    abs,
    clamp,
    clip,
    cos,
    erf,
    exp,
    expm1,
    log,
    log1p,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    tanh,
)
from chainrule.ops.indexing import gather, getitem, normalize_index
from chainrule.ops.linalg import linear, matmul
from chainrule.ops.matrix import diag, diagonal, trace, tril, triu
from chainrule.ops.products import bmm, dot, mm, outer
from chainrule.ops.rearrange import chunk, flip, roll, split, tile, unbind
from chainrule.ops.reduction import *  # noqa: F403
from chainrule.ops.rounding import ceil, floor, floor_divide, remainder, round, sign, trunc
from chainrule.ops.scatter import index_add, index_select, nonzero, scatter, scatter_add
from chainrule.ops.selection import (
    eq,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    logical_not,
    logical_op,
    lt,
    masked_fill,
    maximum,
    minimum,
    ne,
    where,
)
from chainrule.ops.shape import (
    broadcast_to,
    cast,
    cat,
    concat,
    expand,
    flatten,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from chainrule.ops.softmax import log_softmax, logsumexp, softmax
from chainrule.ops.sorting import argsort, sort, topk, unique
from chainrule.ops.unary import clamp_max, clamp_min, log2, log10, rsqrt, square

# The recorded forms of in-place writes, used by ops.inplace (not public names).
from chainrule.ops.writes import assign as assign
from chainrule.ops.writes import assign_at as assign_at

__all__ = [
    "ShapeError",
    "abs",
    "add",
    "broadcast_to",
    "cast",
    "cat",
    "clamp",
    "clip",
    "concat",
    "cos",
    "div",
    "eq",
    "erf",
    "exp",
    "expand",
    "expm1",
    "flatten",
    "gather",
    "ge",
    "getitem",
    "gt",
    "isfinite",
    "isnan",
    "le",
    "linear",
    "log",
    "log1p",
    "log_softmax",
    "logical_not",
    "logical_op",
    "logsumexp",
    "lt",
    "masked_fill",
    "matmul",
    "maximum",
    "minimum",
    "mul",
    "ne",
    "neg",
    "normalize_dim",
    "normalize_dims",
    "normalize_index",
    "permute",
    "pow",
    "relu",
    "reshape",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "tanh",
    "transpose",
    "unsqueeze",
    "where",
]

from chainrule.ops import draws as draws  # (reached by Tensor's methods, as is inplace)
from chainrule.ops import inplace
from chainrule.ops.op import Op
from chainrule.ops.tensormath import TensorMath

# The rules' vocabulary on tensors is built from the ops above, so it is handed to the
# nodes last: a differentiable backward (create_graph=True) uses it.
Op.tensor_math = inplace.CopySlices.tensor_math = TensorMath

_tensor_module._ops = sys.modules[__name__]  # the seam: see chainrule/tensor.py
_tensor_methods.install(_tensor_module.Tensor, sys.modules[__name__])  # x.exp() is exp(x)

__all__ += reduction.__all__  # the reductions, as ops.reduction lists them

__all__ += [  # issue 14, part A
    "allclose",
    "argsort",
    "bmm",
    "ceil",
    "chunk",
    "clamp_max",
    "clamp_min",
    "cumprod",
    "cumsum",
    "diag",
    "diagonal",
    "dot",
    "einsum",
    "equal",
    "flip",
    "floor",
    "floor_divide",
    "index_add",
    "index_select",
    "isclose",
    "log2",
    "log10",
    "mm",
    "nonzero",
    "outer",
    "prod",
    "remainder",
    "roll",
    "round",
    "rsqrt",
    "scatter",
    "scatter_add",
    "sign",
    "sort",
    "split",
    "square",
    "tile",
    "topk",
    "trace",
    "tril",
    "triu",
    "trunc",
    "unbind",
    "unique",
]
