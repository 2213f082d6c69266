"""The op table of PyTorch's tensor functions added for issue 14 (part A): products,
einsum, norms, cumulative ops, sorting, rearranging, index and scatter ops, rounding,
division, closeness, matrix structure. ``opinfo.py`` appends these to ``OP_DB``.

Functions with several results (``sort``, ``topk``, ``split``...) enter the table through
the tensor that carries their gradient: the values, or the pieces joined back; their
index results and the exact conventions at ties are tested in ``tests/test_tensor_api.py``.
"""

from __future__ import annotations

import itertools

import numpy as np

import chainrule as cr
from chainrule.testing.sampling import Kink, OpInfo, Sample, away, distinct, tensor_op, uniform

__all__ = ["TENSOR_OPS", "np_norm"]

INF = float("inf")


def _unary(gen, shapes=((), (5,), (2, 3), "non-contiguous")):
    def make(rng):
        out = []
        for s in shapes:
            if s == "non-contiguous":
                out.append(Sample((gen(rng, (3, 2)).T,), desc=s))
            else:
                out.append(Sample((gen(rng, s),), desc=f"shape {s}"))
        return out

    return make


def _uniform(low, high):
    return lambda rng, s: uniform(rng, s, low, high)


def _away_from_whole(rng, s, offset=0.0):
    """Values at least 0.1 from every whole number (plus ``offset``): steps jump there."""
    x = rng.uniform(-3, 3, s)
    frac = (x - offset) - np.floor(x - offset)
    return np.asarray(np.where(np.abs(frac - 0.5) > 0.4, np.floor(x - offset) + 0.5 + offset, x))


def _signs(rng, s):
    return away(rng, s, (0.0,), gap=0.1)


# --------------------------------------------------------------------------- references
def _np_sort(x, dim=-1, descending=False):
    if x.ndim == 0:
        return x
    out = np.sort(x, axis=dim, kind="stable")
    return np.flip(out, axis=dim) if descending else out


def _np_argsort(x, dim=-1, descending=False):
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    n = x.shape[dim]
    return n - 1 - np.flip(np.argsort(np.flip(x, dim), axis=dim, kind="stable"), dim)


def _np_topk(x, k, dim=-1, largest=True):
    order = _np_argsort(x, dim, descending=largest)
    order = np.take(order, np.arange(k), axis=dim)
    return np.take_along_axis(x, order, axis=dim)


def _np_prod(x, dim=None, keepdim=False):
    return np.prod(x, axis=dim, keepdims=keepdim if dim is not None else False)


def _np_scan(fn):
    """np.cumsum or np.cumprod along a dim, 0-d input included."""
    return lambda x, d: fn(x.reshape(-1) if x.ndim == 0 else x, d).reshape(x.shape)


def np_norm(x, ord=2, dim=None, keepdim=False):
    """The vector ord-norm over ``dim`` (all dims by default), 0 and ±inf included."""
    axis = tuple(range(x.ndim)) if dim is None else dim
    a = np.abs(x)
    if ord == 0:
        return np.sum(a != 0, axis=axis, keepdims=keepdim).astype(x.dtype)
    if np.isinf(ord):
        return (np.max if ord > 0 else np.min)(a, axis=axis, keepdims=keepdim)
    return np.sum(a**ord, axis=axis, keepdims=keepdim) ** (1 / ord)


def _np_linalg_norm(x, ord=None, dim=None, keepdim=False):
    if ord is None and dim is None:
        return np.sqrt(np.sum(x * x, keepdims=keepdim))
    if isinstance(dim, int) or (dim is not None and len(dim) == 1) or (dim is None and x.ndim == 1):
        return np_norm(x, 2 if ord is None else ord, dim, keepdim)
    return np.linalg.norm(x, ord, dim, keepdim)


def _np_split(op):
    def ref(x, *args):
        return np.concatenate([np.ravel(p) for p in op(x, *args)])

    return ref


