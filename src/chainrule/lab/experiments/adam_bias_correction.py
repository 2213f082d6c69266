"""Adam without bias correction (m and v used as they are) takes first steps of a different
size than the standard algorithm: (1 − β1^t)/√(1 − β2^t) times the corrected step, which
is √10 ≈ 3.16 at the first step with the defaults β = (0.9, 0.999), peaks near 6.6 around
step 11 and returns to 1 only after thousands of steps.

docs/fundamentals.md §4, "Adam and its bias correction", has the derivation; the form
without correction is Adam's three lines with m and v started at zero and used as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most, near
from chainrule.lab.experiments._common import digits, rng

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "adam-bias-correction"
SECTION = 4
DERIVATION = """
m and v start at 0, so after t steps of a constant gradient g, m_t = (1 − β1^t) g and
v_t = (1 − β2^t) g²: both are too small, by different factors. The uncorrected step
η m_t/(√v_t + ε) is therefore η g (1 − β1^t)/(√(1 − β2^t)|g| + ε), while the corrected step
divides m by 1 − β1^t and v by 1 − β2^t and is η g/(|g| + ε) ≈ η. Their ratio,
(1 − β1^t)/√(1 − β2^t), is (1 − β1)/√(1 − β2) = √10 at t = 1 for the defaults, rises while
β1^t decays faster than β2^t, and tends to 1 only once β2^t is small: t of several
thousand for β2 = 0.999.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``beta1``, ``beta2``, ``lr``: Adam's; ``steps``: the steps of the constant-gradient
    problem; ``train_steps``: the steps on the digits MLP."""

    beta1: float = 0.9
    beta2: float = 0.999
    lr: float = 1e-3
    steps: int = 5000
    train_steps: int = 300


SMOKE = {"steps": 1000, "train_steps": 60}


def _constant_gradient_steps(config: Config, bias_correction: bool) -> np.ndarray:
    """Step sizes of chainrule's Adam on f(x) = x, whose gradient is always 1."""
    x = cr.tensor([0.0], requires_grad=True)
    opt = optim.Adam(
        [x], lr=config.lr, betas=(config.beta1, config.beta2), bias_correction=bias_correction
    )
    steps = []
    for _ in range(config.steps):
        before = x.item()
        opt.zero_grad()
        x.sum().backward()
        opt.step()
        steps.append(before - x.item())
    return np.array(steps)


def _sheet_adam_numpy(config: Config, grads: list) -> np.ndarray:
    """Adam without bias correction, line for line, on a recorded sequence of gradients."""
    x, m, v, eps = np.zeros_like(grads[0]), 0.0, 0.0, 1e-8
    path = []
    for dx in grads:
        m = config.beta1 * m + (1 - config.beta1) * dx
        v = config.beta2 * v + (1 - config.beta2) * dx**2
        x = x - config.lr * m / (np.sqrt(v) + eps)
        path.append(x)
    return np.array(path)


