r"""Transposed convolution ("deconvolution"), the adjoint of :class:`~chainrule.ops.conv.Conv2d`.

A convolution maps an image X to :math:`Y = W\,\mathrm{cols}(X)`; its input-gradient is
:math:`\bar X = \mathrm{col2im}(W^\top \bar Y)`. A transposed convolution is that
input-gradient used as a layer: each input pixel scatters a weighted copy of the kernel
into the output, and overlapping copies add up. So it upsamples: with stride s every
input pixel moves s output pixels on, and the output has size

.. math::

    OH = (H - 1)\,s - 2p + d\,(k - 1) + p_{out} + 1,

where ``padding`` p crops the borders of the full result and ``output_padding``
:math:`p_{out}` adds rows at the bottom and columns at the right (to pick one of the s
input sizes that a stride-s convolution maps to the same output size). Built from the same
two kernels as the convolution: the forward is col2im, the backward im2col.
"""

from __future__ import annotations

import chainrule.ops.kernels as kernels
from chainrule._backend import xp
from chainrule.errors import ShapeError
from chainrule.ops.conv import _groups, _image, _merge, _split, pair_of_ints
from chainrule.ops.op import Op
from chainrule.ops.promotion import prepare
from chainrule.tensor import as_tensor

__all__ = ["conv_transpose2d", "transposed_output_size"]


def transposed_output_size(hw, kernel, stride, padding, output_padding, dilation) -> tuple:
    """(OH, OW) of a transposed convolution of an (H, W) image."""
    return tuple(
        (hw[i] - 1) * stride[i]
        - 2 * padding[i]
        + dilation[i] * (kernel[i] - 1)
        + output_padding[i]
        + 1
        for i in (0, 1)
    )


