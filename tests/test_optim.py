"""Optimizers and schedules: trajectories against torch.optim, the sheet's own forms,
state_dict round trips, closures, every hyperparameter, bad values, convergence."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import optim

RNG = np.random.default_rng(0)
A, Y = RNG.standard_normal((5, 3)), RNG.standard_normal(5)
W0, V0 = RNG.standard_normal(3), RNG.standard_normal((2, 2))


def _loss(mod, w, v, a, y):
    """A small non-quadratic problem: a Cauchy regression, a quartic, and sin(v) v."""
    r = a @ w - y
    return mod.log(1 + r * r).sum() + 0.05 * (w**4).sum() + (v.sin() * v).sum()


def _trajectory(mod, name, kwargs, group_kwargs, steps=40, grad_none_for_v_until=0):
    if mod is cr:
        w, v = cr.tensor(W0, requires_grad=True), cr.tensor(V0, requires_grad=True)
        a, y, extra, cls = cr.tensor(A), cr.tensor(Y), {}, getattr(optim, name)
    else:
        w, v = torch.tensor(W0, requires_grad=True), torch.tensor(V0, requires_grad=True)
        a, y, extra, cls = (
            torch.tensor(A),
            torch.tensor(Y),
            {"foreach": False},
            getattr(torch.optim, name),
        )
    opt = cls([{"params": [w]}, {"params": [v], **group_kwargs}], **kwargs, **extra)
    path = []
    for i in range(steps):
        opt.zero_grad()
        _loss(mod, w, v, a, y).backward()
        if i < grad_none_for_v_until:
            v.grad = None  # a parameter without a gradient is skipped
        opt.step()
        path.append(np.concatenate([w.detach().numpy().ravel(), v.detach().numpy().ravel()]))
    return np.array(path)


GRID = {
    "SGD": [
        dict(lr=0.01),
        dict(lr=0.01, momentum=0.9),
        dict(lr=0.01, momentum=0.9, nesterov=True),
        dict(lr=0.01, momentum=0.5, dampening=0.3, weight_decay=0.1),
        dict(lr=0.01, maximize=True),
    ],
    "Adagrad": [
        dict(lr=0.1),
        dict(lr=0.1, lr_decay=0.05, weight_decay=0.1),
        dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3),
    ],
    "RMSprop": [
        dict(lr=0.01),
        dict(lr=0.01, alpha=0.9, momentum=0.5),
        dict(lr=0.01, centered=True),
        dict(lr=0.01, centered=True, momentum=0.3, weight_decay=0.1, eps=1e-4),
    ],
    "Adam": [
        dict(lr=0.01),
        dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
        dict(lr=0.01, amsgrad=True),
        dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    ],
    "AdamW": [
        dict(lr=0.01),
        dict(lr=0.01, weight_decay=0.3, amsgrad=True),
        dict(lr=0.01, betas=(0.5, 0.9)),
    ],
    "Adadelta": [dict(), dict(lr=0.5, rho=0.8, eps=1e-4), dict(lr=1.0, weight_decay=0.1)],
}
CASES = [(name, kw) for name, grid in GRID.items() for kw in grid]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_trajectory_matches_torch_optim(name, kwargs):
    group = {
        "lr": kwargs.get("lr", 1.0) * 2,
        "weight_decay": 0.05,
    }  # a second group, its own values
    mine = _trajectory(cr, name, kwargs, group, grad_none_for_v_until=3)
    theirs = _trajectory(torch, name, kwargs, group, grad_none_for_v_until=3)
    np.testing.assert_allclose(mine, theirs, rtol=1e-7, atol=1e-12)


# ------------------------------------------------------------------ the sheet's forms
def _quadratic_grad(x):
    return np.array([2.0, 20.0]) * x + np.sin(x)  # gradient of x0^2 + 10 x1^2 - cos(x)


def test_momentum_equals_the_sheets_form_while_the_rate_is_constant():
    mu, lr, x_sheet, v = 0.9, 0.01, np.array([1.0, -2.0]), np.zeros(2)
    p = cr.tensor(x_sheet.copy(), dtype=cr.float64, requires_grad=True)
    opt = optim.SGD([p], lr=lr, momentum=mu)
    for step in range(30):
        g = _quadratic_grad(x_sheet)
        v = mu * v - lr * g  # v = mu*v - lr*dx
        x_sheet = x_sheet + v  # x = x + v
        p.grad = cr.tensor(_quadratic_grad(p.numpy()))
        opt.step()
        np.testing.assert_allclose(p.numpy(), x_sheet, rtol=1e-12, err_msg=f"step {step}")
    # after a change of rate the two forms part: PyTorch's buffer b = -v/lr is rescaled at once
    opt.param_groups[0]["lr"] = lr / 10
    v = mu * v - (lr / 10) * _quadratic_grad(x_sheet)
    x_sheet = x_sheet + v
    p.grad = cr.tensor(_quadratic_grad(p.numpy()))
    opt.step()
    assert np.abs(p.numpy() - x_sheet).max() > 1e-4


def test_nesterov_iterates_are_the_sheets_look_ahead_points():
    mu, lr, x, v = 0.9, 0.01, np.array([1.0, -2.0]), np.zeros(2)
    p = cr.tensor(x.copy(), dtype=cr.float64, requires_grad=True)
    opt = optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
    for _ in range(30):
        x_ahead = x + mu * v  # x_ahead = x + mu * v
        v = mu * v - lr * _quadratic_grad(x_ahead)  # v = mu * v - lr * dx_ahead
        x = x + v  # x = x + v
        p.grad = cr.tensor(_quadratic_grad(p.numpy()))
        opt.step()
        np.testing.assert_allclose(p.numpy(), x + mu * v, rtol=1e-12)  # theta = x + mu v


def test_adagrad_is_the_sheets_rule():
    lr, eps, x, cache = 0.1, 1e-10, np.array([1.0, -2.0]), np.zeros(2)
    p = cr.tensor(x.copy(), dtype=cr.float64, requires_grad=True)
    opt = optim.Adagrad([p], lr=lr, eps=eps)
    for _ in range(20):
        dx = _quadratic_grad(x)
        cache += dx**2
        x = x - lr * dx / (np.sqrt(cache) + eps)
        p.grad = cr.tensor(_quadratic_grad(p.numpy()))
        opt.step()
    np.testing.assert_allclose(p.numpy(), x, rtol=1e-12)


def test_adam_without_bias_correction_is_the_sheets_adam():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    x, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    p = cr.tensor(x.copy(), dtype=cr.float64, requires_grad=True)
    opt = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, bias_correction=False)
    for _ in range(25):
        dx = _quadratic_grad(x)
        m = b1 * m + (1 - b1) * dx
        v = b2 * v + (1 - b2) * (dx**2)
        x = x - lr * m / (np.sqrt(v) + eps)
        p.grad = cr.tensor(_quadratic_grad(p.numpy()))
        opt.step()
    np.testing.assert_allclose(p.numpy(), x, rtol=1e-12)
    with_correction = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.Adam([with_correction], lr=lr)
    with_correction.grad = cr.tensor(_quadratic_grad(np.array([1.0, -2.0])))
    opt.step()
    assert abs(with_correction.numpy()[0] - 1.0) == pytest.approx(lr, rel=1e-6)  # first step ~ lr


# ------------------------------------------------------------------ behaviour
def _model_and_data():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.Linear(4, 1))
    model.double()
    return model, cr.tensor(A, dtype=cr.float64), cr.tensor(Y[:, None], dtype=cr.float64)


@pytest.mark.parametrize("name", list(GRID))
def test_state_dict_round_trip_continues_bit_exactly(name):
    kwargs = GRID[name][-1]

    def train(model, opt, x, y, steps):
        for _ in range(steps):
            opt.zero_grad()
            cr.nn.functional.mse_loss(model(x), y).backward()
            opt.step()

    model, x, y = _model_and_data()
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    train(model, opt, x, y, 20)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    train(model, opt, x, y, 20)
    straight = model.state_dict()

    resumed, _, _ = _model_and_data()
    resumed.load_state_dict(saved_model)
    opt2 = getattr(optim, name)(resumed.parameters(), **kwargs)
    opt2.load_state_dict(saved_opt)
    train(resumed, opt2, x, y, 20)
    for k, v in resumed.state_dict().items():
        np.testing.assert_array_equal(v, straight[k])


def test_state_dict_uses_pytorchs_layout_and_keys():
    w, v = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [v], "lr": 0.1}], amsgrad=True)
    w.grad, v.grad = cr.ones(2), cr.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.1
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    tw, tv = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    topt = torch.optim.Adam([{"params": [tw]}, {"params": [tv], "lr": 0.1}], amsgrad=True)
    tw.grad, tv.grad = torch.ones(2), torch.ones(3)
    topt.step()
    assert set(sd["state"][0]) == set(topt.state_dict()["state"][0])
    with pytest.raises(ValueError, match="2 parameter groups"):
        optim.Adam([w]).load_state_dict(sd)


def _stepped(name, kwargs):
    """An optimizer over a (2, 3) and a (4,) parameter after one step, and its state_dict."""
    ps = [cr.ones(2, 3, requires_grad=True), cr.ones(4, requires_grad=True)]
    opt = getattr(optim, name)(ps, **kwargs)
    for p in ps:
        p.grad = cr.full(p.shape, 0.5)
    opt.step()
    return opt, copy.deepcopy(opt.state_dict())


def _unchanged(opt, before):
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert after["state"].keys() == before["state"].keys()
    for i, entries in before["state"].items():
        assert after["state"][i].keys() == entries.keys()
        for key, value in entries.items():
            np.testing.assert_array_equal(after["state"][i][key], value)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_load_state_dict_refuses_state_with_an_entry_missing(name, kwargs):
    opt, saved = _stepped(name, kwargs)
    scalars, buffers = opt._state_names(opt.param_groups[0])
    assert set(saved["state"][1]) == {*scalars, *buffers}  # what a step creates, exactly
    for key in saved["state"][1]:
        broken = copy.deepcopy(saved)
        del broken["state"][1][key]
        if not broken["state"][1]:
            continue  # an empty state is a parameter's before its first step, and loads
        with pytest.raises(ValueError, match=rf"parameter 1 lacks '{key}': with these options"):
            opt.load_state_dict(broken)
        _unchanged(opt, saved)
    opt.load_state_dict(saved)  # the complete state loads
    _unchanged(opt, saved)


def test_load_state_dict_checks_adams_buffers_before_changing_anything():
    opt, saved = _stepped("Adam", {"lr": 0.1})

    def refused(edit, message):
        broken = copy.deepcopy(saved)
        edit(broken)
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(broken)
        _unchanged(opt, saved)

    def only_step(sd):
        sd["state"][0] = {"step": 3.0}

    refused(only_step, r"Adam.load_state_dict: parameter 0 lacks 'exp_avg', 'exp_avg_sq'")
    refused(
        lambda sd: sd["state"][0].update(exp_avg=np.float32(0.5)),
        r"parameter 0: buffer 'exp_avg' has shape \(\), the parameter has shape \(2, 3\)",
    )
    refused(
        lambda sd: sd["state"][1].update(exp_avg_sq=np.ones(3, np.float32)),
        r"parameter 1: buffer 'exp_avg_sq' has shape \(3,\)",
    )
    refused(
        lambda sd: sd["state"][1].update(exp_avg_sq=[0.0] * 4),
        r"buffer 'exp_avg_sq' is a list, not an array of the parameter's shape \(4,\)",
    )
    refused(
        lambda sd: sd["state"][1].update(exp_avg=np.ones(4, np.int64)),
        r"buffer 'exp_avg' has dtype int64, not a floating-point one",
    )
    for step in (-1.0, math.nan, math.inf, "3", True, None):
        refused(lambda sd, s=step: sd["state"][1].update(step=s), r"'step' is .*, not a finite")
    refused(
        lambda sd: sd["state"][1].update(max_exp_avg_sq=np.ones(4)),
        r"parameter 1 has the unknown 'max_exp_avg_sq'",
    )
    refused(  # the loaded options decide what is needed
        lambda sd: sd["param_groups"][0].update(amsgrad=True),
        r"parameter 0 lacks 'max_exp_avg_sq'",
    )
    refused(lambda sd: sd["param_groups"][0].update(lr=-1.0), r"group 0: Invalid learning rate")
    refused(lambda sd: sd["param_groups"][0].update(params=[0, 0]), r"lists 0, not the index")
    refused(lambda sd: sd["state"].update({7: {}}), r"state for parameter 7, which no group")
    refused(lambda sd: sd["state"].update({1: [1]}), r"the state of parameter 1 is not a dict")
    refused(lambda sd: sd.pop("state"), r"expected a dict with 'state' and 'param_groups'")
    refused(lambda sd: sd["param_groups"].__setitem__(0, [0, 1]), r"group 0 is not a dict")

    empty = copy.deepcopy(saved)
    empty["state"][0] = {}  # no step yet: as if absent
    float64 = copy.deepcopy(saved)
    float64["state"][1]["exp_avg"] = saved["state"][1]["exp_avg"].astype(np.float64)
    for good in (empty, float64):
        opt.load_state_dict(good)
    assert opt.state_dict()["state"][1]["exp_avg"].dtype == np.float32  # cast, as PyTorch


def test_closure_is_called_once_and_its_loss_returned():
    model, x, y = _model_and_data()
    opt = optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = cr.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    before = closure().item()
    calls.clear()
    returned = opt.step(closure)
    assert len(calls) == 1 and returned.item() == pytest.approx(before)
    assert cr.nn.functional.mse_loss(model(x), y).item() < before


# Adam's baseline forgets fast (beta2 = 0.9) so that its second moment can shrink within
# ten steps; with 0.999 it only grows at first, and amsgrad's running max would change nothing.
DEFAULTS = {
    "SGD": dict(lr=0.01, momentum=0.5),
    "Adagrad": dict(lr=0.1),
    "RMSprop": dict(lr=0.01),
    "Adam": dict(lr=0.01, betas=(0.9, 0.9)),
    "AdamW": dict(lr=0.01, betas=(0.9, 0.9)),
    "Adadelta": dict(lr=1.0),
}
CHANGES = {
    "SGD": dict(
        lr=0.02, momentum=0.9, dampening=0.5, weight_decay=0.1, nesterov=True, maximize=True
    ),
    "Adagrad": dict(
        lr=0.2,
        lr_decay=0.1,
        weight_decay=0.1,
        initial_accumulator_value=1.0,
        eps=0.1,
        maximize=True,
    ),
    "RMSprop": dict(
        lr=0.02, alpha=0.5, eps=0.1, weight_decay=0.1, momentum=0.5, centered=True, maximize=True
    ),
    "Adam": dict(
        lr=0.02,
        betas=(0.5, 0.9),
        eps=0.1,
        weight_decay=0.1,
        amsgrad=True,
        bias_correction=False,
        maximize=True,
    ),
    "AdamW": dict(
        lr=0.02, betas=(0.9, 0.999), eps=0.1, weight_decay=0.5, amsgrad=True, maximize=True
    ),
    "Adadelta": dict(lr=0.5, rho=0.5, eps=1e-2, weight_decay=0.1, maximize=True),
}
HYPER = [(name, key, value) for name, changes in CHANGES.items() for key, value in changes.items()]


@pytest.mark.parametrize(("name", "key", "value"), HYPER, ids=[f"{n}-{k}" for n, k, _ in HYPER])
def test_every_hyperparameter_changes_the_trajectory(name, key, value):
    base = _trajectory(cr, name, DEFAULTS[name], {}, steps=10)
    changed = _trajectory(cr, name, {**DEFAULTS[name], key: value}, {}, steps=10)
    assert np.abs(base - changed).max() > 1e-8, (
        f"{name}({key}={value}) left the trajectory unchanged"
    )


@pytest.mark.parametrize("name", list(GRID))
def test_zero_gradient_under_weight_decay_matches_pytorch(name):
    kwargs = {**DEFAULTS[name], "weight_decay": 0.1}
    mine = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    skipped = cr.tensor([3.0], dtype=cr.float64, requires_grad=True)
    theirs = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = getattr(optim, name)([mine, skipped], **kwargs)
    topt = getattr(torch.optim, name)([theirs], **kwargs, foreach=False)
    for _ in range(5):
        mine.grad, theirs.grad = cr.zeros(2, dtype=cr.float64), torch.zeros(2, dtype=torch.float64)
        opt.step()
        topt.step()
    np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-12)
    assert skipped.item() == 3.0 and skipped not in opt.state  # no gradient: untouched, no state


BAD = [
    (optim.SGD, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "Invalid momentum"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1), "Invalid weight_decay"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (optim.Adam, dict(betas=(1.0, 0.999)), r"beta parameter at index 0: 1\.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "beta parameter at index 1"),
    (optim.AdamW, dict(eps=-1e-8), "Invalid epsilon"),
    (optim.Adam, dict(lr=-1.0), "Invalid learning rate"),
    (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay"),
    (optim.Adagrad, dict(initial_accumulator_value=-1), "initial_accumulator_value"),
    (optim.Adagrad, dict(eps=-1), "Invalid epsilon"),
    (optim.RMSprop, dict(alpha=-0.1), "Invalid alpha"),
    (optim.RMSprop, dict(eps=-1), "Invalid epsilon"),
    (optim.Adadelta, dict(rho=1.5), "Invalid rho"),
    (optim.Adadelta, dict(lr=-1), "Invalid learning rate"),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"), BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD]
)
def test_bad_hyperparameters_raise(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([cr.zeros(1, requires_grad=True)], **kwargs)


def test_bad_parameter_lists_raise():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single tensor"):
        optim.SGD(cr.zeros(2, requires_grad=True), lr=0.1)
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([{"params": [w], "lr": -1.0}], lr=0.1)
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([w * 2], lr=0.1)


# ------------------------------------------------------------------ schedules
SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=12)),
    ("LinearLR", dict(start_factor=0.25, total_iters=4)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=6)),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES, ids=[f"{n}-{k}" for n, k in SCHEDULES])
def test_schedule_matches_pytorch_over_12_epochs(name, kwargs):
    w, tw = cr.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = optim.SGD(
        [{"params": [w]}, {"params": [cr.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1
    )
    topt = torch.optim.SGD(
        [{"params": [tw]}, {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1
    )
    sched = getattr(optim.lr_scheduler, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    assert sched.get_last_lr() == tsched.get_last_lr()
    for _ in range(12):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == tsched.get_last_lr()  # bit for bit
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


def test_schedule_state_dict_round_trip():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    expected = [sched.step() or sched.get_last_lr() for _ in range(3)]
    opt2 = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    opt2.load_state_dict(saved_opt)
    sched2 = optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(saved)
    assert [sched2.step() or sched2.get_last_lr() for _ in range(3)] == expected


def test_bad_schedule_arguments():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        optim.lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="start_factor"):
        optim.lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(TypeError, match="needs an Optimizer"):
        optim.lr_scheduler.ExponentialLR(None, gamma=0.9)


# ------------------------------------------------------------------ convergence
def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] * p[0]) ** 2


def _ill_conditioned(p):
    return 0.5 * (p[0] ** 2 + 100 * p[1] ** 2)  # condition number 100


# (optimizer, settings, steps, optional StepLR(step_size, gamma)); Adadelta needs a decaying rate
# to settle: at a constant one it keeps oscillating across the narrow valley.
ROSENBROCK = {
    "SGD": (optim.SGD, dict(lr=1e-3), 10_000, None),
    "momentum": (optim.SGD, dict(lr=1e-3, momentum=0.9), 10_000, None),
    "nesterov": (optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True), 10_000, None),
    "Adagrad": (optim.Adagrad, dict(lr=0.5), 10_000, None),
    "RMSprop": (optim.RMSprop, dict(lr=1e-4, momentum=0.9), 10_000, None),
    "Adam": (optim.Adam, dict(lr=0.02), 10_000, None),
    "Adam (sheet)": (optim.Adam, dict(lr=0.02, bias_correction=False), 10_000, None),
    "AdamW": (optim.AdamW, dict(lr=0.02, weight_decay=1e-4), 10_000, None),
    "Adadelta": (optim.Adadelta, dict(lr=1.0), 20_000, (2000, 0.5)),
}
QUADRATIC = {
    "SGD": (optim.SGD, dict(lr=0.015), 1000, None),
    "momentum": (optim.SGD, dict(lr=1e-3, momentum=0.9), 2000, None),
    "nesterov": (optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True), 2000, None),
    "Adagrad": (optim.Adagrad, dict(lr=0.5), 2000, None),
    "RMSprop": (optim.RMSprop, dict(lr=1e-3, momentum=0.9), 3000, None),
    "Adam": (optim.Adam, dict(lr=0.02), 2000, None),
    "Adam (sheet)": (optim.Adam, dict(lr=0.02, bias_correction=False), 2000, None),
    "AdamW": (optim.AdamW, dict(lr=0.02, weight_decay=1e-4), 2000, None),
    "Adadelta": (optim.Adadelta, dict(lr=2.0), 8000, (1000, 0.5)),
}


def _minimise(f, start, cls, kwargs, steps, schedule):
    p = cr.tensor(start, dtype=cr.float64, requires_grad=True)
    opt = cls([p], **kwargs)
    sched = optim.lr_scheduler.StepLR(opt, *schedule) if schedule else None
    for _ in range(steps):
        opt.zero_grad()
        f(p).backward()
        opt.step()
        if sched:
            sched.step()
    return p.numpy(), f(p).item()


@pytest.mark.parametrize("label", list(ROSENBROCK))
def test_reaches_the_rosenbrock_minimum(label):
    point, value = _minimise(_rosenbrock, [-1.5, 2.0], *ROSENBROCK[label])
    assert np.abs(point - 1).max() < 0.05 and value < 1e-3, (point, value)


@pytest.mark.parametrize("label", list(QUADRATIC))
def test_reaches_the_ill_conditioned_quadratic_minimum(label):
    point, value = _minimise(_ill_conditioned, [10.0, 1.0], *QUADRATIC[label])
    assert value < 1e-4 and math.isfinite(value), (point, value)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: cr.optim.Adam(ps, lr=0.1),
    ],
    ids=["sgd-momentum", "adam"],
)
def test_a_step_allocates_no_parameter_sized_temporary(make):
    """After the first step (which creates the state), a step on a 1.6 MB parameter
    allocates far less than the parameter: updates work in the optimizer's reused
    scratch."""
    import tracemalloc

    p = cr.zeros(400_000, requires_grad=True)
    opt = make([p])
    p.grad = cr.ones(400_000)
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, f"a step allocated {peak} bytes"


# ------------------------------------------------------------------ small parameters together
def _many_small(lib, name, kwargs, *, together=True, steps=24):
    """Several small parameters in two groups, through the events that rebuild the flat
    batches of small parameters: a parameter without a gradient for a few steps, then
    again later, a state_dict reload into a new optimizer, and a state buffer replaced by
    the user. Returns the path of every parameter and the final state_dict."""
    rng = np.random.default_rng(5)
    shapes = [(3,), (2, 2), (4,), (2,), (3, 1)]
    ps = [lib.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    targets = [lib.tensor(rng.standard_normal(s)) for s in shapes]
    extra = {"foreach": False} if lib is torch else {}
    cls = getattr(lib.optim, name)

    def make():
        opt = cls(
            [{"params": ps[:3]}, {"params": ps[3:], "lr": kwargs.get("lr", 1.0) * 0.5}],
            **kwargs,
            **extra,
        )
        if lib is cr and not together:
            opt.elementwise = False  # one by one: the reference path
        return opt

    opt = make()
    path = []
    for i in range(steps):
        opt.zero_grad()
        loss = sum(
            ((p - t) ** 2 * (k + 1)).sum() + (p.sin() * p).sum()
            for k, (p, t) in enumerate(zip(ps, targets))
        )
        loss.backward()
        if i < 3 or 14 <= i < 16:
            ps[1].grad = None
        opt.step()
        if i == 8:
            saved = copy.deepcopy(opt.state_dict())
            opt = make()
            opt.load_state_dict(saved)
        if i == 11:  # a new buffer, with other values: the next steps must use it
            for key, value in opt.state[ps[0]].items():
                if hasattr(value, "shape") and value.ndim:
                    opt.state[ps[0]][key] = value * 0.5
        path.append(np.concatenate([p.detach().numpy().ravel() for p in ps]))
    state = {
        i: {k: np.asarray(v) if hasattr(v, "shape") else v for k, v in s.items()}
        for i, s in opt.state_dict()["state"].items()
    }
    return np.array(path), state


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_small_parameters_together_give_the_same_bits_as_one_by_one(name, kwargs):
    together, state = _many_small(cr, name, kwargs)
    alone, state_alone = _many_small(cr, name, kwargs, together=False)
    np.testing.assert_array_equal(together, alone)
    assert state.keys() == state_alone.keys()
    for i in state:
        assert state[i].keys() == state_alone[i].keys()
        for key in state[i]:
            np.testing.assert_array_equal(state[i][key], state_alone[i][key])
    theirs, _ = _many_small(torch, name, kwargs)
    np.testing.assert_allclose(together, theirs, rtol=1e-7, atol=1e-12)


def test_small_parameters_share_flat_buffers_and_keep_their_shapes():
    ps = [cr.zeros(3, 2, requires_grad=True), cr.zeros(4, requires_grad=True)]
    opt = optim.Adam(ps, lr=0.1)
    for p in ps:
        p.grad = cr.ones(*p.shape)
    opt.step()
    opt.step()
    for p in ps:
        state = opt.state[p]
        assert state["step"] == 2.0
        assert state["exp_avg"].shape == p.shape and state["exp_avg_sq"].shape == p.shape
    # the two buffers are views of one flat buffer: the point of the batch
    assert opt.state[ps[0]]["exp_avg"].base is opt.state[ps[1]]["exp_avg"].base is not None
    np.testing.assert_allclose(ps[1].numpy(), -0.2 * np.ones(4), rtol=1e-6)


def test_parameters_of_different_dtypes_are_updated_one_by_one():
    a = cr.ones(3, dtype=cr.float64, requires_grad=True)
    b = cr.ones(3, dtype=cr.float32, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    for _ in range(2):
        a.grad, b.grad = cr.ones(3, dtype=cr.float64), cr.ones(3, dtype=cr.float32)
        opt.step()
    assert a.dtype == cr.float64 and b.dtype == cr.float32
    np.testing.assert_array_equal(a.numpy(), [1 - 0.5 - 0.5 * 1.9] * 3)
    np.testing.assert_allclose(b.numpy(), [1 - 0.5 - 0.5 * 1.9] * 3, rtol=1e-6)


@pytest.mark.parametrize(("name", "kwargs"), [c for c in CASES if c[0] in ("SGD", "Adam")])
def test_large_parameters_updated_a_slice_at_a_time_give_the_same_bits(name, kwargs, monkeypatch):
    from chainrule.optim import flat as base

    def run():
        rng = np.random.default_rng(2)
        p = cr.tensor(rng.standard_normal((50, 101)), requires_grad=True)
        opt = getattr(optim, name)([p], **kwargs)
        for _ in range(5):
            p.grad = cr.tensor(rng.standard_normal((50, 101)))
            opt.step()
        return p.numpy().copy()

    whole = run()
    monkeypatch.setattr(base, "CHUNK", 1000)  # 5050 elements: six slices, the last short
    np.testing.assert_array_equal(run(), whole)


@pytest.mark.parametrize("n", [1, 3], ids=["alone", "with-others"])
def test_a_parameter_resized_after_steps_is_named_not_broadcast(n):
    ps = [cr.zeros(4, requires_grad=True) for _ in range(n)]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = cr.ones(4)
    opt.step()
    ps[0].data = cr.zeros(1, 4)  # the momentum buffer is still (4,)
    ps[0].grad = cr.ones(1, 4)
    with pytest.raises(cr.ShapeError, match=r"momentum_buffer.*\(4,\).*\(1, 4\)"):
        opt.step()


# ------------------------------------------------------------------ the algorithm boxes
def _plain_adam(
    p,
    g,
    m,
    v,
    vmax,
    *,
    step,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    amsgrad,
    bias_correction,
    decoupled,
    maximize,
):
    """Adam's docstring box, line by line, in plain NumPy (allocating freely)."""
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay) if weight_decay != 0 else p
    elif weight_decay != 0:
        g = g + weight_decay * p
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * (g * g)
    c1, c2 = (1 - beta1**step, 1 - beta2**step) if bias_correction else (1.0, 1.0)
    vmax = np.maximum(vmax, v) if amsgrad else vmax
    v_hat = vmax if amsgrad else v
    p = p - (m / (np.sqrt(v_hat) / math.sqrt(c2) + eps)) * (lr / c1)
    return p, m, v, vmax


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decay", ["none", "l2", "decoupled"])
@pytest.mark.parametrize("bias_correction", [True, False])
@pytest.mark.parametrize("scratch", [False, True])
def test_adam_update_gives_the_bits_of_its_algorithm_box(amsgrad, decay, bias_correction, scratch):
    from chainrule.optim.adam import adam_update

    rng = np.random.default_rng(3)
    p, g, m = (rng.standard_normal(50).astype(np.float32) for _ in range(3))
    v, vmax = (np.abs(rng.standard_normal(50)).astype(np.float32) for _ in range(2))
    kw = dict(
        step=3.0,
        lr=1e-2,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        amsgrad=amsgrad,
        bias_correction=bias_correction,
        decoupled=decay == "decoupled",
        weight_decay=0.0 if decay == "none" else 0.1,
        maximize=False,
    )
    expected = _plain_adam(p, g, m, v, vmax, **kw)
    arrays = [a.copy() for a in (p, g, m, v, vmax)]
    work = (np.empty_like(p), np.empty_like(p)) if scratch else ()
    adam_update(*arrays, **kw, scratch=work)
    for mine, plain in zip([arrays[0], arrays[2], arrays[3], arrays[4]], expected):
        np.testing.assert_array_equal(mine.view(np.int32), plain.astype(np.float32).view(np.int32))
