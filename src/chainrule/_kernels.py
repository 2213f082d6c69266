"""Raw array kernels shared by op forwards and by the array-level backward vocabulary.

Pure functions of arrays (no tensors, no graph): the stable sigmoid, scatter-add into
zeros, and the window extraction behind convolution and pooling (im2col, PyTorch's
``unfold``) with its adjoint (col2im, ``fold``).
"""

from __future__ import annotations

from chainrule._backend import xp

__all__ = ["conv_output_size", "fold", "index_add", "sigmoid", "unfold"]


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
