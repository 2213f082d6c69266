"""Op-table entries for the neural-network functionals (``chainrule.nn.functional``) and
the elementwise ops they are built on. References are written independently of the
implementation: convolution by a loop over kernel offsets (``conv_opinfo.np_conv2d``) and
pooling by a loop over output pixels, where the library uses im2col."""

from __future__ import annotations

import math

import numpy as np

from chainrule.testing.conv_opinfo import CONV_OPS, conv_samples, np_conv2d
from chainrule.testing.layer_opinfo import LAYER_OPS
from chainrule.testing.sampling import (
    Const,
    Kink,
    Sample,
    away,
    distinct,
    functional,
    tensor_op,
    uniform,
)

__all__ = ["NN_OPS"]


# --------------------------------------------------------------------------- references
def _two(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pad(x, p, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=value)


def _out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _also_unbatched(fn):
    """Let a reference written for (N, C, H, W) also take one (C, H, W) image."""

    def ref(x, *args, **kwargs):
        if x.ndim == 3:
            return fn(x[None], *args, **kwargs)[0]
        return fn(x, *args, **kwargs)

    return ref


def _np_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s = _two(kernel_size), _two(dilation), _two(padding), _two(stride)
    xp_ = _pad(x, p)
    n, c = x.shape[:2]
    oh, ow = _out(x.shape[2], k[0], s[0], p[0], d[0]), _out(x.shape[3], k[1], s[1], p[1], d[1])
    cols = np.zeros((n, c * k[0] * k[1], oh * ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = xp_[
                :,
                :,
                i * s[0] : i * s[0] + d[0] * (k[0] - 1) + 1 : d[0],
                j * s[1] : j * s[1] + d[1] * (k[1] - 1) + 1 : d[1],
            ]
            cols[:, :, i * ow + j] = window.reshape(n, -1)
    return cols


def _np_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    size, k, d, p, s = (_two(v) for v in (output_size, kernel_size, dilation, padding, stride))
    n = cols.shape[0]
    c = cols.shape[1] // (k[0] * k[1])
    oh, ow = _out(size[0], k[0], s[0], p[0], d[0]), _out(size[1], k[1], s[1], p[1], d[1])
    out = np.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]), dtype=cols.dtype)
    for i in range(oh):
        for j in range(ow):
            out[
                :,
                :,
                i * s[0] : i * s[0] + d[0] * (k[0] - 1) + 1 : d[0],
                j * s[1] : j * s[1] + d[1] * (k[1] - 1) + 1 : d[1],
            ] += cols[:, :, i * ow + j].reshape(n, c, *k)
    return out[:, :, p[0] : p[0] + size[0], p[1] : p[1] + size[1]]


def _np_pool(reduce):
    @_also_unbatched
    def ref(
        x, kernel_size, stride=None, padding=0, *_, count_include_pad=True, divisor_override=None
    ):
        k = _two(kernel_size)
        s = k if stride is None else _two(stride)
        p = _two(padding)
        pad_value = -np.inf if reduce == "max" else 0.0
        xp_ = _pad(x, p, pad_value)
        ones = _pad(np.ones(x.shape[2:])[None, None], p)
        oh, ow = _out(x.shape[2], k[0], s[0], p[0], 1), _out(x.shape[3], k[1], s[1], p[1], 1)
        out = np.zeros((*x.shape[:2], oh, ow), dtype=x.dtype)
        for i in range(oh):
            for j in range(ow):
                win = xp_[:, :, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]]
                if reduce == "max":
                    out[:, :, i, j] = win.max(axis=(2, 3))
                else:
                    count = divisor_override or (
                        k[0] * k[1]
                        if count_include_pad
                        else ones[
                            0, 0, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]
                        ].sum()
                    )
                    out[:, :, i, j] = win.sum(axis=(2, 3)) / count
        return out

    return ref


_erf64 = np.vectorize(math.erf, otypes=[np.float64])


def _erf(x):
    return _erf64(x).astype(x.dtype)


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(
        x * beta > threshold, x, np.log1p(np.exp(np.minimum(x * beta, threshold))) / beta
    )


