"""NAdam and LBFGS against torch.optim: float64 trajectories, the state each keeps,
state_dict round trips (LBFGS: from PyTorch's too), closures, line searches, bad input.
(NAdam's generic checks, with the other optimizers', are in test_optim.py.)"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import optim
from chainrule.optim import lbfgs as lbfgs_module

RNG = np.random.default_rng(14)
A, Y = RNG.standard_normal((6, 4)), RNG.standard_normal(6)
W0, V0 = RNG.standard_normal(4), RNG.standard_normal((2, 2)) * 1.5


def _loss(mod, w, v, a, y):
    """Non-convex and badly scaled: a Cauchy regression, a Rosenbrock valley in v, a quartic."""
    r = a @ w - y
    v0, v1 = v.reshape(-1)[0], v.reshape(-1)[1:]
    rosen = (1 - v0) ** 2 + 10 * ((v1 - v0 * v0) ** 2).sum()
    return mod.log(1 + r * r).sum() + rosen + 0.05 * (w**4).sum()


def _problem(mod):
    if mod is cr:
        make = lambda x: cr.tensor(x, dtype=cr.float64, requires_grad=True)  # noqa: E731
        data = cr.tensor(A), cr.tensor(Y)
    else:
        make = lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)  # noqa: E731
        data = torch.tensor(A), torch.tensor(Y)
    return make(W0), make(V0), data


def _flat(w, v):
    return np.concatenate([w.detach().numpy().ravel(), v.detach().numpy().ravel()])


# ------------------------------------------------------------------ NAdam
def _nadam_path(mod, kwargs, steps):
    w, v, (a, y) = _problem(mod)
    extra = {} if mod is cr else {"foreach": False}
    opt = (optim if mod is cr else torch.optim).NAdam([w, v], **kwargs, **extra)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(mod, w, v, a, y).backward()
        opt.step()
        path.append(_flat(w, v))
    mu = opt.state[w]["mu_product"]
    return np.array(path), float(mu)


NADAM = [
    dict(lr=0.01),
    dict(lr=0.02, betas=(0.85, 0.95), momentum_decay=0.02, weight_decay=0.05),
    dict(lr=0.02, weight_decay=0.2, decoupled_weight_decay=True, maximize=False),
]


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", NADAM, ids=[str(k) for k in NADAM])
def test_nadam_matches_pytorch_and_keeps_mu_product_as_it_does(kwargs, default):
    """PyTorch keeps mu_product in its default dtype; with either default the products
    and the trajectories agree."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, default))
    cr.set_default_dtype(getattr(cr, default))
    try:
        mine, mu = _nadam_path(cr, kwargs, 100)
        theirs, tmu = _nadam_path(torch, kwargs, 100)
    finally:
        torch.set_default_dtype(before)
    assert mu == tmu  # bit for bit, float32-rounded or not
    np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)
    assert np.abs(mine[-1] - mine[0]).max() > 0.1


def test_nadam_mu_product_rounding_is_what_makes_the_float32_default_agree():
    cr.set_default_dtype(cr.float64)  # a float64 product, against PyTorch's float32 one
    _, mu = _nadam_path(cr, NADAM[0], 30)
    _, tmu = _nadam_path(torch, NADAM[0], 30)
    assert mu != tmu and abs(mu - tmu) < 1e-7


def test_one_cycle_cycles_nadams_beta1_as_pytorch():
    paths = []
    for mod in (cr, torch):
        w, v, (a, y) = _problem(mod)
        O = optim if mod is cr else torch.optim
        opt = O.NAdam([w, v], lr=0.01)
        sched = O.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=40, three_phase=True)
        path = []
        for _ in range(40):
            opt.zero_grad()
            _loss(mod, w, v, a, y).backward()
            opt.step()
            sched.step()
            path.append([*_flat(w, v), opt.param_groups[0]["betas"][0]])
        paths.append(np.array(path))
    np.testing.assert_allclose(paths[0], paths[1], rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ LBFGS
def _lbfgs_run(mod, kwargs, steps, opt_hook=None):
    w, v, (a, y) = _problem(mod)
    opt = (optim if mod is cr else torch.optim).LBFGS([w, v], **kwargs)
    if opt_hook:
        opt_hook(opt)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = _loss(mod, w, v, a, y)
        loss.backward()
        return loss

    path, losses = [], []
    for _ in range(steps):
        losses.append(opt.step(closure).item())
        path.append(_flat(w, v))
    state = opt.state[w]
    return np.array(path), losses, (len(calls), state["func_evals"], state["n_iter"])


LBFGS = [
    dict(),
    dict(lr=0.3, max_iter=8),
    dict(lr=0.5, history_size=3, tolerance_change=1e-6),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=12),
    dict(line_search_fn="strong_wolfe", max_iter=40, max_eval=15, tolerance_grad=1e-5),
]