def _split_pieces(x, size, dim=0):
    n = x.shape[dim]
    bounds = np.cumsum([0, *size]) if isinstance(size, list) else range(0, n + size, size)
    pairs = itertools.pairwise(bounds)
    return [np.take(x, np.arange(lo, min(hi, n)), axis=dim) for lo, hi in pairs]


def _np_chunk(x, chunks, dim=0):
    return _split_pieces(x, -(-x.shape[dim] // chunks), dim)


def _np_unbind(x, dim=0):
    return [np.take(x, i, axis=dim) for i in range(x.shape[dim])]


def _joined(op):
    """A function with several tensor results as one tensor: the pieces, flattened and
    joined, so one backward reaches every piece."""

    def run(*args, **kwargs):
        return cr.cat([p.reshape(-1) for p in op(*args, **kwargs)])

    return run


def _joined_torch(name):
    def run(t, x, *args):
        return t.cat([p.reshape(-1) for p in getattr(t, name)(x, *args)])

    return run


def _pieces(name, np_split, samples):
    """A function with several tensor results (split, chunk, unbind), checked through the
    tensor of its pieces joined."""
    return OpInfo(
        name, _joined(getattr(cr, name)), _np_split(np_split), _joined_torch(name), samples
    )


def _np_index_add(x, dim, index, source, alpha=1):
    out = x.copy()
    np.add.at(out, (slice(None),) * dim + (index,), alpha * source)
    return out


def _scatter_positions(index, dim):
    grid = list(np.ix_(*(np.arange(k) for k in index.shape)))
    grid[dim] = index
    return tuple(grid)


def _np_scatter(x, dim, index, src):
    out = x.copy()
    where = _scatter_positions(index, dim)
    if np.ndim(src) == 0:
        out[where] = src
    else:
        part = src[tuple(slice(0, k) for k in index.shape)]
        for pos in np.ndindex(index.shape):  # one by one: the last write wins
            out[tuple(w[pos] if np.ndim(w) else w for w in np.broadcast_arrays(*where))] = part[pos]
    return out


def _np_scatter_add(x, dim, index, src):
    out = x.copy()
    np.add.at(out, _scatter_positions(index, dim), src[tuple(slice(0, k) for k in index.shape)])
    return out


def _np_sign(x):
    return np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)).astype(x.dtype)


# --------------------------------------------------------------------------- samples
def _mm_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)), uniform(rng, (4, 2))), desc="matrices"),
        Sample((uniform(rng, (4, 3)).T, uniform(rng, (2, 4)).T), desc="non-contiguous"),
        Sample((uniform(rng, (1, 3)), uniform(rng, (3, 1))), desc="row times column"),
    ]


def _bmm_samples(rng):
    return [
        Sample((uniform(rng, (2, 3, 4)), uniform(rng, (2, 4, 2))), desc="batches"),
        Sample((uniform(rng, (1, 2, 3)), uniform(rng, (1, 3, 2))), desc="one batch"),
    ]


def _vector_pair(rng):
    return [
        Sample((uniform(rng, (5,)), uniform(rng, (5,))), desc="vectors"),
        Sample((uniform(rng, (6,))[::2], uniform(rng, (3,))), desc="non-contiguous"),
    ]


def _outer_samples(rng):
    return [
        Sample((uniform(rng, (3,)), uniform(rng, (4,))), desc="vectors"),
        Sample((uniform(rng, (1,)), uniform(rng, (2,))), desc="one element"),
    ]


