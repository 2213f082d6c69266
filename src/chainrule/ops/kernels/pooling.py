"""Max pooling on arrays: the forward, with a record of which element won each window
(:class:`PoolRoute`), and the two adjoints that route gradients along that record.
Pure functions of arrays: no tensors, no graph."""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.ops.kernels.fast import keep_where
from chainrule.ops.kernels.windows import conv_output_size_2d, padded

__all__ = ["PoolRoute", "max_pool", "pass_index", "pool_gather", "pool_scatter"]


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
    xpad = padded(x, padding, -xp.inf)
    across, cols = _select_pass(xpad, kw, sw, dw, ow, 3)
    out, rows = _select_pass(across, kh, sh, dh, oh, 2)
    return out, PoolRoute(cols, rows, (tuple(x.shape), kernel, stride, padding, dilation))


def _memory_order(a) -> tuple:
    """The axes of ``a`` from the slowest-varying in memory to the fastest."""
    return tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))


def _laid_out_like(like, a):
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
    if _memory_order(g) != _memory_order(route.rows):
        # The passes mix g with the routing; in one memory order they run several times
        # faster, and reordering g (the smaller array) once is cheap.
        g = _laid_out_like(route.rows, g)
    across = _spread_pass(g, route.rows, (n, c, hp, g.shape[3]), kh, sh, dh, 2)
    out = _spread_pass(across, route.cols, (n, c, hp, wp), kw, sw, dw, 3)
    return out[:, :, ph : ph + h, pw : pw + w] if ph or pw else out


def pool_gather(x, route):
    """The adjoint of :func:`pool_scatter`: for each window, the element of ``x`` at the
    position its maximum came from."""
    _, (kh, kw), (sh, sw), padding, (dh, dw) = route.geometry
    oh, ow = route.rows.shape[2:]
    xpad = padded(x, padding, 0.0)
    across = _pick_pass(xpad, route.cols, kw, sw, dw, ow, 3)
    return _pick_pass(across, route.rows, kh, sh, dh, oh, 2)


def _pick_pass(x, which, count, step, dilation, length, axis):
    out = xp.zeros_like(which, dtype=x.dtype)
    for k in range(count):
        out += keep_where(xp.equal(which, k), x[pass_index(axis, k, step, dilation, length)])
    return out
