"""chainrule's ops, by family. Each primitive is an :class:`~chainrule.autograd.function.Op`
subclass holding its forward, its derivative and its conventions; the functions here
check arguments, promote dtypes and call them."""

import sys

from chainrule import tensor as _tensor_module
from chainrule.errors import ShapeError
from chainrule.ops._common import normalize_dim, normalize_dims
from chainrule.ops.arithmetic import add, div, mul, neg, pow, sub
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
from chainrule.ops.indexing import gather, getitem, index_add, normalize_index
from chainrule.ops.linalg import linear, matmul
from chainrule.ops.reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    max,
    mean,
    min,
    norm,
    std,
    sum,
    var,
)
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

# The recorded forms of in-place writes, used by ops.inplace (not public names).
from chainrule.ops.writes import assign as assign
from chainrule.ops.writes import assign_at as assign_at

__all__ = [
    "ShapeError",
    "abs",
    "add",
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
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
    "index_add",
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
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "ne",
    "neg",
    "norm",
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
    "std",
    "sub",
    "sum",
    "tanh",
    "transpose",
    "unsqueeze",
    "var",
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
