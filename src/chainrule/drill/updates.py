r"""Parameter-update drills: one or two steps of the update rules of
docs/fundamentals.md §4 on the quadratic :math:`f(x) = \frac12\sum_i c_i x_i^2` (gradient
:math:`dx = c \odot x`).

Keys come from the optimizer classes of :mod:`chainrule.optim`, run on ``f`` with
autograd's gradients. Where PyTorch's form keeps other variables than those rules, the key
converts with the relations stated in the class's Conventions: momentum's velocity is
:math:`v = -\gamma b` (``b`` the momentum buffer, constant rate), and Nesterov's parameter
is the look-ahead point :math:`\theta = x + \mu v`. The worked solutions follow the
rules' equations with numbers, so a test that they agree with the key checks those
relations too.
"""

from __future__ import annotations

import numpy as np

from chainrule import optim
from chainrule.drill.core import Draft, Numbers, Quantity, SolutionStep, fmt
from chainrule.drill.registry import register
from chainrule.tensor import tensor

__all__ = ["adagrad", "adam", "nesterov", "rmsprop", "sgd_momentum"]

SECTION = "Parameter updates"
OBJECTIVE = "f(x) = ½ Σ_i c_i x_i², whose gradient is dx = c ⊙ x"


def _problem(n: Numbers, hyper: dict, make, steps: int) -> tuple[dict, list[dict]]:
    """x0, c and the hyper-parameters (each drawn with ``n.pick`` from ``hyper``'s
    options), with the optimizer's run on them; drawn again while a position comes
    within 0.1 of 0, where a hand-rounded difference would lose its relative precision."""
    while True:
        inputs = {"x0": n.values(2, -2, 2, gap=0.2), "c": n.values(2, 0.5, 2, avoid=())}
        inputs.update({k: n.pick(v) for k, v in hyper.items()})
        run = _run(make(inputs), inputs, steps)
        if min(np.abs(r["x"]).min() for r in run) >= 0.1:
            return inputs, run


def _run(make, inputs: dict, steps: int) -> list[dict]:
    """Run the optimizer ``make([x])`` on f for ``steps`` steps from ``x0``: per step,
    the gradient autograd gave it (``grad``), the parameter after the step (``x``) and
    the optimizer's state (``state``)."""
    x = tensor(inputs["x0"].copy(), requires_grad=True)
    c = tensor(inputs["c"])
    opt = make([x])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (c * x * x).sum()).backward()
        grad = x.grad.numpy().copy()
        opt.step()
        state = {k: np.array(v, copy=True) for k, v in opt.state_dict()["state"][0].items()}
        out.append({"grad": grad, "x": x.detach().numpy().copy(), "state": state})
    return out


def _grad_step(name: str, at: str, c: np.ndarray, x: np.ndarray) -> SolutionStep:
    g = c * x
    return SolutionStep(
        f"Gradient at {at}",
        [f"{name} = c ⊙ {at} = {fmt(c)} ⊙ {fmt(x)} = {fmt(g)}"],
        {name: g},
    )


def _q(name: str, text: str, hint: str) -> Quantity:
    return Quantity(name, text, (2,), hint)


