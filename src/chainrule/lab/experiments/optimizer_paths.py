"""On an ill-conditioned quadratic, momentum and Nesterov reach the minimum in at most half
of plain SGD's steps at the same learning rate; Adagrad gives the steep coordinate a
smaller rate than the flat one; near a saddle point, where the gradient is tiny, the
adaptive methods (Adagrad, RMSprop, Adam, AdamW) escape in at most half of SGD's steps; and on
Rosenbrock's curved valley momentum gets further than SGD in the same number of steps.

docs/fundamentals.md §4, "Parameter updates", has the table of update rules and why each
behaves so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most
from chainrule.lab.experiments._common import OPTIMIZERS, optimizer

__all__ = ["DERIVATION", "NAME", "OPTIMIZERS", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "optimizer-paths"
SECTION = 4
DERIVATION = """
On f = ½(x² + κy²) plain SGD with rate η contracts each coordinate by |1 − ηλ| per step
(λ = 1 and κ); stability in y needs η < 2/κ, and then x shrinks only by 1 − η per step:
about κ ln(1/tol) steps. Momentum accumulates the consistent x-gradient over about
1/(1 − μ) steps, so the slow direction moves up to 1/(1 − μ) times faster while the
oscillating y-gradient cancels in the average. Adagrad divides by √(Σ g²) per coordinate,
so the steep coordinate, whose gradients were large, gets the smaller rate. Near the
saddle of ½x² − ½y² + ¼y⁴ the y-gradient is about y itself: SGD grows y by the factor
1 + η per step, while RMSprop and Adam divide by the gradient's own size and move y by
about η per step from the first one.
"""


def _quadratic(kappa):
    return lambda w: 0.5 * (w[0] ** 2 + kappa * w[1] ** 2)


def _saddle(w):
    return 0.5 * w[0] ** 2 - 0.5 * w[1] ** 2 + 0.25 * w[1] ** 4


def _rosenbrock(w):
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


@dataclass(frozen=True)
class Config(_Config):
    """``kappa``: the quadratic's condition number (the premise of momentum's advantage:
    well above 1); ``steps``: per problem (quadratic, saddle, Rosenbrock)."""

    kappa: float = 50.0
    steps: tuple = (600, 300, 3000)


SMOKE = {"steps": (450, 150, 600)}


def _problems(config: Config) -> dict:
    """name -> (f, start, f at the minimum, tolerance on f - f*, learning rates)."""
    k = config.kappa
    return {
        "quadratic": (
            _quadratic(k),
            (-4.0, 1.0),
            0.0,
            1e-6,
            # SGD's best rate for the steep direction, 1/κ, shared by the momentum methods.
            {
                "SGD": 1 / k,
                "Momentum": 1 / k,
                "Nesterov": 1 / k,
                "Adagrad": 1.0,
                "RMSprop": 0.05,
                "Adam": 0.2,
                "AdamW": 0.2,
            },
        ),
        "saddle": (
            _saddle,
            (1.0, 1e-4),
            -0.25,
            1e-6,
            {
                "SGD": 0.1,
                "Momentum": 0.1,
                "Nesterov": 0.1,
                "Adagrad": 0.5,
                "RMSprop": 0.05,
                "Adam": 0.1,
                "AdamW": 0.1,
            },
        ),
        "rosenbrock": (
            _rosenbrock,
            (-1.2, 1.0),
            0.0,
            1e-4,
            {
                "SGD": 1e-3,
                "Momentum": 1e-3,
                "Nesterov": 1e-3,
                "Adagrad": 0.5,
                "RMSprop": 0.01,
                "Adam": 0.05,
                "AdamW": 0.05,
            },
        ),
    }


def _descend(f, start, name, lr, steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = cr.tensor(np.array(start), requires_grad=True)
    opt = optimizer(name, [w], lr)
    path, values, grads = [w.detach().numpy().copy()], [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(w)
        values.append(loss.item())
        loss.backward()
        grads.append(w.grad.numpy().copy())
        opt.step()
        path.append(w.detach().numpy().copy())
    values.append(f(w).item())
    return np.array(path), np.array(values), np.array(grads)


def _steps_to(values: np.ndarray, f_star: float, tol: float) -> int | None:
    hit = np.nonzero(values - f_star <= tol)[0]
    return int(hit[0]) if hit.size else None


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)
    metrics, traces = {}, {}
    for (problem, (f, start, f_star, tol, rates)), steps in zip(
        _problems(config).items(), config.steps
    ):
        per = {}
        for name in OPTIMIZERS:
            with np.errstate(over="ignore", invalid="ignore"):
                path, values, grads = _descend(f, start, name, rates[name], steps)
            per[name] = {
                "lr": rates[name],
                "steps_to_tolerance": _steps_to(values, f_star, tol),
                "final_gap": float(values[-1] - f_star),
            }
            if problem == "saddle":
                escaped = np.nonzero(path[:, 1] >= 0.5)[0]  # halfway from the saddle to y = 1
                per[name]["steps_to_escape"] = int(escaped[0]) if escaped.size else None
            if name == "Adagrad":
                cache = (grads**2).sum(axis=0)  # Adagrad's accumulator, by its definition
                per[name]["rate_x_over_rate_y"] = float(np.sqrt(cache[1] / cache[0]))
            traces[(problem, name)] = (path, values)
        metrics[problem] = per
        traces[problem] = (start, f_star, tol)
    metrics["steps"] = list(config.steps)
    return Result(metrics, traces)


def _steps(m: dict, name: str, budget: int, key: str = "steps_to_tolerance") -> float:
    s = m[name][key]
    # Not reached within the run: count it as one step past the budget, a lower bound.
    return float(budget + 1 if s is None else s)


def check(result: Result) -> list:
    q, s, r = (result.metrics[p] for p in ("quadratic", "saddle", "rosenbrock"))
    budget_q, budget_s, _ = result.metrics["steps"]
    checks = []
    for name in ("Momentum", "Nesterov"):
        checks.append(
            at_most(
                f"quadratic: {name}'s steps to tolerance / SGD's (same lr)",
                _steps(q, name, budget_q) / _steps(q, "SGD", budget_q),
                0.5,
            )
        )
    checks.append(
        at_least(
            "quadratic: Adagrad's rate on the flat coordinate / on the steep one",
            q["Adagrad"]["rate_x_over_rate_y"],
            2.0,
        )
    )
    for name in ("Adagrad", "RMSprop", "Adam", "AdamW"):
        checks.append(
            at_most(
                f"saddle: {name}'s steps to escape (y ≥ 0.5) / SGD's",
                _steps(s, name, budget_s, "steps_to_escape")
                / _steps(s, "SGD", budget_s, "steps_to_escape"),
                0.5,
            )
        )
    checks.append(
        at_most(
            "Rosenbrock: Momentum's final f - f* / SGD's (same lr, same steps)",
            r["Momentum"]["final_gap"] / r["SGD"]["final_gap"],
            0.1,
        )
    )
    return checks


def plot(result: Result, out_dir) -> list:
    t = result.traces
    titles = {
        "quadratic": "ill-conditioned quadratic",
        "saddle": "saddle ½x² − ½y² + ¼y⁴",
        "rosenbrock": "Rosenbrock",
    }
    views = {
        "quadratic": ((-4.5, 1.5), (-1.5, 1.5)),
        "saddle": ((-1.2, 1.2), (-0.5, 1.5)),
        "rosenbrock": ((-1.6, 1.6), (-0.6, 1.8)),
    }
    fig, axes = plotting.figure(3, width=4.0, height=3.6)
    problems = _problems(Config())
    for ax, problem in zip(axes, ("quadratic", "saddle", "rosenbrock")):
        (x0, x1), (y0, y1) = views[problem]
        gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        f = (
            problems[problem][0]
            if problem != "quadratic"
            else _quadratic(result.metrics["quadratic"]["SGD"]["lr"] ** -1)
        )
        z = f(np.stack([gx, gy]))
        levels = np.quantile(z, np.linspace(0.01, 0.95, 15))
        ax.contour(gx, gy, z, levels=np.unique(levels), colors="0.7", linewidths=0.6)
        for name in OPTIMIZERS:
            path, _ = t[(problem, name)]
            ax.plot(path[:, 0], path[:, 1], lw=1.2, label=name)
        start = t[problem][0]
        ax.plot(*start, "ko", ms=4)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set(xlabel="x", ylabel="y", title=titles[problem])
    axes[0].legend(loc="lower right", fontsize=7)
    paths = [plotting.save(fig, out_dir, "optimizer-paths")]

    fig, axes = plotting.figure(3, width=4.0, height=3.2)
    for ax, problem in zip(axes, ("quadratic", "saddle", "rosenbrock")):
        _, f_star, tol = t[problem]
        for name in OPTIMIZERS:
            _, values = t[(problem, name)]
            ax.semilogy(
                np.arange(len(values)), np.maximum(values - f_star, 1e-16), lw=1.2, label=name
            )
        ax.axhline(tol, color="k", ls=":", lw=0.8, label="tolerance")
        ax.set(xlabel="step", ylabel="f − f* (log scale, floor 1e-16)", title=titles[problem])
    axes[0].legend(fontsize=7)
    paths.append(plotting.save(fig, out_dir, "optimizer-paths-values"))
    return paths
