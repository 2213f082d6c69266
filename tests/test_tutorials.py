"""The hand-written training loops of PyTorch's beginner tutorials run unchanged.

Each program below follows, call for call, a loop that PyTorch's tutorials teach
(``beginner_source/nn_tutorial.py``: a logistic regression from scratch, then with
``nn.Module``; ``beginner_source/examples_nn/polynomial_nn.py``: a cubic fitted with
``nn.Sequential`` and an update written by hand). Only the library differs: ``L`` is
chainrule or torch, and the data and starting weights are generated here (the tutorials
download MNIST and draw weights from torch's generator). Both runs must reach the same
loss.
"""

from __future__ import annotations

import math

import numpy as np
import torch

import chainrule as cr


def _both(program):
    return program(cr), program(torch)


FLIP = 0.2  # pixels switched at random: noise that keeps the loss well above 0


def _digits_like(n=640, seed=0):
    """Data shaped like the tutorial's MNIST: (n, 784) float32 in [0, 1), labels 0-9."""
    rng = np.random.default_rng(seed)
    centres = rng.random((10, 784)) < 0.15  # about 120 of 784 pixels lit, as in a digit
    y = rng.integers(0, 10, n)
    flips = rng.random((n, 784)) < FLIP
    x = (centres[y] ^ flips) * rng.uniform(0.5, 1.0, (n, 784))
    x = x.astype(np.float32)
    start = (rng.standard_normal((784, 10)) / math.sqrt(784)).astype(np.float32)
    return x, y, start


def test_logistic_regression_from_scratch():
    x_np, y_np, start = _digits_like()

    def program(L):
        x_train, y_train = map(L.tensor, (x_np, y_np))
        n, _c = x_train.shape
        weights = L.tensor(start)
        weights.requires_grad_()
        bias = L.zeros(10, requires_grad=True)

        def log_softmax(x):
            return x - x.exp().sum(-1).log().unsqueeze(-1)

        def model(xb):
            return log_softmax(xb @ weights + bias)

        def nll(input, target):
            return -input[range(target.shape[0]), target].mean()

        def accuracy(out, yb):
            preds = L.argmax(out, dim=1)
            return (preds == yb).float().mean()

        bs, lr = 64, 0.5
        for _epoch in range(2):
            for i in range((n - 1) // bs + 1):
                start_i = i * bs
                xb = x_train[start_i : start_i + bs]
                yb = y_train[start_i : start_i + bs]
                loss = nll(model(xb), yb)
                loss.backward()
                with L.no_grad():
                    weights -= weights.grad * lr
                    bias -= bias.grad * lr
                    weights.grad.zero_()
                    bias.grad.zero_()
        first = [nll(model(xb), yb).item(), accuracy(model(xb), yb).item()]
        # The tutorial's next step: the same model with F.cross_entropy on the raw scores.
        scores = xb @ weights + bias
        return [*first, L.nn.functional.cross_entropy(scores, yb).item(), weights.is_leaf]

    ours, theirs = _both(program)
    np.testing.assert_allclose(ours[:3], theirs[:3], rtol=2e-4)
    assert ours[0] < 0.5 and ours[3] is True  # it learned, and the weights stayed leaves


def test_the_parameters_loop_of_an_nn_module():
    x_np, y_np, start = _digits_like(seed=1)

    def program(L):
        nn = L.nn

        class MnistLogistic(nn.Module):
            def __init__(self):
                super().__init__()
                self.weights = nn.Parameter(L.tensor(start))
                self.bias = nn.Parameter(L.zeros(10))

            def forward(self, xb):
                return xb @ self.weights + self.bias

        x_train, y_train = map(L.tensor, (x_np, y_np))
        n = x_train.shape[0]
        model = MnistLogistic()
        loss_func = nn.functional.cross_entropy
        bs, lr = 64, 0.5
        for _epoch in range(2):
            for i in range((n - 1) // bs + 1):
                xb = x_train[i * bs : i * bs + bs]
                yb = y_train[i * bs : i * bs + bs]
                loss = loss_func(model(xb), yb)
                loss.backward()
                with L.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()
        return loss_func(model(xb), yb).item()

    ours, theirs = _both(program)
    np.testing.assert_allclose(ours, theirs, rtol=2e-4)
    assert ours < 0.5


def test_polynomial_fit_with_a_hand_written_update():
    weight = np.array([[0.3, -0.2, 0.1]], np.float32)
    bias = np.array([0.05], np.float32)

    def program(L):
        x = L.linspace(-math.pi, math.pi, 2000)
        y = L.sin(x)
        p = L.tensor([1, 2, 3])
        xx = x.unsqueeze(-1).pow(p)
        model = L.nn.Sequential(L.nn.Linear(3, 1), L.nn.Flatten(0, 1))
        with L.no_grad():
            model[0].weight.copy_(L.tensor(weight))
            model[0].bias.copy_(L.tensor(bias))
        loss_fn = L.nn.MSELoss(reduction="sum")
        learning_rate = 1e-6
        losses = []
        for t in range(2000):
            y_pred = model(xx)
            loss = loss_fn(y_pred, y)
            if t % 100 == 99:
                losses.append(loss.item())
            model.zero_grad()
            loss.backward()
            with L.no_grad():
                for param in model.parameters():
                    param -= learning_rate * param.grad
        layer = model[0]
        coefficients = [layer.bias.item()] + [layer.weight[:, k].item() for k in range(3)]
        return losses, coefficients

    ours, theirs = _both(program)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-4, atol=1e-6)
    assert ours[0][-1] < ours[0][0] / 10  # the fit improved tenfold
