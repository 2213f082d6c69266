"""Learning-rate schedules against torch.optim.lr_scheduler: the rates (and cycled
momenta) bit for bit over many steps, closed forms, state_dict round trips, bad arguments."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as S

TS = torch.optim.lr_scheduler


def _twins(kind: str = "sgd", lrs=(0.1, 0.5)):
    """The same two-group optimizer in both libraries (second group: its own rate)."""
    mine = [cr.zeros(1, requires_grad=True), cr.zeros(1, requires_grad=True)]
    theirs = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    extra = {"sgd": {"momentum": 0.9}, "adam": {"betas": (0.8, 0.99)}, "plain": {}}[kind]
    cls = "Adam" if kind == "adam" else "SGD"

    def make(module, ps):
        groups = [{"params": [ps[0]]}, {"params": [ps[1]], "lr": lrs[1]}]
        return getattr(module, cls)(groups, lr=lrs[0], **extra)

    return make(optim, mine), make(torch.optim, theirs)


def _snapshot(opt):
    return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]


def _run_both(make, kind="sgd", steps=60, metrics=None):
    """Step both schedules ``steps`` times; every rate (and momentum) must be equal."""
    opt, topt = _twins(kind)
    sched, tsched = make(S, opt), make(TS, topt)
    assert sched.get_last_lr() == tsched.get_last_lr()
    assert _snapshot(opt) == _snapshot(topt)
    seen = [tuple(sched.get_last_lr())]
    for i in range(steps):
        opt.step()
        topt.step()
        if metrics is None:
            sched.step()
            tsched.step()
        else:
            sched.step(metrics[i])
            tsched.step(metrics[i])
        assert sched.get_last_lr() == tsched.get_last_lr(), f"step {i + 1}"  # bit for bit
        assert _snapshot(opt) == _snapshot(topt), f"step {i + 1}"
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        seen.append(tuple(sched.get_last_lr()))
    assert len(set(seen)) > 1, "the schedule never moved: the test would prove nothing"
    return sched, tsched


MULTISTEP = [
    lambda M, o: M.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.5),
    lambda M, o: M.MultiStepLR(o, milestones=(10, 2)),
]
LAMBDA = [
    lambda M, o: M.LambdaLR(o, lr_lambda=lambda e: 0.95**e),
    lambda M, o: M.LambdaLR(o, lr_lambda=[lambda e: 1 / (1 + e), lambda e: (e % 4 + 1) / 4]),
]
WARM_RESTARTS = [
    lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=7),
    lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=3, eta_min=0.001),
]
SEQUENTIAL = [
    lambda M, o: M.SequentialLR(
        o,
        [M.LinearLR(o, start_factor=0.1, total_iters=5), M.CosineAnnealingLR(o, T_max=20)],
        milestones=[5],
    ),
    lambda M, o: M.SequentialLR(
        o,
        [
            M.ExponentialLR(o, gamma=0.9),
            M.MultiStepLR(o, milestones=[3, 8], gamma=0.3),
            M.StepLR(o, step_size=4, gamma=0.5),
        ],
        milestones=[6, 17],
    ),
    lambda M, o: M.SequentialLR(
        o, [M.LambdaLR(o, lambda e: (e + 1) / 8), M.ExponentialLR(o, 0.97)], milestones=[8]
    ),
]


@pytest.mark.parametrize("make", MULTISTEP + LAMBDA + WARM_RESTARTS + SEQUENTIAL)
def test_epoch_schedules_match_pytorch_bit_for_bit(make):
    _run_both(make, kind="plain", steps=60)


ONE_CYCLE = [
    ("sgd", dict(max_lr=1.0, total_steps=60)),
    ("sgd", dict(max_lr=[1.0, 0.3], total_steps=60, anneal_strategy="linear")),
    ("sgd", dict(max_lr=0.8, epochs=6, steps_per_epoch=10, three_phase=True)),
    (
        "sgd",
        dict(
            max_lr=0.8,
            total_steps=60,
            pct_start=0.45,
            div_factor=10.0,
            three_phase=True,
            anneal_strategy="linear",
        ),
    ),
    ("sgd", dict(max_lr=0.5, total_steps=60, cycle_momentum=False)),
    ("adam", dict(max_lr=0.01, total_steps=60)),
    (
        "adam",
        dict(
            max_lr=0.01,
            total_steps=60,
            base_momentum=[0.8, 0.7],
            max_momentum=0.9,
            three_phase=True,
        ),
    ),
    # SGD built without momentum: cycle_momentum writes one into the groups
    ("plain", dict(max_lr=0.01, total_steps=60, final_div_factor=100.0)),
]


@pytest.mark.parametrize(("kind", "kwargs"), ONE_CYCLE, ids=[f"{k}-{kw}" for k, kw in ONE_CYCLE])
def test_one_cycle_matches_pytorch_rates_and_momenta(kind, kwargs):
    _run_both(lambda M, o: M.OneCycleLR(o, **kwargs), kind=kind, steps=60)


def test_one_cycle_drives_the_optimizer_it_was_given():
    """The momentum OneCycleLR cycles is the one the update uses (SGD and Adam)."""
    for cls, kw in (("SGD", {"momentum": 0.9}), ("Adam", {})):
        p = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
        tp = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
        opt, topt = getattr(optim, cls)([p], **kw), getattr(torch.optim, cls)([tp], **kw)
        sched = S.OneCycleLR(opt, max_lr=0.05, total_steps=30)
        tsched = TS.OneCycleLR(topt, max_lr=0.05, total_steps=30)
        for _ in range(30):
            for o, x in ((opt, p), (topt, tp)):
                o.zero_grad()
                ((x - 3) ** 2 + 0.1 * x**4).sum().backward()
                o.step()
            sched.step()
            tsched.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12)
        assert np.abs(p.numpy() - [1.0, -2.0]).min() > 0.1  # it did move


def test_one_cycle_refuses_to_step_past_its_end():
    for M, o in ((S, _twins()[0]), (TS, _twins()[1])):
        sched = M.OneCycleLR(o, max_lr=1.0, total_steps=5)
        for _ in range(5):
            o.step()
            sched.step()  # steps 1..5: the last one is allowed
        with pytest.raises(
            ValueError, match=r"Tried to step 6 times\. The specified number of total steps is 5"
        ):
            sched.step()


PLATEAU = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(mode="max", patience=1, threshold=0.05),
    dict(mode="min", threshold_mode="abs", threshold=0.2, patience=0, cooldown=2),
    dict(mode="max", threshold_mode="abs", threshold=0.1, patience=1, min_lr=[0.05, 0.2]),
    dict(patience=0, factor=0.5, min_lr=0.0999, eps=1e-3),
]
METRIC = [5.0, 4.0, 4.1, 4.0, 3.99, 4.5, 3.0, 3.0, 3.2, 3.1, 2.0, 2.5, 2.6, 2.4, 2.7, 1.0]
METRIC = METRIC * 3 + [-x for x in METRIC]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_reduce_on_plateau_matches_pytorch(kwargs):
    sched, tsched = _run_both(
        lambda M, o: M.ReduceLROnPlateau(o, **kwargs), steps=len(METRIC), metrics=METRIC
    )
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert getattr(sched, key) == getattr(tsched, key), key


def test_reduce_on_plateau_takes_a_tensor_metric_and_follows_new_groups():
    opt = _twins("plain")[0]
    sched = S.ReduceLROnPlateau(opt, patience=0)
    sched.step(cr.tensor(1.0))
    sched.step(cr.tensor(2.0))
    assert sched.get_last_lr() == [0.1 * 0.1, 0.5 * 0.1]
    opt.add_param_group({"params": [cr.zeros(1, requires_grad=True)], "lr": 1.0})
    sched.step(3.0)
    assert sched.get_last_lr()[2] == 0.1
    fixed = S.ReduceLROnPlateau(_twins("plain")[0], patience=0, min_lr=[0.0, 0.0])
    fixed.optimizer.add_param_group({"params": [cr.zeros(1, requires_grad=True)]})
    fixed.step(1.0)
    with pytest.raises(RuntimeError, match="min_lrs"):
        fixed.step(2.0)


def test_warm_restarts_with_fractional_epochs_match_pytorch():
    epochs = [0, 0.25, 0.5, 1.75, 2.9, 3.0, 3.2, 6.5, 8.99, 9.0, 10.1, 21.0, 21.5, 44.9, 45.0, 4.0]
    for T_mult in (1, 2, 3):
        opt, topt = _twins("plain")
        sched = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult, eta_min=0.01)
        tsched = TS.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=T_mult, eta_min=0.01)
        for epoch in epochs:
            opt.step()
            topt.step()
            sched.step(epoch)
            tsched.step(epoch)
            assert sched.get_last_lr() == tsched.get_last_lr(), (T_mult, epoch)
            assert (sched.T_cur, sched.T_i, sched.last_epoch) == (
                tsched.T_cur,
                tsched.T_i,
                tsched.last_epoch,
            )
            sched.step()  # and a plain step from there
            tsched.step()
            assert sched.get_last_lr() == tsched.get_last_lr(), (T_mult, epoch, "next")
    with pytest.raises(ValueError, match="Expected non-negative epoch"):
        sched.step(-1)


CLOSED_FORM = [
    lambda M, o: M.StepLR(o, step_size=3, gamma=0.5),
    lambda M, o: M.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5),
    lambda M, o: M.ExponentialLR(o, gamma=0.9),
    lambda M, o: M.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    lambda M, o: M.LinearLR(o, start_factor=0.2, total_iters=5),
    lambda M, o: M.LambdaLR(o, lambda e: 1 / (e + 1)),
]


@pytest.mark.parametrize("make", CLOSED_FORM)
def test_step_with_an_epoch_uses_the_closed_form_and_warns_as_pytorch(make):
    opt, topt = _twins("plain")
    sched, tsched = make(S, opt), make(TS, topt)
    for epoch in (4, 9, 1, 0, 6):
        opt.step()
        topt.step()
        with pytest.warns(UserWarning, match="deprecated"):
            sched.step(epoch)
        with pytest.warns(UserWarning):
            tsched.step(epoch)
        assert sched.get_last_lr() == tsched.get_last_lr()
        assert sched.last_epoch == epoch


ROUND_TRIP = [
    lambda M, o: M.MultiStepLR(o, milestones=[3, 6, 6], gamma=0.5),
    lambda M, o: M.OneCycleLR(o, max_lr=1.0, total_steps=20, three_phase=True),
    lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
    lambda M, o: M.SequentialLR(o, [M.ExponentialLR(o, 0.5), M.MultiStepLR(o, [2, 4])], [5]),
    lambda M, o: M.ReduceLROnPlateau(o, patience=1, cooldown=1),
    lambda M, o: M.LambdaLR(o, _Warmup(4)),
]


class _Warmup:
    """A callable object: LambdaLR's state_dict keeps its attributes."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.n)