def _einsum_samples(rng):
    u = lambda *s: uniform(rng, s)  # noqa: E731
    return [
        Sample(("ij,jk->ik", u(2, 3), u(3, 4)), desc="matrix product"),
        Sample(("ij,jk", u(2, 3), u(3, 4)), desc="implicit output"),
        Sample(("bij,bjk->bik", u(2, 2, 3), u(2, 3, 2)), desc="batched"),
        Sample(("...ij,...jk", u(2, 2, 3), u(3, 2)), desc="ellipsis, broadcast"),
        Sample(("ii->i", u(3, 3)), desc="diagonal"),
        Sample(("ii", u(3, 3)), desc="trace"),
        Sample(("ij->", u(2, 3)), desc="sum"),
        Sample(("ijk->kji", u(2, 3, 2)), desc="permutation"),
        Sample(("i,j->ij", u(3), u(2)), desc="outer"),
        Sample(("ij,ij->i", u(2, 3), u(2, 1)), desc="size-1 broadcast"),
        Sample(("ij,j->i", u(3, 2), u(2)), desc="matrix times vector"),
        Sample(("ij,jk,kl->il", u(2, 3), u(3, 2), u(2, 2)), desc="three operands"),
        Sample(("bii,bj->bij", u(2, 2, 2), u(2, 3)), desc="diagonal times another"),
    ]


def _prod_samples(rng):
    x = lambda s: away(rng, s, (0.0,), gap=0.4, low=-1.5, high=1.5)  # noqa: E731
    return [
        Sample((x(()),), desc="0-d"),
        Sample((x((2, 3)),), desc="all"),
        Sample((x((2, 3)), 1), desc="dim 1"),
        Sample((x((2, 3, 2)), 0, True), desc="dim 0 keepdim"),
        Sample((x((3, 2)).T, -1), desc="non-contiguous"),
        Sample((np.array([1.5, 0.0, -2.0, 0.5]),), desc="one zero"),
        Sample((np.array([[1.5, 0.0, 0.0], [2.0, 0.5, -1.0]]), 1), desc="zeros in a row"),
    ]


def _scan_samples(rng):
    x = lambda s: away(rng, s, (0.0,), gap=0.4, low=-1.5, high=1.5)  # noqa: E731
    return [
        Sample((x(()), 0), desc="0-d"),
        Sample((x((5,)), 0), desc="vector"),
        Sample((x((2, 3)), 1), desc="dim 1"),
        Sample((x((2, 3, 2)), -3), desc="negative dim"),
        Sample((x((3, 2)).T, 1), desc="non-contiguous"),
    ]


def _cumprod_samples(rng):
    return [
        *_scan_samples(rng),
        Sample((np.array([1.5, 0.0, -2.0, 0.5, 1.2]), 0), desc="one zero"),
        Sample((np.array([[1.5, 0.0, 2.0, 0.0], [0.0, 0.5, -1.0, 1.1]]), 1), desc="zeros"),
    ]


def _sort_samples(rng):
    return [
        Sample((distinct(rng, (5,)),), desc="vector"),
        Sample((distinct(rng, (3, 4)), 0), desc="dim 0"),
        Sample((distinct(rng, (3, 4)), -1, True), desc="descending"),
        Sample((distinct(rng, (4, 3)).T, 1), desc="non-contiguous"),
        Sample((distinct(rng, ()),), desc="0-d"),
    ]


def _ties(rng, shape):
    return rng.integers(-2, 3, shape).astype(np.float64)


def _argsort_samples(rng):
    return [
        Sample((_ties(rng, (8,)),), desc="ties keep their order"),
        Sample((_ties(rng, (3, 5)), 0, True), desc="descending ties"),
        Sample((np.array([2.0, np.nan, -1.0, 2.0, np.nan]),), desc="nan"),
        Sample((np.array([2.0, np.nan, -1.0, 2.0, np.nan]), 0, True), desc="nan descending"),
    ]


def _topk_samples(rng):
    return [
        Sample((distinct(rng, (6,)), 2), desc="vector"),
        Sample((distinct(rng, (3, 4)), 3, 0), desc="dim 0"),
        Sample((distinct(rng, (3, 4)), 2, -1, False), desc="smallest"),
        Sample((distinct(rng, (3, 4)), 0), desc="k = 0"),
    ]


