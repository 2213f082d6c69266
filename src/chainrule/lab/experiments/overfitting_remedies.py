"""A large MLP trained on a small training set, a fifth of whose labels are wrong,
overfits: it learns the training set by heart, wrong labels included, and its validation
loss rises far above its training loss. Dropout, an L2 penalty, an L1 penalty and early
stopping each narrow that gap (to at most 0.8 of the baseline's) and lower the test loss;
batch normalisation, often listed with them, is measured alongside and claimed
nothing for: as a regulariser it is weak and inconsistent.

docs/fundamentals.md §5, "Overfitting and its remedies", has the mechanisms of dropout,
regularisation and batch normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_most
from chainrule.lab.experiments._common import evaluate, mlp, noisy_digits, rng
from chainrule.train.recipes import build_penalty

__all__ = ["DERIVATION", "NAME", "REMEDIES", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "overfitting-remedies"
SECTION = 5
DERIVATION = """
With far more parameters than training samples (here about 85,000 against 150), the
network can drive the training loss to zero by memorising, wrong labels and all; the
validation loss then rises as the outputs grow confident on what does not generalise. Dropout trains a random
sub-network at every step, so no unit can rely on particular others. An L2 penalty
(λ/2)‖w‖² pulls every weight toward 0 in proportion to its size; an L1 penalty λ‖w‖₁ pulls
with constant force and drives small weights to 0. Batch normalisation standardises each
unit over the batch, which adds noise that depends on the batch's other samples; its main
effect is on the optimisation (see batchnorm-activations), not on the gap. Early stopping
keeps the weights of the epoch with the lowest validation loss. Every number is a mean
over seeds, because one seed's ranking of remedies that differ by a few percent is noise.
"""

REMEDIES = ("baseline", "dropout", "l2", "l1", "batchnorm", "early stopping")


@dataclass(frozen=True)
class Config(_Config):
    """``n_train`` training samples of which a fraction ``label_noise`` carry a wrong
    label (the premise: few samples, easy to memorise) for a 64-``hidden``-``hidden``-10
    ReLU MLP trained ``epochs`` epochs with Adam, over ``seeds`` seeds; the remedies'
    strengths; ``patience`` of early stopping."""

    n_train: int = 150
    label_noise: float = 0.2
    hidden: int = 256
    epochs: int = 80
    lr: float = 3e-3
    seeds: int = 5
    dropout: float = 0.5
    l2: float = 1e-2
    l1: float = 1e-3
    patience: int = 15


SMOKE = {"epochs": 50, "seeds": 2}


def _train(config: Config, data, remedy: str, seed: int):
    cr.manual_seed(seed)
    sizes = (64, config.hidden, config.hidden, 10)
    model = mlp(
        sizes,
        dropout=config.dropout if remedy == "dropout" else 0.0,
        batchnorm=remedy == "batchnorm",
    )
    opt = optim.Adam(model.parameters(), lr=config.lr)
    penalty = build_penalty(
        l1=config.l1 if remedy == "l1" else 0.0, l2=config.l2 if remedy == "l2" else 0.0
    )
    loss_fn = nn.functional.cross_entropy
    gen = rng(seed, 6)
    history, best, best_state, waited = [], np.inf, None, 0
    for _ in range(config.epochs):
        model.train()
        order = gen.permutation(len(data.x_train))
        for start in range(0, len(order), 32):
            idx = order[start : start + 32]
            opt.zero_grad()
            loss = loss_fn(model(cr.tensor(data.x_train[idx])), cr.tensor(data.y_train[idx]))
            if penalty is not None:
                loss = loss + penalty(model)
            loss.backward()
            opt.step()
        train = evaluate(model, loss_fn, data.x_train, data.y_train)
        val = evaluate(model, loss_fn, data.x_val, data.y_val)
        history.append((*train, *val))
        if remedy == "early stopping":
            if val[0] < best:
                best, best_state, waited = val[0], model.state_dict(), 0
            else:
                waited += 1
                if waited >= config.patience:
                    break
    stopped = len(history)
    if best_state is not None:
        model.load_state_dict(best_state)
    final_train = evaluate(model, loss_fn, data.x_train, data.y_train)
    final_val = evaluate(model, loss_fn, data.x_val, data.y_val)
    test = evaluate(model, loss_fn, data.x_test, data.y_test)
    return np.array(history), final_train, final_val, test, stopped


def run(config: Config) -> Result:
    runs = {remedy: [] for remedy in REMEDIES}
    traces = {}
    for k in range(config.seeds):
        seed = config.seed * 1000 + k
        data = noisy_digits(seed, config.n_train, config.label_noise)
        for remedy in REMEDIES:
            history, train, val, test, stopped = _train(config, data, remedy, seed)
            runs[remedy].append((train, val, test, stopped))
            if k == 0:
                traces[remedy] = history
    metrics = {}
    for remedy in REMEDIES:
        train, val, test, stopped = (np.array(v, dtype=float) for v in zip(*runs[remedy]))
        base_train, base_val, base_test, _ = (np.array(v) for v in zip(*runs["baseline"]))
        metrics[remedy] = {
            "train_loss": float(train[:, 0].mean()),
            "val_loss": float(val[:, 0].mean()),
            "train_accuracy": float(train[:, 1].mean()),
            "val_accuracy": float(val[:, 1].mean()),
            "test_loss": float(test[:, 0].mean()),
            "test_accuracy": float(test[:, 1].mean()),
            "epochs": float(stopped.mean()),
            # per-seed ratios to the baseline of the same seed, then their mean
            "gap_ratio": float(
                ((val[:, 0] - train[:, 0]) / (base_val[:, 0] - base_train[:, 0])).mean()
            ),
            "test_loss_ratio": float((test[:, 0] / base_test[:, 0]).mean()),
        }
    metrics["seeds"] = config.seeds
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    base = m["baseline"]
    checks = [
        # The premise: the baseline does overfit (its validation loss is far above its
        # training loss).
        at_most(
            "baseline: training loss / validation loss", base["train_loss"] / base["val_loss"], 0.2
        ),
    ]
    for remedy in ("dropout", "l2", "l1", "early stopping"):
        checks.append(
            at_most(
                f"{remedy}: (validation - training loss) / the baseline's, mean over seeds",
                m[remedy]["gap_ratio"],
                0.8,
            )
        )
        checks.append(
            at_most(
                f"{remedy}: test loss / the baseline's, mean over seeds",
                m[remedy]["test_loss_ratio"],
                0.95,
            )
        )
    return checks


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, axes = plotting.figure(3, 2, width=3.6, height=2.7)
    for ax, remedy in zip(axes, REMEDIES):
        h = t[remedy]
        epochs = np.arange(1, len(h) + 1)
        ax.semilogy(epochs, h[:, 0], label="training loss")
        ax.semilogy(epochs, h[:, 2], label="validation loss")
        ax.set_title(f"{remedy} (first seed)", fontsize=9)
        ax.set(xlabel="epoch", ylabel="loss (log scale)")
        ax.legend(fontsize=7)
    paths = [plotting.save(fig, out_dir, "overfitting-curves")]
    fig, (ax1, ax2) = plotting.figure(2, width=4.4, height=3.2)
    k = np.arange(len(REMEDIES))
    ax1.bar(k - 0.2, [m[r]["train_accuracy"] for r in REMEDIES], width=0.4, label="training")
    ax1.bar(k + 0.2, [m[r]["test_accuracy"] for r in REMEDIES], width=0.4, label="test")
    ax1.set_ylim(0.5, 1.12)
    ax1.set(ylabel="accuracy", title=f"accuracy, mean of {m['seeds']} seeds")
    ax2.bar(k, [m[r]["val_loss"] - m[r]["train_loss"] for r in REMEDIES], color="#D55E00")
    ax2.set(ylabel="validation loss − training loss", title="validation − training loss")
    for ax in (ax1, ax2):
        ax.set_xticks(k)
        ax.set_xticklabels(REMEDIES, rotation=30, ha="right")
    ax1.legend(loc="upper center", ncol=2)
    paths.append(plotting.save(fig, out_dir, "overfitting-summary"))
    return paths
