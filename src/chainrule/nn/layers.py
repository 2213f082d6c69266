"""Layers with PyTorch's shapes, defaults, layouts and default initialisation:
``Linear``, ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``, ``Identity``."""

from __future__ import annotations

import math

from chainrule import dtypes as _dt
from chainrule import ops
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops import conv as _conv
from chainrule.ops.linalg import Linear as _LinearOp
from chainrule.tensor import Tensor, as_tensor, empty

__all__ = ["AvgPool2d", "Conv2d", "Flatten", "Identity", "Linear", "MaxPool2d", "layer_input"]


def layer_input(x, dtype, layer: Module) -> Tensor:
    """``x`` as a tensor of the layer's dtype: arrays are wrapped, a floating input of
    another dtype is cast (so float64 NumPy data feeds a float32 model). Integer input
    is refused, since silently treating labels or pixels as features hides bugs."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x._array.dtype == dtype:
        return x
    if x._array.dtype.kind != "f":
        raise TypeError(
            f"{type(layer).__name__} expects floating-point input, got dtype {x._array.dtype}; "
            "convert it first (e.g. x.float() / 255)"
        )
    return x.to(dtype)


def _default_init(weight: Parameter, bias: Parameter | None, fan_in: int) -> None:
    # PyTorch's default: kaiming_uniform_ with a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    # and the bias from the same interval.
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


def _dtype(dtype):
    return _dt.get_default_dtype() if dtype is None else _dt.to_dtype(dtype)


class Linear(Module):
    r"""Fully connected layer: :math:`y = x W^\top + b`, ``weight`` (out, in), ``bias`` (out,).

    Input (..., in_features) -> output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        dt = _dtype(dtype)
        self.weight = Parameter(empty(out_features, in_features, dtype=dt))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias, self.in_features)

    def forward(self, x):
        weight = self.weight
        x = layer_input(x, weight._array.dtype, self)
        shape = x._array.shape
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(
                f"{self!r}: expected input with last dimension {self.in_features} "
                f"(in_features), got shape {tuple(shape)}"
            )
        return _LinearOp.apply(x, weight, self.bias)  # checked here, so straight to the primitive

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    r"""2-D convolution (cross-correlation) over NCHW input: ``weight`` (out, in, kh, kw).

    Input (N, C_in, H, W) or (C_in, H, W) -> output (N, C_out, OH, OW), with
    :math:`OH = \lfloor (H + 2p - d(k_h - 1) - 1)/s \rfloor + 1`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype=None,
    ) -> None:
        super().__init__()
        if groups != 1:
            raise ValueError(f"Conv2d: groups={groups} is not supported (only groups=1)")
        if padding_mode != "zeros":
            raise ValueError(
                f"Conv2d: padding_mode={padding_mode!r} is not supported (only 'zeros')"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _conv.pair_of_ints(kernel_size, "kernel_size", 1)
        self.stride = _conv.pair_of_ints(stride, "stride", 1)
        self.padding = (
            padding if isinstance(padding, str) else _conv.pair_of_ints(padding, "padding", 0)
        )
        self.dilation = _conv.pair_of_ints(dilation, "dilation", 1)
        dt = _dtype(dtype)
        self.weight = Parameter(empty(out_channels, in_channels, *self.kernel_size, dtype=dt))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias, self.in_channels * math.prod(self.kernel_size))

    def forward(self, x):
        x = layer_input(x, self.weight._array.dtype, self)
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ShapeError(
                f"{self!r}: expected input of shape (N, {self.in_channels}, H, W) or "
                f"({self.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        return _conv.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        return text


class MaxPool2d(Module):
    """The maximum over each kernel_size window (stride defaults to kernel_size)."""

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x):
        return _conv.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """The mean over each kernel_size window (stride defaults to kernel_size)."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return _conv.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Flatten(Module):
    """Merge dimensions ``start_dim`` to ``end_dim`` (by default all but the batch)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x
