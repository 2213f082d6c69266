"""Layers with PyTorch's shapes, defaults, layouts and default initialisation:
``Linear``, ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``, ``Identity``."""

from __future__ import annotations

import math

from chainrule import dtypes as _dt
from chainrule import ops
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter, changed_options
from chainrule.ops import conv as _conv
from chainrule.ops.linalg import Linear as _LinearOp
from chainrule.ops.padding import pad as _pad
from chainrule.tensor import Tensor, as_tensor, empty

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "Identity",
    "Linear",
    "MaxPool2d",
    "Unflatten",
    "layer_input",
]


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


def _weight_and_bias(layer: Module, weight_shape: tuple, bias_size: int | None, dtype) -> None:
    """Give ``layer`` a ``weight`` of ``weight_shape`` and a ``bias`` of ``bias_size``
    (None: no bias, registered as None, as PyTorch does), then initialise them with its
    ``reset_parameters``."""
    dt = _dt.or_default(dtype)
    layer.weight = Parameter(empty(*weight_shape, dtype=dt))
    if bias_size is None:
        layer.register_parameter("bias", None)
    else:
        layer.bias = Parameter(empty(bias_size, dtype=dt))
    layer.reset_parameters()


def _default_init(weight: Parameter, bias: Parameter | None) -> None:
    """PyTorch's default for a linear or convolution layer: kaiming_uniform_ with a =
    sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same
    interval. ``fan_in`` is the weight's dimension 1 times its kernel size."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = math.prod(weight.shape[1:])
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    r"""Fully connected layer: :math:`y = x W^\top + b`, ``weight`` (out, in), ``bias`` (out,).

    Input (..., in_features) -> output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        _weight_and_bias(self, (out_features, in_features), out_features if bias else None, dtype)

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias)

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


class _ConvNd(Module):
    """What the convolution layers share (PyTorch's ``_ConvNd``): the checks PyTorch
    makes, the options as tuples of one entry per spatial dimension, ``weight`` and
    ``bias`` with their initialisation, the input check and the repr. A subclass sets
    ``_spatial`` (the names of its spatial dimensions) and writes ``forward``."""

    _spatial: tuple = ()

    # Mirrors PyTorch's signature (Conv1d's and Conv2d's; ConvTranspose2d orders its own).
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
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        name, n = type(self).__name__, len(self._spatial)
        self.kernel_size = spatial_ints(kernel_size, "kernel_size", 1, n)
        self.stride = spatial_ints(stride, "stride", 1, n)
        self.dilation = spatial_ints(dilation, "dilation", 1, n)
        self.padding = conv_padding(name, padding, self.stride)
        check_conv_channels(name, in_channels, out_channels, groups, padding_mode)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups, self.padding_mode = groups, padding_mode
        self.output_padding = (0,) * n  # a transposed convolution's option
        self._reversed_padding_repeated_twice = reversed_padding(
            self.padding, self.kernel_size, self.dilation
        )
        _weight_and_bias(self, self._weight_shape(), out_channels if bias else None, dtype)

    def _weight_shape(self) -> tuple:
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias)

    def _input(self, x) -> Tensor:
        """``x`` in the layer's dtype, checked: (N, C_in, *spatial) or (C_in, *spatial)."""
        x = layer_input(x, self.weight._array.dtype, self)
        k = len(self._spatial)
        if x.ndim not in (k + 1, k + 2) or x.shape[-k - 1] != self.in_channels:
            dims = ", ".join(self._spatial)
            raise ShapeError(
                f"{self!r}: expected input of shape (N, {self.in_channels}, {dims}) or "
                f"({self.in_channels}, {dims}), got shape {tuple(x.shape)}"
            )
        return x

    def _padded(self, x: Tensor) -> tuple:
        """``x`` and the padding left for the convolution: with a ``padding_mode`` other
        than zeros, ``x`` padded by :func:`~chainrule.ops.padding.pad` and none left."""
        if self.padding_mode == "zeros":
            return x, self.padding
        return _pad(x, self._reversed_padding_repeated_twice, self.padding_mode), 0

    def extra_repr(self) -> str:
        """PyTorch's: the options that differ from their defaults."""
        zero, one = (0,) * len(self.kernel_size), (1,) * len(self.kernel_size)
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}" + changed_options(
            self, padding=zero, dilation=one, output_padding=zero, groups=1
        )
        text += "" if self.bias is not None else ", bias=False"
        return text + changed_options(self, padding_mode="zeros")


