"""The op table: one entry per public op, with everything needed to verify it.

Each :class:`OpInfo` names the chainrule callable, a NumPy reference for the forward, the
PyTorch equivalent (a function of the ``torch`` module, so that nothing here imports
torch), sample inputs (broadcast pairs, 0-d, size-1, leading dimensions, non-contiguous
arrays) chosen away from kinks, and exact values at the kinks. The test suite and
``chainrule verify`` both run from this table, and a coverage test fails when a
primitive or a public op has no entry.

The entries of the nn layers and the losses are in ``nn_opinfo.py`` and
``loss_opinfo.py``; what an entry is made of is in ``sampling.py``.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.testing.loss_opinfo import LOSS_OPS
from chainrule.testing.nn_opinfo import NN_OPS
from chainrule.testing.sampling import Kink, OpInfo, Sample, away, distinct, uniform
from chainrule.testing.tensor_opinfo import TENSOR_OPS

__all__ = ["OP_DB"]


BROADCAST_PAIRS = [
    ((3, 4), (3, 4), "same shape"),
    ((), (3, 4), "0-d and matrix"),
    ((3, 4), (), "matrix and 0-d"),
    ((3, 1), (1, 4), "size-1 on both sides"),
    ((2, 3, 4), (4,), "trailing dimension"),
    ((4,), (2, 3, 4), "leading dimensions"),
    ((5, 1, 3), (2, 1), "mixed"),
]


def _binary_samples(low=-2.0, high=2.0, other_low=None, other_high=None, separate=False):
    def make(rng):
        out = []
        for sa, sb, desc in BROADCAST_PAIRS:
            a = uniform(rng, sa, low, high)
            b = uniform(
                rng,
                sb,
                other_low if other_low is not None else low,
                other_high if other_high is not None else high,
            )
            if separate:  # keep a and b apart so max/min have no ties
                b = np.asarray(
                    b + 0.5 * np.sign(b - np.broadcast_to(a, np.broadcast_shapes(sa, sb)).mean())
                )
            out.append(Sample((a, b), desc=desc))
        a = uniform(rng, (4, 3), low, high).T  # non-contiguous
        b = uniform(
            rng,
            (3, 4),
            other_low if other_low is not None else low,
            other_high if other_high is not None else high,
        )
        out.append(Sample((a, b), desc="non-contiguous"))
        out.append(Sample((uniform(rng, (2, 3), low, high), 1.5), desc="tensor and Python scalar"))
        return out

    return make


def _scalar_left(value):
    def make(rng):
        return [Sample((value, uniform(rng, (2, 3), 0.5, 2.0)), desc="Python scalar and tensor")]

    return make


def _unary_samples(low=-2.0, high=2.0, points=None):
    def make(rng):
        gen = (
            (lambda s: away(rng, s, points, low=low, high=high))
            if points
            else (lambda s: uniform(rng, s, low, high))
        )
        return [
            Sample((gen(()),), desc="0-d"),
            Sample((gen((5,)),), desc="vector"),
            Sample((gen((2, 3, 4)),), desc="3-d"),
            Sample((gen((4, 3)).T,), desc="non-contiguous"),
        ]

    return make


def _chain(*makers):
    def make(rng):
        return [s for m in makers for s in m(rng)]

    return make


def _reduction_samples(
    dims=(None, 0, 1, -1, (0, 2)), keepdims=(False, True), value=uniform, zero_d=True
):
    def make(rng):
        out = [Sample((value(rng, ()),), desc="0-d")] if zero_d else []
        for d in dims:
            for k in keepdims:
                out.append(
                    Sample(
                        (value(rng, (3, 4, 2)),),
                        {"dim": d, "keepdim": k},
                        desc=f"dim={d} keepdim={k}",
                    )
                )
        out.append(Sample((value(rng, (4, 3)).T,), {"dim": 1}, desc="non-contiguous"))
        return out

    return make


# --------------------------------------------------------------------------- references
def _np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _np_logsumexp(x, dim=None, keepdim=False):
    axis = tuple(dim) if isinstance(dim, tuple) else dim
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=axis)


def _np_reduce(fn):
    def ref(x, dim=None, keepdim=False):
        return fn(x, axis=dim, keepdims=keepdim)

    return ref


def _np_var(ddof_default=1, root=False):
    def ref(x, dim=None, unbiased=None, keepdim=False, correction=None):
        ddof = correction if correction is not None else (0 if unbiased is False else ddof_default)
        v = np.var(x, axis=dim, ddof=ddof, keepdims=keepdim)
        return np.sqrt(v) if root else v

    return ref


def _np_index_add(values, shape, index, accumulate=True):
    out = np.zeros(shape, dtype=values.dtype)
    np.add.at(out, index, values)
    return out


def _np_gather(x, dim, index):
    return np.take_along_axis(x, index, axis=dim)


def _torch_index_add(t, values, shape, index, accumulate=True):
    idx = index if isinstance(index, tuple) else (index,)
    idx = tuple(t.as_tensor(i) if isinstance(i, np.ndarray) else i for i in idx)
    return t.zeros(shape, dtype=values.dtype).index_put(idx, values, accumulate=True)


# --------------------------------------------------------------------------- samples
def _matmul_samples(rng):
    cases = [
        ((3, 4), (4, 5), "matrix @ matrix"),
        ((2, 3, 4), (2, 4, 5), "batched"),
        ((2, 3, 4), (4, 5), "batched @ matrix"),
        ((3, 4), (2, 4, 5), "matrix @ batched"),
        ((2, 1, 3, 4), (5, 4, 2), "broadcast batches"),
        ((4,), (4, 5), "vector @ matrix"),
        ((3, 4), (4,), "matrix @ vector"),
        ((4,), (4,), "vector @ vector"),
        ((2, 3, 4), (4,), "batched @ vector"),
    ]
    out = [Sample((uniform(rng, a), uniform(rng, b)), desc=d) for a, b, d in cases]
    out.append(Sample((uniform(rng, (4, 3)).T, uniform(rng, (5, 4)).T), desc="non-contiguous"))
    return out


def _where_samples(rng):
    out = []
    for sa, sb, desc in BROADCAST_PAIRS:
        shape = np.broadcast_shapes(sa, sb)
        out.append(Sample((rng.random(shape) > 0.5, uniform(rng, sa), uniform(rng, sb)), desc=desc))
    out.append(
        Sample(
            (rng.random((1, 4)) > 0.5, uniform(rng, (3, 4)), 0.25), desc="mask broadcast, scalar"
        )
    )
    return out


def _clamp_samples(rng):
    x = lambda s: away(rng, s, (-0.5, 0.7))  # noqa: E731
    return [
        Sample((x((3, 4)), -0.5, 0.7), desc="both bounds"),
        Sample((x((3, 4)), -0.5, None), desc="min only"),
        Sample((x((5,)), None, 0.7), desc="max only"),
        Sample((x(()), -0.5, 0.7), desc="0-d"),
    ]


def _shape_samples(rng):
    return [
        Sample((uniform(rng, (2, 3, 4)), (6, 4)), desc="merge"),
        Sample((uniform(rng, (2, 3, 4)), (4, -1)), desc="inferred size"),
        Sample((uniform(rng, (6,)), (1, 2, 3)), desc="split"),
        Sample((uniform(rng, ()), (1, 1)), desc="0-d to 2-d"),
        Sample((uniform(rng, (4, 3)).T, (12,)), desc="non-contiguous"),
    ]


def _permute_samples(rng):
    return [
        Sample((uniform(rng, (2, 3, 4)), (2, 0, 1)), desc="3-d"),
        Sample((uniform(rng, (2, 3, 4)), (0, -1, 1)), desc="negative dim"),
        Sample((uniform(rng, (3, 4)), (1, 0)), desc="2-d"),
    ]


def _transpose_samples(rng):
    return [
        Sample((uniform(rng, (2, 3, 4)), 0, 2)),
        Sample((uniform(rng, (3, 4)), -1, -2)),
        Sample((uniform(rng, (3, 4)), 1, 1), desc="same dim"),
    ]


def _squeeze_samples(rng):
    return [
        Sample((uniform(rng, (1, 3, 1, 2)),), desc="all"),
        Sample((uniform(rng, (1, 3, 1, 2)), 2), desc="one dim"),
        Sample((uniform(rng, (1, 3, 1, 2)), 1), desc="a dim of size 3 stays"),
        Sample((uniform(rng, (1, 3, 1, 2)), -4), desc="negative dim"),
    ]


def _unsqueeze_samples(rng):
    return [Sample((uniform(rng, (3, 2)), d), desc=f"dim={d}") for d in (0, 1, 2, -1, -3)]


def _flatten_samples(rng):
    return [
        Sample((uniform(rng, (2, 3, 4)),), desc="all"),
        Sample((uniform(rng, (2, 3, 4, 2)), 1, 2), desc="middle"),
        Sample((uniform(rng, (2, 3, 4)), 1), desc="from 1"),
        Sample((uniform(rng, ()),), desc="0-d"),
    ]


def _cat_samples(rng):
    return [
        Sample(([uniform(rng, (2, 3)), uniform(rng, (4, 3))],), {"dim": 0}, desc="dim 0"),
        Sample(
            ([uniform(rng, (2, 3)), uniform(rng, (2, 1)), uniform(rng, (2, 2))],),
            {"dim": 1},
            desc="three, dim 1",
        ),
        Sample(
            ([uniform(rng, (2, 3, 2)), uniform(rng, (2, 3, 1))],), {"dim": -1}, desc="negative dim"
        ),
    ]


def _stack_samples(rng):
    return [
        Sample(([uniform(rng, (2, 3)), uniform(rng, (2, 3))],), {"dim": 0}, desc="dim 0"),
        Sample(
            ([uniform(rng, (2, 3)), uniform(rng, (2, 3)), uniform(rng, (2, 3))],),
            {"dim": 2},
            desc="last",
        ),
        Sample(([uniform(rng, (3,)), uniform(rng, (3,))],), {"dim": -1}, desc="negative dim"),
    ]


def _getitem_samples(rng):
    x = lambda: uniform(rng, (5, 4))  # noqa: E731
    return [
        Sample((x(), (slice(1, 4), slice(None, None, 2))), desc="slices"),
        Sample((x(), 2), desc="integer"),
        Sample((x(), (-1, slice(None))), desc="negative integer"),
        Sample((x(), np.array([0, 2, 2, 4])), desc="integer array with repeats"),
        Sample((x(), (slice(None), np.array([3, 0, 3]))), desc="x[:, idx]"),
        Sample((x(), (np.array([0, 1, 1]), np.array([2, 2, 3]))), desc="paired arrays, repeats"),
        Sample((x(), rng.random((5, 4)) > 0.4), desc="boolean mask"),
        Sample((x(), (rng.random(5) > 0.5, slice(1, 3))), desc="row mask and slice"),
        Sample((uniform(rng, (2, 3, 4)), (Ellipsis, None, 1)), desc="ellipsis and None"),
        Sample((x(), (slice(None, None, -1),)), desc="negative step", torch=False),
    ]


def _norm_samples(rng):
    x = lambda s: away(rng, s, gap=0.2)  # noqa: E731  (|x| kinks at 0)
    out = [Sample((x(()), 2), desc="0-d")]
    for p in (2, 1, 3, 0.5, 0):
        out.append(Sample((x((3, 4, 2)), p), desc=f"p={p}, all"))
        out.append(Sample((x((3, 4, 2)), p, (0, 2), True), desc=f"p={p}, dims, keepdim"))
    for p in (float("inf"), float("-inf")):
        out.append(Sample((distinct(rng, (3, 4)), p, 1), desc=f"p={p}, dim 1"))
    out.append(Sample((x((4, 3)).T, "fro", 1), desc="'fro', non-contiguous"))
    return out


def _masked_fill_samples(rng):
    x = lambda: uniform(rng, (3, 4))  # noqa: E731
    return [
        Sample((x(), rng.random((3, 4)) > 0.5, 0.25), desc="number"),
        Sample((x(), rng.random((1, 4)) > 0.5, -1.5), desc="mask broadcast"),
        Sample((x(), rng.random((3, 4)) > 0.5, uniform(rng, ())), desc="0-d tensor value"),
    ]


def _assign_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)), uniform(rng, (3, 4))), desc="same shape"),
        Sample((uniform(rng, (3, 4)), uniform(rng, (4,))), desc="broadcast source"),
        Sample((uniform(rng, (3, 4)), 0.5), desc="number (fill_)"),
        Sample((uniform(rng, (2, 3)), uniform(rng, ())), desc="0-d source"),
    ]


def _assign_at_samples(rng):
    x = lambda: uniform(rng, (5, 4))  # noqa: E731
    return [
        Sample((x(), (slice(1, 3), slice(None)), uniform(rng, (2, 4))), desc="rows"),
        Sample((x(), 2, uniform(rng, (4,))), desc="one row"),
        Sample((x(), (slice(None), 1), uniform(rng, (1,))), desc="column, broadcast value"),
        Sample((x(), np.array([0, 3]), uniform(rng, (2, 4))), desc="integer array"),
        Sample((x(), rng.random((5, 4)) > 0.5, 0.5), desc="mask, number"),
        Sample((x(), (1, 2), uniform(rng, ())), desc="one element"),
    ]


def _np_norm(x, p, dim=None, keepdim=False):
    p = 2 if p == "fro" else p
    axis = dim if dim is not None else tuple(range(np.ndim(x)))
    a = np.abs(x)
    if p == 0:
        return np.sum(a != 0, axis=axis, keepdims=keepdim).astype(x.dtype)
    if np.isinf(p):
        return (np.max if p > 0 else np.min)(a, axis=axis, keepdims=keepdim)
    return np.sum(a**p, axis=axis, keepdims=keepdim) ** (1 / p)


def _np_assign_at(x, index, value):
    out = x.copy()
    out[index] = value
    return out


def _torch_assign_at(t, x, index, value):
    out = x.clone()
    out[_torch_index(t, index)] = value
    return out


def _gather_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)), 1, rng.integers(0, 4, (3, 2))), desc="dim 1"),
        Sample(
            (uniform(rng, (3, 4)), 0, np.array([[0, 1, 2, 0], [2, 2, 2, 2]])), desc="dim 0, repeats"
        ),
        Sample((uniform(rng, (2, 3, 4)), -1, rng.integers(0, 4, (2, 3, 1))), desc="3-d"),
    ]


def _index_add_samples(rng):
    return [
        Sample((uniform(rng, (4, 3)), (5, 3), np.array([0, 2, 2, 4])), desc="rows with repeats"),
        Sample((uniform(rng, (3,)), (6,), np.array([5, 5, 1])), desc="vector with repeats"),
    ]


def _broadcast_samples(rng):
    return [
        Sample((uniform(rng, (3, 1)), (2, 3, 4)), desc="stretch and add"),
        Sample((uniform(rng, ()), (3,)), desc="0-d"),
        Sample((uniform(rng, (4,)), (3, 4)), desc="leading"),
    ]


def _expand_samples(rng):
    return [
        Sample((uniform(rng, (3, 1)), 2, 3, 4), desc="sizes"),
        Sample((uniform(rng, (3, 1)), -1, 5), desc="-1 keeps a size"),
    ]


def _cast_samples(rng):
    return [
        # Rounding to float32 makes float64 finite differences meaningless; the gradient
        # (cast back to float64) is checked against PyTorch instead.
        Sample((uniform(rng, (3, 4)), np.float32), desc="to float32", gradcheck=False),
        Sample((uniform(rng, (3,)), np.float64), desc="same dtype (copy)"),
    ]


def _softmax_samples(rng):
    return [
        Sample((uniform(rng, (3, 5), -3, 3), 1), desc="rows"),
        Sample((uniform(rng, (3, 5), -3, 3), 0), desc="columns"),
        Sample((uniform(rng, (2, 3, 4), -3, 3), -1), desc="3-d"),
        Sample((uniform(rng, (6,), -3, 3), 0), desc="vector"),
    ]


def _compare_samples(rng):
    def make_int_ties(shape):
        return rng.integers(-2, 3, shape).astype(np.float64)

    return [
        Sample((make_int_ties((3, 4)), make_int_ties((3, 4))), desc="with ties"),
        Sample((make_int_ties((3, 4)), make_int_ties((4,))), desc="broadcast"),
        Sample((make_int_ties((3,)), 0.0), desc="scalar"),
    ]


def _special_samples(rng):
    return [
        Sample((np.array([0.0, np.nan, np.inf, -np.inf, -1.5]),)),
        Sample((uniform(rng, (2, 3)),)),
    ]


def _bool_samples(rng):
    return [
        Sample((rng.random((3, 4)) > 0.5,), desc="all dims"),
        Sample((rng.random((3, 4)) > 0.3, 1), desc="dim 1"),
        Sample((np.zeros((2, 2), dtype=bool),), desc="all false"),
    ]


def _max_dim_samples(rng):
    return [
        Sample((distinct(rng, (3, 4)),), desc="all"),
        Sample((distinct(rng, (3, 4)), 1), desc="dim 1"),
        Sample((distinct(rng, (3, 4, 2)), 0, True), desc="dim 0 keepdim"),
    ]


def _arg_samples(rng):
    return [
        Sample((distinct(rng, (3, 4)),), desc="flat"),
        Sample((distinct(rng, (3, 4)), 1), desc="dim 1"),
        Sample((distinct(rng, (3, 4, 2)), 0, True), desc="keepdim"),
        Sample((np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), 1), desc="ties pick the first"),
    ]


def _all_dims(x, dim):
    """PyTorch ignores keepdim when no dim is given; naming every dim keeps it."""
    return tuple(range(x.ndim)) if dim is None else dim


def _as_torch_tensor(t, x, like):
    return x if isinstance(x, t.Tensor) else t.tensor(x, dtype=like.dtype)


def _values(result):
    """max/min with a dim return (values, indices); the table compares the values."""
    return result[0] if isinstance(result, tuple) else result


# --------------------------------------------------------------------------- the table
def _entries():
    return [
        OpInfo(
            "add",
            cr.add,
            np.add,
            lambda t, a, b: a + b,
            _chain(_binary_samples(), _scalar_left(2.0)),
        ),
        OpInfo(
            "sub",
            cr.sub,
            np.subtract,
            lambda t, a, b: a - b,
            _chain(_binary_samples(), _scalar_left(2.0)),
        ),
        OpInfo(
            "mul",
            cr.mul,
            np.multiply,
            lambda t, a, b: a * b,
            _chain(_binary_samples(), _scalar_left(2.0)),
        ),
        OpInfo(
            "div",
            cr.div,
            np.divide,
            lambda t, a, b: a / b,
            _chain(_binary_samples(other_low=0.5, other_high=2.0), _scalar_left(2.0)),
        ),
        OpInfo(
            "pow",
            cr.pow,
            np.power,
            lambda t, a, b: a**b,
            _chain(_binary_samples(low=0.5, high=2.0), _scalar_left(2.0)),
            kinks=(
                Kink(
                    (np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])),
                    (np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.0, np.log(2.0)])),
                    desc="zero base or zero exponent",
                ),
                Kink(
                    (np.array([0.0, 1.0]), 0.5), (np.array([np.inf, 0.5]),), desc="sqrt-like at 0"
                ),
            ),
        ),
        OpInfo("neg", cr.neg, np.negative, lambda t, x: -x, _unary_samples(), method="neg"),
        OpInfo("exp", cr.exp, np.exp, lambda t, x: t.exp(x), _unary_samples(), method="exp"),
        OpInfo(
            "log", cr.log, np.log, lambda t, x: t.log(x), _unary_samples(0.2, 3.0), method="log"
        ),
        OpInfo(
            "sqrt",
            cr.sqrt,
            np.sqrt,
            lambda t, x: t.sqrt(x),
            _unary_samples(0.2, 3.0),
            method="sqrt",
            kinks=(Kink((np.array([0.0, 4.0]),), (np.array([np.inf, 0.25]),), desc="x = 0"),),
        ),
        OpInfo(
            "abs",
            cr.abs,
            np.abs,
            lambda t, x: t.abs(x),
            _unary_samples(points=(0.0,)),
            method="abs",
            kinks=(
                Kink((np.array([-1.0, 0.0, 2.0]),), (np.array([-1.0, 0.0, 1.0]),), desc="x = 0"),
            ),
        ),
        OpInfo("sin", cr.sin, np.sin, lambda t, x: t.sin(x), _unary_samples(-4, 4), method="sin"),
        OpInfo("cos", cr.cos, np.cos, lambda t, x: t.cos(x), _unary_samples(-4, 4), method="cos"),
        OpInfo(
            "tanh", cr.tanh, np.tanh, lambda t, x: t.tanh(x), _unary_samples(-3, 3), method="tanh"
        ),
        OpInfo(
            "sigmoid",
            cr.sigmoid,
            lambda x: 1 / (1 + np.exp(-x)),
            lambda t, x: t.sigmoid(x),
            _unary_samples(-5, 5),
            method="sigmoid",
            kinks=(Kink((np.array([0.0]),), (np.array([0.25]),), desc="the largest slope, 1/4"),),
        ),
        OpInfo(
            "relu",
            cr.relu,
            lambda x: np.maximum(x, 0),
            lambda t, x: t.relu(x),
            _unary_samples(points=(0.0,)),
            method="relu",
            kinks=(
                Kink((np.array([-1.0, 0.0, 2.0]),), (np.array([0.0, 0.0, 1.0]),), desc="x = 0"),
            ),
        ),
        OpInfo(
            "clamp",
            cr.clamp,
            lambda x, lo, hi: np.clip(x, lo, hi),
            lambda t, x, lo, hi: t.clamp(x, lo, hi),
            _clamp_samples,
            method="clamp",
            kinks=(
                Kink(
                    (np.array([-1.0, 1.0, 0.0, 2.0, -3.0]), -1.0, 1.0),
                    (np.array([1.0, 1.0, 1.0, 0.0, 0.0]),),
                    desc="at both bounds",
                ),
            ),
        ),
        OpInfo(
            "maximum",
            cr.maximum,
            np.maximum,
            lambda t, a, b: t.maximum(a, _as_torch_tensor(t, b, a)),
            _binary_samples(separate=True),
            method="maximum",
            kinks=(
                Kink(
                    (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])),
                    (np.array([0.5, 1.0, 0.0]), np.array([0.5, 0.0, 1.0])),
                    desc="a tie",
                ),
            ),
        ),
        OpInfo(
            "minimum",
            cr.minimum,
            np.minimum,
            lambda t, a, b: t.minimum(a, _as_torch_tensor(t, b, a)),
            _binary_samples(separate=True),
            method="minimum",
            kinks=(
                Kink(
                    (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])),
                    (np.array([0.5, 0.0, 1.0]), np.array([0.5, 1.0, 0.0])),
                    desc="a tie",
                ),
            ),
        ),
        OpInfo("where", cr.where, np.where, lambda t, c, a, b: t.where(c, a, b), _where_samples),
        OpInfo(
            "masked_fill",
            cr.masked_fill,
            lambda x, m, v: np.where(m, v, x),
            lambda t, x, m, v: t.masked_fill(x, m, v),
            _masked_fill_samples,
            method="masked_fill",
        ),
        OpInfo(
            "assign",
            cr.ops.assign,
            lambda x, s: np.broadcast_to(s, x.shape).astype(x.dtype),
            lambda t, x, s: x.clone().copy_(s),
            _assign_samples,
        ),
        OpInfo(
            "assign_at",
            cr.ops.assign_at,
            _np_assign_at,
            _torch_assign_at,
            _assign_at_samples,
        ),
        OpInfo(
            "matmul",
            cr.matmul,
            np.matmul,
            lambda t, a, b: t.matmul(a, b),
            _matmul_samples,
            method="matmul",
        ),
        OpInfo(
            "sum",
            cr.sum,
            _np_reduce(np.sum),
            lambda t, x, dim=None, keepdim=False: x.sum(_all_dims(x, dim), keepdim=keepdim),
            _reduction_samples(),
            method="sum",
        ),
        OpInfo(
            "mean",
            cr.mean,
            _np_reduce(np.mean),
            lambda t, x, dim=None, keepdim=False: x.mean(_all_dims(x, dim), keepdim=keepdim),
            _reduction_samples(),
            method="mean",
        ),
        OpInfo(
            "var",
            cr.var,
            _np_var(),
            lambda t, x, dim=None, keepdim=False, **kw: t.var(x, dim, keepdim=keepdim, **kw),
            _chain(
                _reduction_samples(dims=(None, 1, (0, 2)), zero_d=False),
                lambda rng: [
                    Sample((uniform(rng, (3, 4)),), {"dim": 1, "correction": 0}, desc="biased"),
                    Sample((uniform(rng, (3, 4)), 0), {"unbiased": False}, desc="unbiased=False"),
                ],
            ),
            method="var",
        ),
        OpInfo(
            "std",
            cr.std,
            _np_var(root=True),
            lambda t, x, dim=None, keepdim=False, **kw: t.std(x, dim, keepdim=keepdim, **kw),
            _chain(
                _reduction_samples(dims=(None, 1, (0, 2)), zero_d=False),
                lambda rng: [
                    Sample((uniform(rng, (3, 4)),), {"dim": 1, "correction": 0}, desc="biased")
                ],
            ),
            method="std",
        ),
        OpInfo(
            "norm",
            cr.norm,
            lambda x, p, dim=None, keepdim=False: _np_norm(x, p, dim, keepdim),
            lambda t, x, p, dim=None, keepdim=False: t.norm(x, p, dim, keepdim),
            _norm_samples,
            method="norm",
            kinks=(
                Kink((np.zeros(3), 2), (np.zeros(3),), desc="the zero vector"),
                Kink(
                    (np.array([[3.0, -3.0, 1.0]]), float("inf"), 1),
                    (np.array([[0.5, -0.5, 0.0]]),),
                    desc="inf-norm ties split evenly",
                ),
                Kink((np.array([-2.0, 0.0, 3.0]), 1), (np.array([-1.0, 0.0, 1.0]),), desc="x = 0"),
            ),
        ),
        OpInfo(
            "amax",
            cr.amax,
            _np_reduce(np.max),
            lambda t, x, dim=None, keepdim=False: t.amax(x, () if dim is None else dim, keepdim),
            _reduction_samples(value=distinct),
            method="amax",
            kinks=(
                Kink(
                    (np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), 1),
                    (np.array([[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]),),
                    desc="ties split evenly",
                ),
            ),
        ),
        OpInfo(
            "amin",
            cr.amin,
            _np_reduce(np.min),
            lambda t, x, dim=None, keepdim=False: t.amin(x, () if dim is None else dim, keepdim),
            _reduction_samples(value=distinct),
            method="amin",
            kinks=(
                Kink(
                    (np.array([[1.0, 1.0, 3.0]]), 1),
                    (np.array([[0.5, 0.5, 0.0]]),),
                    desc="ties split evenly",
                ),
            ),
        ),
        OpInfo(
            "max",
            lambda *a: _values(cr.max(*a)),
            lambda x, dim=None, keepdim=False: np.max(x, axis=dim, keepdims=keepdim),
            lambda t, x, *a: _values(t.max(x, *a)),
            _max_dim_samples,
            kinks=(
                Kink(
                    (np.array([[3.0, 3.0, 1.0]]), 1),
                    (np.array([[1.0, 0.0, 0.0]]),),
                    desc="along a dim, the gradient goes to the returned index",
                ),
            ),
        ),
        OpInfo(
            "min",
            lambda *a: _values(cr.min(*a)),
            lambda x, dim=None, keepdim=False: np.min(x, axis=dim, keepdims=keepdim),
            lambda t, x, *a: _values(t.min(x, *a)),
            _max_dim_samples,
        ),
        OpInfo(
            "argmax",
            cr.argmax,
            lambda x, dim=None, keepdim=False: np.argmax(x, axis=dim, keepdims=keepdim),
            lambda t, x, *a: t.argmax(x, *a),
            _arg_samples,
            method="argmax",
            differentiable=False,
        ),
        OpInfo(
            "argmin",
            cr.argmin,
            lambda x, dim=None, keepdim=False: np.argmin(x, axis=dim, keepdims=keepdim),
            lambda t, x, *a: t.argmin(x, *a),
            _arg_samples,
            method="argmin",
            differentiable=False,
        ),
        OpInfo(
            "logsumexp",
            cr.logsumexp,
            _np_logsumexp,
            lambda t, x, dim=None, keepdim=False: t.logsumexp(
                x, tuple(range(x.ndim)) if dim is None else dim, keepdim
            ),
            _reduction_samples(dims=(None, 0, -1, (0, 2))),
            method="logsumexp",
        ),
        OpInfo(
            "softmax",
            cr.softmax,
            _np_softmax,
            lambda t, x, d: t.softmax(x, d),
            _softmax_samples,
            method="softmax",
        ),
        OpInfo(
            "log_softmax",
            cr.log_softmax,
            lambda x, d: np.log(_np_softmax(x, d)),
            lambda t, x, d: t.log_softmax(x, d),
            _softmax_samples,
            method="log_softmax",
        ),
        OpInfo(
            "reshape",
            cr.reshape,
            np.reshape,
            lambda t, x, s: x.reshape(s),
            _shape_samples,
            method="reshape",
        ),
        OpInfo(
            "flatten",
            cr.flatten,
            lambda x, s=0, e=-1: (
                x.reshape(-1)
                if x.ndim == 0
                else x.reshape((*x.shape[:s], -1, *x.shape[e % x.ndim + 1 :]))
            ),
            lambda t, x, *a: t.flatten(x, *a),
            _flatten_samples,
            method="flatten",
        ),
        OpInfo(
            "transpose",
            cr.transpose,
            lambda x, a, b: np.swapaxes(x, a, b),
            lambda t, x, a, b: t.transpose(x, a, b),
            _transpose_samples,
            method="transpose",
        ),
        OpInfo(
            "permute",
            cr.permute,
            np.transpose,
            lambda t, x, d: x.permute(d),
            _permute_samples,
            method="permute",
        ),
        OpInfo(
            "T",
            lambda x: x.T,
            lambda x: x.T,
            lambda t, x: x.T,
            lambda rng: [
                Sample((uniform(rng, (3, 4)),)),
                Sample((uniform(rng, (4, 3)).T,), desc="non-contiguous"),
            ],
        ),
        OpInfo(
            "squeeze",
            cr.squeeze,
            lambda x, d=None: np.squeeze(x, d) if d is None or x.shape[d] == 1 else x,
            lambda t, x, *a: t.squeeze(x, *a),
            _squeeze_samples,
            method="squeeze",
        ),
        OpInfo(
            "unsqueeze",
            cr.unsqueeze,
            np.expand_dims,
            lambda t, x, d: t.unsqueeze(x, d),
            _unsqueeze_samples,
            method="unsqueeze",
        ),
        OpInfo(
            "broadcast_to",
            cr.broadcast_to,
            np.broadcast_to,
            lambda t, x, s: t.broadcast_to(x, s),
            _broadcast_samples,
            method="broadcast_to",
        ),
        OpInfo(
            "expand",
            cr.expand,
            lambda x, *s: np.broadcast_to(
                x, tuple(x.shape[i - (len(s) - x.ndim)] if v == -1 else v for i, v in enumerate(s))
            ),
            lambda t, x, *s: x.expand(*s),
            _expand_samples,
            method="expand",
        ),
        OpInfo(
            "cast",
            cr.cast,
            lambda x, d: x.astype(d),
            lambda t, x, d: x.to({np.float32: t.float32, np.float64: t.float64}[d]),
            _cast_samples,
            rtol32=1e-6,
        ),
        OpInfo(
            "cat",
            cr.cat,
            lambda ts, dim=0: np.concatenate(ts, dim),
            lambda t, ts, dim=0: t.cat(ts, dim),
            _cat_samples,
        ),
        OpInfo(
            "stack",
            cr.stack,
            lambda ts, dim=0: np.stack(ts, dim),
            lambda t, ts, dim=0: t.stack(ts, dim),
            _stack_samples,
        ),
        OpInfo(
            "getitem",
            cr.getitem,
            lambda x, i: x[i],
            lambda t, x, i: x[_torch_index(t, i)],
            _getitem_samples,
        ),
        OpInfo(
            "gather",
            cr.gather,
            _np_gather,
            lambda t, x, d, i: t.gather(x, d, i),
            _gather_samples,
            method="gather",
        ),
        OpInfo(
            "add_at",
            lambda v, s, i: cr.ops.indexing.add_at(s, i, v),
            _np_index_add,
            _torch_index_add,
            _index_add_samples,
        ),
        OpInfo(
            "eq", cr.eq, np.equal, lambda t, a, b: a == b, _compare_samples, differentiable=False
        ),
        OpInfo(
            "ne",
            cr.ne,
            np.not_equal,
            lambda t, a, b: a != b,
            _compare_samples,
            differentiable=False,
        ),
        OpInfo("lt", cr.lt, np.less, lambda t, a, b: a < b, _compare_samples, differentiable=False),
        OpInfo(
            "le",
            cr.le,
            np.less_equal,
            lambda t, a, b: a <= b,
            _compare_samples,
            differentiable=False,
        ),
        OpInfo(
            "gt", cr.gt, np.greater, lambda t, a, b: a > b, _compare_samples, differentiable=False
        ),
        OpInfo(
            "ge",
            cr.ge,
            np.greater_equal,
            lambda t, a, b: a >= b,
            _compare_samples,
            differentiable=False,
        ),
        OpInfo(
            "isnan",
            cr.isnan,
            np.isnan,
            lambda t, x: t.isnan(x),
            _special_samples,
            differentiable=False,
            method="isnan",
        ),
        OpInfo(
            "isfinite",
            cr.isfinite,
            np.isfinite,
            lambda t, x: t.isfinite(x),
            _special_samples,
            differentiable=False,
            method="isfinite",
        ),
        OpInfo(
            "any",
            cr.any,
            _np_reduce(np.any),
            lambda t, x, dim=None, keepdim=False: (
                x.any() if dim is None else x.any(dim, keepdim=keepdim)
            ),
            _bool_samples,
            differentiable=False,
            method="any",
        ),
        OpInfo(
            "all",
            cr.all,
            _np_reduce(np.all),
            lambda t, x, dim=None, keepdim=False: (
                x.all() if dim is None else x.all(dim, keepdim=keepdim)
            ),
            _bool_samples,
            differentiable=False,
            method="all",
        ),
        OpInfo(
            "logical_not",
            cr.logical_not,
            np.logical_not,
            lambda t, x: ~x,
            lambda rng: [s for s in _bool_samples(rng) if len(s.args) == 1],
            differentiable=False,
        ),
    ]


def _torch_index(t, index):
    parts = index if isinstance(index, tuple) else (index,)
    conv = tuple(t.as_tensor(p) if isinstance(p, np.ndarray) else p for p in parts)
    return conv if isinstance(index, tuple) else conv[0]


OP_DB: list[OpInfo] = _entries() + NN_OPS + LOSS_OPS + TENSOR_OPS