def _advance(sched, i):
    sched.optimizer.step()
    if isinstance(sched, S.ReduceLROnPlateau):
        sched.step([3.0, 2.0, 2.5, 2.6, 2.7, 1.0, 1.5, 1.6, 1.7, 1.8][i % 10])
    else:
        sched.step()
    return sched.get_last_lr()


@pytest.mark.parametrize("make", ROUND_TRIP)
def test_state_dict_round_trip_through_a_file_continues_exactly(make, tmp_path):
    opt = _twins("sgd")[0]
    sched = make(S, opt)
    for i in range(7):
        _advance(sched, i)
    cr.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ck")
    expected = [_advance(sched, i) for i in range(7, 14)]

    opt2 = _twins("sgd")[0]
    sched2 = make(S, opt2)
    saved = cr.load(tmp_path / "ck")
    opt2.load_state_dict(saved["optimizer"])
    sched2.load_state_dict(saved["scheduler"])
    assert [_advance(sched2, i) for i in range(7, 14)] == expected
    if isinstance(sched, S.LambdaLR):
        sched.lr_lambdas[0].n = 99
        assert sched.state_dict()["lr_lambdas"][0] == {"n": 99}


def test_lambda_state_dict_leaves_plain_functions_out():
    opt = _twins("plain")[0]
    sched = S.LambdaLR(opt, [lambda e: 1.0, _Warmup(3)])
    assert sched.state_dict()["lr_lambdas"] == [None, {"n": 3}]


