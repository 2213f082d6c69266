"""On a real task (an MLP on the digits) and over several seeds, momentum and Nesterov
reach a given training loss in at most half of plain SGD's epochs at the same learning
rate, every rule (Adagrad, RMSprop, Adam and AdamW at their customary rates too) trains
the network, and the seeds' spread is visible: one seed alone would not show which
differences are real.

docs/fundamentals.md §4, "Parameter updates", has the update rules, here raced on a network
rather than a function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most
from chainrule.lab.experiments._common import (
    OPTIMIZERS,
    digits,
    evaluate,
    mlp,
    optimizer,
    rng,
    train_epoch,
)

__all__ = ["DERIVATION", "NAME", "RATES", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "optimizer-race"
SECTION = 4
DERIVATION = """
The same network, data and batches for every optimizer; only the update rule changes. Plain
SGD and the two momentum forms share one rate η, so the comparison isolates the velocity:
with μ = 0.9 the steady-state step along a consistent gradient is η/(1 − μ) = 10η. The
adaptive methods use their customary rates (1e-3 for RMSprop and Adam, whose steps are
about η per coordinate whatever the gradient's scale). Each curve is the mean over seeds,
with a band of ± one standard deviation; a difference smaller than the bands is not one.
"""

RATES = {
    "SGD": 0.05,
    "Momentum": 0.05,
    "Nesterov": 0.05,
    "Adagrad": 0.05,
    "RMSprop": 1e-3,
    "Adam": 1e-3,
    "AdamW": 1e-3,
}


@dataclass(frozen=True)
class Config(_Config):
    """``seeds`` runs per optimizer of ``epochs`` epochs, batch 32, on a 64-``hidden``-10
    ReLU MLP; ``target``: the training loss whose epoch is compared; ``momentum``: for
    Momentum and Nesterov (0 removes the premise)."""

    seeds: int = 5
    epochs: int = 40
    hidden: int = 64
    n_train: int | None = None
    target: float = 0.1
    momentum: float = 0.9


SMOKE = {"seeds": 2, "epochs": 10, "target": 0.3}


def _epochs_to(curve: np.ndarray, target: float) -> float:
    hit = np.nonzero(curve <= target)[0]
    return float(hit[0] + 1) if hit.size else float(len(curve) + 1)


def run(config: Config) -> Result:
    loss_fn = nn.functional.cross_entropy
    curves = {name: {"loss": [], "val": []} for name in OPTIMIZERS}
    for k in range(config.seeds):
        seed = config.seed * 1000 + k
        data = digits(seed, n_train=config.n_train)
        cr.manual_seed(seed)
        init = mlp((64, config.hidden, 10)).state_dict()
        for name in OPTIMIZERS:
            model = mlp((64, config.hidden, 10))
            model.load_state_dict(init)
            opt = optimizer(name, model.parameters(), RATES[name])
            if name in ("Momentum", "Nesterov"):
                opt.param_groups[0]["momentum"] = config.momentum
                opt.param_groups[0]["nesterov"] = name == "Nesterov" and config.momentum > 0
            gen = rng(seed, 5)  # the same batches for every optimizer of this seed
            losses, vals = [], []
            for _ in range(config.epochs):
                losses.append(train_epoch(model, loss_fn, opt, data.x_train, data.y_train, 32, gen))
                vals.append(evaluate(model, loss_fn, data.x_val, data.y_val)[1])
            curves[name]["loss"].append(losses)
            curves[name]["val"].append(vals)
    metrics, traces = {}, {}
    for name in OPTIMIZERS:
        loss = np.array(curves[name]["loss"])
        val = np.array(curves[name]["val"])
        reach = [_epochs_to(c, config.target) for c in loss]
        metrics[name] = {
            "lr": RATES[name],
            "epochs_to_target_mean": float(np.mean(reach)),
            "final_train_loss_mean": float(loss[:, -1].mean()),
            "final_val_accuracy_mean": float(val[:, -1].mean()),
            "final_val_accuracy_std": float(val[:, -1].std()),
        }
        traces[name] = (loss, val)
    metrics["epochs"] = config.epochs
    metrics["target"] = config.target
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    sgd = m["SGD"]["epochs_to_target_mean"]
    checks = [
        at_most(
            f"{name}: epochs to the target loss / SGD's (same lr, mean over seeds)",
            m[name]["epochs_to_target_mean"] / sgd,
            0.5,
        )
        for name in ("Momentum", "Nesterov")
    ]
    # Every rule trains the network: well above the 10% of chance on held-out digits.
    worst = min(m[name]["final_val_accuracy_mean"] for name in OPTIMIZERS)
    checks.append(at_least("lowest final validation accuracy over the optimizers", worst, 0.8))
    spread = max(m[name]["final_val_accuracy_std"] for name in OPTIMIZERS)
    checks.append(at_least("largest std of the final accuracy over seeds", spread, 1e-4))
    return checks


def plot(result: Result, out_dir) -> list:
    t = result.traces
    fig, (ax1, ax2) = plotting.figure(2, width=4.8, height=3.6)
    for name in OPTIMIZERS:
        loss, val = t[name]
        epochs = np.arange(1, loss.shape[1] + 1)
        for ax, curve in ((ax1, loss), (ax2, val)):
            mean, std = curve.mean(0), curve.std(0)
            (line,) = ax.plot(epochs, mean, lw=1.3, label=name)
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    ax1.axhline(result.metrics["target"], color="k", ls=":", lw=0.8, label="target loss")
    ax1.set_yscale("log")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (log scale)")
    ax1.set_title(f"mean ± std over {t['SGD'][0].shape[0]} seeds")
    ax1.legend(fontsize=7)
    ax2.set(xlabel="epoch", ylabel="validation accuracy")
    ax2.set_ylim(0.5, 1.0)
    ax2.set_title("held-out digits")
    ax2.legend(fontsize=7, loc="lower right")
    return [plotting.save(fig, out_dir, "optimizer-race")]
