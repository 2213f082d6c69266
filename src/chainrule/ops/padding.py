r"""Padding, PyTorch's ``F.pad``: grow (or, with negative amounts, crop) the last
dimensions of a tensor.

``pad`` lists (left, right) amounts from the last dimension backwards:
``(left_W, right_W, top_H, bottom_H, ...)``. Every mode is composed, so it needs no
derivative of its own:

* ``constant``: the input written into a larger array of ``value``
  (:class:`~chainrule.ops.indexing.IndexAdd` at a slice: backward reads the slice back);
  negative amounts crop (a slice, a view).
* ``reflect``, ``replicate``, ``circular``: each output position reads one input position.
  Along a dimension of length :math:`L` padded by :math:`l` on the left, output position
  :math:`t` reads :math:`j = t - l` mapped back into :math:`[0, L)`: mirrored without
  repeating the edge, :math:`j \mapsto -j` and :math:`j \mapsto 2(L-1) - j` (reflect);
  clamped to the edge (replicate); or wrapped around, :math:`j \bmod L` (circular). The
  padding is therefore a few slices of the input, concatenated: the reversed first
  :math:`l` rows after the edge (reflect), the edge row repeated (replicate), or the last
  :math:`l` rows (circular), and likewise on the right, one dimension at a time. The
  backward adds each output gradient to the position it was read from, so an edge pixel
  that replicate copied k times receives the sum of k gradients. Negative amounts crop
  the result (circular crops first, then wraps around what is left, as PyTorch does).
"""

from __future__ import annotations

import numpy as np

from chainrule._backend import xp
from chainrule.errors import ShapeError
from chainrule.ops.indexing import IndexAdd, getitem
from chainrule.ops.selection import where
from chainrule.ops.shape import broadcast_to, cat
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = ["pad"]

MODES = ("constant", "reflect", "replicate", "circular")