BAD = [
    (lambda o: S.MultiStepLR(None, [1]), TypeError, "needs an Optimizer"),
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps OR"),
    (
        lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=0),
        ValueError,
        "positive integer total_steps",
    ),
    (
        lambda o: S.OneCycleLR(o, max_lr=1.0, epochs=2.5, steps_per_epoch=3),
        ValueError,
        "positive integer epochs",
    ),
    (
        lambda o: S.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=0),
        ValueError,
        "steps_per_epoch",
    ),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=9, pct_start=1), ValueError, "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=9, pct_start=1.5), ValueError, "pct_start"),
    (
        lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=9, anneal_strategy="exp"),
        ValueError,
        "anneal_strategy",
    ),
    (
        lambda o: S.OneCycleLR(o, max_lr=[1.0], total_steps=9),
        ValueError,
        "max_lr must have the same length",
    ),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "positive integer T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2.0), ValueError, "positive integer T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "T_mult >= 1"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"), ValueError, "eta_min"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
    (
        lambda o: S.ReduceLROnPlateau(o, threshold_mode="x"),
        ValueError,
        "threshold mode x is unknown",
    ),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.0]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: S.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
    (lambda o: S.SequentialLR(o, [S.ExponentialLR(o, 0.9)], [3]), ValueError, "one more"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], []), ValueError, "ReduceLROnPlateau"),
    (lambda o: S.SequentialLR(o, [object()], []), TypeError, "`optimizer`"),
    (
        lambda o: S.SequentialLR(o, [S.ExponentialLR(_twins()[0], 0.9)], []),
        ValueError,
        "same optimizer",
    ),
]


