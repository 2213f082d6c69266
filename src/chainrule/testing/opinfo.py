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

import operator

import numpy as np

import chainrule as cr
from chainrule.testing.loss_opinfo import LOSS_OPS
from chainrule.testing.nn_opinfo import NN_OPS
from chainrule.testing.sampling import Kink, OpInfo, Sample, away, distinct, tensor_op, uniform
from chainrule.testing.tensor_opinfo import TENSOR_OPS, np_norm

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
    other = (low if other_low is None else other_low, high if other_high is None else other_high)

    def make(rng):
        out = []
        for sa, sb, desc in BROADCAST_PAIRS:
            a = uniform(rng, sa, low, high)
            b = uniform(rng, sb, *other)
            if separate:  # keep a and b apart so max/min have no ties
                b = np.asarray(
                    b + 0.5 * np.sign(b - np.broadcast_to(a, np.broadcast_shapes(sa, sb)).mean())
                )
            out.append(Sample((a, b), desc=desc))
        a = uniform(rng, (4, 3), low, high).T  # non-contiguous
        out.append(Sample((a, uniform(rng, (3, 4), *other)), desc="non-contiguous"))
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


def _tensor_lists(*cases):
    """Samples of a list of tensors and a dim, from rows of (shapes, dim, desc)."""

    def make(rng):
        return [
            Sample(([uniform(rng, s) for s in shapes],), {"dim": dim}, desc=desc)
            for shapes, dim, desc in cases
        ]

    return make


_cat_samples = _tensor_lists(
    ([(2, 3), (4, 3)], 0, "dim 0"),
    ([(2, 3), (2, 1), (2, 2)], 1, "three, dim 1"),
    ([(2, 3, 2), (2, 3, 1)], -1, "negative dim"),
)
_stack_samples = _tensor_lists(
    ([(2, 3), (2, 3)], 0, "dim 0"),
    ([(2, 3), (2, 3), (2, 3)], 2, "last"),
    ([(3,), (3,)], -1, "negative dim"),
)


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


def _np_assign_at(x, index, value):
    out = x.copy()
    out[index] = value
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


def _arithmetic(name, ref, python_op, samples, *kinks):
    """An arithmetic op, compared with PyTorch through Python's operator (``a + b``), so
    that a number may stand on the left, as one more sample has it."""
    return OpInfo(
        name,
        getattr(cr, name),
        ref,
        lambda t, a, b: python_op(a, b),
        _chain(samples, _scalar_left(2.0)),
        kinks=kinks,
    )


def _elementwise_extreme(name, ref, grads_at_a_tie):
    """maximum or minimum. PyTorch's wants a tensor on both sides."""

    def torch_call(t, a, b):
        return getattr(t, name)(a, b if isinstance(b, t.Tensor) else t.tensor(b, dtype=a.dtype))

    return OpInfo(
        name,
        getattr(cr, name),
        ref,
        torch_call,
        _binary_samples(separate=True),
        method=name,
        kinks=(
            Kink(
                (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])),
                grads_at_a_tie,
                desc="a tie",
            ),
        ),
    )


def _reduction(name, ref, samples, *kinks, **options):
    """A reduction over ``dim``, compared with ``x.<name>(dims, keepdim=...)``: PyTorch
    ignores keepdim when no dim is given, so every dim is named then."""

    def torch_call(t, x, dim=None, keepdim=False):
        return getattr(x, name)(tuple(range(x.ndim)) if dim is None else dim, keepdim=keepdim)

    op = getattr(cr, name)
    return OpInfo(name, op, ref, torch_call, samples, method=name, kinks=kinks, **options)


def _reduction_values(name, ref, *kinks):
    """max or min, compared by their values: with a dim they return (values, indices)."""

    def values(result):
        return result[0] if isinstance(result, tuple) else result

    return OpInfo(
        name,
        lambda *a: values(getattr(cr, name)(*a)),
        ref,
        lambda t, *a: values(getattr(t, name)(*a)),
        _max_dim_samples,
        kinks=kinks,
    )


def _torch_index(t, index):
    """An index for PyTorch, as a tuple, with its arrays as tensors."""
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(t.as_tensor(p) if isinstance(p, np.ndarray) else p for p in parts)


def _torch_index_add(t, values, shape, index, accumulate=True):
    return t.zeros(shape, dtype=values.dtype).index_put(
        _torch_index(t, index), values, accumulate=True
    )


def _torch_assign_at(t, x, index, value):
    out = x.clone()
    out[_torch_index(t, index)] = value
    return out


