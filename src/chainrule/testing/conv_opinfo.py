"""Op-table entries for the convolution family that tutorials reach for: 1-D and
grouped convolutions, the transposed convolution, 1-D and adaptive pooling, padding and
resizing. ``nn_opinfo.NN_OPS`` includes them.

The references are plain loops over output positions or kernel offsets, written from
the definitions (PyTorch's documentation), not from the library's compositions
(im2col, gathers, matrices).
"""

from __future__ import annotations

import math

import numpy as np

import chainrule.nn.functional as F
from chainrule.testing.sampling import (
    Kink,
    OpInfo,
    Sample,
    distinct,
    functional,
    torch_function,
    uniform,
)

__all__ = ["CONV_OPS", "conv_samples", "np_conv2d"]


def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


# --------------------------------------------------------------------------- convolutions
def np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation, one group and one kernel offset at a time."""
    if x.ndim == 3:
        return np_conv2d(x[None], w, b, stride, padding, dilation, groups)[0]
    s, d = _tuple(stride, 2), _tuple(dilation, 2)
    kh, kw = w.shape[2:]
    if padding == "same":
        total = (d[0] * (kh - 1), d[1] * (kw - 1))
        x = np.pad(
            x,
            (
                (0, 0),
                (0, 0),
                (total[0] // 2, total[0] - total[0] // 2),
                (total[1] // 2, total[1] - total[1] // 2),
            ),
        )
        padding = 0
    p = _tuple(padding, 2)
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (x.shape[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (x.shape[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=x.dtype)
    cin, cout = w.shape[1], w.shape[0] // groups
    for g in range(groups):
        xs, ws = x[:, g * cin : (g + 1) * cin], w[g * cout : (g + 1) * cout]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :,
                    :,
                    i * d[0] : i * d[0] + s[0] * (oh - 1) + 1 : s[0],
                    j * d[1] : j * d[1] + s[1] * (ow - 1) + 1 : s[1],
                ]
                out[:, g * cout : (g + 1) * cout] += np.einsum(
                    "oc,ncij->noij", ws[:, :, i, j], patch
                )
    return out + (0 if b is None else b[None, :, None, None])


def _np_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    if x.ndim == 2:
        return _np_conv1d(x[None], w, b, stride, padding, dilation, groups)[0]
    s, d, k = _tuple(stride, 1)[0], _tuple(dilation, 1)[0], w.shape[2]
    if padding == "same":
        total = d * (k - 1)
        x = np.pad(x, ((0, 0), (0, 0), (total // 2, total - total // 2)))
    else:
        p = _tuple(padding, 1)[0]
        x = np.pad(x, ((0, 0), (0, 0), (p, p)))
    length = (x.shape[2] - d * (k - 1) - 1) // s + 1
    cin, cout = w.shape[1], w.shape[0] // groups
    out = np.zeros((x.shape[0], w.shape[0], length), dtype=x.dtype)
    for t in range(length):
        window = x[:, :, t * s : t * s + d * (k - 1) + 1 : d]  # (N, C, k)
        for g in range(groups):
            out[:, g * cout : (g + 1) * cout, t] = np.einsum(
                "nck,ock->no", window[:, g * cin : (g + 1) * cin], w[g * cout : (g + 1) * cout]
            )
    return out + (0 if b is None else b[None, :, None])


def _np_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input pixel adds its value times the kernel into the output, at stride s."""
    if x.ndim == 3:
        return _np_conv_transpose2d(
            x[None], w, b, stride, padding, output_padding, groups, dilation
        )[0]
    s, p, op, d = (_tuple(v, 2) for v in (stride, padding, output_padding, dilation))
    n, cin, h, wd = x.shape
    kh, kw = w.shape[2:]
    cout = w.shape[1]
    full = np.zeros(
        (
            n,
            cout * groups,
            (h - 1) * s[0] + d[0] * (kh - 1) + 1 + op[0],
            (wd - 1) * s[1] + d[1] * (kw - 1) + 1 + op[1],
        ),
        dtype=x.dtype,
    )
    per = cin // groups
    for g in range(groups):
        for a in range(h):
            for c in range(wd):
                for i in range(kh):
                    for j in range(kw):
                        full[
                            :, g * cout : (g + 1) * cout, a * s[0] + i * d[0], c * s[1] + j * d[1]
                        ] += (
                            x[:, g * per : (g + 1) * per, a, c]
                            @ w[g * per : (g + 1) * per, :, i, j]
                        )
    oh = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    ow = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    out = full[:, :, p[0] : p[0] + oh, p[1] : p[1] + ow]
    return out + (0 if b is None else b[None, :, None, None])


