"""Averaging −y·log a over every element of the m×n batch (TensorFlow's reduce_mean on the
matrix) instead of summing over the n classes and averaging over the m samples scales the
loss and its gradient by exactly 1/n; at a fixed learning rate, training then behaves as
with a rate n times smaller, and multiplying the rate by n restores the per-sample run.

docs/fundamentals.md §3, "Batches: what the mean divides by", derives the batch form of
softmax cross-entropy and what reduce_mean divides by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most
from chainrule.lab.experiments._common import digits, rng

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "reduce-mean-pitfall"
SECTION = 3
DERIVATION = """
With logits Z (m×n), one-hot labels Y and E = −Y ⊙ log softmax(Z), the per-sample mean is
L = (1/m) Σ_i Σ_c E_ic and the mean over all elements is L' = (1/(mn)) Σ_i Σ_c E_ic = L/n.
Differentiation is linear, so ∂L'/∂Z = (A − Y)/(mn) = (1/n) ∂L/∂Z, and so is every
parameter gradient. SGD with rate η on L' takes the steps of SGD with rate η/n on L; with
rate nη on L' it takes exactly the steps of rate η on L. Adaptive methods that divide by
the gradient's scale (Adam, RMSprop) are almost insensitive to the factor.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``reduction``: how the pitfall's loss averages, ``"elements"`` (over m·n, the
    premise) or ``"samples"``; ``lr``, ``epochs``, ``batch``: the softmax regression on
    the digits trained with plain SGD."""

    reduction: str = "elements"
    lr: float = 0.5
    epochs: int = 30
    batch: int = 32
    n_train: int | None = None


SMOKE = {"epochs": 4, "n_train": 600}


def _loss(logits: cr.Tensor, onehot: cr.Tensor, reduction: str) -> cr.Tensor:
    terms = -onehot * cr.log_softmax(logits, dim=1)
    if reduction == "elements":
        return terms.mean()  # reduce_mean over the whole m x n matrix
    return terms.sum(dim=1).mean()  # per sample, then the mean over samples


def _train(data, init: dict, reduction: str, lr: float, config: Config, seed: int):
    model = nn.Linear(64, 10)
    model.load_state_dict(init)
    opt = optim.SGD(model.parameters(), lr=lr)
    gen = rng(seed, 1)  # every run sees the same batches in the same order
    onehot = np.eye(10)[data.y_train]
    curve = []
    for _ in range(config.epochs):
        order = gen.permutation(len(data.x_train))
        for start in range(0, len(order), config.batch):
            idx = order[start : start + config.batch]
            opt.zero_grad()
            _loss(model(cr.tensor(data.x_train[idx])), cr.tensor(onehot[idx]), reduction).backward()
            opt.step()
        with cr.no_grad():
            full = _loss(model(cr.tensor(data.x_train)), cr.tensor(onehot), "samples")
        curve.append(full.item())
    with cr.no_grad():
        acc = (model(cr.tensor(data.x_test)).numpy().argmax(1) == data.y_test).mean()
    return model, np.array(curve), float(acc)


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)  # so the rescaled run can match to rounding
    gen = rng(config.seed)
    m, n = 64, 10
    z = cr.tensor(gen.standard_normal((m, n)) * 3, requires_grad=True)
    y = cr.tensor(np.eye(n)[gen.integers(n, size=m)])
    per_sample = _loss(z, y, "samples")
    (g_sample,) = cr.autograd.grad(per_sample, z)
    pitfall = _loss(z, y, config.reduction)
    (g_pitfall,) = cr.autograd.grad(pitfall, z)

    data = digits(config.seed, n_train=config.n_train)
    init = nn.Linear(64, 10).state_dict()
    base, curve_sample, acc_sample = _train(data, init, "samples", config.lr, config, config.seed)
    _, curve_pitfall, acc_pitfall = _train(
        data, init, config.reduction, config.lr, config, config.seed
    )
    rescued, curve_rescued, acc_rescued = _train(
        data, init, config.reduction, config.lr * n, config, config.seed
    )
    w_base, w_rescued = base.weight.numpy(), rescued.weight.numpy()
    metrics = {
        "classes": n,
        "loss_ratio": pitfall.item() / per_sample.item(),
        "gradient_ratio_error": float(
            np.abs(g_pitfall.numpy() * n - g_sample.numpy()).max() / np.abs(g_sample.numpy()).max()
        ),
        "final_loss_per_sample_run": float(curve_sample[-1]),
        "final_loss_pitfall_run": float(curve_pitfall[-1]),
        "final_loss_rescued_run": float(curve_rescued[-1]),
        "test_accuracy_per_sample_run": acc_sample,
        "test_accuracy_pitfall_run": acc_pitfall,
        "test_accuracy_rescued_run": acc_rescued,
        "rescued_weight_difference": float(np.abs(w_rescued - w_base).max() / np.abs(w_base).max()),
    }
    traces = {"sample": curve_sample, "pitfall": curve_pitfall, "rescued": curve_rescued}
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    n = m["classes"]
    return [
        # float64: one division by m*n against one by m then n.
        at_most("|loss ratio - 1/n|", abs(m["loss_ratio"] - 1 / n), 1e-15),
        at_most(
            "max |n · gradient - per-sample gradient| / max |gradient|",
            m["gradient_ratio_error"],
            1e-14,
        ),
        # The per-sample run at rate η is ahead of the run whose steps are n times shorter.
        at_least(
            "final loss, all-elements mean / per-sample mean (same lr)",
            m["final_loss_pitfall_run"] / m["final_loss_per_sample_run"],
            1.2,
        ),
        # The same steps up to rounding: lr*n times grad/n.
        at_most(
            "all-elements mean at lr·n against per-sample at lr: max weight difference (relative)",
            m["rescued_weight_difference"],
            1e-12,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    epochs = np.arange(1, len(t["sample"]) + 1)
    fig, (ax,) = plotting.figure(1, width=5.5, height=3.6)
    ax.semilogy(
        epochs,
        t["sample"],
        label=f"per-sample mean, lr η (test acc {m['test_accuracy_per_sample_run']:.3f})",
    )
    ax.semilogy(
        epochs,
        t["pitfall"],
        label=f"mean over m·n, lr η (test acc {m['test_accuracy_pitfall_run']:.3f})",
    )
    ax.semilogy(
        epochs,
        t["rescued"],
        ls="--",
        label=f"mean over m·n, lr {m['classes']}η (test acc {m['test_accuracy_rescued_run']:.3f})",
    )
    ax.set_xlabel("epoch")
    plotting.integer_ticks(ax)
    ax.set_ylabel("training loss per sample (log scale)")
    ax.set_title("softmax regression on digits, plain SGD")
    ax.legend()
    return [plotting.save(fig, out_dir, "reduce-mean-pitfall")]
