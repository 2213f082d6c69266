"""Sliding windows over images, the arrays behind convolution and pooling: the output
size, im2col (every window as a column, PyTorch's ``unfold``) and its adjoint col2im
(``fold``). Pure functions of arrays: no tensors, no graph."""

from __future__ import annotations

from chainrule._backend import xp

__all__ = [
    "batch_innermost",
    "col2im",
    "conv_output_size",
    "conv_output_size_2d",
    "fold",
    "im2col",
    "padded",
    "unfold",
]


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


def padded(x, padding, value):
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
        padded(x, padding, pad_value), (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3)
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