def conv_samples(*rows):
    """Samples of a convolution from rows of (input shape, weight shape, bias shape or
    None for no bias, desc[, keyword arguments]); the values are drawn uniformly, in
    that order."""

    def make(rng):
        out = []
        for x, w, b, desc, *kwargs in rows:
            args = tuple(None if shape is None else uniform(rng, shape) for shape in (x, w, b))
            out.append(Sample(args, *kwargs, desc=desc))
        return out

    return make


_conv1d_samples = conv_samples(
    ((2, 3, 7), (4, 3, 3), (4,), "k=3"),
    (
        (2, 3, 9),
        (4, 3, 2),
        None,
        "stride, padding, dilation, no bias",
        {"stride": 2, "padding": 1, "dilation": 2},
    ),
    ((1, 4, 6), (6, 2, 3), (6,), "groups=2", {"groups": 2}),
    ((1, 2, 6), (3, 2, 4), (3,), "padding='same', even kernel", {"padding": "same"}),
    ((3, 6), (2, 3, 3), (2,), "unbatched"),
)
_grouped_conv_samples = conv_samples(
    ((2, 4, 5, 4), (6, 2, 3, 3), (6,), "groups=2", {"groups": 2}),
    (
        (1, 3, 6, 5),
        (3, 1, 3, 3),
        None,
        "depthwise, stride 2",
        {"groups": 3, "stride": 2, "padding": 1},
    ),
    (
        (1, 2, 5, 4),
        (3, 2, 2, 3),
        (3,),
        "padding='same' with an odd total",
        {"padding": "same", "dilation": (1, 2)},
    ),
)
_conv_transpose_samples = conv_samples(
    ((2, 3, 3, 4), (3, 2, 3, 3), (2,), "3x3"),
    (
        (1, 2, 3, 3),
        (2, 3, 3, 2),
        (3,),
        "stride 2, padding 1, output_padding 1",
        {"stride": 2, "padding": 1, "output_padding": 1},
    ),
    (
        (1, 4, 3, 2),
        (4, 1, 2, 2),
        None,
        "groups, dilation, no bias",
        {"groups": 2, "stride": (1, 2), "dilation": 2},
    ),
    (
        (1, 2, 3, 3),
        (2, 2, 2, 2),
        (2,),
        "output_padding > stride (dilation 2)",
        {"dilation": 2, "output_padding": 1},
    ),
    ((2, 3, 3), (2, 2, 2, 2), (2,), "unbatched", {"stride": 2}),
)


# --------------------------------------------------------------------------- pooling
def _np_pool1d(reduce):
    def ref(x, kernel_size, stride=None, padding=0, *_, count_include_pad=True):
        if x.ndim == 2:
            return ref(x[None], kernel_size, stride, padding, count_include_pad=count_include_pad)[
                0
            ]
        k = kernel_size
        s = k if stride is None else stride
        pad = -np.inf if reduce == "max" else 0.0
        xp_ = np.pad(x, ((0, 0), (0, 0), (padding, padding)), constant_values=pad)
        length = (xp_.shape[2] - k) // s + 1
        out = np.zeros((*x.shape[:2], length), dtype=x.dtype)
        for t in range(length):
            window = xp_[:, :, t * s : t * s + k]
            if reduce == "max":
                out[:, :, t] = window.max(axis=2)
            else:
                real = min(t * s + k, x.shape[2] + padding) - max(t * s, padding)
                out[:, :, t] = window.sum(axis=2) / (k if count_include_pad else real)
        return out

    return ref