def _split_samples(rng):
    return [
        Sample((uniform(rng, (5, 2)), 2), desc="size 2 (last smaller)"),
        Sample((uniform(rng, (2, 5)), [1, 3, 1], 1), desc="sections"),
        Sample((uniform(rng, (3, 4)).T, 3, 0), desc="non-contiguous"),
    ]


def _chunk_samples(rng):
    return [
        Sample((uniform(rng, (5, 2)), 3), desc="5 into 3"),
        Sample((uniform(rng, (2, 6)), 4, 1), desc="6 into 4 gives 3"),
    ]


def _unbind_samples(rng):
    return [
        Sample((uniform(rng, (3, 2)),), desc="rows"),
        Sample((uniform(rng, (2, 3, 2)), 1), desc="dim 1"),
        Sample((uniform(rng, (3,)), -1), desc="vector"),
    ]


def _repeat_samples(rng):
    return [
        Sample((uniform(rng, (2, 3)), 2, 1), desc="rows twice"),
        Sample((uniform(rng, (3,)), 2, 2), desc="new leading dimension"),
        Sample((uniform(rng, (2, 1)), 1, 1, 3), desc="1 everywhere but the last"),
        Sample((uniform(rng, (2, 2)), 1, 1), desc="ones (still a copy)"),
        Sample((uniform(rng, ()), 3), desc="0-d"),
    ]


def _tile_samples(rng):
    return [
        Sample((uniform(rng, (2, 3)), (2,)), desc="fewer sizes than dimensions"),
        Sample((uniform(rng, (2,)), (2, 2)), desc="more sizes"),
        Sample((uniform(rng, (3, 2)).T, (1, 2)), desc="non-contiguous"),
    ]


def _flip_samples(rng):
    return [
        Sample((uniform(rng, (2, 3)), (0,)), desc="dim 0"),
        Sample((uniform(rng, (2, 3, 2)), (0, 2)), desc="two dims"),
        Sample((uniform(rng, (3, 2)).T, (-1,)), desc="non-contiguous"),
    ]


def _roll_samples(rng):
    return [
        Sample((uniform(rng, (2, 3)), 1), desc="flattened"),
        Sample((uniform(rng, (2, 3)), -1, 1), desc="dim 1, negative"),
        Sample((uniform(rng, (2, 3)), (1, 4), (0, 1)), desc="two dims, wrapping"),
        Sample((uniform(rng, (2, 3)), 3, 1), desc="a whole turn"),
    ]


def _index_select_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)), 1, np.array([2, 0, 2])), desc="repeats"),
        Sample((uniform(rng, (3, 4)), 0, np.array([1])), desc="one"),
        Sample((uniform(rng, (2, 3, 2)), -1, np.array([1, 0])), desc="last dim"),
    ]


def _index_add_samples(rng):
    return [
        Sample((uniform(rng, (3, 2)), 0, np.array([0, 2, 0]), uniform(rng, (3, 2))), desc="rows"),
        Sample(
            (uniform(rng, (2, 4)), 1, np.array([3, 1]), uniform(rng, (2, 2))),
            {"alpha": 2.5},
            desc="alpha, dim 1",
        ),
    ]


def _scatter_samples(rng):
    return [
        Sample(
            (uniform(rng, (3, 4)), 0, np.array([[0, 1, 2, 0]]), uniform(rng, (2, 4))),
            desc="larger src",
            torch=False,  # PyTorch's backward needs src.shape == index.shape
        ),
        Sample(
            (uniform(rng, (3, 4)), 1, np.array([[3, 0], [1, 2], [0, 0]]), uniform(rng, (3, 2))),
            desc="dim 1, a repeat (last wins)",
            # PyTorch's gradient reaches the overwritten element too (a gather of the
            # output's gradient); finite differences see 0 there. Checked against PyTorch.
            gradcheck=False,
        ),
        Sample((uniform(rng, (2, 3)), 1, np.array([[2], [0]]), 1.5), desc="a number"),
    ]


