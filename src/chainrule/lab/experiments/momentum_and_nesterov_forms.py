"""Momentum in its velocity form (v = μv − lr·dx; x = x + v) and PyTorch's (b = μb + dx;
θ = θ − lr·b) produce the same iterates while the learning rate is constant and different
ones under a schedule; Nesterov's look-ahead step, which takes the gradient at the
look-ahead point x + μv, equals its rewritten form (and PyTorch's nesterov=True), whose
parameters are those look-ahead points.

docs/fundamentals.md §4, "Momentum: two ways of writing it" and "Nesterov: the look-ahead,
rewritten", has the derivations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most
from chainrule.lab.experiments._common import rng

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "momentum-and-nesterov-forms"
SECTION = 4
DERIVATION = """
Momentum. Velocity form: v_t = μv_{t−1} − η_t g_t, x_t = x_{t−1} + v_t. PyTorch:
b_t = μb_{t−1} + g_t, θ_t = θ_{t−1} − η_t b_t. If η is constant, v_t = −η b_t by induction
(v_t = μ(−η b_{t−1}) − η g_t = −η b_t), so x_t = θ_t. If η changes, the velocity v still
holds the old rates while PyTorch multiplies the whole buffer by the new one:
v_t = −Σ_s μ^{t−s} η_s g_s against η_t b_t = Σ_s μ^{t−s} η_t g_s. Nesterov. Look-ahead form:
x̃ = x + μv, v ← μv − η ∇f(x̃), x ← x + v.
Rewritten with the stored variable y = x + μv (the look-ahead point itself):
y_t = y_{t−1} − μ v_{t−1} + (1 + μ) v_t, with the gradient taken at y, where the backward
pass already computed it. PyTorch's form, b = μb + g, θ = θ − η(g + μb), is the same
recursion with θ = y and v = −ηb.
"""


@dataclass(frozen=True)
class Config(_Config):
    """A least-squares problem of ``dim`` unknowns from ``rows`` equations, ``steps``
    steps at rate ``lr`` with momentum ``mu``; the schedule halves the rate every
    ``step_size`` steps."""

    dim: int = 8
    rows: int = 40
    steps: int = 120
    lr: float = 0.05
    mu: float = 0.9
    step_size: int = 15
    gamma: float = 0.5


SMOKE = {"steps": 60}


class _Problem:
    """f(w) = |A w − b|² / (2 rows), its gradient by chainrule's autograd."""

    def __init__(self, config: Config) -> None:
        gen = rng(config.seed)
        self.a = cr.tensor(gen.standard_normal((config.rows, config.dim)))
        self.b = cr.tensor(gen.standard_normal(config.rows))
        self.x0 = gen.standard_normal(config.dim)

    def loss(self, w: cr.Tensor) -> cr.Tensor:
        r = self.a @ w - self.b
        return (r * r).sum() / (2 * r.shape[0])

    def grad(self, x: np.ndarray) -> np.ndarray:
        w = cr.tensor(x, requires_grad=True)
        self.loss(w).backward()
        return w.grad.numpy()


