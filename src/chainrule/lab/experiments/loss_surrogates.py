"""As functions of the margin m = t·y, the hinge, log (in bits), exponential and squared
losses are convex and lie above the 0-1 loss everywhere, so minimising them bounds the
error count; the perceptron loss is convex but not above it. Trained on clean data, linear
classifiers reach about the same accuracy with each; with a tenth of the points turned
into far-away outliers, the exponential loss, which weighs a wrong point by e^{−m}, loses
more accuracy than the hinge and log losses, which weigh it only linearly.

docs/fundamentals.md §6, "Losses as surrogates of the 0-1 loss", compares the 0-1, hinge,
log, exponential, squared and perceptron losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most, holds
from chainrule.lab.experiments._common import rng
from chainrule.nn import functional as F

__all__ = [
    "DERIVATION",
    "FORMULAS",
    "LOSSES",
    "NAME",
    "SECTION",
    "SMOKE",
    "Config",
    "check",
    "plot",
    "run",
]

NAME = "loss-surrogates"
SECTION = 6
DERIVATION = """
For a score y and a label t ∈ {−1, +1} the margin m = t y is positive when the sign is right.
0-1: 1[m ≤ 0]. Hinge: max(0, 1 − m), zero beyond the margin. Log: log2(1 + e^{−m}), which
is 1 at m = 0 in bits. Exponential: e^{−m} (AdaBoost). Squared: (1 − m)² = (t − y)² for
t = ±1, which also penalises being too right. Perceptron: max(0, −m), zero as soon as the
sign is right. The gradient with respect to y is −t times the loss's slope in m: constant
(−1) for hinge and perceptron on wrong points, at most 1/ln2 for log, but e^{−m} for the
exponential: an outlier at margin −8 pulls about 3,000 times harder than a point on the
boundary, and the fit turns toward the outliers.
"""

LOSSES = ("hinge", "log", "exponential", "squared", "perceptron")


def _losses(name: str, scores: cr.Tensor, t: cr.Tensor) -> cr.Tensor:
    """Per-sample loss for ±1 targets, from chainrule's loss functions."""
    if name == "hinge":
        return F.hinge_loss(scores, t, reduction="none")
    if name == "log":  # log loss in bits: BCE on logits with 0/1 targets, over ln 2
        return F.binary_cross_entropy_with_logits(scores, (t + 1) / 2, reduction="none") / math.log(
            2
        )
    if name == "exponential":
        return F.exponential_loss(scores, t, reduction="none")
    if name == "squared":
        return F.mse_loss(scores, t, reduction="none")
    return F.perceptron_loss(scores, t, reduction="none")


FORMULAS = {
    "hinge": lambda m: np.maximum(0, 1 - m),
    "log": lambda m: np.logaddexp(0, -m) / math.log(2),
    "exponential": lambda m: np.exp(-m),
    "squared": lambda m: (1 - m) ** 2,
    "perceptron": lambda m: np.maximum(0, -m),
}


@dataclass(frozen=True)
class Config(_Config):
    """``n`` points per class around (±2, 0); ``outliers``: the fraction of the +1 class
    moved to x₁ = −``outlier_distance`` (the premise: > 0); ``steps`` of Adam at ``lr``."""

    n: int = 200
    outliers: float = 0.1
    outlier_distance: float = 8.0
    steps: int = 600
    lr: float = 0.05


SMOKE = {"steps": 250}


def _data(config: Config, gen: np.random.Generator, outliers: float, n: int | None = None):
    n = n or config.n
    x_pos = gen.standard_normal((n, 2)) + np.array([2.0, 0.0])
    x_neg = gen.standard_normal((n, 2)) + np.array([-2.0, 0.0])
    k = round(outliers * n)
    x_pos[:k, 0] = -config.outlier_distance + 0.5 * gen.standard_normal(k)
    x = np.concatenate([x_pos, x_neg])
    t = np.concatenate([np.ones(n), -np.ones(n)])
    return x, t