def _scatter_add_samples(rng):
    return [
        Sample(
            (uniform(rng, (3, 4)), 0, np.array([[0, 1, 0, 0], [2, 1, 1, 0]]), uniform(rng, (2, 4))),
            desc="repeats add up",
        ),
        Sample(
            (uniform(rng, (2, 3)), 1, np.array([[2, 2], [0, 1]]), uniform(rng, (2, 3))),
            desc="dim 1, larger src",
            torch=False,  # PyTorch's backward needs src.shape == index.shape
        ),
        Sample(
            (uniform(rng, (2, 3)), 1, np.array([[2, 2], [0, 1]]), uniform(rng, (2, 2))),
            desc="dim 1, repeats",
        ),
    ]


def _nonzero_samples(rng):
    return [
        Sample((np.array([[1.0, 0.0], [0.0, -3.0]]),), desc="matrix"),
        Sample((np.array([0.0, np.nan, -0.0, 2.0]),), desc="nan counts, -0 does not"),
        Sample((rng.integers(-1, 2, (2, 3, 2)),), desc="integers"),
        Sample((np.zeros((2, 2)),), desc="none"),
    ]


def _close_samples(rng):
    # Offsets clearly inside or outside the tolerance, in float32 as in float64.
    a = np.array([1.0, -1.5, 2.0, 1.25, -1.75, 1.5])
    b = a + np.array([0.0, 1e-9, 1e-6, 5e-3, 0.5, -1e-7])
    return [
        Sample((a, b), desc="near and far"),
        Sample((a, b), {"rtol": 1e-3, "atol": 0.0}, desc="rtol only"),
        Sample(
            (np.array([np.inf, -np.inf, np.nan, 1.0]), np.array([np.inf, np.inf, np.nan, 1.0])),
            desc="inf and nan",
        ),
        Sample(
            (np.array([np.nan, 1.0]), np.array([np.nan, 1.0])),
            {"equal_nan": True},
            desc="equal_nan",
        ),
        Sample((uniform(rng, (2, 3)), uniform(rng, (3,))), desc="broadcast"),
    ]


def _equal_samples(rng):
    a = uniform(rng, (2, 3))
    return [
        Sample((a, a.copy()), desc="equal"),
        Sample((a, a + np.array([0.0, 0.0, 1e-3])), desc="one differs"),
        Sample((a, a[:1]), desc="shapes differ"),
        Sample((np.array([np.nan]), np.array([np.nan])), desc="nan is not equal"),
    ]


def _step_samples(offset=0.0):
    def make(rng):
        gen = lambda s: _away_from_whole(rng, s, offset)  # noqa: E731
        return [
            Sample((gen(()),), desc="0-d"),
            Sample((gen((5,)),), desc="vector"),
            Sample((gen((3, 2)).T,), desc="non-contiguous"),
        ]

    return make


def _round_samples(rng):
    halves = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5])
    return [
        *_step_samples(0.5)(rng),
        Sample((halves,), desc="halves to even", gradcheck=False),
        Sample((np.array([1.2345, 2.5551, -0.1251, 12.349]),), {"decimals": 2}, desc="decimals"),
        Sample((np.array([1234.5, 2551.0, -149.9]),), {"decimals": -2}, desc="negative decimals"),
    ]


def _sign_samples(rng):
    return [
        *_unary(_signs, ((), (5,), "non-contiguous"))(rng),
        Sample((np.array([np.nan, -0.0, 0.0, 2.0, -3.0]),), desc="nan and zeros", gradcheck=False),
    ]


def _clamp_one_samples(bound):
    def make(rng):
        x = lambda s: away(rng, s, (bound,), gap=0.1)  # noqa: E731
        return [
            Sample((x((5,)), bound), desc="vector"),
            Sample((x((3, 2)).T, bound), desc="non-contiguous"),
            Sample((x(()), bound), desc="0-d"),
        ]

    return make


