"""Raw array kernels shared by op forwards and by the array-level backward vocabulary.

Pure functions of arrays (no tensors, no graph): the stable sigmoid, scatter-add into
zeros, and the window extraction behind convolution and pooling (im2col, PyTorch's
``unfold``) with its adjoint (col2im, ``fold``).
"""

from __future__ import annotations

import math

from chainrule._backend import xp

__all__ = [
    "PoolRoute",
    "batch_innermost",
    "col2im",
    "conv_output_size",
    "conv_output_size_2d",
    "fold",
    "im2col",
    "index_add",
    "keep_where",
    "max_pool",
    "pass_index",
    "pool_gather",
    "pool_scatter",
    "relu",
    "sigmoid",
    "threshold_grad",
    "unfold",
    "where",
]

_INT_OF_SIZE = {2: xp.int16, 4: xp.int32, 8: xp.int64}


def keep_where(mask, x):
    """``x`` where ``mask`` is true, +0.0 elsewhere: ``where(mask, x, 0.0)`` exactly, bit
    for bit, but without branches. NumPy's ``where`` branches per element, and a random
    mask (a ReLU's, say) makes that ~15 times slower than this select on the bits: the
    float's bit pattern, read as an integer, multiplied by the mask's 0 or 1."""
    itype = _INT_OF_SIZE[x.dtype.itemsize]
    return xp.multiply(x.view(itype), mask, dtype=itype).view(x.dtype)


def _bits(a):
    return a.view(_INT_OF_SIZE[a.dtype.itemsize])


def _relu_by_select(x):
    """PyTorch's relu by definition: ``x`` where not ``x < 0``, +0.0 elsewhere (so -0.0
    and NaN of either sign are kept)."""
    return keep_where(xp.logical_not(xp.less(x, 0)), x)


def _clip_is_relu(clip) -> bool:
    """Whether ``clip(x, 0.0, inf)`` is :func:`_relu_by_select` bit for bit on this NumPy,
    on special values (zeros and NaNs of both signs, infinities, a denormal), in every
    float dtype, through a vectorised body and a scalar tail, contiguous or not."""
    special = [-0.0, 0.0, math.nan, -math.nan, -1.0, -math.inf, math.inf, 2.5, 1e-45, -1e-45]
    try:
        for dtype in (xp.float16, xp.float32, xp.float64):
            base = xp.resize(xp.asarray(special, dtype=dtype), 203)
            for x in (base, base[1:], base[::3]):
                if not xp.array_equal(_bits(clip(x, 0.0, math.inf)), _bits(_relu_by_select(x))):
                    return False
    except (TypeError, ValueError):  # pragma: no cover - an array module without clip
        return False
    return True


try:  # the ufunc itself, without np.clip's argument handling (about 1 us)
    from numpy._core.umath import clip as _clip
except ImportError:  # pragma: no cover - other NumPy layouts
    _clip = getattr(xp, "clip", None)
_RELU_CLIP = _clip if _clip is not None and _clip_is_relu(_clip) else None


def relu(x):
    """:math:`\\max(x, 0)` as PyTorch computes it: -0.0 and NaN (of either sign) are kept,
    everything below 0 becomes +0.0. On floats this is NumPy's ``clip(x, 0, inf)``, one
    fast pass, where this NumPy's clip is checked (at import) to give exactly those bits;
    otherwise, and for integers, it is spelled out."""
    if x.dtype.kind != "f":
        return xp.maximum(x, 0)
    if _RELU_CLIP is not None:
        return _RELU_CLIP(x, 0.0, math.inf)
    return _relu_by_select(x)


_SLICE = 1 << 16