class Conv2d(_ConvNd):
    r"""2-D convolution (cross-correlation) over NCHW input: ``weight``
    (out, in / groups, kh, kw).

    Input (N, C_in, H, W) or (C_in, H, W) -> output (N, C_out, OH, OW), with
    :math:`OH = \lfloor (H + 2p - d(k_h - 1) - 1)/s \rfloor + 1`. ``groups`` splits the
    channels into that many independent convolutions (``groups=in_channels``: depthwise);
    ``padding_mode`` other than ``"zeros"`` pads with :func:`~chainrule.ops.padding.pad`
    (``"reflect"``, ``"replicate"``, ``"circular"``) before a convolution without padding.
    """

    _spatial = ("H", "W")

    def forward(self, x):
        x, padding = self._padded(self._input(x))
        return _conv.conv2d(
            x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


def spatial_ints(value, name: str, minimum: int, n: int) -> tuple:
    """A size option as a tuple of ``n`` ints (one per spatial dimension): an int is
    repeated, a sequence must have ``n`` entries."""
    if n == 2:
        return _conv.pair_of_ints(value, name, minimum)
    if isinstance(value, tuple | list) and len(value) == 1:
        value = value[0]
    return (_conv.pair_of_ints(value, name, minimum)[0],)


def conv_padding(name: str, padding, stride: tuple):
    """A convolution layer's ``padding``: ``"same"`` or ``"valid"`` as given (``"same"``
    needs stride 1), numbers as a tuple with one entry per spatial dimension."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be 'same', 'valid' or numbers, got {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        return padding
    return spatial_ints(padding, "padding", 0, len(stride))


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_conv_channels(name: str, cin: int, cout: int, groups, padding_mode: str) -> None:
    """The checks PyTorch makes when a convolution layer is built."""
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
    if cin % groups:
        raise ValueError(f"{name}: in_channels ({cin}) must be divisible by groups ({groups})")
    if cout % groups:
        raise ValueError(f"{name}: out_channels ({cout}) must be divisible by groups ({groups})")
    if padding_mode not in PADDING_MODES:
        raise ValueError(
            f"{name}: padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}, "
            f"got {padding_mode!r}"
        )


def reversed_padding(padding, kernel: tuple, dilation: tuple) -> tuple:
    """``padding`` as :func:`~chainrule.ops.padding.pad` takes it: (left, right) pairs from
    the last dimension backwards; for ``"same"`` the odd extra goes right, as in PyTorch."""
    out = []
    for i in reversed(range(len(kernel))):
        if padding == "valid":
            out += [0, 0]
        elif padding == "same":
            total = dilation[i] * (kernel[i] - 1)
            out += [total // 2, total - total // 2]
        else:
            out += [padding[i], padding[i]]
    return tuple(out)


class _MaxPoolNd(Module):
    """The options of the max-pooling layers (PyTorch's ``_MaxPoolNd``); a subclass
    writes ``forward``."""

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def _options(self) -> tuple:
        """The options in the order the functionals take them."""
        return (
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


class MaxPool2d(_MaxPoolNd):
    """The maximum over each kernel_size window (stride defaults to kernel_size)."""

    def forward(self, x):
        return _conv.max_pool2d(x, *self._options())


class _AvgPoolNd(Module):
    """The repr of the average-pooling layers; their constructors differ, as PyTorch's do."""

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """The mean over each kernel_size window (stride defaults to kernel_size)."""

    # Mirrors PyTorch's signature, which is F.avg_pool2d's after the input.
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


class Flatten(Module):
    """Merge dimensions ``start_dim`` to ``end_dim`` (by default all but the batch)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """The inverse of ``Flatten``: split dimension ``dim`` into ``unflattened_size``
    (one entry may be -1, inferred), e.g. (N, 12) -> (N, 3, 4)."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(unflattened_size, tuple | list):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got "
                f"{type(unflattened_size).__name__}"
            )
        for i, n in enumerate(unflattened_size):
            if not isinstance(n, int) or isinstance(n, bool):
                raise TypeError(
                    f"Unflatten: unflattened_size must be a tuple of ints, got "
                    f"{type(n).__name__} at position {i}"
                )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, x):
        x = as_tensor(x)
        d = ops.normalize_dim(self.dim, x.ndim, "Unflatten")
        sizes = tuple(self.unflattened_size)
        known = math.prod(n for n in sizes if n != -1)
        n = x.shape[d]
        if sizes.count(-1) > 1 or (n != known if -1 not in sizes else (known == 0 or n % known)):
            raise ShapeError(
                f"Unflatten: sizes {list(sizes)} do not multiply up to the size of dimension "
                f"{self.dim} ({n}) of the input of shape {tuple(x.shape)}"
            )
        return ops.reshape(x, (*x.shape[:d], *sizes, *x.shape[d + 1 :]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x