class ConvTranspose2d(Op):
    r"""Forward: :math:`Y = \mathrm{col2im}(W_{(C, O k_h k_w)}^\top\, X_{(C, H W N)}) + b`:
    every input pixel :math:`X_{n,c,h,w}` adds :math:`X_{n,c,h,w} W_{c,o,i,j}` to output
    pixel :math:`(s h + d i - p,\; s w + d j - p)` of channel o. ``weight`` is
    (C_in, C_out / groups, k_h, k_w), PyTorch's layout for the transposed direction.

    Backward, with :math:`\mathrm{cols}(\bar Y)` the windows of the output gradient (the
    same geometry, so one column per input pixel): :math:`\bar X = W\,
    \mathrm{cols}(\bar Y)` (a convolution of :math:`\bar Y` with W),
    :math:`\bar W = X\, \mathrm{cols}(\bar Y)^\top`, :math:`\bar b = \sum_{n,h,w} \bar Y`.
    Each is the transpose of the corresponding step of the forward, exactly as
    :class:`~chainrule.ops.conv.Conv2d`'s backward is of its forward, with the roles of
    im2col and col2im exchanged. Groups split the channels into independent blocks, as
    for the convolution.

    ``output_padding`` larger than the stride (allowed when the dilation is larger still)
    makes the output gradient hold more windows than there are input pixels; the extra
    windows reach only output pixels that no input pixel wrote, and are dropped.
    """

    op_name = "conv_transpose2d"

    def forward(self, x, w, b, stride, padding, output_padding, dilation, groups):
        n, cin, h, wd = x.shape
        kernel = tuple(w.shape[2:])
        self.geometry = (kernel, dilation, padding, stride)
        self.groups = groups
        out_hw = transposed_output_size((h, wd), kernel, stride, padding, output_padding, dilation)
        # X as (C, H W N), the layout of im2col's columns (copied only if x is not in it).
        x2 = kernels.batch_innermost(x).transpose(1, 2, 3, 0).reshape(cin, -1)
        wt = _split(w.reshape(cin, -1), groups)
        cols = _merge(xp.swapaxes(wt, -1, -2) @ _split(x2, groups))
        grid = kernels.conv_output_size_2d(out_hw, *self.geometry)
        if grid != (h, wd):  # output_padding > stride: windows no pixel fills
            full = xp.zeros((cols.shape[0], *grid, n), dtype=cols.dtype)
            full[:, :h, :wd] = cols.reshape(cols.shape[0], h, wd, n)
            cols = full.reshape(cols.shape[0], -1)
        out = kernels.col2im(cols, out_hw, *self.geometry)
        if b is not None:
            out += b[:, None, None]
        self.save(x, w)
        return out

    def backward(self, lib, g, x, w):
        nx, nw, nb = self.needs_input_grad[:3]
        n, cin, h, wd = x.shape
        groups = self.groups
        cols = lib.im2col(g, *self.geometry)  # (C_out k_h k_w, GH GW N)
        grid = kernels.conv_output_size_2d(g.shape[2:], *self.geometry)
        if grid != (h, wd):
            k = cols.shape[0]
            cols = lib.reshape(lib.reshape(cols, (k, *grid, n))[:, :h, :wd], (k, -1))
        cols = _split(cols, groups, lib)
        gx = gw = gb = None
        if nx:
            gx = _merge(lib.matmul(_split(lib.reshape(w, (cin, -1)), groups, lib), cols), lib)
            gx = lib.permute(lib.reshape(gx, (cin, h, wd, n)), (3, 0, 1, 2))
        if nw:
            x2 = _split(lib.reshape(lib.permute(x, (1, 2, 3, 0)), (cin, -1)), groups, lib)
            gw = lib.reshape(_merge(lib.matmul(x2, lib.mT(cols)), lib), w.shape)
        if nb:
            gb = lib.sum(g, (0, 2, 3))
        return gx, gw, gb, None, None, None, None, None


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """The transposed convolution (see the module docstring): ``input`` (N, C_in, H, W) or
    (C_in, H, W), ``weight`` (C_in, C_out / groups, kh, kw), ``bias`` (C_out,). PyTorch's
    argument order: ``groups`` comes before ``dilation``."""
    w = as_tensor(weight)
    if w.ndim != 4:
        raise ShapeError(
            "conv_transpose2d: weight must be 4-D (in, out/groups, kh, kw), got shape "
            f"{tuple(w.shape)}"
        )
    groups = _groups(groups, w.shape[0], "conv_transpose2d", tuple(w.shape))
    x, unbatched = _image(input, "conv_transpose2d", channels=w.shape[0])
    if isinstance(padding, str):
        raise ValueError(
            f"conv_transpose2d: padding must be an integer or a pair of them, got {padding!r}"
        )
    s, d = pair_of_ints(stride, "stride", 1), pair_of_ints(dilation, "dilation", 1)
    p, op = pair_of_ints(padding, "padding", 0), pair_of_ints(output_padding, "output_padding", 0)
    for i in (0, 1):
        if op[i] >= max(s[i], d[i]):
            raise ValueError(
                f"conv_transpose2d: output_padding {op} must be smaller than the stride {s} "
                f"or the dilation {d}"
            )
    kernel = tuple(w.shape[2:])
    size = transposed_output_size(x.shape[2:], kernel, s, p, op, d)
    if min(size) < 1:
        raise ShapeError(
            f"conv_transpose2d: the output size {size} is not positive (input {tuple(x.shape)}, "
            f"kernel {kernel}, stride {s}, padding {p}, dilation {d})"
        )
    cout = w.shape[1] * groups
    b = None
    if bias is not None:
        b = as_tensor(bias)
        if tuple(b.shape) != (cout,):
            raise ShapeError(
                f"conv_transpose2d: bias must have shape ({cout},), got {tuple(b.shape)}"
            )
    if x.dtype != w.dtype:
        x, w = prepare(x, w)
    if b is not None and b.dtype != w.dtype:
        _, b = prepare(w, b)
    out = ConvTranspose2d.apply(x, w, b, s, p, op, d, groups)
    return out.squeeze(0) if unbatched else out
