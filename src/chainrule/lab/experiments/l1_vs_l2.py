"""The constant that minimises the absolute loss Σ|y − c| is the median of the data and the
one that minimises the squared loss Σ(y − c)² is the mean; so a line fitted under the
absolute loss ignores a tenth of gross outliers that drag the least-squares line away; and
as penalties, L1 drives the irrelevant weights to 0 (a small L0 count) where L2 only
shrinks them all.

docs/fundamentals.md §6, "Absolute against squared" and "L1 against L2 penalties", has
the derivations: absolute loss, Laplace noise, minimiser the median; squared loss, Gaussian
noise, minimiser the mean; L1 (lasso) and L2 (ridge) penalties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.data import synthetic
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most, holds
from chainrule.lab.experiments._common import rng
from chainrule.nn import functional as F

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "l1-vs-l2"
SECTION = 6
DERIVATION = """
d/dc Σ(y_i − c)² = −2 Σ(y_i − c) = 0 gives c = mean y. Σ|y_i − c| has the subgradient
#{y_i < c} − #{y_i > c}, which changes sign where as many points lie below c as above: the
median. A single point moved by D moves the mean by D/n but the median not at all, which
is why the absolute loss is robust. As penalties, λ‖w‖² has gradient 2λw, a pull that
fades as w shrinks, so weights approach 0 but do not reach it; λ‖w‖₁ has subgradient
λ sign(w), a constant pull that wins whenever the data's gradient on w is smaller than λ,
and such weights sit at exactly 0 at the optimum (where |∂risk/∂w_i| ≤ λ). Plain
subgradient descent, used here, does not land on 0 but jitters around it by about the
last step, lr·λ; with the rate decayed to 1e-4 that is far below the 1e-3 threshold of
the L0 count. (Proximal methods, which soft-threshold, give exact zeros.)
"""


@dataclass(frozen=True)
class Config(_Config):
    """``samples`` for the constant fit (skewed: exponential); ``features`` of which
    ``informative`` matter for the sparse regression, with Gaussian ``noise``; ``l1`` and
    ``l2``: the penalties' weights (``l1 = 0`` removes the premise of the sparsity claim;
    the noise pulls an irrelevant weight with about 2·noise/√200 = 0.14, up to 0.4 for the largest of 45);
    ``steps`` of (sub)gradient descent."""

    samples: int = 201
    features: int = 50
    informative: int = 5
    noise: float = 1.0
    l1: float = 0.5
    l2: float = 0.3
    steps: int = 3000


SMOKE = {"steps": 1200}


def _minimise(loss_of, params: list, steps: int, lr: float = 0.5, decay: float | None = None):
    opt = optim.SGD(params, lr=lr)
    gamma = decay if decay is not None else (1e-4 / lr) ** (1 / steps)  # lr falls to 1e-4
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
    for _ in range(steps):
        opt.zero_grad()
        loss_of().backward()
        opt.step()
        sched.step()


def _constant_fits(config: Config, gen) -> dict:
    y = cr.tensor(gen.exponential(1.0, config.samples))
    out = {}
    for name, fn in (("absolute", F.l1_loss), ("squared", F.mse_loss)):
        c = cr.tensor([0.0], requires_grad=True)
        _minimise(lambda fn=fn, c=c: fn(c.expand(config.samples), y), [c], config.steps)
        out[name] = c.item()
    return {
        **out,
        "median": float(np.median(y.numpy())),
        "mean": float(y.numpy().mean()),
        "y": y.numpy(),
    }


def _line_fits(config: Config) -> dict:
    x, y = synthetic.regression(n=200, noise=0.1, outlier_fraction=0.1, seed=config.seed)
    xt, yt = cr.tensor(x.astype(np.float64)), cr.tensor(y.astype(np.float64))
    out = {"x": x, "y": y}
    for name, fn in (("absolute", F.l1_loss), ("squared", F.mse_loss)):
        w = cr.tensor(np.zeros(2), requires_grad=True)  # slope, intercept
        _minimise(lambda fn=fn, w=w: fn(xt * w[0] + w[1], yt), [w], config.steps)
        out[name] = w.detach().numpy()
    return out


def _sparse_fits(config: Config, gen) -> dict:
    n, d, k = 200, config.features, config.informative
    x = gen.standard_normal((n, d))
    true = np.zeros(d)
    true[:k] = gen.uniform(1, 3, k) * gen.choice([-1, 1], k)
    y = x @ true + config.noise * gen.standard_normal(n)
    xt, yt = cr.tensor(x), cr.tensor(y)
    out = {"true": true}
    for name in ("none", "l1", "l2"):
        w = cr.tensor(np.zeros(d), requires_grad=True)

        def objective(w=w, name=name):
            risk = F.mse_loss(xt @ w, yt)
            if name == "l1":
                return risk + config.l1 * F.l1_penalty([w])
            if name == "l2":
                return risk + config.l2 * F.l2_penalty([w])
            return risk

        _minimise(objective, [w], config.steps, lr=0.05)
        out[name] = w.detach().numpy()
    return out


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)
    gen = rng(config.seed)
    const = _constant_fits(config, gen)
    lines = _line_fits(config)
    sparse = _sparse_fits(config, gen)
    tol = 1e-3  # |w| above this counts for L0: far above the subgradient's final jitter
    metrics = {
        "absolute_fit_minus_median": abs(const["absolute"] - const["median"]),
        "squared_fit_minus_mean": abs(const["squared"] - const["mean"]),
        "mean_minus_median": const["mean"] - const["median"],
        "line_absolute": lines["absolute"].tolist(),
        "line_squared": lines["squared"].tolist(),
        "line_absolute_error": float(np.abs(lines["absolute"] - [2.0, 1.0]).max()),
        "line_squared_error": float(np.abs(lines["squared"] - [2.0, 1.0]).max()),
        "l0_none": int(F.l0_count([cr.tensor(sparse["none"])], tol=tol).item()),
        "l0_l1": int(F.l0_count([cr.tensor(sparse["l1"])], tol=tol).item()),
        "l0_l2": int(F.l0_count([cr.tensor(sparse["l2"])], tol=tol).item()),
        "l1_keeps_informative": bool((np.abs(sparse["l1"][: config.informative]) > tol).all()),
        "norm_none": float(np.linalg.norm(sparse["none"])),
        "norm_l2": float(np.linalg.norm(sparse["l2"])),
        "informative": config.informative,
        "features": config.features,
    }
    return Result(metrics, {"const": const, "lines": lines, "sparse": sparse})


def check(result: Result) -> list:
    m = result.metrics
    return [
        # The premise: skewed data, where the median and the mean are far apart.
        at_least("mean - median of the sample", m["mean_minus_median"], 0.1),
        # The subgradient iteration ends with a step of about 1e-4 / samples.
        at_most("|absolute-loss constant - median|", m["absolute_fit_minus_median"], 1e-3),
        at_most("|squared-loss constant - mean|", m["squared_fit_minus_mean"], 1e-6),
        at_most(
            "absolute-loss line: max |(slope, intercept) - (2, 1)|", m["line_absolute_error"], 0.1
        ),
        at_least(
            "least-squares line: max |(slope, intercept) - (2, 1)|", m["line_squared_error"], 0.4
        ),
        at_most(
            f"L1 penalty: weights above 1e-3, of {m['features']} ({m['informative']} informative)",
            m["l0_l1"],
            m["informative"] + 2,
        ),
        holds(
            "L1 penalty keeps every informative weight",
            m["l1_keeps_informative"],
            m["l1_keeps_informative"],
            "yes",
        ),
        # Noise leaves the irrelevant weights of a fit without L1 small but not 0 (about
        # 0.07): one in a hundred falls under 1e-3 by chance.
        at_least("no penalty: weights above 1e-3", m["l0_none"], m["features"] - 3),
        at_least("L2 penalty: weights above 1e-3", m["l0_l2"], m["features"] - 3),
        at_most("L2 penalty: ‖w‖ / unpenalised ‖w‖", m["norm_l2"] / m["norm_none"], 0.999),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, (ax1, ax2, ax3) = plotting.figure(3, width=3.9, height=3.3)
    const = t["const"]
    ax1.hist(const["y"], bins=30, color="0.7", label="samples (exponential)")
    ax1.axvline(
        const["absolute"], color="#0072B2", lw=2, label=f"argmin Σ|y − c| = {const['absolute']:.3f}"
    )
    ax1.axvline(const["median"], color="k", ls=":", label=f"median {const['median']:.3f}")
    ax1.axvline(
        const["squared"], color="#D55E00", lw=2, label=f"argmin Σ(y − c)² = {const['squared']:.3f}"
    )
    ax1.axvline(const["mean"], color="k", ls="--", label=f"mean {const['mean']:.3f}")
    ax1.set(xlabel="y", ylabel="count", title="the best constant")
    ax1.legend(fontsize=6.5)
    lines = t["lines"]
    ax2.scatter(lines["x"][:, 0], lines["y"][:, 0], s=6, c="0.5", label="data (10% outliers)")
    xs = np.linspace(-1, 1, 2)
    ax2.plot(xs, 2 * xs + 1, color="k", ls=":", label="truth 2x + 1")
    for key, color in (("absolute", "#0072B2"), ("squared", "#D55E00")):
        a, b = lines[key]
        ax2.plot(xs, a * xs + b, color=color, lw=2, label=f"{key} loss: {a:.2f}x + {b:.2f}")
    ax2.set(xlabel="x", ylabel="y", title="robust regression")
    ax2.legend(fontsize=6.5)
    sparse = t["sparse"]
    k = np.arange(len(sparse["true"]))
    for key, marker, color in (
        ("none", "o", "0.6"),
        ("l2", "s", "#D55E00"),
        ("l1", "^", "#0072B2"),
    ):
        ax3.semilogy(
            k,
            np.maximum(np.abs(sparse[key]), 1e-12),
            marker,
            ms=3.5,
            color=color,
            label=f"{key} (L0 = {m['l0_' + key]})",
        )
    ax3.axhline(1e-3, color="k", ls=":", lw=0.8, label="L0 threshold 1e-3")
    ax3.set_xlabel(f"weight index (first {m['informative']} informative)")
    ax3.set_ylabel("|w_i| (log scale, floor 1e-12)")
    ax3.set_title("penalties: L1 zeroes, L2 shrinks")
    ax3.legend(fontsize=6.5)
    return [plotting.save(fig, out_dir, "l1-vs-l2")]