def threshold_grad(g, out, overwrite=False):
    """``g`` except where ``out`` is 0, which gets +0.0: a ReLU's backward from its output
    ``out``, which is never negative, so ``out == 0`` is PyTorch's ``out <= 0`` (a NaN
    lets the gradient through, as in PyTorch's ``threshold_backward``). Bit for bit like
    :func:`where`, but the comparison is made a slice at a time, so the mask costs at
    most 64 KB, not one byte per element. With ``overwrite`` the result is written into
    ``g`` itself (the caller owns it), and nothing of g's size is allocated."""
    if g.dtype.itemsize not in _INT_OF_SIZE or g.shape != out.shape:
        return where(xp.equal(out, 0), 0.0, g)
    if g.size <= _SLICE or g.strides != out.strides:
        return keep_where(xp.not_equal(out, 0), g)
    res = g if overwrite else xp.empty_like(g)  # g's layout, so the three flatten alike
    gf, xf, of = g.ravel(order="K"), out.ravel(order="K"), res.ravel(order="K")
    if gf.base is None or xf.base is None or of.base is None:  # not dense: ravel copied
        return keep_where(xp.not_equal(out, 0), g)
    itype = _INT_OF_SIZE[g.dtype.itemsize]
    gi, oi = gf.view(itype), of.view(itype)
    mask = xp.empty(_SLICE, dtype=bool)
    for s in range(0, g.size, _SLICE):
        m = xp.not_equal(xf[s : s + _SLICE], 0, out=mask[: min(_SLICE, g.size - s)])
        xp.multiply(gi[s : s + _SLICE], m, out=oi[s : s + _SLICE], dtype=itype)
    return res


def _is_plus_zero(v) -> bool:
    return isinstance(v, int | float) and v == 0 and math.copysign(1.0, v) > 0


def _selectable(zero, values, cond) -> bool:
    """Whether ``where`` can keep ``values`` with the bit select: the other side is +0.0
    and ``values`` a float array of the condition's shape."""
    return (
        _is_plus_zero(zero)
        and type(values) is xp.ndarray
        and values.shape == cond.shape
        and values.dtype.kind == "f"
        and values.dtype.itemsize in _INT_OF_SIZE
    )


def where(cond, a, b):
    """``xp.where``, with the branch-free :func:`keep_where` when one side is +0.0 and the
    other a float array of the condition's shape (the common case in backward rules)."""
    if type(cond) is xp.ndarray and cond.dtype == xp.bool_ and cond.size >= 1024:
        # (below that size NumPy's where is the cheaper of the two)
        if _selectable(b, a, cond):
            return keep_where(cond, a)
        if _selectable(a, b, cond):
            return keep_where(~cond, b)
    return xp.where(cond, a, b)


def sigmoid(x):
    """1 / (1 + e^-x) without overflow: e^-|x| never exceeds 1."""
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)


