r"""Weight initialisers, with PyTorch's fan and gain rules.

For a weight of shape (out, in, *kernel), the receptive field is the product of the kernel
sizes, :math:`\mathrm{fan_{in}} = in \cdot rf` and :math:`\mathrm{fan_{out}} = out \cdot
rf`. Xavier (Glorot) keeps the variance of activations and gradients equal across a linear
layer: :math:`\mathrm{Var}(W) = g^2 \cdot 2/(\mathrm{fan_{in}} + \mathrm{fan_{out}})`.
Kaiming (He) compensates for ReLU halving the variance: :math:`\mathrm{Var}(W) = g^2 /
\mathrm{fan}` with gain :math:`g = \sqrt2`. A uniform distribution on :math:`[-a, a]` has
standard deviation :math:`a/\sqrt3`.

``zeros_``, ``ones_`` and ``constant_`` are here on purpose: a constant initialisation
makes every unit of a layer compute the same thing and receive the same gradient, so the
units never become different (the symmetry failure the lab demonstrates).

All draws come from the library's generator (``cr.manual_seed``). Every function writes
in place, without recording a graph, and returns its tensor. As in PyTorch, the Kaiming
initialisers leave a tensor with no elements (the weight of ``nn.Linear(0, 3)``, whose
fan-in is 0) as it is, with a warning, and ``orthogonal_`` silently.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from chainrule._backend import xp
from chainrule.autograd.grad_mode import no_grad
from chainrule.random import rng
from chainrule.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = {
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
}


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity: 1 (linear, conv, sigmoid), 5/3 (tanh),
    sqrt(2) (relu), sqrt(2 / (1 + slope^2)) (leaky_relu, slope 0.01 by default), 3/4 (selu)."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values) -> Tensor:
    with no_grad():
        tensor.copy_(xp.asarray(values))
    return tensor


def _gen(generator):
    return rng(generator)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Draws from U(a, b)."""
    return _fill(tensor, _gen(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Draws from N(mean, std^2)."""
    return _fill(tensor, _gen(generator).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Every element ``val`` (see the module docstring: this breaks learning on purpose)."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    r"""U(-a, a) with :math:`a = g\sqrt{6/(\mathrm{fan_{in}} + \mathrm{fan_{out}})}`."""
    fan_in, fan_out = _fans(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    r"""N(0, std^2) with :math:`std = g\sqrt{2/(\mathrm{fan_{in}} + \mathrm{fan_{out}})}`."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _empty(tensor: Tensor) -> bool:
    """Whether ``tensor`` has no elements (then its fan may be 0), warning as PyTorch does."""
    if tensor._array.size:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
    return True


# Mirrors PyTorch's signature, as kaiming_normal_ does.
def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    r"""U(-b, b) with :math:`b = \sqrt3 \, g/\sqrt{\mathrm{fan}}`, :math:`g` the gain of
    ``nonlinearity`` (with slope ``a`` for leaky_relu)."""
    if _empty(tensor):
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


# Mirrors PyTorch's signature (kaiming_uniform_'s).
def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    r"""N(0, std^2) with :math:`std = g/\sqrt{\mathrm{fan}}`."""
    if _empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix: the Q of the QR decomposition of a Gaussian matrix, its
    signs fixed so the distribution is uniform, reshaped to the tensor and scaled by gain.
    Rows (or columns, whichever are fewer) are orthonormal."""
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_ needs a tensor with at least 2 dimensions, got shape {tuple(tensor.shape)}"
        )
    if tensor._array.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor._array.size // rows
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
