r"""Convolutions and pooling over sequences (1-D), and the transposed 2-D convolution.

A sequence (N, C, L) is an image (N, C, 1, L) of height 1, and a 1-D kernel k is a
(1, k) one: ``conv1d``, ``max_pool1d`` and ``avg_pool1d`` are their 2-D forms on that
view, so they share the 2-D derivatives (and their conventions at ties). The transposed
convolution is :class:`~chainrule.ops.conv_transpose.ConvTranspose2d`, the adjoint of a
convolution.
"""

from __future__ import annotations

from chainrule.errors import ShapeError
from chainrule.nn.layers import _AvgPoolNd, _ConvNd, _MaxPoolNd, spatial_ints
from chainrule.ops import conv as _conv
from chainrule.ops.conv_transpose import conv_transpose2d, transposed_output_size
from chainrule.tensor import Tensor, as_tensor

__all__ = [
    "AvgPool1d",
    "Conv1d",
    "ConvTranspose2d",
    "MaxPool1d",
    "avg_pool1d",
    "conv1d",
    "conv_transpose2d",
    "max_pool1d",
]


def _single(value, name: str, minimum: int) -> int:
    """An int, or a sequence holding one, as PyTorch's 1-D layers accept."""
    return spatial_ints(value, name, minimum, 1)[0]


def _sequence(input, op: str) -> Tensor:
    """``input`` as (N, C, 1, L) or (C, 1, L): a sequence as an image of height 1."""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ShapeError(
            f"{op}: expected a 3-D input (N, C, L) or a 2-D one (C, L), got shape {tuple(x.shape)}"
        )
    return x.unsqueeze(-2)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: ``input`` (N, C, L) or (C, L), ``weight`` (O, C / groups, k),
    ``bias`` (O,); ``padding`` an int, ``"valid"`` or ``"same"``."""
    w = as_tensor(weight)
    if w.ndim != 3:
        raise ShapeError(
            f"conv1d: weight must be 3-D (out, in/groups, k), got shape {tuple(w.shape)}"
        )
    groups = _conv._groups(groups, w.shape[0], "conv1d", tuple(w.shape))
    x = _sequence(input, "conv1d")
    if x.shape[-3] != w.shape[1] * groups:
        raise ShapeError(
            f"conv1d: expected input with {w.shape[1] * groups} channels (N, "
            f"{w.shape[1] * groups}, L), got shape {tuple(x.squeeze(-2).shape)}"
        )
    p = padding if isinstance(padding, str) else (0, _single(padding, "padding", 0))
    s, d = _single(stride, "stride", 1), _single(dilation, "dilation", 1)
    out = _conv.conv2d(x, w.unsqueeze(2), bias, (1, s), p, (1, d), groups)
    return out.squeeze(-2)


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """The maximum of each window of a sequence; at ties the first element takes the
    gradient, as in PyTorch."""
    k = _single(kernel_size, "kernel_size", 1)
    s = k if stride is None or stride == [] else _single(stride, "stride", 1)
    p, d = _single(padding, "padding", 0), _single(dilation, "dilation", 1)
    x = _sequence(input, "max_pool1d")
    out = _conv.max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    return out.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each window of a sequence (``count_include_pad=False``: padding is not
    counted in the divisor)."""
    k = _single(kernel_size, "kernel_size", 1)
    s = k if stride is None or stride == [] else _single(stride, "stride", 1)
    p = _single(padding, "padding", 0)
    x = _sequence(input, "avg_pool1d")
    out = _conv.avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad)
    return out.squeeze(-2)


class Conv1d(_ConvNd):
    r"""1-D convolution over (N, C_in, L) or (C_in, L): ``weight`` (out, in / groups, k).

    Output length :math:`\lfloor (L + 2p - d(k - 1) - 1)/s \rfloor + 1`; ``groups`` and
    ``padding_mode`` as in :class:`~chainrule.nn.Conv2d`.
    """

    _spatial = ("L",)

    def forward(self, x):
        x, padding = self._padded(self._input(x))
        return conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    r"""Transposed 2-D convolution (see :mod:`chainrule.ops.conv_transpose`): ``weight``
    (in, out / groups, kh, kw), output size
    :math:`(H - 1)s - 2p + d(k - 1) + p_{out} + 1`. ``forward(x, output_size=None)``:
    an ``output_size`` picks ``output_padding`` so that the output has that size.
    """

    _spatial = ("H", "W")

    # Mirrors PyTorch's signature (its options in another order than Conv2d's).
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f"ConvTranspose2d: only padding_mode='zeros' is supported, got {padding_mode!r}"
            )
        if isinstance(padding, str):
            raise ValueError(
                f"ConvTranspose2d: padding must be an integer or a pair of them, got {padding!r}"
            )
        c_in, c_out = in_channels, out_channels
        super().__init__(
            c_in, c_out, kernel_size, stride, padding, dilation, groups, bias, dtype=dtype
        )
        self.output_padding = _conv.pair_of_ints(output_padding, "output_padding", 0)

    def _weight_shape(self) -> tuple:
        return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        size = list(output_size)
        if len(size) == x.ndim:
            size = size[-2:]
        if len(size) != 2:
            raise ValueError(
                f"ConvTranspose2d: for {x.ndim}-D input, output_size must have 2 or {x.ndim} "
                f"elements, got {len(size)}"
            )
        zero = (0, 0)
        low = transposed_output_size(
            x.shape[-2:], self.kernel_size, self.stride, self.padding, zero, self.dilation
        )
        high = tuple(low[i] + self.stride[i] - 1 for i in (0, 1))
        if any(not low[i] <= size[i] <= high[i] for i in (0, 1)):
            raise ValueError(
                f"ConvTranspose2d: requested an output size of {size}, but valid sizes range "
                f"from {list(low)} to {list(high)} (for an input of spatial size "
                f"{tuple(x.shape[-2:])})"
            )
        return (size[0] - low[0], size[1] - low[1])

    def forward(self, x, output_size=None):
        x = self._input(x)
        return conv_transpose2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(x, output_size),
            self.groups,
            self.dilation,
        )


class MaxPool1d(_MaxPoolNd):
    """The maximum over each ``kernel_size`` window of a sequence (stride defaults to
    ``kernel_size``)."""

    def forward(self, x):
        return max_pool1d(x, *self._options())


class AvgPool1d(_AvgPoolNd):
    """The mean over each ``kernel_size`` window of a sequence (stride defaults to
    ``kernel_size``)."""

    # Mirrors PyTorch's signature (AvgPool2d's, without divisor_override).
    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
    ) -> None:
        super().__init__()
        self.kernel_size = (_single(kernel_size, "kernel_size", 1),)
        self.stride = (_single(stride, "stride", 1),) if stride else self.kernel_size
        self.padding = (_single(padding, "padding", 0),)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return avg_pool1d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )
