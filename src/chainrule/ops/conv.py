r"""Convolution and pooling over NCHW images, built on im2col.

``unfold`` (im2col) copies every kh x kw window of the (padded) input into a column, so a
convolution becomes a matrix product, :math:`Y = W_{(O, C k_h k_w)} \cdot
\mathrm{cols}(X)`, one for the whole batch. ``fold`` (col2im) is its adjoint: it adds
columns back onto the pixels they came from, so it is both unfold's backward and the
input-gradient of a convolution. Unfold and fold are primitives, each the other's
derivative; ``Conv2d`` is a primitive whose backward is written with the same two
kernels, so second derivatives of convolutions work too.
Max pooling is a primitive that routes each gradient to its window's maximum; average
pooling is composed: windows from ``unfold``, then a mean over each window.

Sizes (PyTorch's): :math:`OH = \lfloor (H + 2p - d(k - 1) - 1)/s \rfloor + 1`.
"""

from __future__ import annotations

import numpy as np

import chainrule.ops.kernels as kernels
from chainrule.errors import ShapeError
from chainrule.ops.op import Op
from chainrule.ops.padding import pad
from chainrule.ops.promotion import prepare
from chainrule.tensor import Tensor, as_tensor

__all__ = ["avg_pool2d", "conv2d", "fold", "max_pool2d", "unfold"]


def pair_of_ints(value, name: str, minimum: int) -> tuple:
    """``value`` (an int, or a pair of ints) as a pair, each at least ``minimum``: the
    form of kernel sizes, strides, paddings and dilations."""
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an integer >= {minimum} or a pair of them, got {value!r}")
    return (int(pair[0]), int(pair[1]))


def _output_hw(op: str, hw, kernel, stride, padding, dilation) -> tuple:
    out = kernels.conv_output_size_2d(hw, kernel, dilation, padding, stride)
    if min(out) < 1:
        raise ShapeError(
            f"{op}: the input's spatial size {tuple(hw)} (padding {padding}) is smaller than the "
            f"kernel {kernel} (dilation {dilation})"
        )
    return out


class Unfold(Op):
    r"""Forward: im2col, (N, C, H, W) -> (N, C k_h k_w, L): every window as a column.

    Backward: :math:`\bar X = \mathrm{fold}(\bar Y)`, each pixel collecting the gradient of
    every window it appears in.
    """

    def forward(self, x, kernel, dilation, padding, stride, pad_value):
        self.geometry = (x.shape[2:], kernel, dilation, padding, stride)
        return kernels.unfold(x, kernel, dilation, padding, stride, pad_value)

    def backward(self, lib, g):
        return lib.fold(g, *self.geometry), None, None, None, None, None


class Fold(Op):
    r"""Forward: col2im, (N, C k_h k_w, L) -> (N, C, H, W), adding overlapping values.

    Backward: :math:`\bar{\mathrm{cols}} = \mathrm{unfold}(\bar Y)`: fold is linear and
    unfold is its transpose.
    """

    def forward(self, cols, output_size, kernel, dilation, padding, stride):
        self.geometry = (kernel, dilation, padding, stride)
        return kernels.fold(cols, output_size, kernel, dilation, padding, stride)

    def backward(self, lib, g):
        return lib.unfold(g, *self.geometry), None, None, None, None, None