def _triangle_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)),), desc="main diagonal"),
        Sample((uniform(rng, (3, 4)), 1), desc="above"),
        Sample((uniform(rng, (2, 3, 3)), -1), desc="batched, below"),
        Sample((uniform(rng, (4, 3)).T, 2), desc="non-contiguous"),
    ]


def _diag_samples(rng):
    return [
        Sample((uniform(rng, (3,)),), desc="vector to matrix"),
        Sample((uniform(rng, (2,)), 1), desc="vector above"),
        Sample((uniform(rng, (2,)), -2), desc="vector below"),
        Sample((uniform(rng, (3, 4)), 1), desc="matrix's diagonal above"),
        Sample((uniform(rng, (3, 4)), -1), desc="matrix's diagonal below"),
    ]


def _diagonal_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)),), desc="matrix"),
        Sample((uniform(rng, (2, 3, 4)), 1, 0, 2), desc="3-d, above"),
        Sample((uniform(rng, (2, 3, 4)), -1, 2, 1), desc="dims reversed, below"),
        Sample((uniform(rng, (3, 3)), 5), desc="empty"),
    ]


def _division_samples(rng):
    a = lambda s: uniform(rng, s, -5, 5)  # noqa: E731
    b = lambda s: away(rng, s, (0.0,), gap=0.5, low=-2.5, high=2.5)  # noqa: E731
    return [
        Sample((a((3, 4)), b((3, 4))), desc="same shape"),
        Sample((a((2, 3)), b((3,))), desc="broadcast"),
        Sample((a((2, 3)), 1.5), desc="tensor and number"),
        # 4 / b far from whole numbers (remainder jumps there). PyTorch has no derivative
        # for a number % tensor; chainrule's is -g floor(a / b), checked by finite
        # differences, and the values against PyTorch's.
        Sample((4.0, np.array([1.3, -1.7, 2.3])), desc="number and tensor", torch=False),
        Sample(
            (rng.integers(-9, 9, (5,)), np.array([2, -3, 4, -1, 7])),
            desc="integers",
            gradcheck=False,
        ),
    ]


def _torch_sort_values(t, x, dim=-1, descending=False):
    return t.sort(x, dim=dim, descending=descending, stable=True).values


def _torch_argsort(t, x, dim=-1, descending=False):
    return t.argsort(x, dim=dim, descending=descending, stable=True)


# --------------------------------------------------------------------------- the table
WHOLE_NUMBERS = Kink((np.array([-1.0, 0.0, 2.0]),), (np.zeros(3),), desc="whole numbers")


