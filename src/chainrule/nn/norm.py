r"""Normalisation: ``batch_norm`` / ``BatchNorm1d`` / ``BatchNorm2d`` and ``layer_norm`` /
``LayerNorm``.

Batch normalisation (placed between a layer's linear map and its activation) normalises
each feature over the batch, :math:`\hat x = (x - \mu_B)/\sqrt{\sigma_B^2 + \epsilon}`,
then scales and shifts, :math:`y = \gamma\hat x + \beta`, so each layer sees inputs that
stay roughly unit Gaussian as the layers below it change. Conventions (PyTorch's):

* training: :math:`\mu_B` and the *biased* variance :math:`\sigma_B^2 = \frac1n\sum(x -
  \mu_B)^2` normalise; the running estimates are updated with the *unbiased* variance,
  :math:`r \leftarrow (1 - m) r + m\, s` with momentum :math:`m = 0.1` (``momentum=None``:
  a cumulative average, :math:`m = 1/t`);
* evaluation: the running estimates normalise, so the output of one sample does not
  depend on the rest of its batch.

Both are one primitive, :class:`~chainrule.ops.normalization.Normalize`, whose docstring
derives the gradient, through the batch statistics too.
"""

from __future__ import annotations

import math

from chainrule import dtypes as _dt
from chainrule._recording import replayable
from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ShapeError
from chainrule.nn.layers import layer_input
from chainrule.nn.module import Module, Parameter
from chainrule.ops.normalization import batch_statistics, normalize
from chainrule.tensor import Tensor, as_tensor, ones, tensor, zeros

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "batch_norm", "layer_norm"]


# Mirrors PyTorch's signature (F.batch_norm), on purpose.
def batch_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Normalise each channel (dimension 1) over the batch and any spatial dimensions.

    With ``training`` the batch statistics are used and ``running_mean``/``running_var``
    (if given) are updated in place; otherwise the running statistics are used.
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, ...), got {tuple(x.shape)}")
    c = x.shape[1]
    if c == 0:  # an IndexError, as PyTorch raises
        raise IndexError(
            f"batch_norm: the input of shape {tuple(x.shape)} has no channels (dimension 1 is "
            "0), so there is nothing to normalise; was the layer built with num_features=0?"
        )
    axes = (0, *range(2, x.ndim))
    shape = (1, c) + (1,) * (x.ndim - 2)
    w = None if weight is None else weight.reshape(shape)
    b = None if bias is None else bias.reshape(shape)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running_mean and running_var")
        mean, var = running_statistics(running_mean, running_var, shape)
        return normalize(x, axes, w, b, eps, mean, var, fixed=True)
    n = x._array.size // c
    if n <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {tuple(x.shape)}"
        )
    mean, var = batch_statistics(x._array, axes)
    if running_mean is not None and running_var is not None:
        update_running_statistics(running_mean, running_var, mean, var, momentum, n)
    return normalize(x, axes, w, b, eps, mean, var)


@replayable
def running_statistics(running_mean, running_var, shape: tuple) -> tuple:
    """The running estimates, shaped to broadcast against the input (evaluation)."""
    return running_mean._array.reshape(shape), running_var._array.reshape(shape)


@replayable
def update_running_statistics(running_mean, running_var, mean, var, m: float, n: int) -> None:
    r""":math:`r \leftarrow (1 - m)\, r + m\, s`, in place, with the batch's mean and its
    *unbiased* variance (``var`` is the biased one over ``n`` values)."""
    c = running_mean._array.size
    with no_grad():
        running_mean.copy_((1 - m) * running_mean._array + m * mean.reshape(c))
        running_var.copy_((1 - m) * running_var._array + m * var.reshape(c) * (n / (n - 1)))


def norm_input(x, layer: Module, state: Tensor | None) -> Tensor:
    """``x`` in the dtype of the layer's ``state`` (its weight, or its running mean);
    for a layer with neither, a floating tensor of its own dtype."""
    if state is not None:
        return layer_input(x, state._array.dtype, layer)
    x = as_tensor(x)
    return x if x._array.dtype.kind == "f" else x.to(_dt.get_default_dtype())


def affine_parameters(layer: Module, shape: tuple, affine: bool, bias: bool, dtype) -> None:
    """``layer.weight`` (ones) and ``layer.bias`` (zeros) of ``shape``, the scale and
    shift after normalising; registered as None without ``affine`` (the bias also
    without ``bias``)."""
    dt = _dt.or_default(dtype)
    if affine:
        layer.weight = Parameter(ones(*shape, dtype=dt))
    else:
        layer.register_parameter("weight", None)
    if affine and bias:
        layer.bias = Parameter(zeros(*shape, dtype=dt))
    else:
        layer.register_parameter("bias", None)


class _BatchNorm(Module):
    _dims: tuple = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self._has_bias = affine and bias
        affine_parameters(self, (num_features,), affine, bias, dtype)
        dt = _dt.or_default(dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt))
            self.register_buffer("running_var", ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=_dt.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _input(self, x) -> Tensor:
        """``x`` in the layer's dtype, with one of the numbers of dimensions in ``_dims``."""
        x = norm_input(x, self, self.weight if self.weight is not None else self.running_mean)
        if x.ndim not in self._dims:
            raise ShapeError(
                f"{self!r}: expected {' or '.join(f'{d}-D' for d in self._dims)} input, got shape {tuple(x.shape)}"
            )
        return x

    def forward(self, x):
        x = self._input(x)
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{self!r}: expected {self.num_features} features/channels in dimension 1, "
                f"got input of shape {tuple(x.shape)}"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked._array)
        use_batch = self.training or self.running_mean is None
        tracking = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if tracking else None,
            self.running_var if tracking else None,
            self.weight,
            self.bias,
            use_batch,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self._has_bias}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input over N (and L)."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input over N, H and W, per channel."""

    _dims = (4,)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise over the last ``len(normalized_shape)`` dimensions of each sample (biased
    variance), then scale and shift: independent of the batch, same in training and eval."""
    x = as_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k :]) != shape or x.ndim < k:
        raise ShapeError(
            f"layer_norm: expected input whose last dimensions are {shape}, got shape {tuple(x.shape)}"
        )
    return normalize(x, range(x.ndim - k, x.ndim), weight, bias, eps)


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` of each sample."""

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype=None,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self._has_bias = bias
        affine_parameters(self, shape, elementwise_affine, bias, dtype)
        self._numel = math.prod(shape)

    def forward(self, x):
        x = norm_input(x, self, self.weight)
        if tuple(x.shape[x.ndim - len(self.normalized_shape) :]) != self.normalized_shape:
            raise ShapeError(
                f"{self!r}: expected input whose last dimensions are {self.normalized_shape}, "
                f"got shape {tuple(x.shape)}"
            )
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self._has_bias}"
        )
