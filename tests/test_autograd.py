"""The engine: graph shapes, accumulation, freeing, hooks, grad mode, higher order,
custom Functions and anomaly detection."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import Function, detect_anomaly, grad, gradcheck


def leaf(values, dtype=cr.float64):
    return cr.tensor(np.asarray(values, dtype=float), dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------ graph shapes
def test_diamond_graph_sums_both_paths():
    x = leaf([0.5, -1.0, 2.0])
    y = x * x
    z = (y + y.exp()).sum()  # dz/dx = 2x + exp(x^2) * 2x
    z.backward()
    xv = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * xv + np.exp(xv**2) * 2 * xv, rtol=1e-14)


def test_tensor_used_many_times_accumulates():
    x = leaf([1.5, -2.0])
    y = (x * x * x + x * 3 - x).sum()  # 3x^2 + 2
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2 + 2, rtol=1e-14)


def test_same_leaf_twice_in_one_op():
    x = leaf([3.0])
    (x * x).backward()
    assert x.grad.item() == 6.0


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_order_is_deterministic():
    calls = []

    class Tag(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.name = len(calls)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(ctx.name)
            return g

    def run():
        calls.clear()
        x = leaf([1.0])
        a, b, c = Tag.apply(x), Tag.apply(x), Tag.apply(x)
        ((a + b) * c + a).sum().backward()
        return list(calls), x.grad.numpy().copy()

    first, g1 = run()
    for _ in range(5):
        again, g2 = run()
        assert again == first
        np.testing.assert_array_equal(g1, g2)


def test_chain_of_ten_thousand_ops():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000] * 2, rtol=1e-9)


def test_deep_chain_of_mixed_ops():
    x = leaf([0.3])
    y = x
    for _ in range(3_000):
        y = (y + 0.001).tanh().exp().log()
    y.backward()
    assert np.isfinite(x.grad.numpy()).all()


# ------------------------------------------------------------------ freeing and retaining
def test_second_backward_on_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-14)


def test_backward_frees_saved_values():
    x = leaf(np.ones(1000))
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node.saved is None


def test_intermediate_tensors_are_not_kept_alive_by_the_graph():
    x = leaf([1.0, 2.0])
    h = x * 2
    out = h.exp()  # exp saves its output's values, never the tensor h
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is None
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * x.numpy()), rtol=1e-14)


# ------------------------------------------------------------------ root gradients
def test_backward_on_non_scalar_without_gradient_raises():
    x = leaf([[1.0, 2.0]])
    with pytest.raises(RuntimeError, match=r"shape \(1, 2\)"):
        (x * 2).backward()


def test_backward_on_tensor_without_grad_raises():
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


def test_backward_with_wrong_gradient_shape_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(cr.ShapeError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(cr.ones(3))


def test_backward_with_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(cr.tensor([1.0, 0.5, -1.0], dtype=cr.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, -6.0])


def test_user_gradient_array_is_never_written_to():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.array([1.0, 1.0])
    (a + b).backward(g)
    (a + b).backward(g)
    np.testing.assert_array_equal(g, [1.0, 1.0])
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])


def test_leaf_gradients_never_share_a_buffer():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    w = leaf([[1.0, 2.0]])
    (w.reshape(2) + a).sum().backward()
    w.grad.mul_(10)
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])


# ------------------------------------------------------------------ dtypes
def test_gradient_has_the_dtype_of_its_tensor():
    x = cr.tensor([1.0, 2.0], dtype=cr.float32, requires_grad=True)
    y = cr.tensor([3.0, 4.0], dtype=cr.float64, requires_grad=True)
    z = x * y
    assert z.dtype == cr.float64
    z.sum().backward()
    assert x.grad.dtype == cr.float32 and y.grad.dtype == cr.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_integer_tensors_never_require_grad():
    with pytest.raises(RuntimeError, match="floating"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        cr.ones(3, dtype=cr.int64).requires_grad_()
    x = leaf([1.7, 2.2])
    assert not x.argmax().requires_grad
    assert not (x > 2).requires_grad
    assert not x.long().requires_grad


# ------------------------------------------------------------------ hooks
def test_leaf_hook_can_replace_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_non_leaf_hook_sees_and_changes_the_flowing_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 0.5)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * h.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * h.numpy() * 0.5))


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    assert x.grad is not None


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(2).register_hook(lambda g: g)


# ------------------------------------------------------------------ grad mode
def test_no_grad_records_nothing():
    x = leaf([1.0])
    with cr.no_grad():
        y = x * 2
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_as_decorator_and_enable_grad_inside():
    x = leaf([1.0])

    @cr.no_grad()
    def f():
        inside = x * 2
        with cr.enable_grad():
            tracked = x * 2
        return inside, tracked

    inside, tracked = f()
    assert not inside.requires_grad and tracked.requires_grad


def test_set_grad_enabled():
    x = leaf([1.0])
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_detach_cuts_the_graph():
    x = leaf([2.0])
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), y.numpy())
    (y * d).backward()
    assert x.grad.item() == 3.0 * 6.0


# ------------------------------------------------------------------ autograd.grad and higher order
def test_grad_leaves_dot_grad_untouched():
    x = leaf([1.0, 2.0])
    (g,) = grad((x**2).sum(), x)
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])
    assert x.grad is None


def test_grad_with_respect_to_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    (gh,) = grad((h**2).sum(), h)
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())


def test_grad_unused_input():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        grad((x * 2).sum(), [x, unused])
    gx, gu = grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_of_input_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        x = leaf([1.0])
        grad((x * 2).sum(), cr.ones(1))


@pytest.mark.parametrize(
    ("f", "d2"),
    [
        (lambda x: x**3, lambda x: 6 * x),
        (lambda x: x.sin(), lambda x: -np.sin(x)),
        (lambda x: x.exp(), np.exp),
        (lambda x: x.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        (lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
        (lambda x: x.log(), lambda x: -1 / x**2),
        (lambda x: 1 / x, lambda x: 2 / x**3),
    ],
    ids=["cube", "sin", "exp", "tanh", "sigmoid", "log", "reciprocal"],
)
def test_second_derivatives_match_closed_forms(f, d2):
    x = leaf([0.3, 0.9, 1.7])
    (g,) = grad(f(x).sum(), x, create_graph=True)
    assert g.requires_grad
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), d2(x.numpy()), rtol=1e-12)


def test_hessian_vector_product_of_a_quadratic_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    A = cr.tensor(a)
    x = leaf(rng.standard_normal(4))
    v = cr.tensor(rng.standard_normal(4))
    f = x @ A @ x  # Hessian is A + A^T
    (g,) = grad(f, x, create_graph=True)
    (hv,) = grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.numpy(), (a + a.T) @ v.numpy(), rtol=1e-12)


def test_backward_with_create_graph_gives_differentiable_grad():
    x = leaf([2.0])
    (x**3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(12.0)


def test_third_derivative():
    x = leaf([0.7])
    (g1,) = grad((x**4).sum(), x, create_graph=True)
    (g2,) = grad(g1.sum(), x, create_graph=True)
    (g3,) = grad(g2.sum(), x)
    assert g3.item() == pytest.approx(24 * 0.7)


# ------------------------------------------------------------------ custom Function
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2


def test_custom_function_forward_and_backward():
    x = leaf([1.0, -2.0])
    y = Cube.apply(x)
    assert y.grad_fn is not None and y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)
    assert gradcheck(Cube.apply, (leaf([0.5, 1.5]),))


def test_custom_function_is_twice_differentiable():
    x = leaf([0.5, 1.5])
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


def test_custom_function_with_two_outputs_and_needs_input_grad():
    class SplitScale(Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            ctx.flags = ctx.needs_input_grad
            return x * k, x + k

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * ctx.k + gb, None

    x = leaf([1.0, 2.0])
    a, b = SplitScale.apply(x, 3.0)
    (a.sum() * 2 + b.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
    assert a.grad_fn.flags == (True, False)
    # An output that receives no gradient gets zeros.
    x.grad = None
    a, b = SplitScale.apply(x, 3.0)
    b.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_custom_function_saving_its_output():
    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    x = leaf([0.2, 0.4])
    (g,) = grad(Exp.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp(x.numpy()), rtol=1e-14)


def test_custom_function_errors_are_clear():
    class WrongCount(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="returned 2 gradient"):
        WrongCount.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"shape \(\) for its input 0, which has shape \(2,\)"):
        WrongShape.apply(x).sum().backward()


def test_custom_function_saved_tensors_are_freed():
    x = leaf([1.0])
    y = Cube.apply(x)
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.grad_fn.saved_tensors


# ------------------------------------------------------------------ anomaly detection
def test_detect_anomaly_names_the_forward_op():
    x = leaf([-1.0, 4.0])
    with detect_anomaly(), pytest.raises(RuntimeError, match="'sqrt' produced nan"):
        x.sqrt()
    assert np.isnan(x.sqrt().numpy()[0])  # outside the context: nan, silently, as in PyTorch


def test_detect_anomaly_blames_the_producer_not_the_carriers():
    x = leaf([-1.0, 4.0])
    with detect_anomaly(), pytest.raises(RuntimeError, match="'log' produced nan"):
        (x * 2 + 1).log().exp()


def test_detect_anomaly_names_the_backward_op():
    x = leaf([0.0, 4.0])
    y = x.sqrt().sum()  # finite forward, infinite gradient at 0
    with detect_anomaly(), pytest.raises(RuntimeError, match="backward of op 'sqrt' produced inf"):
        y.backward()


def test_detect_anomaly_is_a_decorator_and_restores_the_mode():
    @detect_anomaly()
    def f(x):
        return x.log()

    with pytest.raises(RuntimeError, match="'log'"):
        f(leaf([-1.0]))
    assert not cr.autograd.is_anomaly_enabled()


# ------------------------------------------------------------------ engine parity with PyTorch
def test_accumulation_and_graph_reuse_match_pytorch():
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((3, 4))
    x, tx = leaf(xv), torch.tensor(xv, requires_grad=True)
    for mod in (cr, torch):
        t = x if mod is cr else tx
        y = (t.exp() * t).sum(1)
        z = (y * y).sum() + y.sum()
        z.backward(retain_graph=True)
        z.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_gradcheck_catches_a_wrong_derivative():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos() * 1.01

    x = leaf([0.1, 0.7, 1.3])
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.raises(cr.autograd.GradcheckError, match="input 0 at index"):
        gradcheck(Wrong.apply, (x,))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2, (cr.ones(2),))


def test_gradcheck_promotes_inputs_to_float64():
    x = cr.tensor([0.3, 0.8], requires_grad=True)  # float32
    assert gradcheck(lambda t: (t * t).sin(), (x,))
    assert math.isclose(float(x.numpy()[0]), 0.3, rel_tol=1e-7)
