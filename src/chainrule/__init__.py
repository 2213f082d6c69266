"""chainrule: the fundamentals of training neural networks, explicit and verified, on NumPy.

The API speaks PyTorch's dialect::

    import chainrule as cr

    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x ** 2).sum()
    y.backward()
    x.grad  # tensor([2., 4., 6.])
"""

__version__ = "0.1.0"

from chainrule import (
    autograd,
    data,
    diagnostics,
    drill,
    dtypes,
    nn,
    optim,
    random,
    train,
)
from chainrule._allocator import tune_allocator
from chainrule.autograd import enable_grad, explain, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.dtypes import (
    bool,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from chainrule.errors import LabelError, ShapeError
from chainrule.io import load, save
from chainrule.ops import *  # noqa: F403
from chainrule.ops import __all__ as _ops_all
from chainrule.random import manual_seed, seed
from chainrule.tensor import *  # noqa: F403
from chainrule.tensor import __all__ as _tensor_all

__all__ = [  # noqa: PLE0604 (the tensor names are spliced in below)
    "LabelError",
    "ShapeError",
    "__version__",
    "autograd",
    "data",
    "diagnostics",
    "drill",
    "explain",
    "bool",
    "dtypes",
    "enable_grad",
    "float16",
    "float32",
    "float64",
    "get_default_dtype",
    "int8",
    "int16",
    "int32",
    "int64",
    "load",
    "save",
    "is_grad_enabled",
    "manual_seed",
    "nn",
    "optim",
    "no_grad",
    "random",
    "seed",
    "set_default_dtype",
    "tune_allocator",
    "set_grad_enabled",
    "train",
    "uint8",
    *_ops_all,
    *_tensor_all,
]