# ----------------------------------------------------------------------------- momentum
@register("sgd-momentum", "Two steps of SGD with momentum", SECTION)
def sgd_momentum(n: Numbers) -> Draft:
    """Momentum in its velocity form: v = μ v - lr·dx; x = x + v."""
    inputs, run = _problem(
        n,
        {"lr": (0.1, 0.2, 0.3), "mu": (0.5, 0.8, 0.9)},
        lambda h: lambda p: optim.SGD(p, lr=h["lr"], momentum=h["mu"]),
        2,
    )
    lr, mu = inputs["lr"], inputs["mu"]
    key = {}
    for t, r in enumerate(run, 1):
        key[f"dx{t}"] = r["grad"]
        key[f"v{t}"] = -lr * r["state"]["momentum_buffer"]  # the velocity v is -lr b
        key[f"x{t}"] = r["x"]
    question = (
        f"Minimise {OBJECTIVE}, from x0 with momentum in its velocity form: v = mu·v - lr·dx, "
        "then x = x + v, starting with v = 0. Compute two steps."
    )
    quantities = []
    for t in (1, 2):
        quantities += [
            _q(f"dx{t}", f"dx at x{t - 1}", f"dx = c ⊙ x{t - 1}."),
            _q(f"v{t}", f"the velocity v{t}", f"v{t} = mu·v{t - 1} - lr·dx{t} (v0 = 0)."),
            _q(f"x{t}", f"the position x{t}", f"x{t} = x{t - 1} + v{t}."),
        ]

    def solve() -> list[SolutionStep]:
        c, x, v = inputs["c"], inputs["x0"], np.zeros(2)
        steps = []
        for t in (1, 2):
            g = c * x
            v_new = mu * v - lr * g
            x_new = x + v_new
            steps += [
                _grad_step(f"dx{t}", f"x{t - 1}", c, x),
                SolutionStep(
                    f"Velocity, step {t}",
                    [
                        f"v{t} = mu·v{t - 1} - lr·dx{t} = {fmt(mu)} × {fmt(v)} - {fmt(lr)} × "
                        f"{fmt(g)} = {fmt(v_new)}"
                    ],
                    {f"v{t}": v_new},
                ),
                SolutionStep(
                    f"Position, step {t}",
                    [f"x{t} = x{t - 1} + v{t} = {fmt(x)} + {fmt(v_new)} = {fmt(x_new)}"],
                    {f"x{t}": x_new},
                ),
            ]
            x, v = x_new, v_new
        steps[-1].lines.append(
            "PyTorch's SGD keeps b = -v/lr instead of v (b = mu·b + dx, x = x - lr·b): the "
            "same positions while lr is constant."
        )
        return steps

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- nesterov
@register("nesterov", "Two steps of Nesterov momentum", SECTION)
def nesterov(n: Numbers) -> Draft:
    """Nesterov's look-ahead form: the gradient is taken at the look-ahead point."""
    inputs, run = _problem(
        n,
        {"lr": (0.1, 0.2, 0.3), "mu": (0.5, 0.8, 0.9)},
        lambda h: lambda p: optim.SGD(p, lr=h["lr"], momentum=h["mu"], nesterov=True),
        2,
    )
    lr, mu = inputs["lr"], inputs["mu"]
    # PyTorch stores θ = x + mu·v (the next look-ahead point) and b with v = -lr·b
    v1, v2 = (-lr * r["state"]["momentum_buffer"] for r in run)
    key = {
        "dx1": run[0]["grad"],
        "v1": v1,
        "x1": run[0]["x"] - mu * v1,
        "x_ahead2": run[0]["x"],
        "dx_ahead2": run[1]["grad"],
        "v2": v2,
        "x2": run[1]["x"] - mu * v2,
    }
    question = (
        f"Minimise {OBJECTIVE}, from x0 with Nesterov momentum in its look-ahead form: "
        "x_ahead = x + mu·v, v = mu·v - lr·dx_ahead (the gradient at x_ahead), x = x + v, "
        "starting with v = 0. Compute two steps."
    )
    quantities = [
        _q(
            "dx1",
            "dx at x_ahead = x0 (v0 = 0)",
            "At step 1, x_ahead = x0 + mu·0 = x0; dx = c ⊙ x0.",
        ),
        _q("v1", "the velocity v1", "v1 = mu·0 - lr·dx1."),
        _q("x1", "the position x1", "x1 = x0 + v1."),
        _q("x_ahead2", "the look-ahead point of step 2", "x_ahead = x1 + mu·v1."),
        _q("dx_ahead2", "dx at that look-ahead point", "dx_ahead = c ⊙ x_ahead."),
        _q("v2", "the velocity v2", "v2 = mu·v1 - lr·dx_ahead2."),
        _q("x2", "the position x2", "x2 = x1 + v2."),
    ]

    def solve() -> list[SolutionStep]:
        c, x0 = inputs["c"], inputs["x0"]
        g1 = c * x0
        v1 = -lr * g1
        x1 = x0 + v1
        ahead = x1 + mu * v1
        g2 = c * ahead
        v2 = mu * v1 - lr * g2
        x2 = x1 + v2
        return [
            _grad_step("dx1", "x0", c, x0),
            SolutionStep(
                "Velocity, step 1",
                [
                    "v0 = 0, so x_ahead = x0 and the gradient above is the look-ahead one.",
                    f"v1 = mu·0 - lr·dx1 = -{fmt(lr)} × {fmt(g1)} = {fmt(v1)}",
                ],
                {"v1": v1},
            ),
            SolutionStep(
                "Position, step 1",
                [f"x1 = x0 + v1 = {fmt(x0)} + {fmt(v1)} = {fmt(x1)}"],
                {"x1": x1},
            ),
            SolutionStep(
                "Look ahead, step 2",
                [f"x_ahead = x1 + mu·v1 = {fmt(x1)} + {fmt(mu)} × {fmt(v1)} = {fmt(ahead)}"],
                {"x_ahead2": ahead},
            ),
            _grad_step("dx_ahead2", "x_ahead", c, ahead),
            SolutionStep(
                "Velocity, step 2",
                [
                    f"v2 = mu·v1 - lr·dx_ahead = {fmt(mu)} × {fmt(v1)} - {fmt(lr)} × {fmt(g2)} "
                    f"= {fmt(v2)}"
                ],
                {"v2": v2},
            ),
            SolutionStep(
                "Position, step 2",
                [
                    f"x2 = x1 + v2 = {fmt(x1)} + {fmt(v2)} = {fmt(x2)}",
                    "PyTorch's SGD(nesterov=True) stores the look-ahead point x + mu·v as the "
                    "parameter, so it needs only the gradient at the parameter; its iterates are "
                    "the look-ahead points of this form.",
                ],
                {"x2": x2},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- adagrad, rmsprop
def _adaptive(inputs: dict, decay: float | None, eps: float) -> list[SolutionStep]:
    """The solution steps shared by Adagrad (decay None: cache += dx²) and RMSprop
    (cache = decay·cache + (1 - decay)·dx²)."""
    c, x, cache, lr = inputs["c"], inputs["x0"], np.zeros(2), inputs["lr"]
    steps = []
    for t in (1, 2):
        g = c * x
        if decay is None:
            new = cache + g * g
            rule = f"cache{t} = cache{t - 1} + dx{t}² = {fmt(cache)} + {fmt(g * g)} = {fmt(new)}"
        else:
            new = decay * cache + (1 - decay) * g * g
            rule = (
                f"cache{t} = rho·cache{t - 1} + (1 - rho)·dx{t}² = {fmt(decay)} × {fmt(cache)} "
                f"+ {fmt(1 - decay)} × {fmt(g * g)} = {fmt(new)}"
            )
        root = np.sqrt(new)
        update = -lr * g / (root + eps)
        steps += [
            SolutionStep(
                f"Cache, step {t}",
                [f"dx{t} = c ⊙ x{t - 1} = {fmt(c)} ⊙ {fmt(x)} = {fmt(g)}", rule],
                {f"cache{t}": new},
            ),
            SolutionStep(
                f"Update, step {t}",
                [
                    f"√cache{t} = {fmt(root)} (eps = {eps:g} changes nothing at this precision)",
                    f"-lr·dx{t} / (√cache{t} + eps) = -{fmt(lr)} × {fmt(g)} / {fmt(root)} = "
                    f"{fmt(update)}",
                ],
                {f"update{t}": update},
            ),
            SolutionStep(
                f"Position, step {t}",
                [f"x{t} = x{t - 1} + update{t} = {fmt(x)} + {fmt(update)} = {fmt(x + update)}"],
                {f"x{t}": x + update},
            ),
        ]
        x, cache = x + update, new
    return steps


def _adaptive_key(run: list[dict], x0: np.ndarray, cache: str) -> dict:
    key, before = {}, x0
    for t, r in enumerate(run, 1):
        key[f"cache{t}"] = r["state"][cache]
        key[f"update{t}"] = r["x"] - before  # what the optimizer added to the parameter
        key[f"x{t}"] = r["x"]
        before = r["x"]
    return key


def _adaptive_quantities(rule: str) -> list[Quantity]:
    out = []
    for t in (1, 2):
        s = t - 1
        out += [
            _q(f"cache{t}", f"the cache after step {t}", rule.format(t=t, s=s)),
            _q(
                f"update{t}",
                f"what step {t} adds to x{s}",
                f"update{t} = -lr·dx{t} / (√cache{t} + eps), entry by entry.",
            ),
            _q(f"x{t}", f"the position x{t}", f"x{t} = x{s} + update{t}."),
        ]
    return out


def _adaptive_draft(inputs, run, rule: str, cache_hint: str, cache: str, decay, eps) -> Draft:
    """Two steps of Adagrad (``decay`` None) or RMSprop (``decay`` rho): ``rule`` names the
    method and its cache update in the question, ``cache_hint`` is the cache's hint (with
    ``{t}`` and ``{s}`` for this step and the last) and ``cache`` its name in the
    optimizer's state."""
    question = (
        f"Minimise {OBJECTIVE}, from x0 with {rule}, then "
        f"x += -lr·dx / (√cache + eps), entry by entry, with cache starting at 0 and eps = "
        f"{eps:g}. Compute two steps."
    )
    quantities = _adaptive_quantities(cache_hint)
    key = _adaptive_key(run, inputs["x0"], cache)
    return Draft(question, inputs, quantities, key, lambda: _adaptive(inputs, decay, eps))


@register("adagrad", "Two steps of Adagrad", SECTION)
def adagrad(n: Numbers) -> Draft:
    """Adagrad: cache += dx²; x -= lr·dx / (√cache + eps)."""
    eps = 1e-10  # Adagrad's default
    inputs, run = _problem(
        n,
        {"lr": (0.1, 0.5, 1.0)},
        lambda h: lambda p: optim.Adagrad(p, lr=h["lr"], eps=eps),
        2,
    )
    return _adaptive_draft(
        inputs,
        run,
        "Adagrad: cache += dx²",
        "dx{t} = c ⊙ x{s}; cache{t} = cache{s} + dx{t}², entry by entry (cache0 = 0).",
        "sum",
        None,
        eps,
    )


@register("rmsprop", "Two steps of RMSprop", SECTION)
def rmsprop(n: Numbers) -> Draft:
    """RMSprop: Adagrad's cache as a leaky average, cache = rho·cache + (1 - rho)·dx²."""
    eps = 1e-8  # RMSprop's default
    inputs, run = _problem(
        n,
        {"lr": (0.01, 0.05, 0.1), "rho": (0.9, 0.99)},
        lambda h: lambda p: optim.RMSprop(p, lr=h["lr"], alpha=h["rho"], eps=eps),
        2,
    )
    return _adaptive_draft(
        inputs,
        run,
        "RMSprop: cache = rho·cache + (1 - rho)·dx²",
        "dx{t} = c ⊙ x{s}; cache{t} = rho·cache{s} + (1 - rho)·dx{t}² (cache0 = 0).",
        "square_avg",
        inputs["rho"],
        eps,
    )


# ----------------------------------------------------------------------------- adam
@register("adam", "One step of Adam, without and with bias correction", SECTION)
def adam(n: Numbers) -> Draft:
    """One Adam step from m = v = 0, without bias correction and with it."""
    eps = 1e-8  # Adam's default
    hyper = {"lr": (0.01, 0.1), "beta1": (0.9, 0.8), "beta2": (0.999, 0.99)}

    def make(bias_correction: bool):
        return lambda h: (
            lambda p: optim.Adam(
                p,
                lr=h["lr"],
                betas=(h["beta1"], h["beta2"]),
                eps=eps,
                bias_correction=bias_correction,
            )
        )

    inputs, (plain,) = _problem(n, hyper, make(False), 1)
    (corrected,) = _run(make(True)(inputs), inputs, 1)
    lr, b1, b2 = inputs["lr"], inputs["beta1"], inputs["beta2"]
    key = {
        "dx": plain["grad"],
        "m": plain["state"]["exp_avg"],
        "v": plain["state"]["exp_avg_sq"],
        "update": plain["x"] - inputs["x0"],
        "update_corrected": corrected["x"] - inputs["x0"],
    }
    question = (
        f"Minimise {OBJECTIVE}, from x0 with one step of Adam without bias correction: "
        "m = beta1·m + (1 - beta1)·dx, v = beta2·v + (1 - beta2)·dx², x = x - lr·m / (√v + "
        f"eps), with m = v = 0 at the start and eps = {eps:g}. Then take the same step with "
        "bias correction, m̂ = m / (1 - beta1^t), v̂ = v / (1 - beta2^t) in place of m and v. "
        "Give each step as what it adds to x0."
    )
    quantities = [
        _q("dx", "dx at x0", "dx = c ⊙ x0."),
        _q("m", "the first moment m", "m = beta1·0 + (1 - beta1)·dx."),
        _q("v", "the second moment v", "v = beta2·0 + (1 - beta2)·dx², entry by entry."),
        _q("update", "x1 - x0 without bias correction", "-lr·m / (√v + eps), entry by entry."),
        _q(
            "update_corrected",
            "x1 - x0 with bias correction",
            "At t = 1, m̂ = m/(1 - beta1) = dx and v̂ = v/(1 - beta2) = dx²: the step is "
            "-lr·dx/|dx|.",
        ),
    ]

    def solve() -> list[SolutionStep]:
        c, x0 = inputs["c"], inputs["x0"]
        g = c * x0
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        update = -lr * m / (np.sqrt(v) + eps)
        m_hat, v_hat = m / (1 - b1), v / (1 - b2)
        update_hat = -lr * m_hat / (np.sqrt(v_hat) + eps)
        return [
            _grad_step("dx", "x0", c, x0),
            SolutionStep(
                "First moment",
                [f"m = beta1·0 + (1 - beta1)·dx = {fmt(1 - b1)} × {fmt(g)} = {fmt(m)}"],
                {"m": m},
            ),
            SolutionStep(
                "Second moment",
                [f"v = beta2·0 + (1 - beta2)·dx² = {fmt(1 - b2)} × {fmt(g * g)} = {fmt(v)}"],
                {"v": v},
            ),
            SolutionStep(
                "The step without bias correction",
                [
                    f"-lr·m / (√v + eps) = -{fmt(lr)} × {fmt(m)} / {fmt(np.sqrt(v))} = "
                    f"{fmt(update)}, so x1 = {fmt(x0 + update)}",
                    f"Every coordinate moves by lr·(1 - beta1)/√(1 - beta2) = "
                    f"{fmt(lr * (1 - b1) / np.sqrt(1 - b2))}, whatever the size of its gradient.",
                ],
                {"update": update},
            ),
            SolutionStep(
                "With bias correction",
                [
                    f"m̂ = m / (1 - beta1^1) = {fmt(m_hat)}, v̂ = v / (1 - beta2^1) = {fmt(v_hat)} "
                    "(the averages started at 0, so they are too small by these factors)",
                    f"-lr·m̂ / (√v̂ + eps) = -{fmt(lr)} × {fmt(m_hat)} / {fmt(np.sqrt(v_hat))} = "
                    f"{fmt(update_hat)}, so x1 = {fmt(x0 + update_hat)}",
                    f"The first corrected step is lr in every coordinate, against "
                    f"{fmt((1 - b1) / np.sqrt(1 - b2))}·lr without it.",
                ],
                {"update_corrected": update_hat},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)
