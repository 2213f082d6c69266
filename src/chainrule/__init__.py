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
    accelerator,
    autograd,
    backends,
    cuda,
    data,
    diagnostics,
    drill,
    dtypes,
    linalg,
    nn,
    optim,
    random,
    train,
    utils,
)
from chainrule._allocator import tune_allocator
from chainrule.autograd import (
    enable_grad,
    explain,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.compile import compile
from chainrule.devices import device, get_default_device, set_default_device
from chainrule.dtypes import (
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from chainrule.errors import LabelError, ShapeError
from chainrule.generator import Generator, initial_seed, manual_seed, seed
from chainrule.generator import default as default_generator
from chainrule.io import load, save
from chainrule.ops import *  # noqa: F403
from chainrule.ops import __all__ as _ops_all
from chainrule.ops.draws import (
    bernoulli,
    multinomial,
    normal,
    rand_like,
    randint_like,
    randn_like,
    randperm,
)
from chainrule.printing import get_printoptions, printoptions, set_printoptions
from chainrule.size import Size
from chainrule.tensor import *  # noqa: F403
from chainrule.tensor import __all__ as _tensor_all

__all__ = [  # noqa: PLE0604 (the tensor names are spliced in below)
    "Generator",
    "LabelError",
    "ShapeError",
    "Size",
    "__version__",
    "accelerator",
    "autograd",
    "backends",
    "bernoulli",
    "compile",
    "cuda",
    "data",
    "default_generator",
    "device",
    "diagnostics",
    "drill",
    "explain",
    "bool",
    "double",
    "dtype",
    "dtypes",
    "enable_grad",
    "float",
    "float16",
    "float32",
    "float64",
    "get_default_device",
    "get_default_dtype",
    "half",
    "inference_mode",
    "initial_seed",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "load",
    "long",
    "save",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "manual_seed",
    "multinomial",
    "nn",
    "normal",
    "optim",
    "no_grad",
    "rand_like",
    "randint_like",
    "randn_like",
    "random",
    "randperm",
    "seed",
    "set_default_device",
    "set_default_dtype",
    "short",
    "tune_allocator",
    "set_grad_enabled",
    "train",
    "uint8",
    "utils",
    "get_printoptions",
    "linalg",
    "printoptions",
    "set_printoptions",
    *_ops_all,
    *_tensor_all,
]
