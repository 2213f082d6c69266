"""Raw array kernels shared by op forwards and by the array-level backward vocabulary.

Pure functions of arrays (no tensors, no graph): the stable sigmoid, scatter-add into
zeros, and the window extraction behind convolution and pooling (im2col, PyTorch's
``unfold``) with its adjoint (col2im, ``fold``).
"""

from __future__ import annotations

from chainrule._backend import xp

__all__ = ["conv_output_size", "fold", "index_add", "keep_where", "sigmoid", "unfold", "where"]

_INT_OF_SIZE = {4: xp.int32, 8: xp.int64}


def keep_where(mask, x):
    """``x`` where ``mask`` is true, +0.0 elsewhere: ``where(mask, x, 0.0)`` exactly, bit
    for bit, but without branches. NumPy's ``where`` branches per element, and a random
    mask (a ReLU's, say) makes that ~15 times slower than this select on the bits:
    the mask widened to all-ones or all-zeros integers, ANDed with the float's bits."""
    itype = _INT_OF_SIZE[x.dtype.itemsize]
    select = xp.negative(mask.view(xp.int8), dtype=itype)
    return xp.bitwise_and(x.view(itype), select).view(x.dtype)


def _is_plus_zero(v) -> bool:
    return isinstance(v, int | float) and v == 0 and str(float(v))[0] != "-"


def where(cond, a, b):
    """``xp.where``, with the branch-free :func:`keep_where` when one side is +0.0 and the
    other a float array of the condition's shape (the common case in backward rules)."""
    if (
        type(cond) is xp.ndarray and cond.dtype == xp.bool_ and cond.size >= 4096
    ):  # below: where is cheaper
        if (
            _is_plus_zero(b)
            and type(a) is xp.ndarray
            and a.shape == cond.shape
            and a.dtype.itemsize in _INT_OF_SIZE
            and a.dtype.kind == "f"
        ):
            return keep_where(cond, a)
        if (
            _is_plus_zero(a)
            and type(b) is xp.ndarray
            and b.shape == cond.shape
            and b.dtype.itemsize in _INT_OF_SIZE
            and b.dtype.kind == "f"
        ):
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


def unfold(x, kernel, dilation, padding, stride, pad_value=0.0):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), L = OH*OW, in PyTorch's ``unfold`` order
    (channel-major, then kernel row, then kernel column)."""
    n, c, h, w = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    if ph or pw:
        x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    oh = conv_output_size(h, kh, sh, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, dw)
    windows = xp.lib.stride_tricks.sliding_window_view(
        x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3)
    )
    windows = windows[:, :, : sh * (oh - 1) + 1 : sh, : sw * (ow - 1) + 1 : sw, ::dh, ::dw]
    # (N, C, OH, OW, kh, kw) -> (N, C, kh, kw, OH, OW): one copy, into the final layout.
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def fold(cols, output_size, kernel, dilation, padding, stride):
    """col2im, the adjoint of :func:`unfold`: (N, C*kh*kw, L) -> (N, C, H, W), adding up
    the values that overlapping windows put on the same pixel. One strided add per
    kernel offset (kh*kw of them), never a loop over pixels."""
    n, ck, _ = cols.shape
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = output_size, kernel, dilation, padding, stride
    c = ck // (kh * kw)
    oh = conv_output_size(h, kh, sh, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, dw)
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            r, s = i * dh, j * dw
            out[:, :, r : r + sh * (oh - 1) + 1 : sh, s : s + sw * (ow - 1) + 1 : sw] += blocks[
                :, :, i, j
            ]
    if ph or pw:
        out = xp.ascontiguousarray(out[:, :, ph : ph + h, pw : pw + w])
    return out