def _np_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _np_batch_norm(x, rm=None, rv=None, w=None, b=None, training=False, momentum=0.1, eps=1e-5):
    axes = (0, *range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    else:
        mean, var = rm.reshape(shape), rv.reshape(shape)
    out = (x - mean) / np.sqrt(var + eps)
    if w is not None:
        out = out * w.reshape(shape)
    return out if b is None else out + b.reshape(shape)


def _np_layer_norm(x, shape, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    if w is not None:
        out = out * w
    return out if b is None else out + b


# --------------------------------------------------------------------------- samples
def _linear_samples(rng):
    return [
        Sample((uniform(rng, (4, 3)), uniform(rng, (5, 3)), uniform(rng, (5,))), desc="batch"),
        Sample(
            (uniform(rng, (2, 4, 3)), uniform(rng, (5, 3)), uniform(rng, (5,))), desc="leading dims"
        ),
        Sample((uniform(rng, (3,)), uniform(rng, (5, 3)), uniform(rng, (5,))), desc="one vector"),
        Sample((uniform(rng, (4, 3)), uniform(rng, (5, 3)), None), desc="no bias"),
        Sample(
            (uniform(rng, (3, 4)).T, uniform(rng, (5, 3)), uniform(rng, (5,))),
            desc="non-contiguous",
        ),
    ]


_conv_samples = conv_samples(
    ((2, 3, 6, 5), (4, 3, 3, 3), (4,), "3x3"),
    ((2, 3, 7, 6), (4, 3, 3, 3), (4,), "stride 2, padding 1", {"stride": 2, "padding": 1}),
    ((2, 3, 4, 4), (5, 3, 1, 1), (5,), "1x1"),
    (
        (1, 2, 7, 5),
        (3, 2, 3, 2),
        (3,),
        "rectangular kernel, stride and padding",
        {"stride": (2, 1), "padding": (1, 0)},
    ),
    ((2, 2, 5, 5), (3, 2, 3, 3), None, "no bias"),
    ((1, 2, 7, 7), (2, 2, 3, 3), (2,), "dilation 2", {"dilation": 2}),
    ((1, 2, 5, 4), (3, 2, 3, 3), (3,), "padding='same'", {"padding": "same"}),
    ((2, 5, 4), (3, 2, 2, 2), (3,), "unbatched image"),
)


def _unfold_samples(rng):
    return [
        Sample((uniform(rng, (2, 3, 5, 4)), (2, 3)), desc="rectangular kernel"),
        Sample(
            (uniform(rng, (1, 2, 6, 6)), 3), {"stride": 2, "padding": 1}, desc="stride and padding"
        ),
        Sample((uniform(rng, (1, 2, 7, 6)), 2), {"dilation": (2, 1)}, desc="dilation"),
    ]


def _fold_samples(rng):
    return [
        Sample((uniform(rng, (2, 3 * 6, 8)), (5, 4), (2, 3)), desc="overlapping windows"),
        Sample(
            (uniform(rng, (1, 2 * 9, 9)), (6, 6), 3),
            {"stride": 2, "padding": 1},
            desc="stride and padding",
        ),
    ]


def _pool_samples(rng):
    x = lambda *s: distinct(rng, s)  # noqa: E731
    return [
        Sample((x(2, 3, 6, 6), 2), desc="2x2"),
        Sample((x(1, 2, 7, 7), 3, 2, 1), desc="3x3, stride 2, padding 1"),
        Sample((x(1, 2, 5, 7), (2, 3), (1, 2)), desc="rectangular, overlapping"),
        Sample((x(2, 4, 4), 2), desc="unbatched image"),
    ]


def _avg_samples(rng):
    return [
        *_pool_samples(rng),
        Sample(
            (uniform(rng, (1, 2, 6, 5)), 3, 2, 1),
            {"count_include_pad": False},
            desc="count_include_pad=False",
        ),
        Sample((uniform(rng, (1, 2, 4, 4)), 2), {"divisor_override": 3}, desc="divisor_override"),
    ]


def _softplus_samples(rng):
    return [
        Sample((uniform(rng, (3, 4), -5, 5),), desc="default"),
        Sample((uniform(rng, (3, 4), -5, 5), 2.0, 5.0), desc="beta 2, threshold 5"),
        Sample((np.array([19.0, 21.0, 25.0, -30.0]),), desc="around the threshold"),
    ]


def _activation_samples(*extra):
    def make(rng):
        out = [Sample((away(rng, (3, 4), (0.0,), low=-3, high=3),), desc="default")]
        for kwargs in extra:
            out.append(
                Sample((away(rng, (2, 5), (0.0,), low=-3, high=3),), kwargs, desc=str(kwargs))
            )
        return out

    return make


def _batch_norm_samples(rng):
    def stats(c):
        return Const(uniform(rng, (c,))), Const(uniform(rng, (c,), 0.5, 2.0))

    return [
        Sample(
            (uniform(rng, (5, 3)), None, None, uniform(rng, (3,)), uniform(rng, (3,)), True),
            desc="training (N, C)",
        ),
        Sample(
            (uniform(rng, (4, 3, 5)), None, None, uniform(rng, (3,)), uniform(rng, (3,)), True),
            desc="training (N, C, L)",
        ),
        Sample(
            (uniform(rng, (2, 3, 3, 4)), None, None, uniform(rng, (3,)), uniform(rng, (3,)), True),
            desc="training (N, C, H, W)",
        ),
        Sample((uniform(rng, (5, 3)), None, None, None, None, True), desc="training, no affine"),
        Sample(
            (uniform(rng, (4, 3)), *stats(3), uniform(rng, (3,)), uniform(rng, (3,)), False),
            desc="eval",
        ),
        Sample(
            (uniform(rng, (2, 3, 2, 2)), *stats(3), uniform(rng, (3,)), uniform(rng, (3,)), False),
            desc="eval 4-D",
        ),
    ]


def _layer_norm_samples(rng):
    return [
        Sample(
            (uniform(rng, (2, 3, 4)), (4,), uniform(rng, (4,)), uniform(rng, (4,))), desc="last dim"
        ),
        Sample(
            (uniform(rng, (2, 3, 4)), (3, 4), uniform(rng, (3, 4)), uniform(rng, (3, 4))),
            desc="last two dims",
        ),
        Sample((uniform(rng, (5, 6)), (6,)), desc="no affine"),
    ]


def _small_and_tiny(low, high):
    """expm1 and log1p: values in [low, high), and tiny ones where the plain formula
    loses every digit."""
    return lambda rng: [
        Sample((uniform(rng, (3, 4), low, high),)),
        Sample((np.array([1e-10, -1e-12]),), desc="tiny"),
    ]


NN_OPS = [
    functional("linear", lambda x, w, b=None: x @ w.T + (0 if b is None else b), _linear_samples),
    functional("conv2d", np_conv2d, _conv_samples),
    functional("unfold", _np_unfold, _unfold_samples),
    functional("fold", _np_fold, _fold_samples),
    functional(
        "max_pool2d",
        _np_pool("max"),
        _pool_samples,
        Kink(
            (np.zeros((1, 1, 2, 4)), 2),
            (np.array([[[[1.0, 0, 1, 0], [0, 0, 0, 0]]]]),),
            desc="ties (all zeros): the first element of each window",
        ),
    ),
    functional("avg_pool2d", _np_pool("avg"), _avg_samples),
    tensor_op("erf", _erf, lambda rng: [Sample((uniform(rng, (3, 4), -3, 3),))], method=False),
    tensor_op("expm1", np.expm1, _small_and_tiny(-2, 2), method=False),
    tensor_op("log1p", np.log1p, _small_and_tiny(-0.5, 2), method=False),
    functional(
        "softplus",
        _np_softplus,
        _softplus_samples,
        Kink((np.array([0.0]),), (np.array([0.5]),), desc="x = 0"),
    ),
    functional(
        "leaky_relu",
        lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
        _activation_samples({"negative_slope": 0.2}),
        Kink((np.array([-1.0, 0.0, 2.0]), 0.2), (np.array([0.2, 0.2, 1.0]),), desc="x = 0"),
    ),
    functional(
        "elu",
        lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
        _activation_samples({"alpha": 0.5}),
        Kink(
            (np.array([-1.0, 0.0, 2.0]), 0.5),
            (np.array([0.5 * math.exp(-1), 0.5, 1.0]),),
            desc="x = 0",
        ),
        Kink(
            (np.array([800.0]),),
            (np.array([1.0]),),
            desc="large x: no nan from the unused branch",
        ),
    ),
    functional("gelu", _np_gelu, _activation_samples({"approximate": "tanh"})),
    functional("silu", lambda x: x / (1 + np.exp(-x)), _activation_samples()),
    functional("batch_norm", _np_batch_norm, _batch_norm_samples),
    functional("layer_norm", _np_layer_norm, _layer_norm_samples),
]
NN_OPS += CONV_OPS + LAYER_OPS  # conv_opinfo.py and layer_opinfo.py
