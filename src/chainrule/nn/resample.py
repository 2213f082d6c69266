r"""Resizing images and sequences: ``interpolate`` and the ``Upsample`` module.

Every mode is separable, one spatial dimension at a time, and composed:

* ``nearest``: output position :math:`t` reads input position
  :math:`\min(\lfloor t\,s \rfloor, L - 1)`, with :math:`s = L/L_{out}` (or
  :math:`1/\text{scale\_factor}` when a scale factor is given); ``nearest-exact`` reads
  :math:`\min(\lfloor (t + \tfrac12)s \rfloor, L - 1)`. A gather, so the backward adds
  each output gradient to the position it was read from. For an integer upsampling
  factor k every row is repeated k times, which is a broadcast (backward: a sum of the k
  copies).
* ``linear``, ``bilinear``, ``trilinear``: position :math:`t` reads the point
  :math:`u = (t + \tfrac12)s - \tfrac12` (clamped at 0), or :math:`u = t\,(L-1)/(L_{out}-1)`
  with ``align_corners=True`` (the corner pixels of input and output then coincide), and
  mixes its two neighbours: :math:`(1 - \lambda)\,x_{\lfloor u \rfloor} + \lambda\,
  x_{\lfloor u \rfloor + 1}`, :math:`\lambda = u - \lfloor u \rfloor`. That is a matrix
  :math:`A` (:math:`L_{out} \times L`) with two weights per row, applied along each
  dimension: :math:`Y = A_H X A_W^\top`, whose backward is :math:`\bar X = A_H^\top \bar Y
  A_W`. The positions and weights are computed as PyTorch computes them, in the input's
  precision.
* ``area``: adaptive average pooling to the output size.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._backend import xp
from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.nn.pooling import adaptive_avg_pool2d
from chainrule.ops.indexing import getitem
from chainrule.ops.linalg import matmul
from chainrule.ops.shape import broadcast_to
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = ["Upsample", "interpolate"]

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}
MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")


def _per_dim(value, k: int, name: str) -> list:
    if isinstance(value, tuple | list):
        if len(value) != k:
            raise ValueError(
                f"interpolate: {name} {tuple(value)} has {len(value)} entries, but the input "
                f"has {k} spatial dimensions; give one per spatial dimension of the "
                "(N, C, d1, ..., dk) input"
            )
        return list(value)
    return [value] * k


def _plan(x: Tensor, size, scale_factor, recompute_scale_factor) -> tuple:
    """The output sizes, and the scale factors the index formulas use (None: in/out)."""
    k = x.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: give only one of size and scale_factor")
    if size is None and scale_factor is None:
        raise ValueError("interpolate: give either size or scale_factor")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor has no meaning with a size")
        out = [int(s) for s in _per_dim(size, k, "size")]
        scales = [None] * k
    else:
        factors = [float(f) for f in _per_dim(scale_factor, k, "scale_factor")]
        out = [math.floor(float(n) * f) for n, f in zip(x.shape[2:], factors)]
        scales = [None] * k if recompute_scale_factor else factors
    if min(out) < 1:
        raise ShapeError(
            f"interpolate: input and output sizes must be positive, got input "
            f"{tuple(x.shape[2:])} and output {tuple(out)}"
        )
    return out, scales


def _ratio(n_in: int, n_out: int, scale, dtype):
    """PyTorch's scale: 1/scale_factor when one was given, else n_in/n_out, in ``dtype``."""
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(n_in) / dtype.type(n_out)


def _nearest_source(n_in: int, n_out: int, scale, exact: bool) -> np.ndarray:
    t = np.arange(n_out)
    if not exact and n_out == n_in:
        return t
    if not exact and n_out == 2 * n_in:
        return t // 2
    s = _ratio(n_in, n_out, scale, np.dtype(np.float32))  # float32, as PyTorch's kernel
    u = (t.astype(np.float32) + np.float32(0.5)) * s if exact else t.astype(np.float32) * s
    return np.minimum(np.floor(u).astype(np.int64), n_in - 1)


