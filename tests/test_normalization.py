"""Batch and layer normalisation are one primitive whose backward is the derived formula
(ops/normalization.py); here it is held against the same computation composed of
elementary ops, whose gradient the chain rule gives, to first and second order."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.normalization import normalize


def _composed(x, axes, w, b, eps, mean=None, var=None):
    if mean is None:
        mean = x.mean(axes, keepdim=True)
        d = x - mean
        var = (d * d).mean(axes, keepdim=True)
    else:
        d = x - cr.tensor(mean)
        var = cr.tensor(var)
    out = d / (var + eps).sqrt()
    return out * w + b


CASES = {
    "batch norm, training": ((6, 3, 4, 4), (0, 2, 3), (1, 3, 1, 1), False),
    "batch norm, evaluation": ((6, 3, 4, 4), (0, 2, 3), (1, 3, 1, 1), True),
    "batch norm 1-d": ((8, 5), (0,), (1, 5), False),
    "layer norm": ((4, 3, 6), (1, 2), (3, 6), False),
}


@pytest.mark.parametrize("case", CASES)
def test_the_derived_backward_equals_the_chain_rule_through_the_composed_form(case):
    shape, axes, param_shape, fixed = CASES[case]
    rng = np.random.default_rng(0)
    xv = rng.standard_normal(shape) * 2 + 0.5
    wv, bv = rng.standard_normal(param_shape), rng.standard_normal(param_shape)
    upstream = cr.tensor(rng.standard_normal(shape))
    mean = var = None
    if fixed:
        mean = rng.standard_normal(param_shape)
        var = rng.uniform(0.5, 2.0, param_shape)
    results = []
    for form in ("primitive", "composed"):
        x = cr.tensor(xv, requires_grad=True)
        w = cr.tensor(wv, requires_grad=True)
        b = cr.tensor(bv, requires_grad=True)
        if form == "primitive":
            y = normalize(x, axes, w, b, 1e-5, mean, var, fixed=fixed)
        else:
            y = _composed(x, axes, w, b, 1e-5, mean, var)
        grads = cr.autograd.grad(y, [x, w, b], upstream, create_graph=True)
        # second order: the gradient of <grad_x, v> with respect to x and w
        v = cr.tensor(np.cos(np.arange(xv.size)).reshape(shape))
        second = cr.autograd.grad((grads[0] * v).sum(), [x, w], allow_unused=True)
        results.append([y, *grads, *second])
    for mine, composed in zip(*results):
        if mine is None or composed is None:  # (fixed statistics: grad_x does not depend on x)
            assert fixed and mine is None and composed is None
            continue
        np.testing.assert_allclose(mine.numpy(), composed.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_gradient_matches_the_textbook_formula():
    """dx = gamma / (N sigma) (N dy - sum dy - x_hat sum(dy x_hat)), per channel."""
    rng = np.random.default_rng(1)
    xv, dy = rng.standard_normal((7, 2)), rng.standard_normal((7, 2))
    gamma = np.array([1.5, -0.5])
    x = cr.tensor(xv, requires_grad=True)
    y = cr.nn.functional.batch_norm(x, None, None, cr.tensor(gamma), None, training=True, eps=0.0)
    y.backward(cr.tensor(dy))
    n, mu, sigma = 7, xv.mean(0), xv.std(0)
    xhat = (xv - mu) / sigma
    expected = gamma / (n * sigma) * (n * dy - dy.sum(0) - xhat * (dy * xhat).sum(0))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