def index_add(shape, index, values, accumulate: bool):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated indices add up when
    ``accumulate``; plain assignment is used when the index cannot repeat)."""
    out = xp.zeros(shape, dtype=values.dtype)
    if accumulate:
        xp.add.at(out, index, values)
    else:
        out[index] = values
    return out


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a sliding window: floor((size + 2p - d(k-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_output_size_2d(hw, kernel, dilation, padding, stride) -> tuple:
    """(OH, OW) of a sliding window over an (H, W) image."""
    return (
        conv_output_size(hw[0], kernel[0], stride[0], padding[0], dilation[0]),
        conv_output_size(hw[1], kernel[1], stride[1], padding[1], dilation[1]),
    )


# Convolution and pooling keep their images "batch innermost": a logical (N, C, H, W)
# array stored as (C, H, W, N). A window then moves over runs of N contiguous numbers, so
# the strided copies and adds below run long inner loops instead of one per short image
# row, and the matrix product of a convolution writes this layout with no reordering.


def batch_innermost(x):
    """``x`` (N, C, H, W) as a view of a (C, H, W, N) buffer (copied only if needed)."""
    if x.strides[0] == x.itemsize and x.transpose(1, 2, 3, 0).flags.c_contiguous:
        return x
    buf = xp.empty((x.shape[1], x.shape[2], x.shape[3], x.shape[0]), dtype=x.dtype)
    buf[...] = x.transpose(1, 2, 3, 0)
    return buf.transpose(3, 0, 1, 2)


def _padded(x, padding, value):
    """``x`` with ``padding`` rows and columns of ``value`` around each image, batch
    innermost (one copy at most, which also converts the layout)."""
    ph, pw = padding
    if not (ph or pw):
        return batch_innermost(x)
    n, c, h, w = x.shape
    buf = xp.full((c, h + 2 * ph, w + 2 * pw, n), value, dtype=x.dtype)
    buf[:, ph : ph + h, pw : pw + w, :] = x.transpose(1, 2, 3, 0)
    return buf.transpose(3, 0, 1, 2)


def im2col(x, kernel, dilation, padding, stride, pad_value=0.0):
    """(N, C, H, W) -> (C*kh*kw, OH*OW*N): every window of the padded input as a column.

    Rows run over (channel, kernel row, kernel column), PyTorch's ``unfold`` order; columns
    over (output row, output column, image). With all images side by side, a convolution
    is one matrix product ``W (O, C*kh*kw) @ cols``.
    """
    n, c = x.shape[:2]
    (kh, kw), (dh, dw), (sh, sw) = kernel, dilation, stride
    oh, ow = conv_output_size_2d(x.shape[2:], kernel, dilation, padding, stride)
    windows = xp.lib.stride_tricks.sliding_window_view(
        _padded(x, padding, pad_value), (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3)
    )
    windows = windows[:, :, : sh * (oh - 1) + 1 : sh, : sw * (ow - 1) + 1 : sw, ::dh, ::dw]
    return windows.transpose(1, 4, 5, 2, 3, 0).reshape(c * kh * kw, oh * ow * n)


def col2im(cols, output_size, kernel, dilation, padding, stride):
    """The adjoint of :func:`im2col`: (C*kh*kw, OH*OW*N) -> (N, C, H, W), each pixel the
    sum of the entries that windows took from it. One strided add per kernel offset
    (kh*kw of them), never a loop over pixels; the result is batch innermost."""
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = output_size, kernel, dilation, padding, stride
    oh, ow = conv_output_size_2d(output_size, kernel, dilation, padding, stride)
    c = cols.shape[0] // (kh * kw)
    n = cols.shape[1] // (oh * ow)
    out = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=cols.dtype)
    blocks = cols.reshape(c, kh, kw, oh, ow, n)
    for i in range(kh):
        for j in range(kw):
            r, s = i * dh, j * dw
            out[:, r : r + sh * (oh - 1) + 1 : sh, s : s + sw * (ow - 1) + 1 : sw] += blocks[
                :, i, j
            ]
    return out[:, ph : ph + h, pw : pw + w].transpose(3, 0, 1, 2)


def unfold(x, kernel, dilation, padding, stride, pad_value=0.0):
    """PyTorch's ``unfold``: (N, C, H, W) -> (N, C*kh*kw, OH*OW), a view of :func:`im2col`."""
    cols = im2col(x, kernel, dilation, padding, stride, pad_value)
    return cols.reshape(cols.shape[0], -1, x.shape[0]).transpose(2, 0, 1)


def fold(cols, output_size, kernel, dilation, padding, stride):
    """PyTorch's ``fold``, the adjoint of :func:`unfold`: (N, C*kh*kw, L) -> (N, C, H, W)."""
    n, ck, length = cols.shape
    flat = cols.transpose(1, 2, 0).reshape(ck, length * n)
    return col2im(flat, output_size, kernel, dilation, padding, stride)


# --------------------------------------------------------------------------- max pooling
class PoolRoute:
    """Where each output of a max pooling came from, found in two passes.

    A window's first maximum in row-major order is the first maximum among the first
    maxima of its rows. So a column pass finds, for every input row and every output
    column, which of the kw columns wins (``cols``, int8, shape (N, C, H', OW)); a row pass
    then finds which of the kh rows wins (``rows``, (N, C, OH, OW)). That is kw + kh
    comparisons per output instead of kh*kw, and the gradient is routed back the same way.
    A NaN wins against any number and against an earlier NaN, as in PyTorch.
    """

    __slots__ = ("cols", "geometry", "rows")

    def __init__(self, cols, rows, geometry) -> None:
        self.cols, self.rows, self.geometry = cols, rows, geometry


def pass_index(axis: int, k: int, step: int, dilation: int, length: int) -> tuple:
    """The index of the ``k``-th offset's slice along ``axis`` of a 4-D array: every
    ``step``-th element from ``k * dilation``, ``length`` of them."""
    index = [slice(None)] * 4
    start = k * dilation
    index[axis] = slice(start, start + step * (length - 1) + 1, step)
    return tuple(index)