class Conv2d(Op):
    r"""Forward: :math:`Y_{n,o} = b_o + \sum_{c,i,j} W_{o,c,i,j}\, X_{n,c,\,s h + d i - p,\,
    s w + d j - p}` (cross-correlation, as in every deep-learning library), computed as one
    matrix product :math:`W_{(O, K)} \cdot \mathrm{cols}(X)` with the windows of all images
    side by side in ``cols`` (K = C k_h k_w rows, OH OW N columns).

    Backward, with :math:`\bar Y` as an (O, OH OW N) matrix:
    :math:`\bar X = \mathrm{col2im}(W^\top \bar Y)`, :math:`\bar W = \bar Y\,
    \mathrm{cols}^\top`, :math:`\bar b = \sum_{n, L} \bar Y`. The columns are rebuilt in
    backward rather than kept, as PyTorch does, so memory holds X, not k_h k_w copies of it.

    Groups: with G groups, channel group g of the output sees only channel group g of the
    input, so W is block diagonal. The rows of ``cols`` are channel-major, so each group's
    rows are one contiguous block, and the products above become G independent ones (a
    batched matrix product over a leading axis of size G); the formulas are unchanged,
    block by block.

    The output is stored (O, OH, OW, N), the product's own layout, and shown as
    (N, O, OH, OW): a transposed view, so no copy reorders it, and the layers after it
    (activations, pooling, the next convolution) work on batch-innermost data.
    """

    def forward(self, x, w, b, stride, padding, dilation, groups=1):
        n = x.shape[0]
        o = w.shape[0]
        self.geometry = (tuple(w.shape[2:]), dilation, padding, stride)
        self.groups = groups
        cols = kernels.im2col(x, *self.geometry)
        out = _merge(_split(w.reshape(o, -1), groups) @ _split(cols, groups))
        if b is not None:
            out += b[:, None]
        self.save(x, w)
        oh, ow = kernels.conv_output_size_2d(x.shape[2:], *self.geometry)
        return out.reshape(o, oh, ow, n).transpose(3, 0, 1, 2)

    def backward(self, lib, g, x, w):
        nx, nw, nb = self.needs_input_grad[:3]
        o, groups = g.shape[1], self.groups
        g2 = lib.reshape(lib.permute(g, (1, 2, 3, 0)), (o, -1))  # (O, OH*OW*N)
        gx = gw = gb = None
        if nx:
            wt = lib.mT(_split(lib.reshape(w, (o, -1)), groups, lib))
            gx = lib.col2im(
                _merge(lib.matmul(wt, _split(g2, groups, lib)), lib), x.shape[2:], *self.geometry
            )
        if nw:  # (cols g2^T)^T: BLAS is faster with the long axis inner to both operands
            cols = _split(lib.im2col(x, *self.geometry), groups, lib)
            gw = lib.reshape(lib.mT(lib.matmul(cols, lib.mT(_split(g2, groups, lib)))), w.shape)
        if nb:
            gb = lib.sum(g2, 1)
        return gx, gw, gb, None, None, None, None


