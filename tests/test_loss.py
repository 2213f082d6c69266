"""Losses beyond the op table: the sheet's a - y, extreme logits, the gradient formulas of
the losses without a PyTorch twin, every bad-target error, the 0-1 metric, penalties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

RNG = np.random.default_rng(0)


def leaf(a, dtype=cr.float64):
    return cr.tensor(np.asarray(a, dtype=float), dtype=dtype, requires_grad=True)


def grad_of(fn, x):
    x = leaf(x)
    fn(x).backward()
    return x.grad.numpy()


# ------------------------------------------------------------------ cross-entropy
def test_softmax_cross_entropy_gradient_is_a_minus_y_over_n():
    logits = RNG.standard_normal((6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    g = grad_of(lambda z: F.cross_entropy(z, labels), logits)
    a = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.eye(4)[labels]
    np.testing.assert_allclose(g, (a - y) / 6, rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_log_softmax_then_nll():
    logits, labels = RNG.standard_normal((5, 3)), np.array([2, 0, 1, 1, 2])
    a = F.cross_entropy(cr.tensor(logits), labels)
    b = F.nll_loss(cr.log_softmax(cr.tensor(logits), 1), labels)
    assert a.item() == pytest.approx(b.item(), rel=1e-14)


@pytest.mark.parametrize(("dtype", "big"), [(cr.float64, 1e4), (cr.float32, 80.0)])
def test_extreme_logits_give_finite_losses_and_gradients(dtype, big):
    logits = leaf([[big, -big, 0.0], [-big, big, big]], dtype)
    loss = F.cross_entropy(logits, np.array([1, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad.numpy()).all()
    # A confident mistake costs the logit gap: -log softmax = big - (-big) = 2*big.
    assert loss.item() == pytest.approx((2 * big + (2 * big + np.log(2))) / 2, rel=1e-5)
    x = leaf([big, -big, big, -big], dtype)
    bce = F.binary_cross_entropy_with_logits(x, cr.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype))
    bce.backward()
    assert np.isfinite(bce.item()) and np.isfinite(x.grad.numpy()).all()
    assert bce.item() == pytest.approx(big / 2, rel=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), [0.25, -0.25, 0.0, 0.0], atol=1e-7)


_INF = float("inf")
# Two samples of (N=2, C=3, d=2): class 1 masked (-inf, or merely very negative) throughout,
# one row entirely masked, one target on a masked class.
_MASKED = np.array(
    [[[0.0, 2.0], [-_INF, -_INF], [1.0, -0.5]], [[-_INF, 0.3], [-_INF, -_INF], [-_INF, 1.2]]]
)
_INDEX_TARGETS = {
    "indices": np.array([[0, 2], [2, 0]]),
    "target on a masked class": np.array([[1, 2], [2, 0]]),
    "ignored rows": np.array([[-100, 2], [-100, 0]]),  # [1, :, 0] is all -inf and ignored
}
_PROBABILITIES = {
    "one-hot probabilities": np.eye(3)[[[0, 2], [2, 0]]].transpose(0, 2, 1),
    "soft probabilities": np.array(
        [[[0.5, 0.0], [0.0, 0.0], [0.5, 1.0]], [[0.0, 0.25], [0.0, 0.0], [1.0, 0.75]]]
    ),
}
_TARGETS = {**_INDEX_TARGETS, **_PROBABILITIES}


@pytest.mark.parametrize("masked", [-_INF, -1e300, "float32 -3e38"])
@pytest.mark.parametrize("name", list(_TARGETS))
def test_cross_entropy_with_masked_classes_matches_pytorch(name, masked):
    """Masked classes (-inf logits, or very negative ones) in every target form, with
    weights or label smoothing, each reduction: PyTorch's values (inf for a masked target,
    nan where PyTorch multiplies a 0 by -inf) and gradients."""
    cr_dtype, torch_dtype, fill = cr.float64, torch.float64, masked
    if masked == "float32 -3e38":
        cr_dtype, torch_dtype, fill = cr.float32, torch.float32, -3e38
    rtol = 1e-12 if cr_dtype == cr.float64 else 1e-5
    logits, target = np.where(np.isinf(_MASKED), fill, _MASKED), _TARGETS[name]
    probabilities = target.dtype.kind == "f"
    for options in ({}, {"weight": [1.0, 2.0, 0.5]}, {"label_smoothing": 0.2}):
        for reduction in ("mean", "sum", "none"):
            theirs = torch.tensor(logits, dtype=torch_dtype, requires_grad=True)
            tt = torch.tensor(target, dtype=torch_dtype if probabilities else None)
            kw = {
                k: torch.tensor(v, dtype=torch_dtype) if k == "weight" else v
                for k, v in options.items()
            }
            expected = torch.nn.functional.cross_entropy(theirs, tt, reduction=reduction, **kw)
            expected.sum().backward()
            mine = cr.tensor(logits, dtype=cr_dtype, requires_grad=True)
            ct = cr.tensor(target, dtype=cr_dtype if probabilities else None)
            kw = {
                k: cr.tensor(v, dtype=cr_dtype) if k == "weight" else v for k, v in options.items()
            }
            got = F.cross_entropy(mine, ct, reduction=reduction, **kw)
            got.sum().backward()
            case = f"{options} {reduction}"
            np.testing.assert_allclose(
                got.numpy(), expected.detach().numpy(), rtol=rtol, atol=1e-30, err_msg=case
            )
            np.testing.assert_allclose(
                mine.grad.numpy(), theirs.grad.numpy(), rtol=rtol, atol=1e-7, err_msg=case
            )


def test_a_masked_class_no_longer_makes_cross_entropy_nan():
    loss = F.cross_entropy(cr.tensor([[0.0, -_INF, 1.0]]), cr.tensor([0]))
    assert loss.item() == pytest.approx(1.3132616875182228, rel=1e-6)  # PyTorch's value
    ignored = F.cross_entropy(cr.tensor([[-_INF, -_INF], [0.0, 0.0]]), cr.tensor([-100, 0]))
    assert ignored.item() == pytest.approx(np.log(2), rel=1e-6)
    nll = F.nll_loss(cr.tensor([[-_INF, -_INF], [0.0, -1.0]]), cr.tensor([-100, 1]))
    assert nll.item() == 1.0


def test_categorical_cross_entropy_clip_kills_the_gradient():
    probs = np.array([[1e-12, 1 - 1e-12], [0.3, 0.7]])
    target = np.array([0, 0])
    p = leaf(probs)
    loss = F.categorical_cross_entropy(p, target)
    loss.backward()
    # the first sample is confidently wrong, yet its clipped log gives it no gradient
    np.testing.assert_array_equal(p.grad.numpy()[0], [0.0, 0.0])
    np.testing.assert_allclose(p.grad.numpy()[1], [-1 / 0.3 / 2, 0.0])
    assert loss.item() == pytest.approx((-np.log(1e-10) - np.log(0.3)) / 2)
    # while the fused form on logits keeps a full gradient for the same prediction
    logits = leaf(np.log(probs))
    F.cross_entropy(logits, target).backward()
    assert abs(logits.grad.numpy()[0, 0]) == pytest.approx(0.5, rel=1e-6)


# ------------------------------------------------------------------ formulas of the no-twin losses
T = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
Y = np.array([0.3, 0.4, 2.0, -3.0, -0.7])


@pytest.mark.parametrize(
    ("fn", "value", "grad"),
    [
        (F.hinge_loss, lambda y, t: np.maximum(0, 1 - t * y), lambda y, t: -t * (t * y < 1)),
        (
            lambda y, t, **k: F.hinge_loss(y, t, margin=0.5, **k),
            lambda y, t: np.maximum(0, 0.5 - t * y),
            lambda y, t: -t * (t * y < 0.5),
        ),
        (
            F.squared_hinge_loss,
            lambda y, t: np.maximum(0, 1 - t * y) ** 2,
            lambda y, t: -2 * t * np.maximum(0, 1 - t * y),
        ),
        (F.exponential_loss, lambda y, t: np.exp(-t * y), lambda y, t: -t * np.exp(-t * y)),
        (F.perceptron_loss, lambda y, t: np.maximum(0, -t * y), lambda y, t: -t * (t * y <= 0)),
    ],
    ids=["hinge", "hinge margin 0.5", "squared hinge", "exponential", "perceptron"],
)
def test_loss_value_and_gradient_follow_the_docstring(fn, value, grad):
    y = leaf(Y)
    out = fn(y, cr.tensor(T))
    out.backward()
    np.testing.assert_allclose(out.item(), value(Y, T).mean(), rtol=1e-14)
    np.testing.assert_allclose(y.grad.numpy(), grad(Y, T) / len(Y), rtol=1e-14)
    np.testing.assert_allclose(
        fn(cr.tensor(Y), cr.tensor(T), reduction="none").numpy(), value(Y, T)
    )
    assert fn(cr.tensor(Y), cr.tensor(T), reduction="sum").item() == pytest.approx(
        value(Y, T).sum()
    )


def test_perceptron_learns_from_zero_weights():
    w = cr.zeros(2, requires_grad=True)
    x = cr.tensor([[1.0, 2.0], [-1.0, -1.5]])
    loss = F.perceptron_loss(x @ w, cr.tensor([1.0, -1.0]))
    loss.backward()
    assert np.abs(w.grad.numpy()).sum() > 0


def test_exponential_loss_mean_does_not_overflow_before_the_result_does():
    y = cr.tensor([-709.5, -709.5], dtype=cr.float64)  # each term is e^709.5, the sum e^710.2
    out = F.exponential_loss(y, cr.tensor([1.0, 1.0]))
    assert np.isfinite(out.item()) and out.item() == pytest.approx(np.exp(709.5), rel=1e-12)
    assert np.isinf(F.exponential_loss(y, cr.tensor([1.0, 1.0]), reduction="sum").item())


# ------------------------------------------------------------------ 0-1 loss and penalties
def test_zero_one_loss_modes():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6]])
    assert F.zero_one_loss(scores, np.array([1, 1, 1])).item() == pytest.approx(1 / 3)
    assert F.zero_one_loss(scores, np.array([1, 1, 1]), reduction="sum").item() == 1
    signs = F.zero_one_loss(
        np.array([0.5, -1.0, 0.0]), np.array([1.0, 1.0, -1.0]), reduction="none"
    )
    assert signs.tolist() == [0.0, 1.0, 1.0]  # a score of 0 is wrong
    tol = F.zero_one_loss(
        np.array([1.0, 2.0]), np.array([1.3, 2.5]), tolerance=0.5, reduction="none"
    )
    assert tol.tolist() == [0.0, 1.0]


def test_zero_one_loss_never_requires_grad_and_points_to_a_surrogate():
    scores = leaf([[0.1, 0.9], [0.8, 0.2]])
    err = F.zero_one_loss(scores, np.array([1, 0]))
    assert not err.requires_grad
    with pytest.raises(RuntimeError, match=r"not differentiable.*cross_entropy"):
        err.backward()
    with pytest.raises(RuntimeError, match="hinge_loss"):
        cr.autograd.backward(F.zero_one_loss(leaf([0.5, -0.5]), cr.tensor([1.0, 1.0])))
    with pytest.raises(RuntimeError, match="l1_penalty"):
        F.l0_count([leaf([1.0, 0.0])]).backward()


def test_penalties_and_structural_risk():
    w1, w2 = leaf([[1.0, -2.0], [0.0, 3.0]]), leaf([-0.5])
    assert F.l1_penalty([w1, w2]).item() == 6.5
    assert F.l2_penalty([w1, w2]).item() == pytest.approx(0.5 * (1 + 4 + 9 + 0.25))
    assert F.l0_count([w1, w2]).item() == 4 and F.l0_count([w1, w2], tol=1.0).item() == 2
    # structural risk = empirical risk + lambda * penalty: the gradient gains lambda * w
    x, y = cr.tensor([[1.0, 1.0]], dtype=cr.float64), cr.tensor([[1.0, 0.0]], dtype=cr.float64)
    lam = 0.1
    risk = F.mse_loss(x @ w1, y)
    (g_data,) = cr.autograd.grad(risk, w1)
    total = F.mse_loss(x @ w1, y) + lam * F.l2_penalty(w1)
    (g_total,) = cr.autograd.grad(total, w1)
    np.testing.assert_allclose(g_total.numpy(), g_data.numpy() + lam * w1.numpy())
    (g_l1,) = cr.autograd.grad(F.l1_penalty(w1), w1)
    np.testing.assert_array_equal(g_l1.numpy(), np.sign(w1.numpy()))


# ------------------------------------------------------------------ modules
@pytest.mark.parametrize(
    ("module", "fn", "x", "t"),
    [
        (nn.MSELoss(reduction="sum"), lambda x, t: F.mse_loss(x, t, "sum"), Y, T),
        (nn.L1Loss(), F.l1_loss, Y, T),
        (nn.HuberLoss(delta=0.5), lambda x, t: F.huber_loss(x, t, delta=0.5), Y, T),
        (nn.SmoothL1Loss(beta=0.5), lambda x, t: F.smooth_l1_loss(x, t, beta=0.5), Y, T),
        (
            nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0])),
            lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=cr.tensor([2.0])),
            Y,
            (T + 1) / 2,
        ),
        (nn.BCELoss(), F.binary_cross_entropy, 1 / (1 + np.exp(-Y)), (T + 1) / 2),
        (nn.HingeLoss(), F.hinge_loss, Y, T),
        (
            nn.SquaredHingeLoss(margin=2.0),
            lambda x, t: F.squared_hinge_loss(x, t, margin=2.0),
            Y,
            T,
        ),
        (nn.ExponentialLoss(), F.exponential_loss, Y, T),
        (nn.PerceptronLoss(), F.perceptron_loss, Y, T),
        (nn.ZeroOneLoss(), F.zero_one_loss, Y, T),
        (
            nn.CrossEntropyLoss(label_smoothing=0.1),
            lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
            RNG.standard_normal((4, 3)),
            np.array([0, 2, 1, 2]),
        ),
        (
            nn.NLLLoss(ignore_index=1),
            lambda x, t: F.nll_loss(x, t, ignore_index=1),
            RNG.standard_normal((4, 3)),
            np.array([0, 2, 1, 2]),
        ),
        (
            nn.MultiMarginLoss(p=2),
            lambda x, t: F.multi_margin_loss(x, t, p=2),
            RNG.standard_normal((4, 3)),
            np.array([0, 2, 1, 2]),
        ),
    ],
)
def test_each_module_computes_its_functional(module, fn, x, t):
    assert module(x, t).item() == pytest.approx(fn(x, t).item(), rel=1e-7)


def test_loss_module_repr_matches_pytorch():
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


# ------------------------------------------------------------------ bad targets and shapes
def test_class_index_out_of_range_names_the_label_and_the_range():
    x = RNG.standard_normal((3, 4))
    with pytest.raises(
        cr.LabelError,
        match=r"class 4, but the input has 4 classes \(valid labels are 0\.\.3, or ignore_index=-100\)",
    ):
        F.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="class -2"):  # PyTorch users catch IndexError
        F.nll_loss(x, np.array([0, -2, 1]))
    with pytest.raises(cr.LabelError, match=r"valid labels are 0\.\.3\)"):
        F.multi_margin_loss(x, np.array([9, 0, 1]))
    with pytest.raises(cr.LabelError, match="class 7"):
        F.categorical_cross_entropy(np.full((3, 4), 0.25), np.array([7, 0, 1]))
    with pytest.raises(ValueError, match="class 4"):
        F.zero_one_loss(x, np.array([0, 4, 1]))


def test_ignore_index_is_exempt_from_the_range_check():
    x = RNG.standard_normal((3, 4))
    out = F.cross_entropy(x, np.array([0, -100, 1]))
    ref = F.cross_entropy(x[[0, 2]], np.array([0, 1]))
    assert out.item() == pytest.approx(ref.item(), rel=1e-7)


def test_float_class_labels_are_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"must be integers, got dtype float32.*shape \(3, 4\)"):
        F.cross_entropy(RNG.standard_normal((3, 4)), cr.tensor([0.0, 1.0, 2.0]))


def test_class_target_shape_is_checked():
    with pytest.raises(
        cr.ShapeError, match=r"needs class-index targets of shape \(3,\), got \(3, 1\)"
    ):
        F.cross_entropy(RNG.standard_normal((3, 4)), np.array([[0], [1], [2]]))
    with pytest.raises(
        cr.ShapeError, match=r"probability targets must have the input's shape \(3, 4\)"
    ):
        F.cross_entropy(RNG.standard_normal((3, 4)), np.full((3, 5), 0.2))
    with pytest.raises(cr.ShapeError, match=r"weight must have shape \(4,\)"):
        F.cross_entropy(RNG.standard_normal((3, 4)), np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ValueError, match="ignore_index is not supported for probability targets"):
        F.cross_entropy(RNG.standard_normal((3, 4)), np.full((3, 4), 0.25), ignore_index=1)


@pytest.mark.parametrize(
    "fn", [F.hinge_loss, F.squared_hinge_loss, F.exponential_loss, F.perceptron_loss]
)
def test_plus_minus_one_losses_reject_zero_one_labels(fn):
    with pytest.raises(
        cr.LabelError, match=r"targets must be -1 or \+1, got \[0\.0\] \(2 of 4 targets\)"
    ):
        fn(cr.tensor([0.5, -0.5, 1.0, 2.0]), cr.tensor([1.0, 0.0, 1.0, 0.0]))


@pytest.mark.parametrize(
    "fn",
    [
        F.mse_loss,
        F.l1_loss,
        F.huber_loss,
        F.smooth_l1_loss,
        F.hinge_loss,
        F.binary_cross_entropy_with_logits,
    ],
)
def test_mismatched_shapes_raise_where_pytorch_would_broadcast(fn):
    with pytest.raises(cr.ShapeError, match=r"input shape \(4, 1\) and target shape \(4,\) differ"):
        fn(cr.tensor(np.full((4, 1), 0.5)), cr.tensor([1.0, -1.0, 1.0, -1.0]))


def test_bce_needs_probabilities():
    with pytest.raises(
        ValueError, match=r"every input value must be a probability in \[0, 1\].*with_logits"
    ):
        F.binary_cross_entropy(cr.tensor([0.5, 1.5]), cr.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"every target value must be a probability.*-1\.0"):
        F.binary_cross_entropy(cr.tensor([0.5, 0.5]), cr.tensor([1.0, -1.0]))


def test_bad_reduction_and_hyperparameters():
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.mse_loss(cr.ones(2), cr.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="average")
    with pytest.raises(ValueError, match="delta must be positive"):
        F.huber_loss(cr.ones(2), cr.ones(2), delta=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(cr.ones(2, 3), np.array([0, 1]), label_smoothing=1.5)