def _select_pass(x, count, step, dilation, length, axis):
    """The running first maximum over ``count`` strided slices of ``x`` along ``axis``."""
    best = x[pass_index(axis, 0, step, dilation, length)]
    itype = xp.int8 if count < 128 else xp.int32
    if count == 1:
        best = xp.array(best, order="K")
        return best, xp.zeros_like(best, dtype=itype)  # in best's memory layout
    v = x[pass_index(axis, 1, step, dilation, length)]
    wins = xp.greater(v, best)
    wins |= xp.isnan(v)
    best = xp.maximum(best, v)  # (NaN propagates, as it wins)
    # The second slice wins where wins is 1: as int8, wins is already the index.
    which = wins.view(itype) if itype is xp.int8 else wins.astype(itype)
    for k in range(2, count):
        v = x[pass_index(axis, k, step, dilation, length)]
        wins = xp.greater(v, best)
        wins |= xp.isnan(v)
        xp.maximum(which, xp.multiply(wins, k, dtype=itype), out=which)  # later k win
        xp.maximum(best, v, out=best)  # the winner's value (NaN propagates, as it wins)
    return best, which


def max_pool(x, kernel, stride, padding, dilation=(1, 1)):
    """Max pooling of (N, C, H, W) with -inf padding: the output, and its :class:`PoolRoute`."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = conv_output_size_2d(x.shape[2:], kernel, dilation, padding, stride)
    xpad = _padded(x, padding, -xp.inf)
    across, cols = _select_pass(xpad, kw, sw, dw, ow, 3)
    out, rows = _select_pass(across, kh, sh, dh, oh, 2)
    return out, PoolRoute(cols, rows, (tuple(x.shape), kernel, stride, padding, dilation))


def _order(a) -> tuple:
    """The axes of ``a`` from the slowest-varying in memory to the fastest."""
    return tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))


def _in_order_of(like, a):
    """``a``'s values in a buffer laid out like ``like`` (same shape)."""
    out = xp.empty_like(like, dtype=a.dtype)
    out[...] = a
    return out


def _spread_pass(g, which, shape, count, step, dilation, axis):
    """The adjoint of one select pass: each value of ``g`` added at the slice it won from.
    The result takes the memory layout of the forward pass (``which``'s), not ``g``'s.
    Slices that cannot overlap are assigned rather than added, into an uninitialised
    buffer when they also cover it."""
    length = g.shape[axis]
    disjoint = dilation == 1 and step >= count
    if disjoint and step == count and shape[axis] == count * length:
        out = xp.empty_like(which, dtype=g.dtype, shape=shape)
    else:
        out = xp.zeros_like(which, dtype=g.dtype, shape=shape)
    for k in range(count):
        index = pass_index(axis, k, step, dilation, length)
        picked = keep_where(xp.equal(which, k), g)
        if disjoint:
            out[index] = picked
        else:
            out[index] += picked
    return out


def pool_scatter(g, route):
    """Each output gradient added to the input element its window's maximum came from."""
    shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw) = route.geometry
    n, c, h, w = shape
    hp, wp = h + 2 * ph, w + 2 * pw
    if _order(g) != _order(route.rows):
        # The passes mix g with the routing; in one memory order they run several times
        # faster, and reordering g (the smaller array) once is cheap.
        g = _in_order_of(route.rows, g)
    across = _spread_pass(g, route.rows, (n, c, hp, g.shape[3]), kh, sh, dh, 2)
    out = _spread_pass(across, route.cols, (n, c, hp, wp), kw, sw, dw, 3)
    return out[:, :, ph : ph + h, pw : pw + w] if ph or pw else out


def pool_gather(x, route):
    """The adjoint of :func:`pool_scatter`: for each window, the element of ``x`` at the
    position its maximum came from."""
    _, (kh, kw), (sh, sw), padding, (dh, dw) = route.geometry
    oh, ow = route.rows.shape[2:]
    xpad = _padded(x, padding, 0.0)
    across = _pick_pass(xpad, route.cols, kw, sw, dw, ow, 3)
    return _pick_pass(across, route.rows, kh, sh, dh, oh, 2)


def _pick_pass(x, which, count, step, dilation, length, axis):
    out = xp.zeros_like(which, dtype=x.dtype)
    for k in range(count):
        out += keep_where(xp.equal(which, k), x[pass_index(axis, k, step, dilation, length)])
    return out
