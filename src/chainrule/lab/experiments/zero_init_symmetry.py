"""Initialised with zeros or any constant, every hidden unit of a layer computes the same
thing and receives the same gradient, so the units stay identical through all of training
(one distinct unit per hidden layer, as cr.diagnostics.symmetry counts them) and the
network is no wider than one unit per layer;
random initialisation breaks the symmetry, and only it trains the network to a good
accuracy.

docs/fundamentals.md §1, "Why not zero initialisation", has the argument: parameters
must be initialised at random, never all zero, or the hidden units stay copies of each
other (the symmetry failure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, holds
from chainrule.lab.experiments._common import digits, evaluate, mlp, rng, train_epoch

__all__ = ["ARMS", "DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "zero-init-symmetry"
SECTION = 1
DERIVATION = """
Let the hidden units j and k of a layer have the same incoming weights and bias. They then
compute the same pre-activation z_j = z_k and activation a_j = a_k for every input. If
every outgoing weight is the same too (w_ij = w_ik for each unit i above, as a constant
initialisation makes them), the residuals are equal: δ_j = f'(z_j) Σ_i w_ij δ_i = δ_k,
so their weight gradients δ_j aᵀ and δ_k aᵀ are equal, and so are the outgoing weights'
gradients δ_i a_j and δ_i a_k. One update keeps every equality; by induction they hold
forever, whatever the optimiser (each update is a function of equal gradients). A layer of
n identical units is a layer of one unit with its output copied n times. With all-zero
weights it is worse still: the residuals below the first zero layer are 0 and those
layers never move.
"""

ARMS = ("zeros", "constant", "random")


@dataclass(frozen=True)
class Config(_Config):
    """A 64-``hidden``-``hidden``-10 sigmoid MLP trained ``epochs`` epochs with SGD at
    ``lr`` from each initialisation; ``constant``: the weights' value in the constant
    arm; ``symmetric_arms``: which arms start symmetric (the premise), the others random."""

    hidden: int = 32
    epochs: int = 20
    lr: float = 1.0
    constant: float = 0.1
    symmetric_arms: tuple = ("zeros", "constant")


SMOKE = {"epochs": 8}


def _model(config: Config, arm: str):
    model = mlp((64, config.hidden, config.hidden, 10), activation=nn.Sigmoid)
    if arm in config.symmetric_arms:
        value = 0.0 if arm == "zeros" else config.constant
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.constant_(m.weight, value)
                nn.init.zeros_(m.bias)
    return model


def run(config: Config) -> Result:
    data = digits(config.seed)
    loss_fn = nn.functional.cross_entropy
    metrics: dict = {}
    traces = {}
    for arm in ARMS:
        cr.manual_seed(config.seed)
        model = _model(config, arm)
        hidden = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)][:-1]
        opt = optim.SGD(model.parameters(), lr=config.lr)
        gen = rng(config.seed, 10)
        distinct, accs = [], []
        for _ in range(config.epochs):
            train_epoch(model, loss_fn, opt, data.x_train, data.y_train, 32, gen)
            counts = cr.diagnostics.symmetry(model, atol=0.0)
            distinct.append([counts[name] for name in hidden])
            accs.append(evaluate(model, loss_fn, data.x_val, data.y_val)[1])
        _, test_acc = evaluate(model, loss_fn, data.x_test, data.y_test)
        metrics[arm] = {
            "distinct_units_per_hidden_layer": distinct[-1],
            "max_distinct_during_training": int(np.max(distinct)),
            "min_distinct_during_training": int(np.min(distinct)),
            "test_accuracy": test_acc,
            "first_layer_moved": float(
                np.abs(model[0].weight.numpy() - (0.0 if arm == "zeros" else config.constant)).max()
            )
            if arm in config.symmetric_arms
            else None,
        }
        traces[arm] = {"accuracy": np.array(accs), "distinct": np.array(distinct)}
    metrics["hidden"] = config.hidden
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    checks = []
    for arm in ("zeros", "constant"):
        checks.append(
            holds(
                f"{arm} init: distinct units in each hidden layer, after every epoch",
                m[arm]["max_distinct_during_training"] == 1,
                f"at most {m[arm]['max_distinct_during_training']}",
                "1",
            )
        )
    checks.append(
        holds(
            "random init: distinct units in each hidden layer, after every epoch",
            m["random"]["min_distinct_during_training"] == m["hidden"],
            f"at least {m['random']['min_distinct_during_training']}",
            f"{m['hidden']} (all)",
        )
    )
    best_symmetric = max(m["zeros"]["test_accuracy"], m["constant"]["test_accuracy"])
    checks.append(
        at_least(
            "test accuracy, random init minus the better symmetric init",
            m["random"]["test_accuracy"] - best_symmetric,
            0.2,
        )
    )
    return checks


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, (ax1, ax2) = plotting.figure(2, width=4.4, height=3.3)
    k = np.arange(len(ARMS))
    for layer, offset in ((0, -0.2), (1, 0.2)):
        counts = [
            t[arm]["distinct"][:, layer].max()
            if arm != "random"
            else t[arm]["distinct"][:, layer].min()
            for arm in ARMS
        ]
        bars = ax1.bar(k + offset, counts, width=0.4, label=f"hidden layer {layer + 1}")
        ax1.bar_label(bars, fontsize=8)
    ax1.set_xticks(k)
    ax1.set_xticklabels([f"{arm} init" for arm in ARMS])
    ax1.set_ylabel(f"distinct units of {m['hidden']}")
    ax1.set_ylim(0, m["hidden"] * 1.15)
    ax1.set_title("symmetry: worst epoch of training")
    ax1.legend(loc="upper left")
    for arm in ARMS:
        label = f"{arm} (test {m[arm]['test_accuracy']:.3f})"
        plotting.numbered(ax2, t[arm]["accuracy"], label=label)
    ax2.set(xlabel="epoch", ylabel="validation accuracy")
    plotting.integer_ticks(ax2)
    ax2.set_ylim(0, 1)
    ax2.set_title("what each initialisation learns")
    ax2.legend(fontsize=7)
    return [plotting.save(fig, out_dir, "zero-init-symmetry")]
