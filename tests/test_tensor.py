"""Tensors: creation and dtypes, PyTorch's promotion rule, factories, conversion, in-place
rules, and a property test of broadcasting."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr


# ------------------------------------------------------------------ creation
def test_python_floats_get_the_default_dtype():
    assert cr.tensor([1.0, 2.0]).dtype == cr.float32
    assert cr.tensor(1.5).dtype == cr.float32
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True, False]).dtype == cr.bool
    cr.set_default_dtype(cr.float64)
    assert cr.tensor([1.0]).dtype == cr.float64
    assert cr.zeros(2).dtype == cr.float64


def test_numpy_arrays_keep_their_dtype_and_are_copied():
    a = np.arange(3.0)
    t = cr.tensor(a)
    assert t.dtype == cr.float64
    a[0] = 99
    assert t.numpy()[0] == 0
    assert cr.tensor(np.arange(3, dtype=np.int32)).dtype == cr.int32
    assert np.shares_memory(cr.from_numpy(a).numpy(), a)


def test_dtype_argument_and_conversions():
    t = cr.tensor([1.7, -2.2], dtype=cr.float64)
    assert t.dtype == cr.float64
    assert t.tolist() == [1.7, -2.2]  # Python floats straight to float64, never via float32
    assert t.float().dtype == cr.float32
    assert t.long().tolist() == [1, -2]
    assert t.to("float32").dtype == cr.float32
    assert cr.get_default_dtype() == cr.float32


def test_default_dtype_must_be_floating():
    with pytest.raises(TypeError, match="float32 or float64"):
        cr.set_default_dtype(cr.int64)


def test_bad_data_raises():
    with pytest.raises(TypeError, match="str"):
        cr.tensor("abc")
    with pytest.raises(ValueError, match="cannot make a tensor"):
        cr.tensor([[1.0, 2.0], [3.0]])


# ------------------------------------------------------------------ promotion
_DTYPES = ["bool", "int32", "int64", "float32", "float64"]


def _pair(mod, dtype, zero_d):
    values = [1] if dtype != "bool" else [True]
    data = values[0] if zero_d else values * 3
    return mod.tensor(data, dtype=getattr(mod, dtype))


@pytest.mark.parametrize(
    ("da", "za", "db", "zb"),
    [
        (da, za, db, zb)
        for da, db in itertools.product(_DTYPES, _DTYPES)
        for za in (False, True)
        for zb in (False, True)
    ],
)
def test_tensor_tensor_promotion_matches_pytorch(da, za, db, zb):
    mine = _pair(cr, da, za) * _pair(cr, db, zb)
    theirs = _pair(torch, da, za) * _pair(torch, db, zb)
    assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "cr.")


@pytest.mark.parametrize(("dtype", "scalar"), list(itertools.product(_DTYPES, [2, 2.5, True])))
def test_tensor_scalar_promotion_matches_pytorch(dtype, scalar):
    for op in ("__mul__", "__rmul__", "__add__"):
        mine = getattr(_pair(cr, dtype, False), op)(scalar)
        theirs = getattr(_pair(torch, dtype, False), op)(scalar)
        assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "cr."), op


@pytest.mark.parametrize("dtype", _DTYPES[1:])
def test_true_division_of_integers_gives_the_default_float(dtype):
    a, b = cr.tensor([3, 4], dtype=dtype), cr.tensor([2, 8], dtype=dtype)
    out = a / b
    assert out.dtype == (cr.float64 if dtype == "float64" else cr.float32)
    np.testing.assert_allclose(out.numpy(), [1.5, 0.5])


def test_float_functions_of_integers_give_the_default_float():
    assert cr.exp(cr.tensor([0, 1])).dtype == cr.float32
    assert cr.tensor([1, -2]).abs().dtype == cr.int64
    assert cr.tensor([1, 2]).sum().dtype == cr.int64
    with pytest.raises(TypeError, match="floating-point"):
        cr.tensor([1, 2]).mean()


# ------------------------------------------------------------------ factories and randomness
def test_factories():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).shape == (2, 3)
    assert cr.ones(4, dtype=cr.int64).dtype == cr.int64
    assert cr.full((2,), 3).dtype == cr.int64 and cr.full((2,), 3.0).dtype == cr.float32
    assert cr.arange(5).dtype == cr.int64 and cr.arange(0, 1, 0.25).dtype == cr.float32
    assert cr.arange(1, 7, 2).tolist() == [1, 3, 5]
    np.testing.assert_array_equal(cr.eye(3).numpy(), np.eye(3))
    assert cr.zeros_like(cr.ones(2, 2, dtype=cr.float64)).dtype == cr.float64
    assert cr.randn(3, 4).dtype == cr.float32 and cr.rand(5).numpy().min() >= 0
    assert cr.ones(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="non-negative"):
        cr.zeros(-1)


def test_manual_seed_reproduces_every_draw():
    cr.manual_seed(123)
    a = (cr.randn(5), cr.rand(3), cr.randint(0, 10, (4,)), cr.empty(2).normal_())
    cr.manual_seed(123)
    b = (cr.randn(5), cr.rand(3), cr.randint(0, 10, (4,)), cr.empty(2).normal_())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    cr.manual_seed(124)
    assert not np.array_equal(cr.randn(5).numpy(), a[0].numpy())


def test_rng_state_round_trip():
    cr.manual_seed(5)
    state = cr.random.get_rng_state()
    first = cr.randn(4).numpy()
    cr.random.set_rng_state(state)
    np.testing.assert_array_equal(cr.randn(4).numpy(), first)


# ------------------------------------------------------------------ conversion and protocol
def test_numpy_interop():
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert np.asarray(t).shape == (2, 2)
    assert isinstance(t.numpy(), np.ndarray)
    out = np.ones(2) * cr.tensor([2.0, 3.0])  # NumPy defers to the tensor
    assert isinstance(out, cr.Tensor) and out.tolist() == [2.0, 3.0]
    assert cr.tensor([5.0]).item() == 5.0 and float(cr.tensor(2.5)) == 2.5
    assert len(t) == 2 and [row.shape for row in t] == [(2,), (2,)]
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        t.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)


def test_repr_shows_grad_state():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(cr.tensor([1.0], requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(cr.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=cr.float64" in repr(cr.tensor(np.ones(1)))


def test_shape_attributes():
    t = cr.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and t.numel() == 24
    assert t.size() == (2, 3, 4) and t.size(-1) == 4
    assert t.T.shape == (4, 3, 2) and t.mT.shape == (2, 4, 3)


# ------------------------------------------------------------------ in place
def test_assigned_grad_must_match_the_tensor_as_in_pytorch():
    p = cr.zeros(2, 3, requires_grad=True)
    tp = torch.zeros(2, 3, requires_grad=True)
    for bad in (cr.ones(3, 2), cr.ones(6)):  # same size, other shape: never silently used
        with pytest.raises(cr.ShapeError, match=r"shape \(3, 2\)|shape \(6,\)"):
            p.grad = bad
        with pytest.raises(RuntimeError):
            tp.grad = torch.ones(*bad.shape)
    with pytest.raises(TypeError, match=r"float64.*float32"):
        p.grad = cr.ones(2, 3, dtype=cr.float64)
    with pytest.raises(TypeError, match="ndarray"):
        p.grad = np.ones((2, 3), np.float32)
    p.grad = cr.ones(2, 3)
    assert p.grad.shape == (2, 3)
    p.grad = None
    assert p.grad is None


def test_in_place_on_a_leaf_that_requires_grad_needs_no_grad():
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.mul_(2)
    with cr.no_grad():
        w.mul_(2).add_(1)
        w[0] = 10.0
    np.testing.assert_array_equal(w.numpy(), [10.0, 3.0, 3.0])


def test_setitem_and_fill():
    t = cr.zeros(2, 3)
    t[0, 1:] = 5.0
    t[1] = cr.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.numpy(), [[0, 5, 5], [1, 2, 3]])
    t.fill_(7)
    assert t.numpy().min() == 7
    with pytest.raises(cr.ShapeError, match=r"\(4,\).*\(2, 3\)"):
        t.copy_(cr.ones(4))


# ------------------------------------------------------------------ broadcasting, as a property
@settings(max_examples=60, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3), data=st.data()
)
def test_broadcast_binary_ops_match_numpy_and_reduce_gradients(shapes, data):
    sa, sb = shapes.input_shapes
    elements = st.floats(-3, 3, allow_nan=False, width=64)
    a = data.draw(hnp.arrays(np.float64, sa, elements=elements))
    b = data.draw(hnp.arrays(np.float64, sb, elements=elements)) + 4.0  # keep division safe
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    for op in (np.add, np.subtract, np.multiply, np.divide):
        ta.grad = tb.grad = None
        out = {np.add: ta + tb, np.subtract: ta - tb, np.multiply: ta * tb, np.divide: ta / tb}[op]
        np.testing.assert_allclose(out.numpy(), op(a, b), rtol=1e-14)
        assert out.shape == shapes.result_shape
        out.sum().backward()
        assert ta.grad.shape == sa and tb.grad.shape == sb
    # For multiplication, d(sum a*b)/da is b summed over the broadcast dimensions.
    ta.grad = None
    (ta * tb).sum().backward()
    expected = np.broadcast_to(b, shapes.result_shape)
    lead = len(shapes.result_shape) - len(sa)
    expected = expected.sum(axis=tuple(range(lead))) if lead else expected
    expected = expected.sum(axis=tuple(i for i, n in enumerate(sa) if n == 1), keepdims=True)
    np.testing.assert_allclose(ta.grad.numpy(), np.broadcast_to(expected, sa), rtol=1e-12)