def _pool1d_samples(rng):
    x = lambda *s: distinct(rng, s)  # noqa: E731
    return [
        Sample((x(2, 3, 8), 2), desc="k=2"),
        Sample((x(1, 2, 9), 3, 2, 1), desc="k=3, stride 2, padding 1"),
        Sample((x(3, 7), 3, 1), desc="unbatched, overlapping"),
    ]


def _avg1d_samples(rng):
    return [
        *_pool1d_samples(rng),
        Sample(
            (uniform(rng, (1, 2, 7)), 3, 2, 1),
            {"count_include_pad": False},
            desc="count_include_pad=False",
        ),
    ]


def _adaptive_windows(size, out):
    return [((i * size) // out, math.ceil((i + 1) * size / out)) for i in range(out)]


def _np_adaptive(reduce):
    def ref(x, output_size):
        oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
        oh, ow = oh or x.shape[-2], ow or x.shape[-1]
        out = np.zeros((*x.shape[:-2], oh, ow), dtype=x.dtype)
        for i, (r0, r1) in enumerate(_adaptive_windows(x.shape[-2], oh)):
            for j, (c0, c1) in enumerate(_adaptive_windows(x.shape[-1], ow)):
                out[..., i, j] = reduce(x[..., r0:r1, c0:c1], axis=(-2, -1))
        return out

    return ref


def _adaptive_samples(rng):
    x = lambda *s: distinct(rng, s)  # noqa: E731
    return [
        Sample((x(2, 3, 5, 7), (2, 3)), desc="5x7 -> 2x3 (overlapping windows)"),
        Sample((x(1, 2, 4, 6), (2, 3)), desc="divisible"),
        Sample((x(2, 4, 3), 1), desc="unbatched, global"),
        Sample((x(1, 2, 3, 5), (4, None)), desc="larger than the input, None keeps a size"),
    ]


# --------------------------------------------------------------------------- pad, interpolate
def _np_pad(x, pad, mode="constant", value=None):
    """np.pad on the non-negative parts, slicing for the negative ones."""
    k = len(pad) // 2
    if mode == "circular":  # PyTorch crops first, then wraps around what is left
        for i in range(k):
            axis, lo, hi = x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
            x = np.take(x, np.arange(max(-lo, 0), x.shape[axis] - max(-hi, 0)), axis=axis)
        pad = [max(v, 0) for v in pad]
    widths = [(0, 0)] * x.ndim
    for i in range(k):
        widths[x.ndim - 1 - i] = (max(pad[2 * i], 0), max(pad[2 * i + 1], 0))
    np_mode = {
        "constant": "constant",
        "reflect": "reflect",
        "replicate": "edge",
        "circular": "wrap",
    }[mode]
    kwargs = {"constant_values": value or 0} if mode == "constant" else {}
    out = np.pad(x, widths, mode=np_mode, **kwargs)
    for i in range(k):
        axis, lo, hi = x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
        keep = np.arange(max(-lo, 0), out.shape[axis] - max(-hi, 0))
        out = np.take(out, keep, axis=axis)
    return out


def _pad_samples(rng):
    x = lambda *s: uniform(rng, s)  # noqa: E731
    return [
        Sample((x(2, 3), (1, 2)), desc="constant, last dim"),
        Sample((x(2, 2, 3, 4), (1, 0, 2, 1)), {"value": 1.5}, desc="constant value, two dims"),
        Sample((x(2, 3, 4), (-1, 2, 1, -1)), desc="constant, negative crops"),
        Sample((x(1, 2, 4, 5), (2, 1, 3, 1)), {"mode": "reflect"}, desc="reflect 2-D"),
        Sample((x(2, 5), (-1, 3)), {"mode": "reflect"}, desc="reflect, unbatched, crop"),
        Sample(
            (x(1, 2, 3, 4), (3, 1, 1, 4)),
            {"mode": "replicate"},
            desc="replicate (wider than the input)",
        ),
        Sample((x(1, 2, 3, 2, 3), (1, 1, 1, 0, 0, 2)), {"mode": "replicate"}, desc="replicate 3-D"),
        Sample((x(1, 2, 4, 5), (2, 1, 1, 3)), {"mode": "circular"}, desc="circular 2-D"),
        Sample((x(2, 3, 6), (-2, 3)), {"mode": "circular"}, desc="circular, crop then wrap"),
        Sample(
            (np.arange(6).reshape(2, 3), (1, 1)),
            {"value": 7},
            desc="integer input",
            gradcheck=False,
        ),
    ]


def _np_interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Each output position from its source coordinate, one dimension at a time."""
    k = x.ndim - 2
    if size is not None:
        sizes = _tuple(size, k)
        scales = [n / o for n, o in zip(x.shape[2:], sizes)]
    else:
        factors = (
            _tuple(scale_factor, k) if isinstance(scale_factor, tuple) else (scale_factor,) * k
        )
        sizes = [math.floor(n * f) for n, f in zip(x.shape[2:], factors)]
        scales = [1 / f for f in factors]
    out = x
    for i in range(k):
        axis, n, m = 2 + i, x.shape[2 + i], sizes[i]
        rows = []
        for t in range(m):
            if mode == "nearest":
                rows.append(np.take(out, min(math.floor(t * scales[i]), n - 1), axis=axis))
                continue
            if align_corners:
                u = t * (n - 1) / (m - 1) if m > 1 else 0.0
            else:
                u = max((t + 0.5) * scales[i] - 0.5, 0.0)
            lo = min(math.floor(u), n - 1)
            hi = min(lo + 1, n - 1)
            lam = u - lo
            rows.append((1 - lam) * np.take(out, lo, axis=axis) + lam * np.take(out, hi, axis=axis))
        out = np.stack(rows, axis=axis).astype(x.dtype)
    return out


def _interpolate_samples(rng):
    x = lambda *s: uniform(rng, s)  # noqa: E731
    return [
        Sample((x(2, 2, 3, 4),), {"size": (5, 7)}, desc="nearest, up"),
        Sample((x(1, 2, 6, 5),), {"size": (4, 2)}, desc="nearest, down"),
        Sample((x(1, 2, 3, 4),), {"scale_factor": 2}, desc="nearest, scale 2"),
        Sample((x(2, 3, 5),), {"size": 8}, desc="nearest, 1-D"),
        Sample((x(1, 2, 3, 4),), {"size": (5, 6), "mode": "bilinear"}, desc="bilinear"),
        Sample(
            (x(1, 2, 3, 4),),
            {"size": (5, 6), "mode": "bilinear", "align_corners": True},
            desc="bilinear, align_corners",
        ),
        Sample((x(1, 2, 6, 5),), {"size": (4, 3), "mode": "bilinear"}, desc="bilinear, down"),
        Sample(
            (x(1, 2, 3, 4),), {"scale_factor": 1.5, "mode": "bilinear"}, desc="bilinear, scale 1.5"
        ),
        Sample((x(2, 2, 4),), {"size": 7, "mode": "linear", "align_corners": True}, desc="linear"),
    ]


CONV_OPS = [
    functional("conv1d", _np_conv1d, _conv1d_samples, quiet=True),
    OpInfo(
        "conv2d_groups",
        F.conv2d,
        np_conv2d,
        torch_function("nn.functional.conv2d", quiet=True),
        _grouped_conv_samples,
    ),
    functional("conv_transpose2d", _np_conv_transpose2d, _conv_transpose_samples),
    functional("max_pool1d", _np_pool1d("max"), _pool1d_samples),
    functional("avg_pool1d", _np_pool1d("avg"), _avg1d_samples),
    functional("adaptive_avg_pool2d", _np_adaptive(np.mean), _adaptive_samples),
    functional(
        "adaptive_max_pool2d",
        _np_adaptive(np.max),
        _adaptive_samples,
        Kink(
            (np.array([[[[1.0, 1.0, 2.0], [2.0, 0.0, 2.0]]]]), (1, 2)),
            (np.array([[[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]]),),
            desc="ties: the first maximum of each window, in row-major order",
        ),
    ),
    functional("pad", _np_pad, _pad_samples),
    functional("interpolate", _np_interpolate, _interpolate_samples),
]