def _rates(config: Config, scheduled: bool) -> list[float]:
    if not scheduled:
        return [config.lr] * config.steps
    return [config.lr * config.gamma ** (t // config.step_size) for t in range(config.steps)]


def _sheet_momentum(p: _Problem, rates, mu) -> np.ndarray:
    x, v, path = p.x0.copy(), np.zeros_like(p.x0), []
    for lr in rates:
        v = mu * v - lr * p.grad(x)
        x = x + v
        path.append(x)
    return np.array(path)


def _sheet_nesterov(p: _Problem, rates, mu) -> tuple[np.ndarray, np.ndarray]:
    """The look-ahead form; returns the x iterates and the look-ahead points x + μv."""
    x, v, xs, ahead = p.x0.copy(), np.zeros_like(p.x0), [], []
    for lr in rates:
        v = mu * v - lr * p.grad(x + mu * v)
        x = x + v
        xs.append(x)
        ahead.append(x + mu * v)
    return np.array(xs), np.array(ahead)


def _rewritten_nesterov(p: _Problem, rates, mu) -> np.ndarray:
    y, v, path = p.x0.copy(), np.zeros_like(p.x0), []
    for lr in rates:
        v_prev = v
        v = mu * v - lr * p.grad(y)
        y = y - mu * v_prev + (1 + mu) * v
        path.append(y)
    return np.array(path)


def _pytorch(p: _Problem, rates, mu, nesterov: bool) -> np.ndarray:
    w = cr.tensor(p.x0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=rates[0], momentum=mu, nesterov=nesterov)
    path = []
    for lr in rates:
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad()
        p.loss(w).backward()
        opt.step()
        path.append(w.detach().numpy().copy())
    return np.array(path)


def _gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per step, max |a - b| relative to max |b|."""
    return np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)
    p = _Problem(config)
    mu = config.mu
    gaps = {}
    for scheduled in (False, True):
        rates = _rates(config, scheduled)
        key = "schedule" if scheduled else "constant"
        gaps[f"momentum_{key}"] = _gap(_sheet_momentum(p, rates, mu), _pytorch(p, rates, mu, False))
        _, ahead = _sheet_nesterov(p, rates, mu)
        rewritten = _rewritten_nesterov(p, rates, mu)
        gaps[f"rewritten_vs_lookahead_{key}"] = _gap(rewritten, ahead)
        gaps[f"pytorch_nesterov_vs_rewritten_{key}"] = _gap(_pytorch(p, rates, mu, True), rewritten)
    metrics = {f"max_gap_{k}": float(v.max()) for k, v in gaps.items()}
    metrics["mu"] = mu
    return Result(metrics, gaps)


def check(result: Result) -> list:
    m = result.metrics
    # float64 over about a hundred steps: the forms round differently, by ulps each step.
    tol = 1e-12
    return [
        at_most(
            "constant lr: velocity-form momentum vs PyTorch's, max relative gap",
            m["max_gap_momentum_constant"],
            tol,
        ),
        at_least(
            "StepLR schedule: velocity-form momentum vs PyTorch's, max relative gap",
            m["max_gap_momentum_schedule"],
            1e-3,
        ),
        at_most(
            "constant lr: rewritten Nesterov vs look-ahead points x + μv",
            m["max_gap_rewritten_vs_lookahead_constant"],
            tol,
        ),
        at_most(
            "schedule: rewritten Nesterov vs look-ahead points (a change of variable, any lr)",
            m["max_gap_rewritten_vs_lookahead_schedule"],
            tol,
        ),
        at_most(
            "constant lr: PyTorch's nesterov=True vs rewritten Nesterov",
            m["max_gap_pytorch_nesterov_vs_rewritten_constant"],
            tol,
        ),
        at_least(
            "StepLR schedule: PyTorch's nesterov=True vs the rewritten look-ahead form",
            m["max_gap_pytorch_nesterov_vs_rewritten_schedule"],
            1e-3,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    floor = 1e-17  # exact agreement is drawn at this floor on the log axis
    t = result.traces
    fig, (ax1, ax2) = plotting.figure(2, width=4.6)
    steps = np.arange(1, len(t["momentum_constant"]) + 1)
    ax1.semilogy(steps, np.maximum(t["momentum_constant"], floor), label="constant lr")
    ax1.semilogy(steps, np.maximum(t["momentum_schedule"], floor), label="lr × γ every few steps")
    ax1.set_xlabel("step")
    ax1.set_ylabel("max |x_velocity − θ_PyTorch| / max |θ|")
    ax1.set_title("momentum: velocity form vs PyTorch's")
    ax1.legend()
    ax2.semilogy(
        steps,
        np.maximum(t["rewritten_vs_lookahead_constant"], floor),
        label="rewritten vs x + μv (constant lr)",
    )
    ax2.semilogy(
        steps,
        np.maximum(t["pytorch_nesterov_vs_rewritten_constant"], floor),
        ls="--",
        label="PyTorch vs rewritten (constant lr)",
    )
    ax2.semilogy(
        steps,
        np.maximum(t["pytorch_nesterov_vs_rewritten_schedule"], floor),
        label="PyTorch vs rewritten (schedule)",
    )
    ax2.set_xlabel("step")
    ax2.set_ylabel("max relative gap (floor 1e-17)")
    ax2.set_title("Nesterov: three ways of writing it")
    ax2.legend()
    return [plotting.save(fig, out_dir, "momentum-and-nesterov-forms")]