def _fit(name: str, x, t, config: Config) -> np.ndarray:
    w = cr.tensor(np.zeros(3), requires_grad=True)  # (w1, w2, b)
    opt = optim.Adam([w], lr=config.lr)
    xb = cr.tensor(np.concatenate([x, np.ones((len(x), 1))], axis=1))
    tt = cr.tensor(t)
    for _ in range(config.steps):
        opt.zero_grad()
        _losses(name, xb @ w, tt).mean().backward()
        opt.step()
    return w.detach().numpy()


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)
    m = np.linspace(-3, 3, 601)
    ones = cr.tensor(np.ones_like(m))
    curves = {name: _losses(name, cr.tensor(m), ones).numpy() for name in LOSSES}
    zero_one = F.zero_one_loss(cr.tensor(m), ones, reduction="none").numpy()
    metrics: dict = {"surrogates": {}}
    for name in LOSSES:
        c = curves[name]
        metrics["surrogates"][name] = {
            "formula_error": float(np.abs(c - FORMULAS[name](m)).max()),
            "min_excess_over_zero_one": float((c - zero_one).min()),
            "min_second_difference": float(np.diff(c, 2).min()),
        }
    gen = rng(config.seed)
    x_test, t_test = _data(config, gen, 0.0, n=2000)
    fits = {}
    for setting, frac in (("clean", 0.0), ("outliers", config.outliers)):
        x, t = _data(config, gen, frac)
        for name in LOSSES:
            w = _fit(name, x, t, config)
            acc = float((np.sign(x_test @ w[:2] + w[2]) == t_test).mean())
            metrics.setdefault(setting, {})[name] = acc
            fits[(setting, name)] = w
        fits[setting] = (x, t)
    metrics["accuracy_drop"] = {
        name: metrics["clean"][name] - metrics["outliers"][name] for name in LOSSES
    }
    return Result(metrics, {"m": m, "curves": curves, "zero_one": zero_one, "fits": fits})


def check(result: Result) -> list:
    s, drop = result.metrics["surrogates"], result.metrics["accuracy_drop"]
    checks = []
    for name in LOSSES:
        # float64 against the closed form (softplus and exp round differently by ulps)
        checks.append(
            at_most(f"{name}: max |chainrule loss - formula|", s[name]["formula_error"], 1e-12)
        )
        # Convexity on the grid: second differences non-negative, up to rounding.
        checks.append(
            at_least(
                f"{name}: smallest second difference on the grid",
                s[name]["min_second_difference"],
                -1e-12,
            )
        )
    checks += [
        at_least(
            f"{n} - 0-1 loss, smallest over the margins", s[n]["min_excess_over_zero_one"], 0.0
        )
        for n in ("hinge", "log", "exponential", "squared")
    ]
    checks.append(
        holds(
            "the perceptron loss dips below the 0-1 loss (not an upper bound)",
            s["perceptron"]["min_excess_over_zero_one"] < 0,
            s["perceptron"]["min_excess_over_zero_one"],
            "< 0",
        )
    )
    clean = result.metrics["clean"]
    checks.append(
        at_least("clean data: lowest test accuracy over the surrogates", min(clean.values()), 0.95)
    )
    for name in ("hinge", "log"):
        checks.append(
            at_least(
                f"accuracy lost to the outliers, exponential minus {name}",
                drop["exponential"] - drop[name],
                0.02,  # 80 of the 4,000 test points
            )
        )
    return checks


def plot(result: Result, out_dir) -> list:
    t, metrics = result.traces, result.metrics
    fig, (ax1, ax2, ax3) = plotting.figure(3, width=3.9, height=3.4)
    m = t["m"]
    ax1.plot(m, t["zero_one"], color="k", lw=2, label="0-1")
    for name in LOSSES:
        ax1.plot(m, t["curves"][name], lw=1.3, label=name)
    ax1.set_ylim(0, 4)
    ax1.set(xlabel="margin m = t·y", ylabel="loss", title="surrogates of the 0-1 loss")
    ax1.legend(fontsize=7)
    for ax, setting in ((ax2, "clean"), (ax3, "outliers")):
        x, labels = t["fits"][setting]
        ax.scatter(
            x[labels > 0, 0], x[labels > 0, 1], s=8, c="0.55", marker="o", alpha=0.5, label="t = +1"
        )
        ax.scatter(
            x[labels < 0, 0],
            x[labels < 0, 1],
            s=10,
            c="0.25",
            marker="x",
            alpha=0.5,
            lw=0.8,
            label="t = −1",
        )
        xs = np.linspace(-10, 6, 2)
        for k, name in enumerate(LOSSES):
            w = t["fits"][(setting, name)]
            if abs(w[1]) > 1e-9:
                ax.plot(
                    xs,
                    -(w[0] * xs + w[2]) / w[1],
                    lw=1.5,
                    color=plotting.COLORS[k],
                    label=f"{name} ({metrics[setting][name]:.3f})",
                )
        ax.set_xlim(-10, 6)
        ax.set_ylim(-4, 4)
        ax.set(xlabel="x₁", ylabel="x₂", title=f"{setting}: boundaries (test accuracy)")
        ax.legend(fontsize=6, loc="upper left", framealpha=0.9)
    return [plotting.save(fig, out_dir, "loss-surrogates")]
