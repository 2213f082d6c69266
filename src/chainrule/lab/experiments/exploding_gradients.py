"""With large initial weights, the gradient reaching each layer's output, ∂L/∂a, grows
geometrically from the output toward the input, and plain SGD on such a network diverges;
clipping the gradient's norm before each step tames it, and the same network then trains.

docs/fundamentals.md §2, "Exploding gradients", derives it: the same product of layer
factors, with large weights in the non-saturated region.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, holds
from chainrule.lab.experiments._common import digits, rng

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "exploding-gradients"
SECTION = 2
DERIVATION = """
Backward through a ReLU layer, ∂L/∂a_{l−1} = W_lᵀ (ReLU'(z_l) ⊙ ∂L/∂a_l). With weights of
variance g²·2/fan_in (He's variance times g²), half the units active and independent signs,
E‖∂L/∂a_{l−1}‖² ≈ g² E‖∂L/∂a_l‖²: each layer multiplies the gradient's norm by about g.
For g = 1 (He) it is kept; for g = 2 it doubles per layer, 2^L over L layers, and the first
layers receive steps that throw the network far from where the gradient was measured:
the loss jumps, overflows, and turns into nan. Clipping rescales the whole gradient to a
norm of at most c, so every step moves the parameters by at most lr·c.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``gain``: the weights' standard deviation relative to He's (the premise: > 1);
    ``depth`` hidden ReLU layers of ``width``; ``steps`` SGD steps at ``lr``, plain and
    with the gradient's norm clipped to ``clip``."""

    gain: float = 2.0
    depth: int = 10
    width: int = 64
    steps: int = 400
    lr: float = 0.01
    clip: float = 1.0


SMOKE = {"steps": 120}


def _net(config: Config):
    sizes = [64] + [config.width] * config.depth
    layers = []
    for fan_in, fan_out in pairwise(sizes):
        layer = nn.Linear(fan_in, fan_out)
        nn.init.normal_(layer.weight, std=config.gain * math.sqrt(2.0 / fan_in))
        nn.init.zeros_(layer.bias)
        layers += [layer, nn.ReLU()]
    layers.append(nn.Linear(config.width, 10))
    return nn.Sequential(*layers)


def _activation_gradients(net, x, y) -> list[float]:
    """‖∂L/∂a_l‖ for the output a_l of each hidden layer, first to last."""
    kept = []
    a = cr.tensor(x)
    for module in net:
        a = module(a)
        if isinstance(module, nn.ReLU):
            a.retain_grad()
            kept.append(a)
    nn.functional.cross_entropy(a, cr.tensor(y)).backward()
    return [float(np.linalg.norm(t.grad.numpy())) for t in kept]


def _train(net, data, config: Config, clip: float | None) -> np.ndarray:
    opt = optim.SGD(net.parameters(), lr=config.lr)
    gen = rng(config.seed, 4)
    losses = []
    for _ in range(config.steps):
        idx = gen.integers(len(data.x_train), size=32)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(
            net(cr.tensor(data.x_train[idx])), cr.tensor(data.y_train[idx])
        )
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            break  # diverged: nothing left to learn from
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
    return np.array(losses + [np.nan] * (config.steps - len(losses)))


def _growth(norms: list[float]) -> tuple[float, float]:
    """Per-layer growth factor toward the input, from a line fit to log ‖∂L/∂a_l‖, and R²."""
    layers = np.arange(len(norms))
    logs = np.log(norms)
    slope, intercept = np.polyfit(layers, logs, 1)
    fit = slope * layers + intercept
    r2 = 1 - ((logs - fit) ** 2).sum() / ((logs - logs.mean()) ** 2).sum()
    return float(np.exp(-slope)), float(r2)


def run(config: Config) -> Result:
    data = digits(config.seed)
    pick = rng(config.seed, 2).choice(len(data.x_train), size=256, replace=False)
    metrics, traces = {}, {}
    with np.errstate(over="ignore", invalid="ignore"):
        for name, gain in (("large", config.gain), ("he", 1.0)):
            cr.manual_seed(config.seed)
            net = _net(Config(gain=gain, depth=config.depth, width=config.width))
            norms = _activation_gradients(net, data.x_train[pick], data.y_train[pick])
            growth, r2 = _growth(norms)
            metrics[f"growth_per_layer_{name}"] = growth
            metrics[f"fit_r2_{name}"] = r2
            metrics[f"first_over_last_{name}"] = norms[0] / norms[-1]
            traces[f"norms_{name}"] = norms
        cr.manual_seed(config.seed)
        init = _net(config).state_dict()
        curves = {}
        for name, clip in (("plain", None), ("clipped", config.clip)):
            net = _net(config)
            net.load_state_dict(init)
            curves[name] = _train(net, data, config, clip)
    plain, clipped = curves["plain"], curves["clipped"]
    finite = np.isfinite(plain)
    start = float(clipped[:10].mean())
    metrics.update(
        {
            "plain_initial_loss": float(plain[0]),
            "plain_max_loss": float(np.nanmax(plain)),
            "plain_first_nonfinite_step": int(np.argmin(finite)) + 1 if not finite.all() else None,
            "plain_final_loss": float(plain[-1]) if finite[-1] else "nan",
            "clipped_initial_loss": start,
            "clipped_final_loss": float(clipped[-20:].mean()),
            "clipped_all_finite": bool(np.isfinite(clipped).all()),
        }
    )
    traces.update(curves)
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    diverged = (
        m["plain_first_nonfinite_step"] is not None
        or m["plain_max_loss"] > 100 * m["plain_initial_loss"]
    )
    return [
        # Geometric growth: a constant factor per layer (a straight line on a log axis).
        at_least(
            "large init: growth of ‖∂L/∂a‖ per layer toward the input",
            m["growth_per_layer_large"],
            1.5,
        ),
        at_least("large init: R² of a straight-line fit of log ‖∂L/∂a_l‖", m["fit_r2_large"], 0.95),
        holds(
            "plain SGD from the large init diverges (nan/inf, or a loss 100x the initial)",
            diverged,
            f"first non-finite step {m['plain_first_nonfinite_step']}, max loss {m['plain_max_loss']:.3g}",
            "divergence",
        ),
        holds(
            "clipped SGD: every loss finite",
            m["clipped_all_finite"],
            m["clipped_all_finite"],
            "yes",
        ),
        at_least(
            "clipped SGD: initial loss / final loss (mean of the last 20 steps)",
            m["clipped_initial_loss"] / m["clipped_final_loss"],
            2.0,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, (ax1, ax2) = plotting.figure(2, width=4.6)
    for key, label in (("large", "large init (gain 2 × He)"), ("he", "He init")):
        growth = m[f"growth_per_layer_{key}"]
        plotting.numbered(ax1, t[f"norms_{key}"], log=True, label=f"{label}: ×{growth:.2f}/layer")
    ax1.set(
        xlabel="hidden layer (1 = next to the input)",
        ylabel="‖∂L/∂a_l‖ (log scale)",
        title="gradient at each layer's output",
    )
    ax1.legend()
    plotting.numbered(ax2, t["plain"], "-", log=True, label="plain SGD")
    plotting.numbered(ax2, t["clipped"], "-", log=True, label="SGD, gradient norm clipped to 1")
    if m["plain_first_nonfinite_step"]:
        ax2.axvline(
            m["plain_first_nonfinite_step"],
            color="#D55E00",
            ls=":",
            label="plain: loss becomes nan/inf",
        )
    ax2.set(
        xlabel="step", ylabel="mini-batch loss (log scale)", title="training from the large init"
    )
    ax2.legend()
    return [plotting.save(fig, out_dir, "exploding-gradients")]