# --------------------------------------------------------------------------- the table
COMPARISONS = [
    ("eq", np.equal),
    ("ne", np.not_equal),
    ("lt", np.less),
    ("le", np.less_equal),
    ("gt", np.greater),
    ("ge", np.greater_equal),
]


def _entries():
    return [
        _arithmetic("add", np.add, operator.add, _binary_samples()),
        _arithmetic("sub", np.subtract, operator.sub, _binary_samples()),
        _arithmetic("mul", np.multiply, operator.mul, _binary_samples()),
        _arithmetic("div", np.divide, operator.truediv, _binary_samples(other_low=0.5)),
        _arithmetic(
            "pow",
            np.power,
            operator.pow,
            _binary_samples(low=0.5, high=2.0),
            Kink(
                (np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])),
                (np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.0, np.log(2.0)])),
                desc="zero base or zero exponent",
            ),
            Kink((np.array([0.0, 1.0]), 0.5), (np.array([np.inf, 0.5]),), desc="sqrt-like at 0"),
        ),
        tensor_op("neg", np.negative, _unary_samples()),
        tensor_op("exp", np.exp, _unary_samples()),
        tensor_op("log", np.log, _unary_samples(0.2, 3.0)),
        tensor_op(
            "sqrt",
            np.sqrt,
            _unary_samples(0.2, 3.0),
            Kink((np.array([0.0, 4.0]),), (np.array([np.inf, 0.25]),), desc="x = 0"),
        ),
        tensor_op(
            "abs",
            np.abs,
            _unary_samples(points=(0.0,)),
            Kink((np.array([-1.0, 0.0, 2.0]),), (np.array([-1.0, 0.0, 1.0]),), desc="x = 0"),
        ),
        tensor_op("sin", np.sin, _unary_samples(-4, 4)),
        tensor_op("cos", np.cos, _unary_samples(-4, 4)),
        tensor_op("tanh", np.tanh, _unary_samples(-3, 3)),
        tensor_op(
            "sigmoid",
            lambda x: 1 / (1 + np.exp(-x)),
            _unary_samples(-5, 5),
            Kink((np.array([0.0]),), (np.array([0.25]),), desc="the largest slope, 1/4"),
        ),
        tensor_op(
            "relu",
            lambda x: np.maximum(x, 0),
            _unary_samples(points=(0.0,)),
            Kink((np.array([-1.0, 0.0, 2.0]),), (np.array([0.0, 0.0, 1.0]),), desc="x = 0"),
        ),
        tensor_op(
            "clamp",
            np.clip,
            _clamp_samples,
            Kink(
                (np.array([-1.0, 1.0, 0.0, 2.0, -3.0]), -1.0, 1.0),
                (np.array([1.0, 1.0, 1.0, 0.0, 0.0]),),
                desc="at both bounds",
            ),
        ),
        _elementwise_extreme(
            "maximum", np.maximum, (np.array([0.5, 1.0, 0.0]), np.array([0.5, 0.0, 1.0]))
        ),
        _elementwise_extreme(
            "minimum", np.minimum, (np.array([0.5, 0.0, 1.0]), np.array([0.5, 1.0, 0.0]))
        ),
        tensor_op("where", np.where, _where_samples, method=False),
        tensor_op("masked_fill", lambda x, m, v: np.where(m, v, x), _masked_fill_samples),
        OpInfo(
            "assign",
            cr.ops.assign,
            lambda x, s: np.broadcast_to(s, x.shape).astype(x.dtype),
            lambda t, x, s: x.clone().copy_(s),
            _assign_samples,
        ),
        OpInfo("assign_at", cr.ops.assign_at, _np_assign_at, _torch_assign_at, _assign_at_samples),
        tensor_op("matmul", np.matmul, _matmul_samples),
        _reduction("sum", _np_reduce(np.sum), _reduction_samples()),
        _reduction("mean", _np_reduce(np.mean), _reduction_samples()),
        tensor_op(
            "var",
            _np_var(),
            _chain(
                _reduction_samples(dims=(None, 1, (0, 2)), zero_d=False),
                lambda rng: [
                    Sample((uniform(rng, (3, 4)),), {"dim": 1, "correction": 0}, desc="biased"),
                    Sample((uniform(rng, (3, 4)), 0), {"unbiased": False}, desc="unbiased=False"),
                ],
            ),
        ),
        tensor_op(
            "std",
            _np_var(root=True),
            _chain(
                _reduction_samples(dims=(None, 1, (0, 2)), zero_d=False),
                lambda rng: [
                    Sample((uniform(rng, (3, 4)),), {"dim": 1, "correction": 0}, desc="biased")
                ],
            ),
        ),
        tensor_op(
            "norm",
            lambda x, p, *a: np_norm(x, 2 if p == "fro" else p, *a),
            _norm_samples,
            Kink((np.zeros(3), 2), (np.zeros(3),), desc="the zero vector"),
            Kink(
                (np.array([[3.0, -3.0, 1.0]]), float("inf"), 1),
                (np.array([[0.5, -0.5, 0.0]]),),
                desc="inf-norm ties split evenly",
            ),
            Kink((np.array([-2.0, 0.0, 3.0]), 1), (np.array([-1.0, 0.0, 1.0]),), desc="x = 0"),
        ),
        _reduction(
            "amax",
            _np_reduce(np.max),
            _reduction_samples(value=distinct),
            Kink(
                (np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), 1),
                (np.array([[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]),),
                desc="ties split evenly",
            ),
        ),
        _reduction(
            "amin",
            _np_reduce(np.min),
            _reduction_samples(value=distinct),
            Kink(
                (np.array([[1.0, 1.0, 3.0]]), 1),
                (np.array([[0.5, 0.5, 0.0]]),),
                desc="ties split evenly",
            ),
        ),
        _reduction_values(
            "max",
            _np_reduce(np.max),
            Kink(
                (np.array([[3.0, 3.0, 1.0]]), 1),
                (np.array([[1.0, 0.0, 0.0]]),),
                desc="along a dim, the gradient goes to the returned index",
            ),
        ),
        _reduction_values("min", _np_reduce(np.min)),
        tensor_op("argmax", _np_reduce(np.argmax), _arg_samples, differentiable=False),
        tensor_op("argmin", _np_reduce(np.argmin), _arg_samples, differentiable=False),
        _reduction("logsumexp", _np_logsumexp, _reduction_samples(dims=(None, 0, -1, (0, 2)))),
        tensor_op("softmax", _np_softmax, _softmax_samples),
        tensor_op("log_softmax", lambda x, d: np.log(_np_softmax(x, d)), _softmax_samples),
        tensor_op("reshape", np.reshape, _shape_samples),
        tensor_op(
            "flatten",
            lambda x, s=0, e=-1: (
                x.reshape(-1)
                if x.ndim == 0
                else x.reshape((*x.shape[:s], -1, *x.shape[e % x.ndim + 1 :]))
            ),
            _flatten_samples,
        ),
        tensor_op("transpose", np.swapaxes, _transpose_samples),
        tensor_op("permute", np.transpose, _permute_samples),
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
        tensor_op(
            "squeeze",
            lambda x, d=None: np.squeeze(x, d) if d is None or x.shape[d] == 1 else x,
            _squeeze_samples,
        ),
        tensor_op("unsqueeze", np.expand_dims, _unsqueeze_samples),
        tensor_op("broadcast_to", np.broadcast_to, _broadcast_samples),
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
        tensor_op("cat", lambda ts, dim=0: np.concatenate(ts, dim), _cat_samples, method=False),
        tensor_op("stack", lambda ts, dim=0: np.stack(ts, dim), _stack_samples, method=False),
        OpInfo(
            "getitem",
            cr.getitem,
            lambda x, i: x[i],
            lambda t, x, i: x[_torch_index(t, i)],
            _getitem_samples,
        ),
        tensor_op("gather", _np_gather, _gather_samples),
        OpInfo(
            "add_at",
            lambda v, s, i: cr.ops.indexing.add_at(s, i, v),
            _np_index_add,
            _torch_index_add,
            _index_add_samples,
        ),
        *[
            tensor_op(name, ref, _compare_samples, method=False, differentiable=False)
            for name, ref in COMPARISONS
        ],
        tensor_op("isnan", np.isnan, _special_samples, differentiable=False),
        tensor_op("isfinite", np.isfinite, _special_samples, differentiable=False),
        _reduction("any", _np_reduce(np.any), _bool_samples, differentiable=False),
        _reduction("all", _np_reduce(np.all), _bool_samples, differentiable=False),
        tensor_op(
            "logical_not",
            np.logical_not,
            lambda rng: [s for s in _bool_samples(rng) if len(s.args) == 1],
            method=False,
            differentiable=False,
        ),
    ]


OP_DB: list[OpInfo] = _entries() + NN_OPS + LOSS_OPS + TENSOR_OPS