@pytest.mark.parametrize("kwargs", LBFGS, ids=[str(k) for k in LBFGS])
def test_lbfgs_matches_pytorch(kwargs):
    mine, losses, counts = _lbfgs_run(cr, kwargs, 4)
    theirs, tlosses, tcounts = _lbfgs_run(torch, kwargs, 4)
    assert counts == tcounts  # closure calls, func_evals, iterations
    # The two libraries' gradients differ in the last bit; each L-BFGS iteration then scales
    # such differences by the inverse curvature of the flattest directions: 1e-10 relative
    # after the first step's iterations, about 1e-7 by the fourth step's.
    np.testing.assert_allclose(mine[:1], theirs[:1], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(losses, tlosses, rtol=1e-10)
    assert losses[-1] < 0.5 * losses[0]


def test_strong_wolfe_brackets_and_zooms(monkeypatch):
    """The comparison above runs both phases of the line search."""
    seen = {"extrapolate": 0, "zoom": 0}
    real = lbfgs_module.strong_wolfe.__globals__["cubic_interpolate"]

    def counting(*args, bounds=None):
        seen["zoom" if bounds is None else "extrapolate"] += 1
        return real(*args, bounds=bounds)

    monkeypatch.setitem(lbfgs_module.strong_wolfe.__globals__, "cubic_interpolate", counting)
    _lbfgs_run(cr, dict(line_search_fn="strong_wolfe", lr=0.05), 3)
    _lbfgs_run(cr, dict(line_search_fn="strong_wolfe", lr=3.0), 3)
    assert seen["extrapolate"] > 0 and seen["zoom"] > 0, seen


def test_lbfgs_minimises_rosenbrock():
    x = cr.tensor([-1.2, 1.0], dtype=cr.float64, requires_grad=True)
    opt = optim.LBFGS(
        [x], line_search_fn="strong_wolfe", max_iter=200, tolerance_grad=1e-12, tolerance_change=0
    )

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-8)


