"""Each common activation and its derivative, with their ranges: sigmoid in (0, 1) with a
derivative of at most 1/4, tanh in (−1, 1) with a derivative of at most 1, ReLU's
derivative 0 or 1, and the variants (leaky ReLU, ELU, GELU, SiLU, softplus) in between.

docs/fundamentals.md §3, "Activations", derives each derivative (sigmoid, tanh and the
ReLU family).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf, expit

import chainrule as cr
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_most, between, holds
from chainrule.nn import functional as F

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "TABLE", "Config", "check", "plot", "run"]

NAME = "activations"
SECTION = 3
DERIVATION = """
σ(x) = 1/(1 + e^−x) has σ' = σ(1 − σ): a product of two numbers in (0, 1) that sum to 1,
so at most 1/4, reached at x = 0. tanh(x) = 2σ(2x) − 1 has tanh' = 1 − tanh², at most 1.
ReLU's derivative is 1 for x > 0 and 0 for x < 0 (chainrule, like PyTorch, takes 0 at
x = 0); leaky ReLU keeps a slope a for x < 0; ELU is α(e^x − 1) there, so it stays above
−α with derivative α e^x; GELU is x Φ(x) with derivative Φ(x) + x φ(x); SiLU is x σ(x) with
derivative σ(x)(1 + x(1 − σ(x))); softplus log(1 + e^x) has derivative σ(x). Only the
saturating ones (sigmoid, tanh) have derivatives that vanish at both ends.
"""


def _phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _cdf(x):
    return 0.5 * (1 + erf(x / math.sqrt(2)))


# name -> (chainrule function, closed-form value, closed-form derivative,
#          range of values, range of the derivative): the mathematical ranges over all
#          real x; the grid's values must lie inside them. GELU's and SiLU's extremes are
#          the constants at their stationary points, rounded outwards.
INF = np.inf
TABLE = {
    "sigmoid": (
        F.sigmoid,
        expit,
        lambda x: expit(x) * (1 - expit(x)),
        (0.0, 1.0),
        (0.0, 0.25),
    ),
    "tanh": (F.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2, (-1.0, 1.0), (0.0, 1.0)),
    "relu": (F.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, (0.0, INF), (0.0, 1.0)),
    "leaky_relu": (
        F.leaky_relu,
        lambda x: np.where(x > 0, x, 0.01 * x),
        lambda x: np.where(x > 0, 1.0, 0.01),
        (-INF, INF),
        (0.01, 1.0),
    ),
    "elu": (
        F.elu,
        lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))),
        (-1.0, INF),
        (0.0, 1.0),
    ),
    "gelu": (
        F.gelu,
        lambda x: x * _cdf(x),
        lambda x: _cdf(x) + x * _phi(x),
        (-0.17, INF),
        (-0.1290, 1.1290),
    ),
    "silu": (
        F.silu,
        lambda x: x * expit(x),
        lambda x: expit(x) * (1 + x * (1 - expit(x))),
        (-0.2785, INF),
        (-0.0999, 1.0999),
    ),
    "softplus": (F.softplus, lambda x: np.logaddexp(0, x), expit, (0.0, INF), (0.0, 1.0)),
}


@dataclass(frozen=True)
class Config(_Config):
    """``points``: grid size on [−``limit``, ``limit``]."""

    points: int = 2401
    limit: float = 6.0


SMOKE = {"points": 481}


def run(config: Config) -> Result:
    grid = np.linspace(-config.limit, config.limit, config.points)
    metrics, traces = {}, {"x": grid}
    for name, (fn, value, derivative, _, _) in TABLE.items():
        x = cr.tensor(grid, dtype=cr.float64, requires_grad=True)
        y = fn(x)
        y.sum().backward()  # each y_i depends on x_i only: the gradient is f'(x_i)
        y_np, dy_np = y.detach().numpy(), x.grad.numpy()
        metrics[name] = {
            "min": float(y_np.min()),
            "max": float(y_np.max()),
            "deriv_min": float(dy_np.min()),
            "deriv_max": float(dy_np.max()),
            "deriv_argmax": float(grid[np.argmax(dy_np)]),
            "value_error": float(np.abs(y_np - value(grid)).max()),
            "deriv_error": float(np.abs(dy_np - derivative(grid)).max()),
        }
        traces[name] = (y_np, dy_np)
    metrics["relu_derivative_values"] = sorted({float(v) for v in traces["relu"][1]})
    return Result(metrics, traces)


def check(result: Result) -> list:
    checks = []
    for name, (_, _, _, (lo, hi), (dlo, dhi)) in TABLE.items():
        m = result.metrics[name]
        # float64: the closed forms and autograd's rules round differently, by a few ulps.
        checks.append(at_most(f"{name}: max |autograd f' - closed form|", m["deriv_error"], 1e-12))
        checks.append(at_most(f"{name}: max |f - closed form|", m["value_error"], 1e-12))
        checks.append(
            holds(
                f"{name}: values inside its range over all x",
                lo <= m["min"] and m["max"] <= hi,
                f"[{m['min']:.4g}, {m['max']:.4g}]",
                f"inside [{lo:g}, {hi:g}]",
            )
        )
        checks.append(
            holds(
                f"{name}: derivatives inside their range over all x",
                dlo <= m["deriv_min"] and m["deriv_max"] <= dhi,
                f"[{m['deriv_min']:.4g}, {m['deriv_max']:.4g}]",
                f"inside [{dlo:g}, {dhi:g}]",
            )
        )
    steps = result.metrics["relu_derivative_values"]
    checks.append(
        holds(
            "ReLU's derivative takes only the values 0 and 1", steps == [0.0, 1.0], steps, "[0, 1]"
        )
    )
    s = result.metrics["sigmoid"]
    # The bound 1/4 is attained at x = 0 (on the grid): equal to it up to rounding.
    checks.append(between("largest sigmoid derivative", s["deriv_max"], 0.25 - 1e-15, 0.25))
    checks.append(at_most("where it is attained, |x|", abs(s["deriv_argmax"]), 1e-12))
    return checks


def plot(result: Result, out_dir) -> list:
    x = result.traces["x"]
    fig, axes = plotting.figure(4, 2, width=2.9, height=2.5)
    for ax, name in zip(axes, TABLE):
        y, dy = result.traces[name]
        m = result.metrics[name]
        ax.plot(x, y, label="f(x)")
        ax.plot(x, dy, ls="--", label="f'(x)")
        ax.axhline(0, color="k", lw=0.5)
        if name == "sigmoid":
            ax.axhline(0.25, color="k", ls=":", lw=1, label="1/4")
        ax.set_title(f"{name}: f' in [{m['deriv_min']:.3g}, {m['deriv_max']:.3g}]", fontsize=9)
        fig.suptitle("activations f (solid) and their derivatives f' from autograd (dashed)")
        ax.set_ylim(-1.3, 2.5)
        ax.set(xlabel="x", ylabel="value")
        ax.legend(loc="upper left")
    return [plotting.save(fig, out_dir, "activations")]