def _split(a, groups: int, lib=None):
    """A (G r, c) matrix as G stacked (r, c) blocks; unchanged when there is one group."""
    if groups == 1:
        return a
    shape = (groups, a.shape[0] // groups, a.shape[1])
    return a.reshape(shape) if lib is None else lib.reshape(a, shape)


def _merge(a, lib=None):
    """The inverse of :func:`_split`: G stacked (r, c) blocks as one (G r, c) matrix."""
    if a.ndim == 2:
        return a
    shape = (a.shape[0] * a.shape[1], a.shape[2])
    return a.reshape(shape) if lib is None else lib.reshape(a, shape)


class MaxPool2d(Op):
    r"""Forward: :math:`y_{n,c,a,b} = \max_{i,j} x_{n,c,\,s a + d i - p,\, s b + d j - p}`
    over each (dilated) window, padding counting as :math:`-\infty`.

    Backward: the whole gradient :math:`\bar y_{n,c,a,b}` goes to the one input element
    the window's maximum came from; overlapping windows add up.

    Conventions (PyTorch's): at ties the first maximal element in row-major order takes
    the gradient; a NaN counts as the maximum (the last NaN of a window, if several).
    The routing (``kernels.PoolRoute``) is found in a column pass and a row pass.
    """

    def forward(self, x, kernel, stride, padding, dilation):
        out, route = kernels.max_pool(x, kernel, stride, padding, dilation)
        self.save(route)  # saved, so that it is freed with the rest after backward
        return out

    def backward(self, lib, g, route):
        return lib.pool_scatter(g, route), None, None, None, None


class PoolScatter(Op):
    r"""Forward: each value added at the input position its max-pooling window chose
    (the backward of :class:`MaxPool2d`, as an op so it can be differentiated again).

    Backward: :math:`\bar g = \mathrm{gather}(\bar y)`, the value at each chosen
    position: scatter and gather along one routing are each other's transposes.
    """

    def forward(self, g, route):
        self.save(route)
        return kernels.pool_scatter(g, route)

    def backward(self, lib, gg, route):
        return lib.pool_gather(gg, route), None


def pool_gather(x, route):
    """For each max-pooling window, the element of ``x`` at the position its maximum came
    from, composed from slices and selects so that it is differentiable (the backward of
    :class:`PoolScatter` when a third derivative is asked for)."""
    from chainrule.ops.indexing import getitem
    from chainrule.ops.selection import where
    from chainrule.ops.shape import cat

    _, (kh, kw), (sh, sw), (ph, pw), (dh, dw) = route.geometry
    oh, ow = route.rows.shape[2:]
    if ph or pw:
        n, c, h, w = x.shape
        side = Tensor(np.zeros((n, c, h, pw), dtype=x.dtype))
        x = cat([side, x, side], 3)
        rim = Tensor(np.zeros((n, c, ph, w + 2 * pw), dtype=x.dtype))
        x = cat([rim, x, rim], 2)

    def pick(t, which, count, step, dilation, length, axis):
        out = None
        for k in range(count):
            index = kernels.pass_index(axis, k, step, dilation, length)
            term = where(Tensor(which == k), getitem(t, index), 0.0)
            out = term if out is None else out + term
        return out

    across = pick(x, route.cols, kw, sw, dw, ow, 3)
    return pick(across, route.rows, kh, sh, dh, oh, 2)


def _image(x, op: str, channels: int | None = None):
    """``x`` as a 4-D tensor (a 3-D one is one unbatched image), and whether it was 3-D."""
    x = as_tensor(x)
    if x.ndim not in (3, 4):
        raise ShapeError(
            f"{op}: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape {tuple(x.shape)}"
        )
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    if channels is not None and x.shape[1] != channels:
        raise ShapeError(
            f"{op}: expected input with {channels} channels (N, {channels}, H, W), "
            f"got shape {tuple(x.shape if not unbatched else x.shape[1:])}"
        )
    return x, unbatched


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: the (N, C*kh*kw, L) matrix of all sliding windows, PyTorch's ``lib.unfold``."""
    x, _ = _image(input, "unfold")
    k = pair_of_ints(kernel_size, "kernel_size", 1)
    d, p, s = (
        pair_of_ints(dilation, "dilation", 1),
        pair_of_ints(padding, "padding", 0),
        pair_of_ints(stride, "stride", 1),
    )
    _output_hw("unfold", x.shape[2:], k, s, p, d)
    return Unfold.apply(x, k, d, p, s, 0.0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: sum (N, C*kh*kw, L) columns back into (N, C, H, W), PyTorch's ``lib.fold``."""
    cols = as_tensor(input)
    size = pair_of_ints(output_size, "output_size", 1)
    k = pair_of_ints(kernel_size, "kernel_size", 1)
    d, p, s = (
        pair_of_ints(dilation, "dilation", 1),
        pair_of_ints(padding, "padding", 0),
        pair_of_ints(stride, "stride", 1),
    )
    oh, ow = _output_hw("fold", size, k, s, p, d)
    if cols.ndim != 3 or cols.shape[1] % (k[0] * k[1]) or cols.shape[2] != oh * ow:
        raise ShapeError(
            f"fold: expected input of shape (N, C*{k[0]}*{k[1]}, {oh * ow}) for output size {size}, "
            f"got {tuple(cols.shape)}"
        )
    return Fold.apply(cols, size, k, d, p, s)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation: ``input`` (N, C, H, W), ``weight`` (O, C / groups, kh, kw),
    ``bias`` (O,); ``padding`` may be an int, a pair, ``"valid"`` (0) or ``"same"`` (stride
    1; an odd total padding puts the extra row and column at the bottom and right, as
    PyTorch does). With ``groups`` G, input and output channels are split into G groups
    and output group g sees only input group g."""
    w = as_tensor(weight)
    if w.ndim != 4:
        raise ShapeError(
            f"conv2d: weight must be 4-D (out, in/groups, kh, kw), got shape {tuple(w.shape)}"
        )
    groups = _groups(groups, w.shape[0], "conv2d", tuple(w.shape))
    x, unbatched = _image(input, "conv2d", channels=w.shape[1] * groups)
    s, d = pair_of_ints(stride, "stride", 1), pair_of_ints(dilation, "dilation", 1)
    kernel = tuple(w.shape[2:])
    if padding == "valid":
        p = (0, 0)
    elif padding == "same":
        if s != (1, 1):
            raise ValueError("conv2d: padding='same' needs stride 1")
        total = [d[i] * (kernel[i] - 1) for i in (0, 1)]
        p = (total[0] // 2, total[1] // 2)
        if total[0] % 2 or total[1] % 2:
            x = pad(x, (0, total[1] % 2, 0, total[0] % 2))
    elif isinstance(padding, str):
        raise ValueError(f"conv2d: padding must be 'valid', 'same' or numbers, got {padding!r}")
    else:
        p = pair_of_ints(padding, "padding", 0)
    _output_hw("conv2d", x.shape[2:], kernel, s, p, d)
    b = None
    if bias is not None:
        b = as_tensor(bias)
        if tuple(b.shape) != (w.shape[0],):
            raise ShapeError(f"conv2d: bias must have shape ({w.shape[0]},), got {tuple(b.shape)}")
    if x.dtype != w.dtype:
        x, w = prepare(x, w)
    if b is not None and b.dtype != w.dtype:
        _, b = prepare(w, b)
    out = Conv2d.apply(x, w, b, s, p, d, groups)
    return out.squeeze(0) if unbatched else out


def _groups(groups, out_channels: int, op: str, shape: tuple) -> int:
    """``groups`` checked: a positive integer that divides the ``out_channels`` of a
    weight of ``shape``."""
    if not isinstance(groups, int | np.integer) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    if out_channels % groups:
        raise ShapeError(
            f"{op}: groups={groups} must divide the weight's {out_channels} output channels "
            f"(weight of shape {shape})"
        )
    return int(groups)


def _windows(op, input, kernel_size, stride, padding, pad_value):
    """Each pooling window as a row: (N, C, kh*kw, OH, OW), and the output geometry."""
    x, unbatched = _image(input, op)
    k = pair_of_ints(kernel_size, "kernel_size", 1)
    s = k if stride is None or stride == [] else pair_of_ints(stride, "stride", 1)
    p = pair_of_ints(padding, "padding", 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
    oh, ow = _output_hw(op, x.shape[2:], k, s, p, (1, 1))
    n, c = x.shape[:2]
    cols = Unfold.apply(x, k, (1, 1), p, s, pad_value)
    return cols.reshape(n, c, k[0] * k[1], oh, ow), unbatched, (k, s, p, tuple(x.shape[2:]))


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """The maximum of each window. The gradient goes to the maximal element (the first one,
    in row-major order, at ties), as in PyTorch; padding counts as -inf."""
    if ceil_mode or return_indices:
        raise ValueError("max_pool2d: ceil_mode and return_indices are not supported")
    x, unbatched = _image(input, "max_pool2d")
    k = pair_of_ints(kernel_size, "kernel_size", 1)
    s = k if stride is None or stride == [] else pair_of_ints(stride, "stride", 1)
    p, d = pair_of_ints(padding, "padding", 0), pair_of_ints(dilation, "dilation", 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"max_pool2d: padding {p} must be at most half the kernel size {k}")
    _output_hw("max_pool2d", x.shape[2:], k, s, p, d)
    out = MaxPool2d.apply(x, k, s, p, d)
    return out.squeeze(0) if unbatched else out


# Mirrors PyTorch's signature (F.avg_pool2d), which nn.AvgPool2d repeats.
def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """The mean of each window; with ``count_include_pad=False`` padded zeros are not
    counted in the divisor."""
    if ceil_mode:
        raise ValueError("avg_pool2d: ceil_mode is not supported")
    windows, unbatched, (k, s, p, hw) = _windows(
        "avg_pool2d", input, kernel_size, stride, padding, 0.0
    )
    total = windows.sum(2)
    if divisor_override:
        out = total / divisor_override
    elif count_include_pad or p == (0, 0):
        out = total / (k[0] * k[1])
    else:  # divide each window by the number of real (unpadded) pixels in it
        ones = np.ones((1, 1, *hw), dtype=windows.dtype)
        counts = kernels.unfold(ones, k, (1, 1), p, s).sum(1).reshape(windows.shape[3:])
        out = total / counts
    return out.squeeze(0) if unbatched else out
