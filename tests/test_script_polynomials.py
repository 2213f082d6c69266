"""The polynomial and two-layer scripts of PyTorch's tutorials run unchanged.

``beginner_source/examples_autograd/`` (``polynomial_autograd.py``,
``polynomial_custom_function.py``, ``two_layer_net_custom_function.py``) and
``beginner_source/examples_nn/`` (``polynomial_optim.py``, ``polynomial_module.py``,
``dynamic_net.py``; ``polynomial_nn.py`` is ``tests/test_tutorials.py``'s): each test
below makes the script's calls, in its order, under chainrule and under torch, from the
same starting values (the scripts draw them from torch's generator; here the draw is
overwritten with the test's numbers, see ``tests/script_parity.py``), and compares the
losses the script prints and the fit it reports. Fewer iterations than the scripts run
where the calls are the same.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import chainrule as cr
from script_parity import both, overwrite

_START = [0.3, -0.4, 0.2, 0.05]  # a, b, c, d of y = a + b x + c x^2 + d x^3


def _close(ours, theirs, *, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


# The fitted coefficients after 1000 steps agree to about 1e-5: each step's gradient is
# a float32 sum over 2000 points, which NumPy and PyTorch round differently (pairwise
# against blocked summation), and the steps add those differences up. In float64 the
# same programs agree to 1e-12 (test_polynomial_as_a_custom_module).
COEFFICIENTS = 3e-5


@pytest.fixture
def _default_device():
    yield
    # torch.set_default_device("cpu") stays on for the process, and slows every later
    # torch call down; undo it.
    torch.set_default_device(None)
    cr.set_default_device(None)


@pytest.mark.usefixtures("_default_device")
@pytest.mark.parametrize("header", ["accelerator", "cuda"])
def test_polynomial_fitted_with_tensors_and_autograd(header):
    # Two versions of the script: the current one picks its device through
    # torch.accelerator and prints it; an older one through torch.cuda.
    def program(L):
        dtype = L.float
        if header == "accelerator":
            device = (
                L.accelerator.current_accelerator().type if L.accelerator.is_available() else "cpu"
            )
        else:
            device = "cuda" if L.cuda.is_available() else "cpu"
        L.set_default_device(device)
        x = L.linspace(-math.pi, math.pi, 2000, dtype=dtype)
        y = L.sin(x)
        a = L.randn((), dtype=dtype, requires_grad=True)
        b = L.randn((), dtype=dtype, requires_grad=True)
        c = L.randn((), dtype=dtype, requires_grad=True)
        d = L.randn((), dtype=dtype, requires_grad=True)
        for p, v in zip((a, b, c, d), _START):
            overwrite(L, p, v)
        learning_rate = 1e-6
        printed = []
        for t in range(1000):
            y_pred = a + b * x + c * x**2 + d * x**3
            loss = (y_pred - y).pow(2).sum()
            if t % 100 == 99:
                printed.append(loss.item())
            loss.backward()
            with L.no_grad():
                a -= learning_rate * a.grad
                b -= learning_rate * b.grad
                c -= learning_rate * c.grad
                d -= learning_rate * d.grad
                a.grad = None
                b.grad = None
                c.grad = None
                d.grad = None
        return device, printed, [a.item(), b.item(), c.item(), d.item()], a.is_leaf

    ours, theirs = both(program)
    assert ours[0] == theirs[0] == "cpu"
    _close(ours[1], theirs[1])
    _close(ours[2], theirs[2], atol=COEFFICIENTS)
    assert ours[3] and ours[1][-1] < ours[1][0] / 2


def test_assigning_a_number_to_grad_raises_as_in_pytorch():
    # One version of polynomial_autograd.py resets the gradients with
    # ``a.grad, b.grad = 0., 0.``; PyTorch refuses a float there, and so does chainrule.
    for L in (cr, torch):
        a = L.randn((), requires_grad=True)
        (a * 2).backward()
        with L.no_grad(), pytest.raises(TypeError, match=r"(?i)tensor or none"):
            a.grad = 0.0


def test_legendre_polynomial_as_a_custom_autograd_function():
    def program(L):
        class LegendrePolynomial3(L.autograd.Function):
            @staticmethod
            def forward(ctx, input):
                ctx.save_for_backward(input)
                return 0.5 * (5 * input**3 - 3 * input)

            @staticmethod
            def backward(ctx, grad_output):
                (input,) = ctx.saved_tensors
                return grad_output * 1.5 * (5 * input**2 - 1)

        dtype = L.float
        device = L.device("cpu")
        x = L.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
        y = L.sin(x)
        a = L.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
        b = L.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
        c = L.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
        d = L.full((), 0.3, device=device, dtype=dtype, requires_grad=True)
        learning_rate = 5e-6
        printed = []
        for t in range(1000):
            P3 = LegendrePolynomial3.apply
            y_pred = a + b * P3(c + d * x)
            loss = (y_pred - y).pow(2).sum()
            if t % 100 == 99:
                printed.append(loss.item())
            loss.backward()
            with L.no_grad():
                a -= learning_rate * a.grad
                b -= learning_rate * b.grad
                c -= learning_rate * c.grad
                d -= learning_rate * d.grad
                a.grad = None
                b.grad = None
                c.grad = None
                d.grad = None
        return printed, [a.item(), b.item(), c.item(), d.item()]

    ours, theirs = both(program)
    _close(ours[0], theirs[0])
    _close(ours[1], theirs[1], atol=COEFFICIENTS)
    assert ours[0][-1] < ours[0][0]


def test_two_layer_net_with_a_custom_relu():
    rng = np.random.default_rng(0)
    N, D_in, H, D_out = 64, 1000, 100, 10
    draws = [rng.standard_normal(s) for s in ((N, D_in), (N, D_out), (D_in, H), (H, D_out))]

    def program(L):
        class MyReLU(L.autograd.Function):
            @staticmethod
            def forward(ctx, input):
                ctx.save_for_backward(input)
                return input.clamp(min=0)

            @staticmethod
            def backward(ctx, grad_output):
                (input,) = ctx.saved_tensors
                grad_input = grad_output.clone()
                grad_input[input < 0] = 0
                return grad_input

        dtype = L.float
        device = L.device("cpu")
        x = L.randn(N, D_in, device=device, dtype=dtype)
        y = L.randn(N, D_out, device=device, dtype=dtype)
        w1 = L.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
        w2 = L.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)
        for t, values in zip((x, y, w1, w2), draws):
            overwrite(L, t, values)
        learning_rate = 1e-6
        printed = []
        # The script runs 500 steps. The loss falls a million-fold in 100: what is left is
        # the difference of nearly equal sums, whose float32 rounding grows with the fall.
        # 50 steps are enough to compare (the loss falls a thousandfold).
        for _t in range(50):
            relu = MyReLU.apply
            y_pred = relu(x.mm(w1)).mm(w2)
            loss = (y_pred - y).pow(2).sum()
            printed.append(loss.item())
            loss.backward()
            with L.no_grad():
                w1 -= learning_rate * w1.grad
                w2 -= learning_rate * w2.grad
                w1.grad.zero_()
                w2.grad.zero_()
        return printed, w2.detach().numpy().copy()

    ours, theirs = both(program)
    _close(ours[0], theirs[0], rtol=5e-5)
    _close(ours[1], theirs[1], rtol=1e-4, atol=1e-4)
    assert ours[0][-1] < ours[0][0] * 1e-3


def _polynomial_features(L):
    x = L.linspace(-math.pi, math.pi, 2000)
    y = L.sin(x)
    p = L.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    return x, y, xx


@pytest.mark.parametrize("optimizer", ["SGD", "RMSprop"])
def test_polynomial_fitted_with_an_optimizer(optimizer):
    # The current polynomial_optim.py uses SGD(lr=1e-6), an older one RMSprop(lr=1e-3).
    # RMSprop divides each step by the gradient's running scale, so once the x^2
    # coefficient has reached 0 (about step 550) float32 noise in its gradient moves it
    # by whole steps, differently in each library; the test stops before.
    steps = 500  # (the scripts run 2000)

    def program(L):
        _x, y, xx = _polynomial_features(L)
        model = L.nn.Sequential(L.nn.Linear(3, 1), L.nn.Flatten(0, 1))
        overwrite(L, model[0].weight, [_START[1:]])
        overwrite(L, model[0].bias, _START[:1])
        loss_fn = L.nn.MSELoss(reduction="sum")
        if optimizer == "SGD":
            optim = L.optim.SGD(model.parameters(), lr=1e-6)
        else:
            optim = L.optim.RMSprop(model.parameters(), lr=1e-3)
        printed = []
        for t in range(steps):
            y_pred = model(xx)
            loss = loss_fn(y_pred, y)
            if t % 100 == 99:
                printed.append(loss.item())
            optim.zero_grad()
            loss.backward()
            optim.step()
        linear_layer = model[0]
        result = [linear_layer.bias.item()] + [linear_layer.weight[:, k].item() for k in range(3)]
        return printed, result, str(model)

    ours, theirs = both(program)
    _close(ours[0], theirs[0])
    _close(ours[1], theirs[1], atol=COEFFICIENTS)
    assert ours[2] == theirs[2]  # print(model)
    assert ours[0][-1] < ours[0][0] / 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_polynomial_as_a_custom_module(dtype):
    def program(L):
        L.set_default_dtype(getattr(L, dtype))

        class Polynomial3(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = L.nn.Parameter(L.randn(()))
                self.b = L.nn.Parameter(L.randn(()))
                self.c = L.nn.Parameter(L.randn(()))
                self.d = L.nn.Parameter(L.randn(()))

            def forward(self, x):
                return self.a + self.b * x + self.c * x**2 + self.d * x**3

            def string(self):
                return (
                    f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + "
                    f"{self.d.item()} x^3"
                )

        x, y, _xx = _polynomial_features(L)
        model = Polynomial3()
        for p, v in zip(model.parameters(), _START):
            overwrite(L, p, v)
        criterion = L.nn.MSELoss(reduction="sum")
        optimizer = L.optim.SGD(model.parameters(), lr=1e-6)
        printed = []
        for t in range(1000):
            y_pred = model(x)
            loss = criterion(y_pred, y)
            if t % 100 == 99:
                printed.append(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        terms = model.string().removeprefix("y = ").split(" + ")
        result = [float(term.split()[0]) for term in terms]
        return printed, result, [name for name, _ in model.named_parameters()], repr(model)

    try:
        ours, theirs = both(program)
    finally:
        torch.set_default_dtype(torch.float32)  # (chainrule's is reset by conftest.py)
    if dtype == "float32":
        _close(ours[0], theirs[0])
        _close(ours[1], theirs[1], atol=COEFFICIENTS)
    else:
        _close(ours[0], theirs[0], rtol=1e-12)
        _close(ours[1], theirs[1], rtol=1e-12, atol=1e-14)
    assert ours[2:] == theirs[2:] == (["a", "b", "c", "d"], "Polynomial3()")


def test_dynamic_net_with_control_flow_and_a_shared_weight():
    # The forward pass draws 4 or 5 terms from Python's ``random`` each step; both runs
    # start it from one seed, so both take the same branches.
    def program(L):
        class DynamicNet(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = L.nn.Parameter(L.randn(()))
                self.b = L.nn.Parameter(L.randn(()))
                self.c = L.nn.Parameter(L.randn(()))
                self.d = L.nn.Parameter(L.randn(()))
                self.e = L.nn.Parameter(L.randn(()))

            def forward(self, x):
                y = self.a + self.b * x + self.c * x**2 + self.d * x**3
                for exp in range(4, random.randint(4, 6)):
                    y = y + self.e * x**exp
                return y

        x, y, _xx = _polynomial_features(L)
        model = DynamicNet()
        for p, v in zip(model.parameters(), [*_START, 0.01]):
            overwrite(L, p, v)
        criterion = L.nn.MSELoss(reduction="sum")
        optimizer = L.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
        state = random.getstate()
        random.seed(14)
        try:
            printed = []
            for t in range(1000):
                y_pred = model(x)
                loss = criterion(y_pred, y)
                if t % 200 == 199:
                    printed.append(loss.item())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        finally:
            random.setstate(state)
        return printed, [p.item() for p in model.parameters()]

    ours, theirs = both(program)
    _close(ours[0], theirs[0])
    _close(ours[1], theirs[1], atol=COEFFICIENTS)
    assert ours[0][-1] < ours[0][0]