def _train(config: Config, data, init: dict, bias_correction: bool):
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    model.load_state_dict(init)
    opt = optim.Adam(
        model.parameters(),
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        bias_correction=bias_correction,
    )
    gen = rng(config.seed, 1)
    losses, moves = [], []
    first = model[0].weight.numpy().copy()
    for _ in range(config.train_steps):
        idx = gen.integers(len(data.x_train), size=32)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(
            model(cr.tensor(data.x_train[idx])), cr.tensor(data.y_train[idx])
        )
        loss.backward()
        opt.step()
        losses.append(loss.item())
        moves.append(float(np.abs(model[0].weight.numpy() - first).max()))
    return np.array(losses), np.array(moves)


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)
    b1, b2, eps, lr = config.beta1, config.beta2, 1e-8, config.lr
    t = np.arange(1, config.steps + 1)
    corrected = _constant_gradient_steps(config, True)
    uncorrected = _constant_gradient_steps(config, False)
    # The predicted step sizes for g = 1, eps included.
    predicted_uncorrected = lr * (1 - b1**t) / (np.sqrt(1 - b2**t) + eps)
    predicted_corrected = np.full(len(t), lr / (1 + eps))  # m/c1 = g and √(v/c2) = |g|
    ratio = uncorrected / corrected
    near_one = np.nonzero(np.abs(ratio - 1) <= 0.01)[0]

    # chainrule's bias_correction=False against the uncorrected formulas on a real gradient path.
    gen = rng(config.seed)
    a, b = gen.standard_normal((30, 5)), gen.standard_normal(30)
    w = cr.tensor(np.zeros(5), requires_grad=True)
    opt = optim.Adam([w], lr=0.01, betas=(b1, b2), bias_correction=False)
    grads, path = [], []
    for _ in range(200):
        opt.zero_grad()
        r = cr.tensor(a) @ w - cr.tensor(b)
        (r * r).mean().backward()
        grads.append(w.grad.numpy().copy())
        opt.step()
        path.append(w.detach().numpy().copy())
    sheet_path = _sheet_adam_numpy(Config(beta1=b1, beta2=b2, lr=0.01), grads)
    cr.set_default_dtype(cr.float32)
    data = digits(config.seed)
    init = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).state_dict()
    loss_c, move_c = _train(config, data, init, True)
    loss_s, move_s = _train(config, data, init, False)
    metrics = {
        "first_step_corrected_over_lr": float(corrected[0] / lr),
        "first_step_sheet_over_lr": float(uncorrected[0] / lr),
        "predicted_first_ratio": (1 - b1) / math.sqrt(1 - b2),
        "max_ratio": float(ratio.max()),
        "step_of_max_ratio": int(t[np.argmax(ratio)]),
        "first_step_within_1pct_of_corrected": int(t[near_one[0]]) if near_one.size else None,
        "sheet_step_error": float(np.abs(uncorrected / predicted_uncorrected - 1).max()),
        "corrected_step_error": float(np.abs(corrected / predicted_corrected - 1).max()),
        "chainrule_vs_sheet_formulas": float(np.abs(np.array(path) - sheet_path).max()),
        "mlp_loss_after_10_steps": {
            "corrected": float(loss_c[:10].mean()),
            "sheet": float(loss_s[:10].mean()),
        },
        "mlp_weight_move_after_10_steps": {
            "corrected": float(move_c[9]),
            "sheet": float(move_s[9]),
        },
    }
    traces = {
        "ratio": ratio,
        "corrected": corrected,
        "sheet": uncorrected,
        "loss_corrected": loss_c,
        "loss_sheet": loss_s,
        "move_corrected": move_c,
        "move_sheet": move_s,
    }
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    return [
        # float64; a step is measured as the difference of two iterates up to 5 apart, so
        # its relative rounding is about 1e-16 * 5 / lr.
        at_most(
            "uncorrected Adam: max relative gap, measured steps vs prediction",
            m["sheet_step_error"],
            1e-11,
        ),
        at_most(
            "corrected Adam: max relative gap, measured steps vs prediction",
            m["corrected_step_error"],
            1e-11,
        ),
        at_most(
            "chainrule's Adam(bias_correction=False) vs the uncorrected formulas, 200 steps",
            m["chainrule_vs_sheet_formulas"],
            1e-12,
        ),
        # eps = 1e-8 in the denominator makes the steps smaller by about 1e-8 (relative).
        near("corrected first step / lr", m["first_step_corrected_over_lr"], 1.0, 1e-6),
        near(
            "uncorrected first step / lr, relative to (1 − β1)/√(1 − β2)",
            m["first_step_sheet_over_lr"] / m["predicted_first_ratio"],
            1.0,
            1e-6,
        ),
        # The claim: bias correction matters in the first steps (a factor, not a rounding).
        at_least("largest ratio of the uncorrected step to the corrected one", m["max_ratio"], 2.0),
        at_least(
            "digits MLP: first layer's largest weight change in 10 steps, uncorrected / corrected",
            m["mlp_weight_move_after_10_steps"]["sheet"]
            / m["mlp_weight_move_after_10_steps"]["corrected"],
            2.0,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, (ax1, ax2) = plotting.figure(2, width=4.6)
    steps = np.arange(1, len(t["ratio"]) + 1)
    ax1.semilogx(steps, t["ratio"], label="uncorrected step / corrected step")
    ax1.axhline(1, color="k", lw=0.6)
    ax1.plot(
        [m["step_of_max_ratio"]],
        [m["max_ratio"]],
        "o",
        label=f"max {m['max_ratio']:.2f} at step {m['step_of_max_ratio']}",
    )
    ax1.set(
        xlabel="step t (log scale)",
        ylabel="(1 − β1^t) / √(1 − β2^t)",
        title="constant gradient: step-size ratio",
    )
    ax1.legend()
    plotting.numbered(ax2, t["loss_corrected"], "-", label="Adam with bias correction")
    plotting.numbered(ax2, t["loss_sheet"], "-", label="Adam without bias correction")
    ax2.set_yscale("log")
    ax2.set(xlabel="step", ylabel="mini-batch loss (log scale)")
    ax2.set_title("first steps on the digits MLP, lr 1e-3")
    ax2.legend()
    return [plotting.save(fig, out_dir, "adam-bias-correction")]
