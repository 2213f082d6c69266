r"""Normalisation within each sample: ``group_norm`` / ``GroupNorm`` and ``instance_norm``
/ ``InstanceNorm1d`` / ``InstanceNorm2d``.

Batch norm standardises a channel over the batch; these standardise within one sample,
so a sample's output never depends on the rest of its batch and batches of one work:

* group norm splits the C channels into G groups and standardises each group of each
  sample over its channels and positions (G = 1: over the whole sample; G = C: instance
  norm);
* instance norm standardises each channel of each sample over its positions (the
  contrast of one image, in style transfer).

Both then scale and shift per channel, :math:`y = \gamma\hat x + \beta`, with the biased
variance, as in PyTorch. Each is one call of the
:class:`~chainrule.ops.normalization.Normalize` primitive on a reshaped view (group norm:
(N, G, C/G, positions), standardised over the last two axes, with :math:`\gamma`
reshaped to (1, G, C/G, 1)), so the derivative is the one derived there, statistics
included.
"""

from __future__ import annotations

import math
import warnings

from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.nn.norm import _BatchNorm, affine_parameters, norm_input
from chainrule.ops.normalization import batch_statistics, normalize
from chainrule.tensor import as_tensor

__all__ = [
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "group_norm",
    "instance_norm",
]


def _per_channel(name: str, value, c: int, shape: tuple, x_shape: tuple):
    """A weight or bias of shape (C,) reshaped to broadcast as ``shape``."""
    if value is None:
        return None
    v = as_tensor(value)
    if tuple(v.shape) != (c,):
        raise ShapeError(
            f"{name} must have one entry per channel, shape ({c},), for input of shape "
            f"{x_shape}, got {tuple(v.shape)}"
        )
    return v.reshape(shape)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Standardise each of ``num_groups`` channel groups of each sample of an (N, C, *)
    input over its channels and positions, then scale and shift per channel."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ShapeError(f"group_norm: expected input of shape (N, C, ...), got {tuple(x.shape)}")
    n, c = x.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ShapeError(
            f"group_norm: the {c} channels of the input (shape {tuple(x.shape)}) must be "
            f"divisible by num_groups={num_groups}"
        )
    g = num_groups
    shape = (1, g, c // g, 1)
    w = _per_channel("group_norm: weight", weight, c, shape, tuple(x.shape))
    b = _per_channel("group_norm: bias", bias, c, shape, tuple(x.shape))
    positions = math.prod(x.shape[2:])
    grouped = x.reshape(n, g, c // g, positions)
    return normalize(grouped, (2, 3), w, b, eps).reshape(x.shape)


# Mirrors PyTorch's signature (F.instance_norm), on purpose.
def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Standardise each channel of each sample of an (N, C, *) input over its positions.

    With ``use_input_stats`` (training) each instance's own statistics are used and
    ``running_mean``/``running_var``, if given, move toward their average over the batch
    (the unbiased variance, as batch norm tracks); otherwise the running statistics are
    used."""
    x = as_tensor(input)
    if x.ndim < 3:
        raise ShapeError(
            f"instance_norm: expected input of shape (N, C, positions...), got {tuple(x.shape)}"
        )
    c = x.shape[1]
    axes = tuple(range(2, x.ndim))
    shape = (1, c) + (1,) * (x.ndim - 2)
    w = _per_channel("instance_norm: weight", weight, c, shape, tuple(x.shape))
    b = _per_channel("instance_norm: bias", bias, c, shape, tuple(x.shape))
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: without use_input_stats it needs running statistics")
        mean, var = running_mean._array.reshape(shape), running_var._array.reshape(shape)
        return normalize(x, axes, w, b, eps, mean, var, fixed=True)
    count = math.prod(x.shape[2:])
    if count <= 1:
        raise ValueError(
            f"instance_norm: expected more than 1 position per channel when using the input's "
            f"statistics, got input of shape {tuple(x.shape)}"
        )
    mean, var = batch_statistics(x._array, axes)
    if running_mean is not None and running_var is not None:
        with no_grad():
            m = momentum
            batch_mean = mean.reshape(x.shape[:2]).mean(0)
            batch_var = var.reshape(x.shape[:2]).mean(0) * (count / (count - 1))
            running_mean.copy_((1 - m) * running_mean._array + m * batch_mean)
            running_var.copy_((1 - m) * running_var._array + m * batch_var)
    return normalize(x, axes, w, b, eps, mean, var)


class GroupNorm(Module):
    """Group normalisation of (N, C, *) input: ``num_groups`` groups of the
    ``num_channels`` channels, ``weight`` ones and ``bias`` zeros of shape (C,)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups,
            num_channels,
            eps,
            affine,
        )
        self._has_bias = affine and bias
        affine_parameters(self, (num_channels,), affine, bias, dtype)

    def forward(self, x):
        x = norm_input(x, self, self.weight)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(
                f"{self!r}: expected input of shape (N, {self.num_channels}, ...), got shape "
                f"{tuple(x.shape)}"
            )
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self._has_bias}"
        )


class _InstanceNorm(_BatchNorm):
    """Batch norm's parameters and buffers (PyTorch's ``_NormBase``), instance norm's
    forward. The defaults differ: no affine parameters and no running statistics."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias=bias)

    def forward(self, x):
        x = self._input(x)
        unbatched = x.ndim == self._dims[0]
        channel_dim = 0 if unbatched else 1
        if x.shape[channel_dim] != self.num_features:
            if self.affine:
                raise ShapeError(
                    f"{self!r}: expected {self.num_features} channels in dimension "
                    f"{channel_dim}, got input of shape {tuple(x.shape)}"
                )
            warnings.warn(
                f"{type(self).__name__}: the input has {x.shape[channel_dim]} channels in "
                f"dimension {channel_dim}, not num_features={self.num_features}; without "
                "affine parameters num_features is not used",
                stacklevel=2,
            )
        if unbatched:
            x = x.unsqueeze(0)
        out = instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,
            self.eps,
        )
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) input, over L per sample and channel."""

    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) input, over H and W per sample
    and channel."""

    _dims = (3, 4)