def _linear_matrix(n_in: int, n_out: int, scale, align_corners: bool, dtype) -> np.ndarray:
    """(n_out, n_in): row t holds the two weights of output position t's neighbours."""
    t = np.arange(n_out).astype(dtype)
    if align_corners:
        s = dtype.type(n_in - 1) / dtype.type(n_out - 1) if n_out > 1 else dtype.type(0)
        u = s * t
    else:
        s = _ratio(n_in, n_out, scale, dtype)
        u = np.maximum(s * (t + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    low = np.minimum(np.floor(u).astype(np.int64), n_in - 1)
    lam = np.clip(u - low.astype(dtype), 0, 1).astype(dtype)
    high = np.where(low < n_in - 1, low + 1, low)
    a = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    np.add.at(a, (rows, low), (1 - lam).astype(dtype))
    np.add.at(a, (rows, high), lam)
    return a


def _nearest(x: Tensor, sources: list) -> Tensor:
    """``x`` read at the ``sources`` positions of each spatial dimension. Where every
    position is simply repeated k times (upsampling by an integer factor), the rows are
    broadcast k times instead, all such dimensions in one copy: the same values, and a
    backward that sums the k copies rather than scattering one gradient at a time."""
    repeats, gathers = [], []
    for i, j in enumerate(sources):
        n = x.shape[2 + i]
        times = len(j) // n
        if times * n == len(j) and np.array_equal(j, np.arange(len(j)) // times):
            repeats.append(times)
        else:
            repeats.append(1)
            gathers.append((2 + i, j))
    if any(t > 1 for t in repeats):
        spatial = x.shape[2:]
        split = [d for n, t in zip(spatial, repeats) for d in (n, 1)]
        wide = [d for n, t in zip(spatial, repeats) for d in (n, t)]
        x = broadcast_to(x.reshape(*x.shape[:2], *split), (*x.shape[:2], *wide))
        x = x.reshape(*x.shape[:2], *(n * t for n, t in zip(spatial, repeats)))
    for axis, j in gathers:
        index = [slice(None)] * x.ndim
        index[axis] = j
        x = getitem(x, tuple(index))
    return x


# Mirrors PyTorch's signature (F.interpolate), which nn.Upsample repeats on purpose.
def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
):
    """Resize the spatial dimensions of an (N, C, d1, ..., dk) input (k = 1, 2 or 3) to
    ``size``, or by ``scale_factor``; see the module docstring for the modes."""
    x = as_tensor(input)
    if mode not in MODES:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported; the modes are "
            f"{', '.join(map(repr, MODES))}"
        )
    if align_corners is not None and mode not in _LINEAR:
        raise ValueError(
            "interpolate: align_corners applies only to the modes linear, bilinear and trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if x.ndim not in (3, 4, 5):
        raise NotImplementedError(
            f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, d1, ...), got shape "
            f"{tuple(x.shape)}"
        )
    if mode in _LINEAR and x.ndim != _LINEAR[mode]:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} needs a {_LINEAR[mode]}-D input, got {x.ndim}-D"
        )
    if x._array.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got dtype {x._array.dtype}")
    out, scales = _plan(x, size, scale_factor, recompute_scale_factor)
    k = x.ndim - 2
    if mode == "area":
        if k != 2:
            raise NotImplementedError("interpolate: mode 'area' is supported for 4-D input only")
        return adaptive_avg_pool2d(x, tuple(out))
    if mode.startswith("nearest"):
        sources = [
            _nearest_source(n_in, n_out, s, mode == "nearest-exact")
            for n_in, n_out, s in zip(x.shape[2:], out, scales)
        ]
        return _nearest(x, sources)
    dtype = np.dtype(np.float32) if x._array.dtype.itemsize < 8 else x._array.dtype
    y = x
    for i, (n_in, n_out, s) in enumerate(zip(x.shape[2:], out, scales)):
        a = _linear_matrix(n_in, n_out, s, bool(align_corners), dtype).astype(x._array.dtype)
        axis = 2 + i
        if axis != y.ndim - 1:
            y = y.transpose(axis, -1)
        y = matmul(y, _make(xp.asarray(a.T.copy()), None, False))
        if axis != y.ndim - 1:
            y = y.transpose(axis, -1)
    return y


class Upsample(Module):
    """``interpolate`` as a layer: to ``size``, or by ``scale_factor``."""

    # Mirrors PyTorch's signature (F.interpolate's after the input), on purpose.
    def __init__(
        self,
        size=None,
        scale_factor=None,
        mode: str = "nearest",
        align_corners=None,
        recompute_scale_factor=None,
    ) -> None:
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        if isinstance(scale_factor, tuple | list):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return interpolate(
            x,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"
