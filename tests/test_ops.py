"""The op table drives these: every entry, every sample, every check.

Forward against NumPy (float64 and float32), float64 gradcheck with a random upstream
gradient and the full Jacobian, second derivatives, exact values at kinks, the method
form, and parity with PyTorch (forward, backward, dtypes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.ops.kernels as kernels
from chainrule.autograd import engine
from chainrule.ops.kernels import fast
from chainrule.ops.op import Op
from chainrule.testing import checks
from chainrule.testing.opinfo import OP_DB

CASES = [(info, s) for info in OP_DB for s in checks.samples_of(info)]


def _ids(cases):
    return [f"{info.name}-{i}-{s.desc}" for i, (info, s) in enumerate(cases)]


DIFF = [(i, s) for i, s in CASES if i.differentiable and s.gradcheck]
GRADGRAD = [(i, s) for i, s in DIFF if i.gradgrad]
TORCH = [(i, s) for i, s in CASES if i.torch is not None and s.torch]
METHODS = [(i, s) for i, s in CASES if i.method and isinstance(s.args[0], np.ndarray)]
KINKS = [(info, k) for info in OP_DB for k in info.kinks]


@pytest.mark.parametrize(("info", "sample"), CASES, ids=_ids(CASES))
def test_forward_matches_numpy(info, sample):
    checks.check_forward(info, sample)


@pytest.mark.parametrize(("info", "sample"), CASES, ids=_ids(CASES))
def test_float32_forward(info, sample):
    checks.check_float32(info, sample)


@pytest.fixture(params=["plain", "checked"])
def loop(request, monkeypatch):
    """Each backward test runs twice: through the loop users run, and with the engine
    checking the shape and dtype of every gradient a built-in rule returns."""
    monkeypatch.setattr(engine, "CHECK_BUILTIN_RULES", request.param == "checked")
    return request.param


@pytest.mark.parametrize(("info", "sample"), DIFF, ids=_ids(DIFF))
def test_gradcheck(info, sample, loop):
    checks.check_gradcheck(info, sample)


@pytest.mark.parametrize(("info", "sample"), GRADGRAD, ids=_ids(GRADGRAD))
def test_second_derivative(info, sample, loop):
    checks.check_gradgradcheck(info, sample)


@pytest.mark.parametrize(("info", "sample"), TORCH, ids=_ids(TORCH))
def test_matches_pytorch(info, sample, loop):
    checks.check_torch(info, sample, torch)


@pytest.mark.parametrize("checking", [False, True])
def test_the_loop_users_run_is_the_one_without_checks(checking, monkeypatch):
    """By default the engine hands a built-in rule's gradients on unchecked (the fast path);
    with CHECK_BUILTIN_RULES it checks each one."""
    calls = []
    real = engine.checked_gradients
    monkeypatch.setattr(engine, "CHECK_BUILTIN_RULES", checking)
    monkeypatch.setattr(engine, "checked_gradients", lambda *a: calls.append(a) or real(*a))
    x = cr.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    (x.relu() @ x).tanh().sum().backward()
    assert x.grad is not None
    assert bool(calls) == checking


@pytest.mark.parametrize(("info", "sample"), METHODS, ids=_ids(METHODS))
def test_method_matches_function(info, sample):
    checks.check_method(info, sample)


@pytest.mark.parametrize(("info", "kink"), KINKS, ids=[f"{i.name}-{k.desc}" for i, k in KINKS])
def test_exact_value_at_kink(info, kink):
    checks.check_kink(info, kink, torch)


# The op list of ../shared/docs/api-contract.md, section "Package and tensors".
CONTRACT_OPS = [
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "neg",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "clamp",
    "maximum",
    "minimum",
    "where",
    "matmul",
    "sum",
    "mean",
    "var",
    "std",
    "amax",
    "amin",
    "argmax",
    "logsumexp",
    "softmax",
    "log_softmax",
    "reshape",
    "flatten",
    "transpose",
    "permute",
    "T",
    "squeeze",
    "unsqueeze",
    "cat",
    "stack",
    "getitem",
]
ALIASES = {"clip", "concat"}
NOT_OPS = {"ShapeError", "normalize_dim", "normalize_dims", "normalize_index", "logical_op"}


LOSS_CONTRACT = [
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "multi_margin_loss",
    "hinge_loss",
    "squared_hinge_loss",
    "exponential_loss",
    "perceptron_loss",
    "zero_one_loss",
    "categorical_cross_entropy",
    "l1_penalty",
    "l2_penalty",
    "l0_count",
]
NN_CONTRACT = [
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "softmax",
    "log_softmax",
    "linear",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "layer_norm",
]
RANDOM = {"dropout"}  # random by design: tested for its statistics in test_nn.py


def test_every_public_op_has_an_entry():
    names = {info.name for info in OP_DB}
    assert not set(CONTRACT_OPS) - names
    assert not set(NN_CONTRACT) - names
    assert not set(LOSS_CONTRACT) - names
    public = (set(cr.ops.__all__) | set(cr.nn.functional.__all__)) - ALIASES - NOT_OPS - RANDOM
    assert not public - names, f"ops without an op-table entry: {sorted(public - names)}"


def test_every_primitive_is_exercised_by_the_table(monkeypatch):
    """Run the whole table, forward, backward and double backward, recording which
    primitives ran; every registered primitive must appear in both directions."""
    ran_forward, ran_backward = set(), set()
    for name, cls in Op.registry.items():
        fwd, bwd = cls.forward, cls.backward

        def forward(self, *a, _f=fwd, _n=name, **k):
            ran_forward.add(_n)
            return _f(self, *a, **k)

        def backward(self, *a, _b=bwd, _n=name, **k):
            ran_backward.add(_n)
            return _b(self, *a, **k)

        monkeypatch.setattr(cls, "forward", forward)
        monkeypatch.setattr(cls, "backward", backward)
    for info, sample in GRADGRAD:
        fn, leaves = checks._bound(info, sample)
        out = fn(*leaves)
        # The upstream gradient requires grad too, so that backward rules linear in it
        # (max pooling's scatter, say) are themselves differentiated.
        upstream = cr.ones_like(out).requires_grad_()
        (g,) = cr.autograd.grad(out, leaves[:1], upstream, create_graph=True)
        if g.requires_grad:
            g.sum().backward()
    assert set(Op.registry) - ran_forward == set()
    assert set(Op.registry) - ran_backward == set()


def test_max_pool_third_derivative_routes_through_the_same_windows():
    """Differentiating max pooling's backward twice uses the composed gather, which must
    agree with the array kernel and be differentiable itself."""
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.permutation(2 * 2 * 7 * 7).reshape(2, 2, 7, 7) / 10.0, requires_grad=True)
    v = cr.tensor(rng.standard_normal((2, 2, 4, 4)), requires_grad=True)

    def scatter_then_gather(u):
        y = cr.nn.functional.max_pool2d(x, 3, 2, 1)
        (gx,) = cr.autograd.grad(y, [x], v, create_graph=True)
        (gv,) = cr.autograd.grad((gx * u).sum(), [v], create_graph=True)
        return gv

    u = cr.tensor(rng.standard_normal((2, 2, 7, 7)), requires_grad=True)
    _, route = kernels.max_pool(x.numpy(), (3, 3), (2, 2), (1, 1))
    np.testing.assert_allclose(
        scatter_then_gather(u).numpy(), kernels.pool_gather(u.numpy(), route)
    )
    assert cr.autograd.gradcheck(scatter_then_gather, (u,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("repeat", [1, 3000], ids=["small", "large"])
@pytest.mark.parametrize("kernel", ["in use", "plain"])
def test_relu_special_values_match_pytorch_bit_for_bit(kernel, repeat, dtype):
    """relu keeps -0.0 and NaN of either sign as PyTorch does: the kernel in use (NumPy's
    clip where it passed its check at import) and the plain definition."""
    special = np.array([-0.0, 0.0, np.nan, -np.nan, -1.0, -np.inf, np.inf, 2.5, 1e-45], dtype)
    x = np.tile(special, repeat)[1:]
    relu = kernels.relu if kernel == "in use" else getattr(kernels.relu, "plain", kernels.relu)
    mine = relu(x)
    theirs = torch.relu(torch.from_numpy(x)).numpy()
    ints = np.int32 if dtype == np.float32 else np.int64
    np.testing.assert_array_equal(mine.view(ints), theirs.view(ints))
    np.testing.assert_array_equal(cr.relu(cr.tensor(x)).numpy().view(ints), theirs.view(ints))


def test_relu_uses_clip_only_where_it_keeps_the_sign_of_zero():
    plain = getattr(kernels.relu, "plain", kernels.relu)
    assert fast.clip_gives_relu(np.clip, plain) == hasattr(kernels.relu, "plain")
    assert not fast.clip_gives_relu(lambda x, lo, hi: np.maximum(x, lo), plain)  # -0.0 -> +0.0
    assert not fast.clip_gives_relu(lambda x, lo, hi: np.fmax(x, lo), plain)  # NaN -> 0


def _relu_grads(shape, share):
    """relu's input gradient for a large input (the sliced path), with the incoming
    gradient either owned by the engine alone or also held elsewhere."""
    rng = np.random.default_rng(1)
    h = rng.standard_normal(shape).astype(np.float32)
    for k, value in enumerate([np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf]):
        h.flat[k::97] = value
    up = rng.standard_normal(shape).astype(np.float32)
    x = cr.tensor(h, requires_grad=True)
    y = cr.relu(x * 1.0)
    held = []
    if share:  # a hook keeps the very array the rule receives
        y.register_hook(lambda g: held.append(g))
    (y * cr.tensor(up)).sum().backward()
    t = torch.from_numpy(h).requires_grad_()
    (torch.relu(t * 1.0) * torch.from_numpy(up)).sum().backward()
    return x.grad.numpy(), t.grad.numpy(), held


@pytest.mark.parametrize("shape", [(3, 40), (300, 400)], ids=["small", "large"])
@pytest.mark.parametrize("share", [False, True], ids=["owned", "shared"])
def test_relu_backward_matches_pytorch_bit_for_bit(shape, share):
    """NaN inputs (either sign) let the gradient through and zeros of either sign stop it,
    as in PyTorch, on both paths."""
    mine, theirs, held = _relu_grads(shape, share)
    np.testing.assert_array_equal(mine.view(np.int32), theirs.view(np.int32))
    if share:  # the array a hook kept was not overwritten by the rule
        rng = np.random.default_rng(1)
        rng.standard_normal(shape)
        up = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(held[0].numpy(), up)


@pytest.mark.parametrize("relu_first", [True, False])
@pytest.mark.parametrize("through_mul", [False, True])
def test_a_shared_gradient_is_never_overwritten(relu_first, through_mul):
    """Add passes its gradient through unchanged, so the same array reaches a ReLU and a
    leaf (or another op): the ReLU must not write into it, whichever runs first."""
    rng = np.random.default_rng(2)
    h = cr.tensor(rng.standard_normal((256, 300)).astype(np.float32), requires_grad=True)
    c = cr.tensor(rng.standard_normal((256, 300)).astype(np.float32), requires_grad=True)
    up = rng.standard_normal((256, 300)).astype(np.float32)
    a, b = cr.relu(h * 1.0), (c * 1.0 if through_mul else c)
    ((a + b) if relu_first else (b + a)).backward(cr.tensor(up.copy()))
    np.testing.assert_array_equal(c.grad.numpy(), up)
    np.testing.assert_array_equal(h.grad.numpy(), np.where(h.numpy() > 0, up, 0.0))
    h.grad = c.grad = None
    a, b = cr.relu(h * 1.0), (c * 1.0 if through_mul else c)
    ((a + b) if relu_first else (b + a)).sum().backward()  # a gradient made by the engine
    np.testing.assert_array_equal(c.grad.numpy(), np.ones_like(up))
    np.testing.assert_array_equal(h.grad.numpy(), (h.numpy() > 0).astype(np.float32))