def _amounts(pad, ndim: int) -> list:
    """``pad`` as [(dim, left, right)], last dimension first, checked as PyTorch does."""
    if isinstance(pad, Tensor) or not isinstance(pad, list | tuple):
        raise TypeError(f"pad: pad must be a tuple or list of ints, got {type(pad).__name__}")
    for v in pad:
        if not isinstance(v, int | np.integer) or isinstance(v, bool):
            raise TypeError(f"pad: pad must be a tuple of ints, got {tuple(pad)!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)} values")
    if len(pad) > 2 * ndim:
        raise ValueError(
            f"pad: padding length {len(pad)} pads {len(pad) // 2} dimensions, but the input "
            f"has only {ndim}"
        )
    return [(ndim - 1 - k, int(pad[2 * k]), int(pad[2 * k + 1])) for k in range(len(pad) // 2)]


def _constant(x: Tensor, amounts: list, value) -> Tensor:
    crop = [slice(None)] * x.ndim
    for dim, left, right in amounts:
        size = x.shape[dim] + left + right
        if size < 0:
            raise ShapeError(
                f"pad: padding ({left}, {right}) of dimension {dim} (size {x.shape[dim]}) "
                f"gives a negative size {size}"
            )
        crop[dim] = slice(max(-left, 0), x.shape[dim] - max(-right, 0))
    if any(s != slice(None) for s in crop):
        x = getitem(x, tuple(crop))
    grow = [(dim, max(left, 0), max(right, 0)) for dim, left, right in amounts]
    if not any(left or right for _, left, right in grow):
        return x
    shape = list(x.shape)
    inside = [slice(None)] * x.ndim
    for dim, left, right in grow:
        inside[dim] = slice(left, left + shape[dim])
        shape[dim] += left + right
    out = IndexAdd.apply(x, tuple(shape), tuple(inside), False)
    if value:
        mask = xp.zeros(shape, dtype=bool)
        mask[tuple(inside)] = True
        fill = _make(xp.asarray(value).astype(x._array.dtype), None, False)
        out = where(_make(mask, None, False), out, fill)
    return out


def _check_amounts(mode: str, length: int, left: int, right: int, dim: int) -> None:
    if length + left + right < 1:
        raise ShapeError(
            f"pad: dimension {dim} of size {length} padded by ({left}, {right}) would be empty"
        )
    if mode == "reflect" and (left >= length or right >= length):
        raise ValueError(
            f"pad: reflect padding must be less than the size of the dimension it pads, "
            f"got padding ({left}, {right}) for dimension {dim} of size {length}"
        )
    if mode == "circular":
        kept = length - max(-left, 0) - max(-right, 0)
        if max(left, 0) > kept or max(right, 0) > kept:
            raise ValueError(
                f"pad: circular padding ({left}, {right}) of dimension {dim} (size {kept} after "
                "cropping) would wrap around more than once"
            )


def _slice(x: Tensor, dim: int, start, stop, step: int = 1) -> Tensor:
    index = [slice(None)] * x.ndim
    index[dim] = slice(start, stop, step)
    return getitem(x, tuple(index))


def _edge(x: Tensor, dim: int, index: int, k: int) -> Tensor:
    """Row ``index`` of ``x`` along ``dim``, repeated ``k`` times (a broadcast view)."""
    row = _slice(x, dim, index, index + 1)
    return broadcast_to(row, (*x.shape[:dim], k, *x.shape[dim + 1 :]))


def _grow(x: Tensor, dim: int, left: int, right: int, mode: str) -> Tensor:
    """``x`` padded by ``left``, ``right`` >= 0 along ``dim``: slices of it, concatenated."""
    n = x.shape[dim]
    before = after = None
    if mode == "reflect":  # rows left..1 before x, rows n-2..n-1-right after (no edge twice)
        if left:
            before = _slice(x, dim, left, 0, -1)
        if right:
            after = _slice(x, dim, n - 2, n - 2 - right if right < n - 1 else None, -1)
    elif mode == "replicate":
        if left:
            before = _edge(x, dim, 0, left)
        if right:
            after = _edge(x, dim, n - 1, right)
    else:  # circular: the last rows before x, the first ones after it
        if left:
            before = _slice(x, dim, n - left, n)
        if right:
            after = _slice(x, dim, 0, right)
    parts = [p for p in (before, x, after) if p is not None]
    return cat(parts, dim) if len(parts) > 1 else x


def _nonconstant(x: Tensor, amounts: list, mode: str) -> Tensor:
    for dim, left, right in amounts:
        _check_amounts(mode, x.shape[dim], left, right, dim)
    crop_first = mode == "circular"
    for dim, left, right in amounts:
        if crop_first and (left < 0 or right < 0):
            x = _slice(x, dim, max(-left, 0), x.shape[dim] - max(-right, 0))
        x = _grow(x, dim, max(left, 0), max(right, 0), mode)
        if not crop_first and (left < 0 or right < 0):
            x = _slice(x, dim, max(-left, 0), x.shape[dim] - max(-right, 0))
    return x


def pad(input, pad, mode: str = "constant", value=None):
    """Pad (or crop, with negative amounts) the last ``len(pad) // 2`` dimensions.

    ``pad``: (left, right) for the last dimension, then for the one before, and so on.
    ``mode``: ``"constant"`` (``value``, default 0, any number of dimensions),
    ``"reflect"``, ``"replicate"`` or ``"circular"``, which pad the last 1, 2 or 3
    dimensions of an input with one or two more (a batch and a channel dimension, or only
    the channel), as in PyTorch.
    """
    x = as_tensor(input)
    if mode not in MODES:
        raise NotImplementedError(
            f"pad: unknown mode {mode!r}; the modes are {', '.join(map(repr, MODES))}"
        )
    amounts = _amounts(pad, x.ndim)
    if mode == "constant":
        return _constant(x, amounts, 0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value (got value={value!r})")
    k = len(amounts)
    if k == 0:
        return x
    if k > 3 or x.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: mode {mode!r} pads the last 1, 2 or 3 dimensions of an input with one or two "
            f"dimensions more (channels, and optionally a batch); padding of length "
            f"{2 * k} needs a {k + 1}-D or {k + 2}-D input, got {x.ndim}-D"
        )
    return _nonconstant(x, amounts, mode)
