"""Minimising the structural risk, empirical risk + λ·penalty, trades one for the other as
λ grows: the empirical risk (training loss) rises, the penalty ½‖W‖² falls, and the test
error is U-shaped: too small a λ overfits, too large a λ underfits, and a middle λ beats
both ends.

docs/fundamentals.md §6, "Empirical and structural risk", has the argument: the
structural risk is the data loss plus an L0, L1 or L2 penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_most
from chainrule.lab.experiments._common import mlp, noisy_digits
from chainrule.nn import functional as F

__all__ = ["DERIVATION", "LAMBDAS", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "structural-risk"
SECTION = 6
DERIVATION = """
For each λ the trained weights w_λ minimise J_λ(w) = R(w) + λΩ(w), with R the empirical
risk and Ω = ½‖W‖². For λ < μ, optimality of each gives R(w_λ) + λΩ(w_λ) ≤ R(w_μ) + λΩ(w_μ)
and R(w_μ) + μΩ(w_μ) ≤ R(w_λ) + μΩ(w_λ); adding them, (μ − λ)(Ω(w_μ) − Ω(w_λ)) ≤ 0, so
Ω(w_μ) ≤ Ω(w_λ) and then R(w_μ) ≥ R(w_λ): the penalty falls and the empirical risk rises
with λ. The test error has no such order: it falls while the penalty removes what the
training set's noise taught, and rises once it removes what the data teaches. Training
only approximates each minimiser, so the orders are checked with a small slack.
"""

LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


@dataclass(frozen=True)
class Config(_Config):
    """A 64-``hidden``-10 ReLU MLP trained full-batch with Adam for ``steps`` steps per λ
    on ``n_train`` digits of which ``label_noise`` carry a wrong label (the premise of
    the U: few, noisy samples)."""

    n_train: int = 150
    label_noise: float = 0.2
    hidden: int = 128
    steps: int = 600
    lr: float = 3e-3


SMOKE = {"steps": 300}


def _weights(model) -> list:
    return [p for name, p in model.named_parameters() if name.endswith("weight")]


def run(config: Config) -> Result:
    data = noisy_digits(config.seed, config.n_train, config.label_noise)
    x, y = cr.tensor(data.x_train), cr.tensor(data.y_train)
    init = mlp((64, config.hidden, 10)).state_dict()
    risk, penalty, test_error, test_loss = [], [], [], []
    for lam in LAMBDAS:
        model = mlp((64, config.hidden, 10))
        model.load_state_dict(init)
        opt = optim.Adam(model.parameters(), lr=config.lr)
        for _ in range(config.steps):
            opt.zero_grad()
            (F.cross_entropy(model(x), y) + lam * F.l2_penalty(_weights(model))).backward()
            opt.step()
        with cr.no_grad():
            risk.append(F.cross_entropy(model(x), y).item())
            penalty.append(F.l2_penalty(_weights(model)).item())
            out = model(cr.tensor(data.x_test))
            test_error.append(float((out.numpy().argmax(1) != data.y_test).mean()))
            test_loss.append(F.cross_entropy(out, cr.tensor(data.y_test)).item())
    risk, penalty = np.array(risk), np.array(penalty)
    # J_i(w_j): each λ's structural risk at every trained model.
    lam = np.array(LAMBDAS)
    objective = risk[None, :] + lam[:, None] * penalty[None, :]
    own = np.diag(objective)
    best_other = objective.min(axis=1)
    interior = test_error[1:-1]
    metrics = {
        "lambdas": list(LAMBDAS),
        "empirical_risk": risk.tolist(),
        "penalty": penalty.tolist(),
        "test_error": test_error,
        "test_loss": test_loss,
        "worst_risk_decrease": float(np.max(-np.diff(risk) / risk[:-1])),
        "worst_penalty_increase": float(np.max(np.diff(penalty) / penalty[:-1])),
        "own_objective_excess": float(np.max((own - best_other) / best_other)),
        "best_lambda": LAMBDAS[int(np.argmin(test_error))],
        "best_interior_error_over_ends": float(min(interior) / min(test_error[0], test_error[-1])),
    }
    return Result(metrics, {})


def check(result: Result) -> list:
    m = result.metrics
    # Adam stops near, not at, each minimiser: allow 2% of slack in the orders.
    return [
        at_most(
            "largest relative fall of the empirical risk from one λ to the next (negative: it only rose)",
            m["worst_risk_decrease"],
            0.02,
        ),
        at_most(
            "largest relative rise of the penalty from one λ to the next (negative: it only fell)",
            m["worst_penalty_increase"],
            0.02,
        ),
        at_most(
            "largest excess of a model's own J_λ over the best J_λ among all trained models",
            m["own_objective_excess"],
            0.02,
        ),
        at_most(
            "best test error at an interior λ / the better of the two ends",
            m["best_interior_error_over_ends"],
            0.8,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    m = result.metrics
    lam = np.array(m["lambdas"])
    x = np.where(lam > 0, lam, lam[1] / 3)  # λ = 0 drawn a third of a decade left of the rest
    fig, (ax1, ax2) = plotting.figure(2, width=4.6, height=3.4)
    ax1.loglog(x, m["empirical_risk"], "o-", label="empirical risk (training loss)")
    ax1.loglog(x, np.array(m["penalty"]) * np.where(lam > 0, lam, np.nan), "s-", label="λ · ½‖W‖²")
    ax1.loglog(x, m["penalty"], "^--", label="½‖W‖² (its own scale)")
    ax1.set_xlabel("λ (log scale; the leftmost point is λ = 0)")
    ax1.set_ylabel("value (log scale)")
    ax1.set_title("the two parts of the structural risk")
    ax1.legend(fontsize=7)
    ax2.semilogx(x, m["test_error"], "o-", color="#D55E00", label="test error (0-1)")
    ax2.semilogx(x, m["test_loss"], "s--", color="#0072B2", label="test loss")
    ax2.axvline(
        m["best_lambda"] if m["best_lambda"] > 0 else x[0],
        color="k",
        ls=":",
        label=f"best λ = {m['best_lambda']:g}",
    )
    ax2.set_xlabel("λ (log scale; the leftmost point is λ = 0)")
    ax2.set_ylabel("test error / test loss")
    ax2.set_title("too little and too much regularisation")
    ax2.legend(fontsize=7)
    return [plotting.save(fig, out_dir, "structural-risk")]