def test_lbfgs_at_a_stationary_point_only_evaluates():
    x = cr.tensor([0.0, 0.0], dtype=cr.float64, requires_grad=True)
    opt = optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = (x**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert x.numpy().tolist() == [0.0, 0.0] and opt.state[x] == {"func_evals": 1, "n_iter": 0}


def _train(opt, w, v, steps):
    a, y = cr.tensor(A), cr.tensor(Y)

    def closure():
        opt.zero_grad()
        loss = _loss(cr, w, v, a, y)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return _flat(w, v)


@pytest.mark.parametrize("search", [None, "strong_wolfe"])
def test_lbfgs_state_dict_round_trip_through_a_file_continues_bit_exactly(search, tmp_path):
    kwargs = dict(line_search_fn=search, history_size=4, max_iter=5)
    w, v, _ = _problem(cr)
    opt = optim.LBFGS([w, v], **kwargs)
    _train(opt, w, v, 2)
    saved = opt.state_dict()
    state = saved["state"][0]
    assert len(state["old_dirs"]) == 4 and state["old_dirs"][0] is not opt.state[w]["old_dirs"][0]
    cr.save({"w": w, "v": v, "opt": saved}, tmp_path / "ck")
    straight = _train(opt, w, v, 2)

    ck = cr.load(tmp_path / "ck")
    w2, v2 = (cr.tensor(ck[k].numpy(), requires_grad=True) for k in ("w", "v"))
    opt2 = optim.LBFGS([w2, v2], **kwargs)
    opt2.load_state_dict(ck["opt"])
    np.testing.assert_array_equal(_train(opt2, w2, v2, 2), straight)


def test_lbfgs_continues_from_pytorchs_state_dict():
    """PyTorch's saved state (tensors, lists of tensors) loads and continues as PyTorch."""
    kwargs = dict(line_search_fn="strong_wolfe", history_size=3, max_iter=6)
    tw, tv, (ta, ty) = _problem(torch)
    topt = torch.optim.LBFGS([tw, tv], **kwargs)

    def tclosure():
        topt.zero_grad()
        loss = _loss(torch, tw, tv, ta, ty)
        loss.backward()
        return loss

    topt.step(tclosure)
    w = cr.tensor(tw.detach().numpy().copy(), requires_grad=True)
    v = cr.tensor(tv.detach().numpy().copy(), requires_grad=True)
    opt = optim.LBFGS([w, v], **kwargs)
    opt.load_state_dict(topt.state_dict())
    mine = _train(opt, w, v, 2)
    for _ in range(2):
        topt.step(tclosure)
    np.testing.assert_allclose(mine, _flat(tw, tv), rtol=1e-9, atol=1e-12)


def test_lbfgs_load_state_dict_checks_before_changing_anything():
    w, v, _ = _problem(cr)
    opt = optim.LBFGS([w, v], history_size=3)
    _train(opt, w, v, 1)
    saved = opt.state_dict()
    before = copy.deepcopy(saved)

    def refused(edit, message):
        broken = copy.deepcopy(saved)
        edit(broken)
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(broken)
        after = opt.state_dict()
        assert after["param_groups"] == before["param_groups"]
        np.testing.assert_array_equal(after["state"][0]["d"], before["state"][0]["d"])

    refused(lambda sd: sd["state"][0].update(d=np.zeros(3)), r"d must be a floating-point vector")
    refused(
        lambda sd: sd["state"][0]["old_dirs"].append(np.ones(8, np.int64)),
        r"old_dirs\[3\] must be a floating-point vector",
    )
    refused(lambda sd: sd["state"][0]["ro"].pop(), r"one entry per curvature pair")
    refused(lambda sd: sd["state"][0].update(t=float("nan")), r"t is nan, not a finite number")
    refused(lambda sd: sd["state"][0].update(n_iter=2.5), r"n_iter is 2.5")
    refused(lambda sd: sd["state"][0].update(extra=1), r"unknown state entry 'extra'")
    refused(lambda sd: sd["state"].update({1: sd["state"].pop(0)}), r"under the first parameter")
    refused(lambda sd: sd["param_groups"][0].update(lr=-1.0), r"Invalid learning rate")
    refused(lambda sd: sd["param_groups"][0].update(line_search_fn="wolfe"), r"line_search_fn")
    opt.load_state_dict({**saved, "state": {}})  # no state: as before a first step
    assert opt.state == {}


def test_lbfgs_bad_arguments():
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [cr.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.LBFGS([w], lr=-1)
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([w], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        optim.LBFGS([w], max_iter=0)
    opt = optim.LBFGS([w])
    assert opt.param_groups[0]["max_eval"] == 25  # max_iter * 5 // 4, as PyTorch
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.add_param_group({"params": [cr.zeros(1, requires_grad=True)]})
    with pytest.raises(TypeError, match=r"LBFGS\.step needs a closure"):
        opt.step()


def _wiggly(rng):
    """A random 3-D function with many local minima along any line: its value and
    gradient, in NumPy (for ours) and in torch (for PyTorch's search)."""
    a, b, c = rng.uniform(0.5, 2, 3), rng.uniform(1, 6, 3), rng.uniform(0.05, 0.5, 3)

    def mine(z):
        return float((a * np.sin(b * z) + c * z**4).sum()), a * b * np.cos(b * z) + 4 * c * z**3

    def theirs(z):
        z = z.detach().requires_grad_(True)
        f = (torch.tensor(a) * torch.sin(torch.tensor(b) * z) + torch.tensor(c) * z**4).sum()
        (g,) = torch.autograd.grad(f, z)
        return float(f.detach()), g

    return mine, theirs


def test_strong_wolfe_matches_pytorchs_search_on_random_lines():
    """The line search alone, on 300 random lines with random first steps (and curvature
    constants): the same accepted step, loss and number of evaluations as
    torch.optim.lbfgs._strong_wolfe. Every branch of the search is taken here."""
    from torch.optim.lbfgs import _strong_wolfe

    from chainrule.optim.line_search import strong_wolfe

    rng = np.random.default_rng(5)
    for case in range(300):
        mine, theirs = _wiggly(rng)
        x = rng.uniform(-2, 2, 3)
        f, g = mine(x)
        d = -g + rng.normal(0, 0.3, 3) * np.abs(g)
        if g @ d >= 0:
            continue
        t = float(rng.choice([1e-3, 0.05, 0.3, 1.0, 4.0, 30.0]))
        max_ls = int(rng.choice([3, 25]))
        c2 = float(rng.choice([0.9, 0.1, 0.01]))  # a strict curvature condition zooms longer
        tol = float(rng.choice([1e-9, 0.1]))  # a coarse one stops on the bracket's length
        ours = strong_wolfe(
            lambda x, t, d, m=mine: m(x + t * d),
            x,
            t,
            d,
            f,
            g,
            g @ d,
            c2=c2,
            tolerance_change=tol,
            max_ls=max_ls,
        )
        tx, td = torch.tensor(x), torch.tensor(d)
        ref = _strong_wolfe(
            lambda x, t, d, th=theirs: th(x + t * d),
            tx,
            t,
            td,
            f,
            torch.tensor(g),
            torch.tensor(g @ d),
            c2=c2,
            tolerance_change=tol,
            max_ls=max_ls,
        )
        assert ours[3] == ref[3], f"case {case}: evaluations"
        assert float(ours[2]) == pytest.approx(float(ref[2]), rel=1e-9, abs=1e-12), case
        assert ours[0] == pytest.approx(ref[0], rel=1e-9, abs=1e-12), case
        np.testing.assert_allclose(ours[1], ref[1].numpy(), rtol=1e-8, atol=1e-10)