def _entries() -> list[OpInfo]:
    return [
        tensor_op("mm", np.matmul, _mm_samples),
        tensor_op("bmm", np.matmul, _bmm_samples),
        tensor_op("dot", np.dot, _vector_pair),
        tensor_op("outer", np.outer, _outer_samples),
        tensor_op("einsum", np.einsum, _einsum_samples, method=False),
        tensor_op(
            "linalg.vector_norm",
            np_norm,
            lambda rng: [
                Sample((away(rng, (3, 4), gap=0.2),), desc="2-norm of all"),
                Sample((away(rng, (3, 4), gap=0.2), 1, 1), desc="1-norm of rows"),
                Sample((away(rng, (3, 4), gap=0.2), 3, (0, 1), True), desc="3-norm, keepdim"),
                Sample((distinct(rng, (3, 4)), INF, 0), desc="inf"),
                Sample((away(rng, (5,), gap=0.2), 0.5), desc="p = 0.5"),
            ],
            method=False,
        ),
        tensor_op(
            "linalg.norm",
            _np_linalg_norm,
            lambda rng: [
                Sample((away(rng, (2, 3, 2), gap=0.2),), desc="every element"),
                Sample((away(rng, (3, 4), gap=0.2), "fro"), desc="'fro'"),
                Sample((distinct(rng, (3, 4)), INF), desc="inf: largest row sum"),
                Sample((distinct(rng, (3, 4)), -INF), desc="-inf"),
                Sample((distinct(rng, (3, 4)), 1), desc="1: largest column sum"),
                Sample((distinct(rng, (3, 4)), -1), desc="-1"),
                Sample((away(rng, (4,), gap=0.2), 3), desc="vector, ord 3"),
                Sample((away(rng, (3, 4), gap=0.2), None, 1), desc="rows"),
                Sample((distinct(rng, (2, 3, 3)), 1, (1, 2), True), desc="batched matrices"),
            ],
            Kink(
                (np.array([[1.0, -2.0], [2.0, 1.0]]), INF),
                (np.array([[0.5, -0.5], [0.5, 0.5]]),),
                desc="tied rows share the gradient",
            ),
            method=False,
        ),
        tensor_op(
            "prod",
            _np_prod,
            _prod_samples,
            Kink(
                (np.array([2.0, 0.0, 3.0, 5.0]),),
                (np.array([0.0, 30.0, 0.0, 0.0]),),
                desc="one zero",
            ),
            Kink((np.array([2.0, 0.0, 3.0, 0.0]),), (np.zeros(4),), desc="two zeros"),
        ),
        tensor_op("cumsum", _np_scan(np.cumsum), _scan_samples),
        tensor_op(
            "cumprod",
            _np_scan(np.cumprod),
            _cumprod_samples,
            Kink(
                (np.array([2.0, 0.0, 3.0, 0.0, 4.0]), 0),
                (np.array([1.0, 8.0, 0.0, 0.0, 0.0]),),
                desc="zeros",
            ),
        ),
        OpInfo(
            "sort",
            lambda x, *a: cr.sort(x, *a).values,
            _np_sort,
            _torch_sort_values,
            _sort_samples,
        ),
        OpInfo(
            "argsort",
            cr.argsort,
            _np_argsort,
            _torch_argsort,
            _argsort_samples,
            method="argsort",
            differentiable=False,
        ),
        OpInfo(
            "topk",
            lambda x, *a: cr.topk(x, *a).values,
            _np_topk,
            lambda t, x, *a: t.topk(x, *a).values,
            _topk_samples,
        ),
        tensor_op(
            "unique",
            lambda x: np.unique(x, equal_nan=False),
            lambda rng: [
                Sample((_ties(rng, (3, 4)),), desc="floats"),
                Sample((rng.integers(0, 4, (6,)),), desc="integers"),
                Sample((np.array([np.nan, 1.0, np.nan]),), desc="each nan its own"),
            ],
            differentiable=False,
        ),
        _pieces("split", _split_pieces, _split_samples),
        _pieces("chunk", _np_chunk, _chunk_samples),
        _pieces("unbind", _np_unbind, _unbind_samples),
        OpInfo(
            "repeat",
            lambda x, *s: x.repeat(*s),
            lambda x, *s: np.tile(x, s),
            lambda t, x, *s: x.repeat(*s),
            _repeat_samples,
        ),
        tensor_op("tile", np.tile, _tile_samples),
        tensor_op("flip", np.flip, _flip_samples),
        tensor_op("roll", lambda x, s, d=None: np.roll(x, s, d), _roll_samples),
        tensor_op("index_select", lambda x, d, i: np.take(x, i, axis=d), _index_select_samples),
        tensor_op("index_add", _np_index_add, _index_add_samples),
        tensor_op("scatter", _np_scatter, _scatter_samples),
        tensor_op("scatter_add", _np_scatter_add, _scatter_add_samples),
        tensor_op("nonzero", np.argwhere, _nonzero_samples, differentiable=False),
        tensor_op("isclose", np.isclose, _close_samples, differentiable=False),
        OpInfo(
            "allclose",
            lambda a, b, **k: cr.tensor(cr.allclose(a, b, **k)),
            lambda a, b, **k: np.asarray(np.allclose(a, b, **k)),
            lambda t, a, b, **k: t.tensor(t.allclose(a, b, **k)),
            _close_samples,
            differentiable=False,
        ),
        OpInfo(
            "equal",
            lambda a, b: cr.tensor(cr.equal(a, b)),
            lambda a, b: np.asarray(np.array_equal(a, b)),
            lambda t, a, b: t.tensor(t.equal(a, b)),
            _equal_samples,
            differentiable=False,
        ),
        tensor_op(
            "sign",
            _np_sign,
            _sign_samples,
            Kink((np.array([-1.0, 0.0, 2.0]),), (np.zeros(3),), desc="0"),
        ),
        tensor_op("floor", np.floor, _step_samples(), WHOLE_NUMBERS),
        tensor_op("ceil", np.ceil, _step_samples(), WHOLE_NUMBERS),
        tensor_op("trunc", np.trunc, _step_samples()),
        tensor_op(
            "round",
            lambda x, decimals=0: np.round(x, decimals),
            _round_samples,
            Kink((np.array([0.5, 1.5, -2.5]),), (np.zeros(3),), desc="halves"),
        ),
        tensor_op("log10", np.log10, _unary(_uniform(0.2, 3.0))),
        tensor_op("log2", np.log2, _unary(_uniform(0.2, 3.0))),
        tensor_op(
            "rsqrt",
            lambda x: 1 / np.sqrt(x),
            _unary(_uniform(0.2, 3.0)),
            Kink((np.array([0.0, 4.0]),), (np.array([-np.inf, -1 / 16]),), desc="x = 0"),
        ),
        tensor_op("square", np.square, _unary(uniform)),
        tensor_op(
            "clamp_min",
            np.maximum,
            _clamp_one_samples(-0.5),
            Kink((np.array([-1.0, 0.0, 2.0]), 0.0), (np.array([0.0, 1.0, 1.0]),), desc="bound"),
        ),
        tensor_op(
            "clamp_max",
            np.minimum,
            _clamp_one_samples(0.5),
            Kink((np.array([-1.0, 0.0, 2.0]), 0.0), (np.array([1.0, 1.0, 0.0]),), desc="bound"),
        ),
        tensor_op("tril", np.tril, _triangle_samples),
        tensor_op("triu", np.triu, _triangle_samples),
        tensor_op("diag", np.diag, _diag_samples),
        tensor_op("diagonal", np.diagonal, _diagonal_samples),
        tensor_op(
            "trace",
            np.trace,
            lambda rng: [
                Sample((uniform(rng, (3, 3)),), desc="square"),
                Sample((uniform(rng, (2, 4)),), desc="wide"),
                Sample((uniform(rng, (4, 3)).T,), desc="non-contiguous"),
            ],
        ),
        tensor_op(
            "floor_divide", np.floor_divide, _division_samples, method=False, differentiable=False
        ),
        tensor_op("remainder", np.remainder, _division_samples, method=False),
        OpInfo(
            "add_alpha",
            cr.add,
            lambda a, b, alpha: a + alpha * b,
            lambda t, a, b, **k: t.add(a, b, **k),
            lambda rng: [
                Sample(
                    (uniform(rng, (2, 3)), uniform(rng, (3,))), {"alpha": 2.5}, desc="broadcast"
                ),
                Sample((uniform(rng, (3,)), 1.5), {"alpha": -2}, desc="number"),
            ],
            method="add",
        ),
        OpInfo(
            "sub_alpha",
            cr.sub,
            lambda a, b, alpha: a - alpha * b,
            lambda t, a, b, **k: t.sub(a, b, **k),
            lambda rng: [
                Sample(
                    (uniform(rng, (2, 3)), uniform(rng, (2, 1))), {"alpha": 0.5}, desc="broadcast"
                )
            ],
            method="sub",
        ),
    ]


TENSOR_OPS: list[OpInfo] = _entries()
