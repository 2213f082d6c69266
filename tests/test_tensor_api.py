"""PyTorch's tensor functions and methods (issue 14, part A), beyond the op table: the
index results and tie conventions, views, in-place forms, ``out=``, NumPy's argument
names, and the errors for bad arguments. Each compares with torch where torch computes
the same thing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _both(values, dtype=None, requires_grad=False):
    """The same values as a chainrule tensor and a torch tensor."""
    a = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
    return (
        cr.tensor(a, requires_grad=requires_grad),
        torch.tensor(a, requires_grad=requires_grad),
    )


def _same(mine, theirs):
    """Equal values, shapes and dtypes (NaN equals NaN)."""
    theirs = theirs.detach().numpy()
    mine = mine.detach().numpy()
    assert mine.shape == theirs.shape
    assert mine.dtype == theirs.dtype
    np.testing.assert_array_equal(mine, theirs)


# ------------------------------------------------------------------ NumPy's argument names
_REDUCTIONS = ["sum", "mean", "var", "std", "amax", "amin", "logsumexp", "prod"]


@pytest.mark.parametrize("name", _REDUCTIONS)
def test_keepdims_and_axis_are_accepted_as_in_pytorch(name):
    mine, theirs = _both(np.arange(1.0, 7.0).reshape(2, 3))
    expected = getattr(theirs, name)(axis=1, keepdims=True)
    np.testing.assert_allclose(getattr(mine, name)(axis=1, keepdims=True).numpy(), expected)
    np.testing.assert_allclose(getattr(cr, name)(mine, 1, keepdims=True).numpy(), expected)
    np.testing.assert_allclose(
        getattr(mine, name)(dim=0, keepdims=False).numpy(), getattr(theirs, name)(0)
    )


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin", "any", "all"])
def test_keepdims_on_the_other_reductions(name):
    mine, theirs = _both(np.array([[1.0, 5.0, 2.0], [0.0, 3.0, 3.0]]))
    got = getattr(mine, name)(axis=1, keepdims=True)
    want = getattr(theirs, name)(axis=1, keepdims=True)
    got, want = (got[0], want[0]) if isinstance(want, tuple) else (got, want)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_both_spellings_of_one_argument_is_an_error():
    x = cr.ones(2, 3)
    with pytest.raises(TypeError, match="keepdim"):
        x.sum(1, keepdim=True, keepdims=True)
    with pytest.raises(TypeError, match="axis"):
        cr.sum(x, dim=0, axis=0)


# ------------------------------------------------------------------ sorting
def test_sort_and_topk_indices_match_pytorch():
    rng = np.random.default_rng(0)
    a = rng.permutation(24).reshape(4, 6) * 0.5
    mine, theirs = _both(a)
    for dim in (0, 1, -1):
        for desc in (False, True):
            m, t = mine.sort(dim, desc), theirs.sort(dim, desc)
            _same(m.values, t.values)
            _same(m.indices, t.indices)
            _same(mine.argsort(dim, desc), theirs.argsort(dim, desc))
        for k in (0, 1, 3):
            for largest in (True, False):
                m, t = cr.topk(mine, k, dim, largest), torch.topk(theirs, k, dim, largest)
                _same(m.values, t.values)
                _same(m.indices, t.indices)
    values, indices = mine.topk(2)
    assert values.shape == (4, 2) and indices.dtype == cr.int64


def test_sort_is_stable_and_puts_nan_highest_as_pytorch_stable():
    a = [2.0, 1.0, float("nan"), 2.0, 1.0, float("nan"), 0.0]
    mine, theirs = _both(a)
    for desc in (False, True):
        m, t = cr.sort(mine, descending=desc), torch.sort(theirs, descending=desc, stable=True)
        _same(m.values, t.values)
        _same(m.indices, t.indices)
        _same(
            cr.argsort(mine, descending=desc, stable=True),
            torch.argsort(theirs, descending=desc, stable=True),
        )


def test_topk_ties_take_the_first_elements_and_nan_counts_as_largest():
    x = cr.tensor([1.0, 2.0, 2.0, 2.0, 0.0])
    assert cr.topk(x, 2).indices.tolist() == [1, 2]  # PyTorch's choice among ties is unspecified
    assert cr.topk(x, 2, largest=False).indices.tolist() == [4, 0]
    mine, theirs = _both([float("nan"), 1.0, 3.0])
    _same(cr.topk(mine, 2).indices, torch.topk(theirs, 2).indices)
    _same(cr.topk(mine, 2, largest=False).indices, torch.topk(theirs, 2, largest=False).indices)


def test_sort_gradient_goes_to_the_sorted_elements():
    mine, theirs = _both([3.0, 1.0, 2.0, 1.0], requires_grad=True)
    v = np.array([1.0, 10.0, 100.0, 1000.0])
    cr.sort(mine, descending=True).values.backward(cr.tensor(v))
    torch.sort(theirs, descending=True, stable=True).values.backward(torch.tensor(v))
    _same(mine.grad, theirs.grad)
    mine.grad = None
    cr.topk(mine, 2).values.sum().backward()
    assert mine.grad.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_topk_and_sort_errors():
    with pytest.raises(IndexError, match="out of range"):
        cr.topk(cr.ones(3), 4)
    with pytest.raises(IndexError, match="out of range"):
        cr.topk(cr.ones(3), -1)
    with pytest.raises(IndexError, match="dimension out of range"):
        cr.sort(cr.ones(3), 1)
    assert cr.sort(cr.tensor(3.0)).indices.item() == 0


def test_unique_return_forms_match_pytorch():
    mine, theirs = _both([3, 1, 2, 3, 1, 5])
    _same(cr.unique(mine), torch.unique(theirs))
    for inverse in (False, True):
        for counts in (False, True):
            m = cr.unique(mine, return_inverse=inverse, return_counts=counts)
            t = torch.unique(theirs, return_inverse=inverse, return_counts=counts)
            m, t = (m, t) if isinstance(t, tuple) else ((m,), (t,))
            assert len(m) == len(t)
            for a, b in zip(m, t):
                _same(a, b)
    mine, theirs = _both([[1, 2], [1, 2], [0, 5]])
    for a, b in zip(
        mine.unique(dim=0, return_inverse=True, return_counts=True),
        theirs.unique(dim=0, return_inverse=True, return_counts=True),
    ):
        _same(a, b)
    for a, b in zip(
        cr.unique(mine, return_inverse=True), torch.unique(theirs, return_inverse=True)
    ):
        _same(a, b)
    _same(
        cr.unique(cr.tensor([float("nan"), float("nan"), 1.0])),
        torch.unique(torch.tensor([float("nan"), float("nan"), 1.0])),
    )
    assert not cr.unique(cr.tensor([1.0, 1.0], requires_grad=True)).requires_grad


def test_nonzero_forms_match_pytorch():
    for values in ([[1, 0], [0, 3]], [0.0, float("nan"), -0.0], 3, 0, [[0, 0]]):
        mine, theirs = _both(values)
        _same(cr.nonzero(mine), torch.nonzero(theirs))
        m, t = mine.nonzero(as_tuple=True), theirs.nonzero(as_tuple=True)
        assert len(m) == len(t)
        for a, b in zip(m, t):
            _same(a, b)


# ------------------------------------------------------------------ pieces are views
def test_split_chunk_unbind_sizes_match_pytorch():
    for shape, args in [
        ((10,), (3,)),
        ((10,), ([2, 8],)),
        ((0,), (2,)),
        ((4,), (5,)),
        ((2, 7), (3, 1)),
        ((2, 7), ([0, 7], -1)),
    ]:
        m = cr.split(cr.zeros(*shape), *args)
        t = torch.split(torch.zeros(*shape), *args)
        assert [p.shape for p in m] == [tuple(p.shape) for p in t]
    for n, chunks in [(10, 4), (6, 4), (2, 4), (0, 3), (5, 5)]:
        m, t = cr.chunk(cr.zeros(n), chunks), torch.chunk(torch.zeros(n), chunks)
        assert [p.shape for p in m] == [tuple(p.shape) for p in t]
    assert [p.shape for p in cr.zeros(2, 3).unbind(1)] == [(2,)] * 3


def test_split_chunk_unbind_errors():
    with pytest.raises(ValueError, match="sum exactly"):
        cr.split(cr.zeros(10), [2, 7])
    with pytest.raises(ValueError, match="can only be 0"):
        cr.split(cr.zeros(10), 0)
    with pytest.raises(ValueError, match="non-negative"):
        cr.split(cr.zeros(5), [2, -1, 4])
    with pytest.raises(RuntimeError, match="1-dimensional"):
        cr.split(cr.tensor(1.0), 1)
    with pytest.raises(ValueError, match="greater than 0"):
        cr.chunk(cr.zeros(3), 0)
    with pytest.raises(IndexError, match="no dimensions"):
        cr.unbind(cr.tensor(1.0))


_PIECES = {
    "split": lambda x: x.split(2)[1],
    "chunk": lambda x: x.chunk(3, 1)[0],
    "unbind": lambda x: x.unbind(1)[2],
    "view of a piece": lambda x: x.unbind(0)[1][1:],
}


@pytest.mark.parametrize("how", list(_PIECES))
def test_pieces_are_views_written_through_without_a_graph(how):
    for m in (cr, torch):
        x = m.tensor(np.arange(1.0, 10.0).reshape(3, 3))
        before = x.numpy().copy()
        _PIECES[how](x).mul_(2.0)
        x2 = m.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True) * 1.0
        with (cr if m is cr else torch).no_grad():
            _PIECES[how](x2).zero_()
        assert (x.numpy() != before).sum() == (x2.detach().numpy() == 0).sum() > 0


@pytest.mark.parametrize("how", list(_PIECES))
def test_recorded_inplace_changes_of_pieces_are_refused_as_in_pytorch(how):
    for m in (cr, torch):
        x = m.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True) * 1.0
        with pytest.raises(RuntimeError, match="is a view and is being modified inplace"):
            _PIECES[how](x).mul_(2.0)
        piece = _PIECES[how](x)
        x.mul_(2.0)  # the base changes: the piece can no longer follow it
        with pytest.raises(RuntimeError, match="its base or another view of its base"):
            piece.sum().backward() if m is cr else piece.grad_fn


def test_diagonal_is_a_view_that_inplace_ops_go_through_with_gradients():
    results = []
    for m in (cr, torch):
        a = m.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True)
        x = a * 1.0
        x.diagonal(1).mul_(0.5).exp_()
        (x * m.arange(9.0).reshape(3, 3)).sum().backward()
        results.append((x.detach().numpy().copy(), a.grad.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_diagonal_shares_memory_and_diag_copies():
    x = cr.zeros(3, 3)
    x.diagonal().fill_(1.0)
    np.testing.assert_array_equal(x.numpy(), np.eye(3))
    d = cr.diag(x)
    d.fill_(5.0)
    np.testing.assert_array_equal(x.numpy(), np.eye(3))


def test_diagonal_and_diag_errors():
    with pytest.raises(ValueError, match="identical"):
        cr.diagonal(cr.zeros(2, 3, 4), 0, 1, 1)
    with pytest.raises(IndexError):
        cr.diagonal(cr.zeros(3))
    with pytest.raises(RuntimeError, match="1D or 2D"):
        cr.diag(cr.zeros(2, 2, 2))
    with pytest.raises(RuntimeError, match="matrix"):
        cr.trace(cr.zeros(3))
    with pytest.raises(RuntimeError, match="at least 2"):
        cr.tril(cr.zeros(3))
    _same(
        cr.trace(cr.tensor([[1, 2], [3, 4]], dtype=cr.int32)),
        torch.trace(torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)),
    )


# ------------------------------------------------------------------ copies
def test_repeat_tile_flip_roll_return_new_memory():
    x = cr.arange(6.0).reshape(2, 3)
    for y in (
        x.repeat(1, 1),
        x.tile(()),
        x.flip(()),
        x.roll(0),
        x.roll(3, 1),
        cr.flip(cr.tensor(2.0), (0,)),
    ):
        assert not np.shares_memory(y.numpy(), x.numpy()) or y.numel() == 1
    mine, theirs = _both(np.arange(6.0).reshape(2, 3))
    _same(mine.flip(0, 1), theirs.flip(0, 1))
    _same(mine.tile(2, 1), theirs.tile(2, 1))
    _same(mine.repeat(2, 1, 2), theirs.repeat(2, 1, 2))
    _same(mine.repeat((0, 2)), theirs.repeat((0, 2)))
    _same(cr.roll(mine, 7), torch.roll(theirs, 7))
    _same(cr.roll(cr.tensor(3.0), 1), torch.roll(torch.tensor(3.0), 1))


def test_rearrange_errors():
    with pytest.raises(RuntimeError, match="can not be smaller"):
        cr.ones(2, 3).repeat(2)
    with pytest.raises(ValueError, match="non-negative"):
        cr.ones(2, 3).repeat(2, -1)
    with pytest.raises(TypeError, match="tuple of ints"):
        cr.flip(cr.ones(2, 3), 1)
    with pytest.raises(ValueError, match="more than once"):
        cr.flip(cr.ones(2, 3), (1, 1))
    with pytest.raises(ValueError, match="align"):
        cr.roll(cr.ones(2, 3), (1, 2), 0)
    with pytest.raises(ValueError, match="align"):
        cr.roll(cr.ones(2, 3), (1, 2))
    with pytest.raises(IndexError, match="no dimensions"):
        cr.roll(cr.tensor(1.0), 1, 0)


# ------------------------------------------------------------------ index and scatter ops
def test_index_add_has_pytorchs_signature_and_inplace_form():
    for m in (cr, torch):
        x = m.zeros(3, 2)
        out = m.index_add(x, 0, m.tensor([0, 2, 0]), m.ones(3, 2), alpha=2)
        assert out.tolist() == [[4.0, 4.0], [0.0, 0.0], [2.0, 2.0]]
        assert x.tolist() == [[0.0] * 2] * 3
        x.index_add_(1, m.tensor([1]), m.ones(3, 1))
        assert x.tolist() == [[0.0, 1.0]] * 3
    mine, theirs = _both(np.zeros(3), dtype=np.float64)
    _same(
        mine.index_add(0, cr.tensor(1), cr.tensor([2.0], dtype=cr.float64)),
        theirs.index_add(0, torch.tensor(1), torch.tensor([2.0], dtype=torch.float64)),
    )


def test_scatter_inplace_forms_match_pytorch_with_gradients():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3, 4))
    src = rng.standard_normal((2, 4))
    index = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
    results = []
    for m in (cr, torch):
        a = m.tensor(base, requires_grad=True)
        s = m.tensor(src, requires_grad=True)
        i = m.tensor(index)
        x = a * 1.0
        x.scatter_add_(0, i, s)
        y = (a * 1.0).scatter_(1, i[:, :2] % 2, 2.5)
        z = (a * 1.0).scatter_(0, i[:1], s[:1])
        w = m.tensor(np.zeros((3, 4)))
        w.scatter_(0, i, 1.0, reduce="add")
        ((x * x).sum() + (y * y).sum() + (z * z).sum()).backward()
        results.append([x, y, z, w, a.grad, s.grad])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def test_scatter_multiply_forward_and_its_refusal_to_differentiate():
    index = [[0, 1, 2, 0], [0, 1, 1, 1]]
    src = np.arange(1.0, 9.0).reshape(2, 4)
    mine = cr.scatter(
        cr.full((3, 4), 2.0),
        0,
        cr.tensor(index),
        cr.tensor(src, dtype=cr.float32),
        reduce="multiply",
    )
    with pytest.warns(UserWarning, match="deprecated"):  # PyTorch's, not chainrule's
        theirs = torch.scatter(
            torch.full((3, 4), 2.0),
            0,
            torch.tensor(index),
            torch.tensor(src, dtype=torch.float32),
            reduce="multiply",
        )
    _same(mine, theirs)
    with pytest.raises(RuntimeError, match="not differentiable"):
        cr.ones(3, 4, requires_grad=True).scatter(0, cr.tensor(index), 2.0, reduce="multiply")


def test_index_and_scatter_errors():
    x = cr.zeros(3, 4)
    with pytest.raises(IndexError, match="out of bounds"):
        cr.index_select(x, 1, cr.tensor([4]))
    with pytest.raises(IndexError, match="out of bounds"):
        cr.index_select(x, 1, cr.tensor([-1]))
    with pytest.raises(TypeError, match="int32 or int64"):
        cr.index_select(x, 1, cr.tensor([1.0]))
    with pytest.raises(IndexError, match="vector"):
        cr.index_select(x, 1, cr.tensor([[1]]))
    with pytest.raises(TypeError, match="same dtype"):
        cr.index_add(x, 0, cr.tensor([0]), cr.ones(1, 4, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="shape of self"):
        cr.index_add(x, 0, cr.tensor([0, 1]), cr.ones(1, 4))
    with pytest.raises(TypeError, match="alpha"):
        cr.index_add(
            cr.zeros(2, dtype=cr.int64), 0, cr.tensor([0]), cr.ones(1, dtype=cr.int64), alpha=1.5
        )
    with pytest.raises(RuntimeError, match="number of dimensions"):
        cr.scatter(x, 0, cr.tensor([0, 1]), 1.0)
    with pytest.raises(IndexError, match="out of bounds"):
        cr.scatter(x, 0, cr.tensor([[0, 1, 2, 3]]), 1.0)
    with pytest.raises(RuntimeError, match="no larger"):
        cr.scatter(x, 0, cr.tensor([[0, 1, 2, 0]]), cr.ones(1, 2))
    with pytest.raises(TypeError, match=r"src\.dtype"):
        cr.scatter_add(x, 0, cr.tensor([[0, 1, 2, 0]]), cr.ones(1, 4, dtype=cr.float64))
    assert cr.index_select(cr.tensor(5.0), 0, cr.tensor([0])).item() == 5.0


# ------------------------------------------------------------------ rounding and division
def test_sign_of_nan_and_negative_zero_bit_for_bit():
    a = np.array([np.nan, -0.0, 0.0, -3.0, 2.0, -np.inf])
    for dtype in (np.float32, np.float64):
        mine = cr.sign(cr.tensor(a.astype(dtype))).numpy()
        theirs = torch.sign(torch.tensor(a.astype(dtype))).numpy()
        assert mine.tobytes() == theirs.tobytes()


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc"])
def test_step_functions_keep_integer_dtypes_and_pass_zero_gradients(name):
    mine, theirs = _both([-2, 0, 3], dtype=np.int32)
    _same(getattr(cr, name)(mine), getattr(torch, name)(theirs))
    mine, theirs = _both([-1.5, 0.3, 2.7], requires_grad=True)
    getattr(mine, name)().sum().backward()
    getattr(theirs, name)().sum().backward()
    _same(mine.grad, theirs.grad)
    assert (
        getattr(cr.tensor([1.5], requires_grad=True), name)().grad_fn.name()
        == f"{name.capitalize()}Backward0"
    )


def test_rounding_errors_where_pytorch_refuses():
    with pytest.raises(TypeError, match="bool"):
        cr.floor(cr.tensor([True]))
    with pytest.raises(TypeError, match="decimals"):
        cr.round(cr.tensor([12, 15]), decimals=-1)
    _same(cr.sign(cr.tensor([True, False])), torch.sign(torch.tensor([True, False])))
    _same(cr.square(cr.tensor([True])), torch.square(torch.tensor([True])))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([7, -7, 0, 5], 2),
        ([7, -7], -3),
        ([7.5, -7.5, 0.0], 2.0),
        ([7, -7], 2.5),
        ([1.0, -1.0], 0.1),
        ([5.5, -5.5], [2.0, -2.0]),
        (7, [2, -2, 3]),
        (4.0, [1.3, -1.7]),
    ],
)
def test_floor_divide_and_remainder_match_pytorch(a, b):
    def make(m, v):
        return m.tensor(v) if isinstance(v, list) else v

    for op in ("__floordiv__", "__mod__"):
        ma, mb = make(cr, a), make(cr, b)
        ta, tb = make(torch, a), make(torch, b)
        if not isinstance(ma, cr.Tensor):
            op = op.replace("__", "__r", 1)
            ma, mb, ta, tb = mb, ma, tb, ta
        _same(getattr(ma, op)(mb), getattr(ta, op)(tb))


def test_inplace_floor_divide_and_remainder():
    for m in (cr, torch):
        x = m.tensor([5, 3])
        y = x
        x //= 2
        assert y.tolist() == [2, 1]
        z = m.tensor([5.0, -3.0])
        z %= 2
        assert z.tolist() == [1.0, 1.0]
        with pytest.raises(RuntimeError, match="can't be cast"):
            w = m.tensor([5, 3])
            w //= 2.5


def test_integer_division_by_zero_raises_as_in_pytorch():
    for m in (cr, torch):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            m.tensor([7, -7]) // 0
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            m.tensor([7, -7]) % m.tensor([1, 0])
    _same(cr.tensor([7.0, -7.0, 0.0]) // 0, torch.tensor([7.0, -7.0, 0.0]) // 0)
    _same(cr.tensor([7.0, -7.0]) % 0, torch.tensor([7.0, -7.0]) % 0)


def test_floor_divide_records_a_node_whose_backward_raises_as_pytorchs():
    x = cr.tensor([7.5, -3.2], requires_grad=True)
    y = x // 2
    assert y.requires_grad and repr(y).endswith("grad_fn=<NotImplemented>)")
    with pytest.raises(RuntimeError, match=r"floor_divide.*cr\.floor\(a / b\)"):
        (y + x).sum().backward()
    with cr.no_grad():
        assert not (x // 2).requires_grad


def test_remainder_gradients_match_pytorch():
    mine_a, theirs_a = _both([7.5, -3.2, 4.1], requires_grad=True)
    mine_b, theirs_b = _both([2.0, 1.5, -0.7], requires_grad=True)
    cr.remainder(mine_a, mine_b).backward(cr.tensor([1.0, 2.0, 3.0]))
    torch.remainder(theirs_a, theirs_b).backward(torch.tensor([1.0, 2.0, 3.0]))
    _same(mine_a.grad, theirs_a.grad)
    _same(mine_b.grad, theirs_b.grad)


# ------------------------------------------------------------------ closeness
def test_closeness_errors_and_results_match_pytorch():
    with pytest.raises(TypeError, match="same dtype"):
        cr.allclose(cr.ones(2), cr.ones(2, dtype=cr.float64))
    with pytest.raises(TypeError, match="same dtype"):
        cr.isclose(cr.tensor([1, 2]), cr.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="broadcast"):
        cr.allclose(cr.ones(2), cr.ones(3))
    with pytest.raises(TypeError, match="must be a tensor"):
        cr.allclose(cr.ones(2), 1.0)
    with pytest.raises(ValueError, match="rtol"):
        cr.isclose(cr.ones(2), cr.ones(2), rtol=-1)
    assert cr.allclose(cr.ones(2), cr.ones(1)) is True
    assert cr.equal(cr.tensor([1, 2]), cr.tensor([1.0, 2.0])) == torch.equal(
        torch.tensor([1, 2]), torch.tensor([1.0, 2.0])
    )
    assert cr.equal(cr.tensor([1.0]), cr.tensor(1.0)) is False
    _same(
        cr.isclose(cr.tensor([1, 2]), cr.tensor([1, 3]), atol=1.5),
        torch.isclose(torch.tensor([1, 2]), torch.tensor([1, 3]), atol=1.5),
    )
    assert cr.ones(2).allclose(cr.ones(2)) and cr.ones(2).equal(cr.ones(2))


# ------------------------------------------------------------------ out=
_OUT_CASES = {
    "mm": (lambda m: (m.ones(2, 3), m.ones(3, 2)), {}),
    "bmm": (lambda m: (m.ones(2, 2, 3), m.ones(2, 3, 1)), {}),
    "dot": (lambda m: (m.ones(3), m.arange(3.0)), {}),
    "outer": (lambda m: (m.ones(3), m.arange(2.0)), {}),
    "prod": (lambda m: (m.arange(1.0, 7.0).reshape(2, 3), 1), {}),
    "cumsum": (lambda m: (m.arange(6.0).reshape(2, 3), 1), {}),
    "cumprod": (lambda m: (m.arange(1.0, 7.0), 0), {}),
    "index_select": (lambda m: (m.arange(6.0).reshape(2, 3), 1, m.tensor([2, 0])), {}),
    "sign": (lambda m: (m.tensor([-2.0, 3.0]),), {}),
    "floor": (lambda m: (m.tensor([-2.5, 3.5]),), {}),
    "round": (lambda m: (m.tensor([-2.567, 3.5]),), {"decimals": 1}),
    "log10": (lambda m: (m.tensor([10.0, 1000.0]),), {}),
    "rsqrt": (lambda m: (m.tensor([4.0, 16.0]),), {}),
    "square": (lambda m: (m.tensor([4.0, -3.0]),), {}),
    "tril": (lambda m: (m.ones(3, 3), -1), {}),
    "diag": (lambda m: (m.arange(3.0),), {}),
    "remainder": (lambda m: (m.tensor([7.0, -7.0]), 3), {}),
    "floor_divide": (lambda m: (m.tensor([7.0, -7.0]), 3), {}),
    "add": (lambda m: (m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0])), {"alpha": 2}),
    "sub": (lambda m: (m.tensor([1.0, 2.0]), 1.5), {}),
    "nonzero": (lambda m: (m.tensor([[1, 0], [0, 2]]),), {}),
    "linalg.vector_norm": (lambda m: (m.tensor([3.0, 4.0]),), {}),
    "linalg.norm": (lambda m: (m.tensor([[3.0, 4.0], [1.0, 1.0]]), float("inf")), {}),
    # The everyday functions (the basics tutorial calls matmul and mul with out=).
    "matmul": (lambda m: (m.arange(6.0).reshape(2, 3), m.arange(3.0)), {}),
    "mul": (lambda m: (m.arange(4.0).reshape(2, 2), m.tensor([2.0, -1.0])), {}),
    "div": (lambda m: (m.tensor([1, 7]), 2), {}),
    "pow": (lambda m: (m.tensor([1.5, 2.0]), 3), {}),
    "neg": (lambda m: (m.tensor([1.5, -2.0]),), {}),
    "exp": (lambda m: (m.tensor([0.0, 1.0]),), {}),
    "expm1": (lambda m: (m.tensor([1e-8, 1.0]),), {}),
    "log": (lambda m: (m.tensor([1.0, 3.0]),), {}),
    "log1p": (lambda m: (m.tensor([1e-8, 3.0]),), {}),
    "sqrt": (lambda m: (m.tensor([4, 2]),), {}),
    "abs": (lambda m: (m.tensor([-4, 2]),), {}),
    "sin": (lambda m: (m.tensor([0.5, 2.0]),), {}),
    "cos": (lambda m: (m.tensor([0.5, 2.0]),), {}),
    "tanh": (lambda m: (m.tensor([0.5, -2.0]),), {}),
    "sigmoid": (lambda m: (m.tensor([0.5, -2.0]),), {}),
    "erf": (lambda m: (m.tensor([0.5, -2.0]),), {}),
    "clamp": (lambda m: (m.tensor([0.5, -2.0, 3.0]),), {"min": -1.0, "max": 1.0}),
    "maximum": (lambda m: (m.tensor([0.5, -2.0]), m.tensor([0.0, 0.0])), {}),
    "minimum": (lambda m: (m.tensor([0.5, -2.0]), m.tensor([0.0, 0.0])), {}),
    "cat": (lambda m: ([m.ones(2, 1), m.arange(4.0).reshape(2, 2)], 1), {}),
    "stack": (lambda m: ([m.ones(2), m.arange(2.0)],), {"dim": 1}),
}


def _function(module, name):
    for part in name.split("."):
        module = getattr(module, part)
    return module


@pytest.mark.parametrize("name", list(_OUT_CASES))
def test_out_argument_writes_and_returns_out_as_pytorch(name):
    make, kwargs = _OUT_CASES[name]
    expected = _function(torch, name)(*make(torch), **kwargs)
    out = cr.empty(0, dtype=expected.numpy().dtype)
    result = _function(cr, name)(*make(cr), out=out, **kwargs)
    assert result is out
    # Equal up to float32 rounding: NumPy's and PyTorch's exp or cos may differ in the last bit.
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    same_shape = cr.zeros(*expected.shape, dtype=expected.numpy().dtype)
    before = same_shape.numpy()
    _function(cr, name)(*make(cr), out=same_shape, **kwargs)
    assert np.shares_memory(before, same_shape.numpy())  # written in place
    np.testing.assert_allclose(before, expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "name",
    [
        "mul",
        "div",
        "pow",
        "exp",
        "tanh",
        "sigmoid",
        "maximum",
        "cat",
        "stack",
        "matmul",
        "neg",
        "abs",
        "clamp",
    ],
)
def test_out_dtype_rules_of_the_everyday_functions_match_pytorch(name):
    # PyTorch lets most of these write into a wider dtype of the same kind, refuses a
    # lower kind, and wants the exact dtype for matmul, neg, abs and clamp.
    make, kwargs = _OUT_CASES[name]
    for dtype in ("float64", "float16", "int64"):
        try:
            expected = _function(torch, name)(
                *make(torch), out=torch.empty(0, dtype=getattr(torch, dtype)), **kwargs
            )
        except (RuntimeError, TypeError):  # PyTorch's cat raises a TypeError here
            with pytest.raises(RuntimeError, match=r"dtype|cast"):
                _function(cr, name)(*make(cr), out=cr.empty(0, dtype=getattr(cr, dtype)), **kwargs)
            continue
        out = cr.empty(0, dtype=getattr(cr, dtype))
        _function(cr, name)(*make(cr), out=out, **kwargs)
        assert out.dtype == getattr(cr, dtype)
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-3)


def test_out_argument_rules_match_pytorch():
    with pytest.raises(RuntimeError, match="dtype"):
        cr.mm(cr.ones(2, 3), cr.ones(3, 2), out=cr.zeros(2, 2, dtype=cr.int64))
    with pytest.raises(RuntimeError, match="dtype"):
        cr.floor(cr.ones(2), out=cr.zeros(2, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="can't be cast"):
        cr.add(cr.tensor([1, 2]), 1, out=cr.zeros(2, dtype=cr.bool))
    out = cr.zeros(2, dtype=cr.float64)
    cr.eq(cr.tensor([1, 2]), 1, out=out)  # a bool result casts up, as in PyTorch
    assert out.tolist() == [1.0, 0.0]
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        cr.floor(cr.ones(2, requires_grad=True), out=cr.zeros(2))
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        cr.floor(cr.ones(2), out=cr.zeros(2, requires_grad=True))
    with cr.no_grad():
        cr.floor(cr.ones(2, requires_grad=True), out=cr.zeros(2))
    cr.eq(cr.ones(2, requires_grad=True), 1.0, out=cr.zeros(2, dtype=cr.bool))
    values, indices = cr.zeros(3), cr.zeros(3, dtype=cr.int64)
    result = cr.sort(cr.tensor([3.0, 1.0, 2.0]), out=(values, indices))
    assert result.values is values and values.tolist() == [1.0, 2.0, 3.0]
    assert indices.tolist() == [1, 2, 0]
    with pytest.raises(TypeError, match="tuple of 2"):
        cr.topk(cr.ones(3), 1, out=cr.zeros(1))
    out = cr.zeros(5)
    with pytest.warns(UserWarning, match="resized"):
        cr.mm(cr.ones(2, 3), cr.ones(3, 2), out=out)
    assert out.shape == (2, 2) and out.tolist() == [[3.0, 3.0]] * 2


# ------------------------------------------------------------------ products, norms, misc
def test_product_errors_match_pytorchs_rules():
    with pytest.raises(TypeError, match="same dtype"):
        cr.mm(cr.ones(2, 3), cr.ones(3, 2, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="must be a matrix"):
        cr.mm(cr.ones(2, 3), cr.ones(3))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        cr.mm(cr.ones(2, 3), cr.ones(4, 4))
    with pytest.raises(RuntimeError, match="3D"):
        cr.bmm(cr.ones(2, 3), cr.ones(3, 4))
    with pytest.raises(RuntimeError, match="batch"):
        cr.bmm(cr.ones(2, 2, 3), cr.ones(1, 3, 4))
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        cr.dot(cr.ones(3, 1), cr.ones(3))
    with pytest.raises(RuntimeError, match="same number"):
        cr.dot(cr.ones(3), cr.ones(4))
    with pytest.raises(TypeError, match="same dtype"):
        cr.dot(cr.ones(3), cr.ones(3, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="1-D"):
        cr.outer(cr.ones(3), cr.ones(2, 2))
    _same(
        cr.dot(cr.tensor([1, 2]), cr.tensor([3, 4])),
        torch.dot(torch.tensor([1, 2]), torch.tensor([3, 4])),
    )
    _same(
        cr.outer(cr.tensor([1, 2]), cr.tensor([1.5])),
        torch.outer(torch.tensor([1, 2]), torch.tensor([1.5])),
    )


def test_einsum_forms_and_errors():
    a, b = cr.ones(5, 2, 3), cr.ones(5, 3, 4)
    assert cr.einsum("bij,bjk->bik", [a, b]).shape == (5, 2, 4)
    assert cr.einsum("Ba,ab", cr.ones(2, 3), cr.ones(3, 4)).shape == (2, 4)
    assert cr.einsum("...ij->ij", cr.ones(5, 2, 3)).shape == (2, 3)
    assert cr.einsum("ab...,c->...", cr.ones(2, 3, 4), cr.ones(5)).shape == (4,)
    _same(cr.einsum("i->", cr.tensor([1, 2, 3])), torch.einsum("i->", torch.tensor([1, 2, 3])))
    with pytest.raises(TypeError, match="one dtype"):
        cr.einsum("ij,jk", cr.ones(2, 3), cr.ones(3, 4, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="broadcast"):
        cr.einsum("ij,jk->ik", cr.ones(2, 3), cr.ones(2, 4))
    with pytest.raises(RuntimeError, match="sizes don't match"):
        cr.einsum("ii->i", cr.ones(2, 3))
    with pytest.raises(RuntimeError, match="does not match the number of dimensions"):
        cr.einsum("ij", cr.ones(3))
    with pytest.raises(ValueError, match="more than once"):
        cr.einsum("ij->jj", cr.ones(2, 3))
    with pytest.raises(ValueError, match="does not appear"):
        cr.einsum("ij->k", cr.ones(2, 3))
    with pytest.raises(ValueError, match="operand"):
        cr.einsum("i", cr.ones(2), cr.ones(2))


def test_linalg_norm_errors_match_pytorchs_rules():
    A = cr.ones(3, 4)
    with pytest.raises(NotImplementedError, match="singular values"):
        cr.linalg.norm(A, "nuc")
    with pytest.raises(NotImplementedError, match="singular values"):
        cr.linalg.norm(A, 2)
    with pytest.raises(ValueError, match="not supported"):
        cr.linalg.norm(A, 3)
    with pytest.raises(ValueError, match="2-tuple"):
        cr.linalg.norm(A, "fro", dim=1)
    with pytest.raises(RuntimeError, match="1D or 2D"):
        cr.linalg.norm(cr.ones(2, 3, 4), "fro")
    with pytest.raises(TypeError, match="floating point"):
        cr.linalg.norm(cr.arange(4))
    with pytest.raises(TypeError, match="narrowing"):
        cr.linalg.vector_norm(cr.ones(2, dtype=cr.float64), dtype=cr.float32)
    with pytest.raises(ValueError, match="identity"):
        cr.linalg.vector_norm(cr.zeros(0), -1)
    with pytest.raises(TypeError, match="number"):
        cr.linalg.vector_norm(A, "fro")
    _same(
        cr.linalg.norm(cr.arange(4.0), dtype=cr.float64),
        torch.linalg.norm(torch.arange(4.0), dtype=torch.float64),
    )
    _same(cr.linalg.vector_norm(cr.zeros(0)), torch.linalg.vector_norm(torch.zeros(0)))


def test_prod_and_scan_dtypes_match_pytorch():
    for values in ([1, 2, 3], [True, True]):
        for dtype in (None, np.int32):
            if dtype is not None and isinstance(values[0], bool):
                continue
            mine, theirs = _both(values, dtype=dtype)
            _same(cr.prod(mine), torch.prod(theirs))
            _same(cr.cumsum(mine, 0), torch.cumsum(theirs, 0))
            _same(cr.cumprod(mine, 0), torch.cumprod(theirs, 0))
    mine, theirs = _both([1, 2, 3])
    _same(cr.cumsum(mine, 0, dtype=cr.float32), torch.cumsum(theirs, 0, dtype=torch.float32))
    _same(cr.prod(mine, 0, dtype=cr.float64), torch.prod(theirs, 0, dtype=torch.float64))
    with pytest.raises(TypeError, match="single integer"):
        cr.prod(cr.ones(2, 3), (0, 1))


def test_prod_and_cumprod_second_derivatives_at_zeros_match_pytorch():
    a = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.5]])
    for op in ("prod", "cumprod"):
        grads = []
        for m in (cr, torch):
            x = m.tensor(a, requires_grad=True)
            y = getattr(m, op)(x, 1)
            (g,) = (cr.autograd if m is cr else torch.autograd).grad(
                y.sum() if op == "prod" else (y * y).sum(), [x], create_graph=True
            )
            (g * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
            grads.append((g.detach().numpy(), x.grad.numpy()))
        np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
        np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)


def test_new_factories_match_pytorch():
    for dtype in ("float64", "int64", "float32"):
        mine, theirs = (
            cr.ones(2, dtype=getattr(cr, dtype)),
            torch.ones(2, dtype=getattr(torch, dtype)),
        )
        _same(mine.new_zeros(2, 3), theirs.new_zeros(2, 3))
        _same(mine.new_ones((2,)), theirs.new_ones((2,)))
        _same(mine.new_full((2,), 3.5), theirs.new_full((2,), 3.5))
        _same(mine.new_tensor([1, 2]), theirs.new_tensor([1, 2]))
        _same(mine.new_zeros(2, dtype=cr.int32), theirs.new_zeros(2, dtype=torch.int32))
        assert mine.new_empty(3).shape == (3,)
    p = cr.ones(2, dtype=cr.float64).new_ones(2, requires_grad=True)
    assert p.requires_grad and p.is_leaf
    source = cr.ones(2, requires_grad=True) * 2
    copy = source.new_tensor(source)
    assert not copy.requires_grad and not np.shares_memory(copy.numpy(), source.numpy())
    assert cr.ones(2).new_zeros(2, device="cpu").tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="CPU"):
        cr.ones(2).new_zeros(2, device="cuda")


def test_old_names_and_comparison_methods_match_pytorch():
    mine, theirs = _both(np.arange(6.0).reshape(2, 3))
    assert mine.nelement() == theirs.nelement() == 6
    assert mine.ndimension() == theirs.ndimension() == 2
    assert (
        cr.ones(1, dtype=cr.float64).element_size()
        == torch.ones(1, dtype=torch.float64).element_size()
    )
    for name in ("eq", "ne", "gt", "ge", "lt", "le"):
        _same(getattr(mine, name)(2.0), getattr(theirs, name)(2.0))
        _same(getattr(mine, name)(mine.flip(1)), getattr(theirs, name)(theirs.flip(1)))
        out = cr.zeros(2, 3, dtype=cr.bool)
        assert getattr(cr, name)(mine, 2.0, out=out) is out
        _same(out, getattr(theirs, name)(2.0))


def test_add_and_sub_alpha_match_pytorch():
    mine, theirs = _both([1.0, 2.0], requires_grad=True)
    other_m, other_t = _both([3.0, 5.0], requires_grad=True)
    (mine.add(other_m, alpha=2) * mine.sub(other_m, alpha=-0.5)).sum().backward()
    (theirs.add(other_t, alpha=2) * theirs.sub(other_t, alpha=-0.5)).sum().backward()
    _same(mine.grad, theirs.grad)
    _same(other_m.grad, theirs.grad * 0 + other_t.grad)
    with pytest.raises(TypeError, match="alpha"):
        cr.add(cr.tensor([1, 2]), cr.tensor([1, 2]), alpha=1.5)
    _same(
        cr.add(cr.tensor([1.0]), cr.tensor([1]), alpha=2),
        torch.add(torch.tensor([1.0]), torch.tensor([1]), alpha=2),
    )


@pytest.mark.parametrize(
    "name",
    [
        "floor_",
        "ceil_",
        "trunc_",
        "sign_",
        "log10_",
        "log2_",
        "rsqrt_",
        "square_",
        "tril_",
        "triu_",
    ],
)
def test_inplace_forms_match_pytorch_with_gradients(name):
    a = np.array([[1.5, 2.25], [4.75, 0.5]])
    results = []
    for m in (cr, torch):
        leaf = m.tensor(a, requires_grad=True)
        x = leaf * 1.0
        y = getattr(x, name)()
        assert y is x
        (x * m.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        results.append((x.detach().numpy(), leaf.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)


def test_clamp_min_max_inplace_and_round_inplace():
    for m in (cr, torch):
        x = m.tensor([-1.0, 0.5, 2.0])
        x.clamp_min_(0.0).clamp_max_(1.0)
        assert x.tolist() == [0.0, 0.5, 1.0]
        y = m.tensor([1.25, 2.5])
        y.round_(decimals=1)
        np.testing.assert_allclose(y.numpy(), [1.2, 2.5])