@pytest.mark.parametrize(("make", "error", "message"), BAD, ids=[m for _, _, m in BAD])
def test_bad_arguments_raise_pytorchs_errors(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make(_twins("plain")[0])


def test_one_cycle_cycle_momentum_needs_a_momentum():
    opt = optim.Adagrad([cr.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    S.OneCycleLR(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)  # fine without


def test_a_full_one_cycle_reaches_max_lr_then_min_lr():
    opt = _twins("sgd")[0]
    sched = S.OneCycleLR(opt, max_lr=2.0, total_steps=50, pct_start=0.2)
    rates = [sched.get_last_lr()[0]]
    for _ in range(49):
        opt.step()
        sched.step()
        rates.append(sched.get_last_lr()[0])
    assert rates[0] == pytest.approx(2.0 / 25) and max(rates) == pytest.approx(2.0)
    assert rates.index(max(rates)) == 9  # pct_start * total_steps - 1
    assert rates[-1] == pytest.approx(2.0 / 25 / 1e4) and math.isclose(min(rates), rates[-1])


def test_bad_state_dicts_are_refused_before_anything_changes():
    opt = _twins("plain")[0]
    lam = S.LambdaLR(opt, [lambda e: 1.0, _Warmup(3)])
    good = lam.state_dict()
    with pytest.raises(ValueError, match="'lr_lambdas' must hold 2 entries"):
        lam.load_state_dict({**good, "lr_lambdas": [None]})
    with pytest.raises(ValueError, match="expected the entries"):
        lam.load_state_dict({k: v for k, v in good.items() if k != "last_epoch"})

    seq = S.SequentialLR(opt, [S.ExponentialLR(opt, 0.5), S.MultiStepLR(opt, [2])], [3])
    for _ in range(5):
        seq.step()
    saved = seq.state_dict()
    before = [dict(s.__dict__) for s in seq._schedulers], seq.last_epoch
    broken = {**saved, "last_epoch": 0, "_schedulers": [saved["_schedulers"][0], {"gamma": 1}]}
    with pytest.raises(ValueError, match=r"MultiStepLR\.load_state_dict"):
        seq.load_state_dict(broken)
    assert ([dict(s.__dict__) for s in seq._schedulers], seq.last_epoch) == before
    with pytest.raises(ValueError, match="the state has 1 schedules"):
        seq.load_state_dict({**saved, "_schedulers": saved["_schedulers"][:1]})
