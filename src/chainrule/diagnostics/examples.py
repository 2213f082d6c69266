"""The built-in examples of ``chainrule explain``: small networks whose backward pass a
learner can derive by hand and compare, number by number."""

from __future__ import annotations

import numpy as np

from chainrule import nn
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn import functional as F
from chainrule.tensor import tensor

__all__ = ["EXAMPLES", "build_example"]


def net_221():
    r"""A 2-2-1 network to backpropagate by hand (docs/fundamentals.md §1): two inputs, a
    hidden layer of two sigmoid units, one linear output, and the squared loss
    :math:`L = \frac12 (\hat y - t)^2` of one sample.

    x = (0.05, 0.10); W1 = [[0.15, 0.20], [0.25, 0.30]], b1 = (0.35, 0.35);
    W2 = [[0.40, 0.45]], b2 = (0.60); target t = 0.01 (float64).
    By hand: z1 = W1 x + b1, a1 = σ(z1), ŷ = W2 a1 + b2; δ2 = ŷ - t;
    ∂L/∂W2 = δ2 a1ᵀ; δ1 = (W2ᵀ δ2) ⊙ a1 (1 - a1); ∂L/∂W1 = δ1 xᵀ.
    """
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1)).double()
    with no_grad():
        model[0].weight.copy_(np.array([[0.15, 0.20], [0.25, 0.30]]))
        model[0].bias.copy_(np.array([0.35, 0.35]))
        model[2].weight.copy_(np.array([[0.40, 0.45]]))
        model[2].bias.copy_(np.array([0.60]))
    x = tensor(np.array([[0.05, 0.10]]))
    t = tensor(np.array([[0.01]]))
    loss = 0.5 * ((model(x) - t) ** 2).sum()
    return loss, model


def softmax_classifier():
    """A 2-layer softmax classifier: 4 samples of 3 features, a hidden layer of 4 ReLU
    units, 3 classes, mean cross-entropy (float64, fixed weights), so the output delta is
    (softmax - onehot)/4."""
    rng = np.random.default_rng(0)  # fixed numbers for the example, not the library's stream
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    with no_grad():
        model[0].weight.copy_(np.round(rng.normal(0, 0.8, (4, 3)), 2))
        model[0].bias.copy_(np.round(rng.normal(0, 0.1, 4), 2))
        model[2].weight.copy_(np.round(rng.normal(0, 0.8, (3, 4)), 2))
        model[2].bias.copy_(np.zeros(3))
    x = tensor(np.round(rng.normal(0, 1, (4, 3)), 2))
    y = tensor(np.array([0, 2, 1, 2]))
    loss = F.cross_entropy(model(x), y)
    return loss, model


EXAMPLES = {
    "net-2-2-1": (net_221, "a 2-2-1 network: sigmoid hidden layer, linear output, squared loss"),
    "softmax-classifier": (softmax_classifier, "a 2-layer ReLU network, softmax cross-entropy"),
}


def build_example(name: str):
    """``(loss, model)`` of the example ``name``."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
    return EXAMPLES[name][0]()
