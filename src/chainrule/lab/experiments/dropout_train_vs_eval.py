"""Dropout is for training only: a network trained with dropout and evaluated with it
still active (model.eval() forgotten) answers at random from one pass to the next and is
less accurate than in eval mode, where dropout is the identity. Inverted dropout scales the
kept units by 1/(1 − p), so each unit's expected output equals its input and nothing needs
rescaling at evaluation.

docs/fundamentals.md §5, "Dropout", derives it: units are silenced at random during
training only, never at evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most, holds
from chainrule.lab.experiments._common import digits, evaluate, mlp, rng, train_epoch

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "dropout-train-vs-eval"
SECTION = 5
DERIVATION = """
Each unit is kept with probability 1 − p (mask m ~ Bernoulli(1 − p)) and multiplied by
1/(1 − p): E[m x/(1 − p)] = x, and Var = x² p/(1 − p). The network is trained on these
noisy, thinned outputs and learns weights for their mean. At evaluation the identity has
exactly that mean, so the eval-mode network is the (approximate) average of the thinned
networks. Left in training mode at test time, each prediction is one random thinned
network's: noisier and less accurate. Without the 1/(1 − p) (plain masking) the expected
output is (1 − p)x and the evaluation would have to multiply by 1 − p instead.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``p``: the drop probability (the premise: p > 0) of a 64-``hidden``-``hidden``-10
    ReLU MLP trained ``epochs`` epochs with Adam; ``passes``: train-mode evaluations;
    ``elements``: size of the tensor for the expectation check."""

    p: float = 0.5
    hidden: int = 256
    epochs: int = 30
    passes: int = 30
    elements: int = 1_000_000


SMOKE = {"epochs": 8, "passes": 10, "hidden": 128}


def run(config: Config) -> Result:
    data = digits(config.seed)
    model = mlp((64, config.hidden, config.hidden, 10), dropout=config.p)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.functional.cross_entropy
    gen = rng(config.seed, 8)
    for _ in range(config.epochs):
        train_epoch(model, loss_fn, opt, data.x_train, data.y_train, 32, gen)

    _, eval_acc = evaluate(model, loss_fn, data.x_test, data.y_test)
    model.eval()
    with cr.no_grad():
        a = model(cr.tensor(data.x_test)).numpy()
        b = model(cr.tensor(data.x_test)).numpy()
    model.train()  # the mistake: evaluating with dropout on
    with cr.no_grad():
        outs = [model(cr.tensor(data.x_test)).numpy() for _ in range(config.passes)]
    preds = np.array([o.argmax(1) for o in outs])
    train_accs = (preds == data.y_test).mean(axis=1)
    changed = (preds != preds[0]).any(axis=0).mean()

    # Expectation of one dropout layer, inverted and plain.
    x = cr.ones(config.elements)
    inverted = nn.functional.dropout(x, config.p, training=True).numpy().astype(np.float64)
    keep = cr.rand(config.elements, dtype=cr.float64).numpy() >= config.p
    plain = keep.astype(np.float64)  # mask without the 1/(1 - p)
    q = config.p / (1 - config.p) if config.p < 1 else math.inf
    sigma = math.sqrt(q / config.elements)  # std of the mean of the inverted outputs
    sigma_plain = math.sqrt(config.p * (1 - config.p) / config.elements)
    metrics = {
        "eval_accuracy": eval_acc,
        "train_mode_accuracy_mean": float(train_accs.mean()),
        "train_mode_accuracy_std": float(train_accs.std()),
        "eval_minus_train_mode": float(eval_acc - train_accs.mean()),
        "eval_passes_identical": bool(np.array_equal(a, b)),
        "share_of_predictions_that_change_between_passes": float(changed),
        "inverted_mean": float(inverted.mean()),
        "inverted_z": float(abs(inverted.mean() - 1) / sigma)
        if sigma > 0
        else float(inverted.mean() != 1),
        "plain_mean": float(plain.mean()),
        "plain_z": float(abs(plain.mean() - (1 - config.p)) / sigma_plain)
        if sigma_plain > 0
        else 0.0,
        "p": config.p,
    }
    return Result(metrics, {"train_mode_accuracies": train_accs, "eval_accuracy": eval_acc})


def check(result: Result) -> list:
    m = result.metrics
    return [
        holds(
            "eval mode: two passes give identical outputs",
            m["eval_passes_identical"],
            m["eval_passes_identical"],
            "yes",
        ),
        at_least(
            "train mode at test time: share of test predictions that change between passes",
            m["share_of_predictions_that_change_between_passes"],
            0.005,
        ),
        at_least(
            "test accuracy, eval mode minus the mean of train-mode passes",
            m["eval_minus_train_mode"],
            0.01,
        ),
        # The mean of a million inverted-dropout outputs of 1: within 4 standard errors of
        # 1 (a false alarm about once in 16,000 seeds).
        at_most("inverted dropout: |mean - 1| in standard errors", m["inverted_z"], 4.0),
        at_most("plain masking: |mean - (1 - p)| in standard errors", m["plain_z"], 4.0),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, (ax1, ax2) = plotting.figure(2, width=4.4, height=3.2)
    accs = t["train_mode_accuracies"]
    ax1.hist(accs, bins=12, color="#0072B2", label=f"train mode, {len(accs)} passes")
    ax1.axvline(t["eval_accuracy"], color="#D55E00", lw=2, label="eval mode (deterministic)")
    ax1.set(xlabel="test accuracy", ylabel="passes", title=f"trained with dropout p = {m['p']}")
    ax1.set_ylim(top=ax1.get_ylim()[1] * 1.35)  # room for the legend
    ax1.legend(loc="upper left")
    ax2.bar([0, 1], [m["inverted_mean"], m["plain_mean"]], color=["#009E73", "#CC79A7"])
    ax2.axhline(1.0, color="k", ls="--", lw=0.8, label="input value 1")
    ax2.axhline(1 - m["p"], color="k", ls=":", lw=0.8, label="1 − p")
    ax2.set_xticks([0, 1])
    ax2.set_xticklabels(["inverted: mask/(1 − p)", "plain mask"])
    ax2.set(ylabel="mean output for an input of ones", title="expectation of one dropout layer")
    ax2.legend(loc="lower left")
    return [plotting.save(fig, out_dir, "dropout-train-vs-eval")]
