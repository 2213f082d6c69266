"""Batch normalisation between the linear map and the activation keeps every layer's
pre-activations standardised over the batch (mean 0, variance close to 1 per unit) however
deep the network and whatever the weights' scale, so the activations keep their spread
layer after layer; without it, a deep tanh network whose weights start small (standard
deviation 0.01) shrinks its activations geometrically toward 0, and trains far worse.

docs/fundamentals.md §5, "Batch normalisation", has the formulas: normalise each feature
with its batch mean and variance, then scale and shift, so that activations are roughly unit
Gaussian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most, between
from chainrule.lab.experiments._common import digits, mlp, rng, train_epoch

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "batchnorm-activations"
SECTION = 5
DERIVATION = """
For a batch of pre-activations z_1..z_m of one unit, BN computes μ = mean z_i,
σ² = mean (z_i − μ)², ẑ_i = (z_i − μ)/√(σ² + ε) and outputs γ ẑ_i + β, with γ = 1 and β = 0
at the start: exactly mean 0 and variance σ²/(σ² + ε) ≈ 1 over the batch, whatever the
scale of the layer below. Without it the scale propagates: with weights of standard
deviation s, zero biases and tanh ≈ identity near 0, each layer multiplies the
activations' standard deviation by about s√fan_in, here 0.01·√128 ≈ 0.11, so after 8
layers they are about 1e−8 of the first layer's; the gradients reaching the weights shrink
with them, and the network does not learn. With Xavier's scale for tanh (gain 5/3) the
factor is near 1 and the problem, the premise, is gone.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``depth`` tanh layers of ``width``, weights drawn with standard deviation
    ``init_std`` and zero biases (the premise: a scale that shrinks; None gives Xavier's
    scale for tanh, which keeps it); ``epochs``: SGD training of both nets."""

    depth: int = 8
    width: int = 128
    batch: int = 256
    epochs: int = 10
    lr: float = 0.05
    init_std: float | None = 0.01


SMOKE = {"epochs": 3}


def _net(config: Config, batchnorm: bool):
    model = mlp((64, *[config.width] * config.depth, 10), activation=nn.Tanh, batchnorm=batchnorm)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if config.init_std is None:
                nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain("tanh"))
            else:
                nn.init.normal_(m.weight, std=config.init_std)
            nn.init.zeros_(m.bias)
    return model


def _layer_outputs(model, x) -> tuple[list, list, list]:
    """Each BN's input, each tanh's input (after BN if any) and each tanh's output."""
    raw, pre, post = [], [], []
    a = cr.tensor(x)
    with cr.no_grad():
        for module in model:
            if isinstance(module, nn.BatchNorm1d):
                raw.append(a.numpy())
            if isinstance(module, nn.Tanh):
                pre.append(a.numpy())
                a = module(a)
                post.append(a.numpy())
            else:
                a = module(a)
    return raw, pre, post


def run(config: Config) -> Result:
    data = digits(config.seed)
    pick = rng(config.seed, 2).choice(len(data.x_train), size=config.batch, replace=False)
    x = data.x_train[pick]
    metrics, traces = {}, {}
    for name, bn in (("plain", False), ("batchnorm", True)):
        cr.manual_seed(config.seed)
        model = _net(config, bn)
        model.train()  # BN uses the batch's own statistics
        raw, pre, post = _layer_outputs(model, x)
        stds = [float(p.std()) for p in post]
        entry = {
            "activation_std_per_layer": stds,
            "last_over_first_std": stds[-1] / stds[0],
        }
        if bn:
            means = np.concatenate([p.mean(axis=0) for p in pre])
            variances = np.concatenate([p.var(axis=0) for p in pre])
            # What BN's formula predicts: σ²/(σ² + ε) from the variance of its input.
            sigma2 = np.concatenate([r.astype(np.float64).var(axis=0) for r in raw])
            predicted = sigma2 / (sigma2 + 1e-5)
            entry["max_abs_unit_mean"] = float(np.abs(means).max())
            entry["max_abs_unit_variance_minus_predicted"] = float(
                np.abs(variances - predicted).max()
            )
            entry["min_unit_variance"] = float(variances.min())
        traces[f"{name}_init"] = post
        opt = optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
        gen = rng(config.seed, 9)
        losses = [
            train_epoch(
                model, nn.functional.cross_entropy, opt, data.x_train, data.y_train, 32, gen
            )
            for _ in range(config.epochs)
        ]
        model.eval()
        with cr.no_grad():
            entry["val_accuracy"] = float(
                (model(cr.tensor(data.x_val)).numpy().argmax(1) == data.y_val).mean()
            )
        model.train()
        _, _, post_trained = _layer_outputs(model, x)
        entry["trained_activation_std_per_layer"] = [float(p.std()) for p in post_trained]
        traces[f"{name}_trained"] = post_trained
        traces[f"{name}_loss"] = np.array(losses)
        metrics[name] = entry
    return Result(metrics, traces)


def check(result: Result) -> list:
    p, b = result.metrics["plain"], result.metrics["batchnorm"]
    return [
        # BN's definition, measured: float32 sums over 256 samples.
        at_most(
            "BN, at init: max |batch mean| of any unit's normalised pre-activation",
            b["max_abs_unit_mean"],
            1e-5,
        ),
        at_most(
            "BN, at init: max |batch variance - σ²/(σ² + ε)| of any unit",
            b["max_abs_unit_variance_minus_predicted"],
            1e-4,
        ),
        # Roughly unit: the ε term matters only for units whose input variance is tiny.
        at_least("BN, at init: smallest batch variance of any unit", b["min_unit_variance"], 0.9),
        at_most(
            "no BN, at init: activation std, last layer / first", p["last_over_first_std"], 1e-3
        ),
        between(
            "BN, at init: activation std, last layer / first", b["last_over_first_std"], 0.5, 2.0
        ),
        at_least(
            "validation accuracy after training, BN minus no BN",
            b["val_accuracy"] - p["val_accuracy"],
            0.1,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    depth = len(t["plain_init"])
    layers = sorted({0, depth // 3, 2 * depth // 3, depth - 1})
    fig, axes = plotting.figure(len(layers), 2, width=2.7, height=2.3)
    for row, name in enumerate(("plain", "batchnorm")):
        for col, layer in enumerate(layers):
            ax = axes[row * len(layers) + col]
            values = t[f"{name}_init"][layer].ravel()
            ax.hist(values, bins=40, color="#0072B2" if name == "plain" else "#009E73")
            ax.set_title(
                f"{'no BN' if name == 'plain' else 'BN'}, layer {layer + 1}: std {values.std():.2g}",
                fontsize=8,
            )
            ax.set_xlabel("tanh output", loc="left")
            ax.set_ylabel("count")
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    fig.suptitle(
        "tanh outputs at initialisation (weights N(0, 0.01²)), one batch of 256 digits; "
        "each x axis is scaled to its data"
    )
    paths = [plotting.save(fig, out_dir, "batchnorm-histograms")]
    fig, (ax1, ax2) = plotting.figure(2, width=4.4, height=3.2)
    for name, label, color in (("plain", "no BN", "#0072B2"), ("batchnorm", "BN", "#D55E00")):
        entry = m[name]
        std, trained = entry["activation_std_per_layer"], entry["trained_activation_std_per_layer"]
        plotting.numbered(ax1, std, log=True, color=color, label=f"{label}, at init")
        plotting.numbered(
            ax1, trained, "x--", log=True, ms=4, color=color, label=f"{label}, trained"
        )
    ax1.set_xlabel("layer")
    plotting.integer_ticks(ax1)
    ax1.set_ylabel("std of the tanh outputs (log scale)")
    ax1.set_title("spread of the activations per layer")
    ax1.legend()
    for name, label in (("plain", "no BN"), ("batchnorm", "BN")):
        accuracy = m[name]["val_accuracy"]
        plotting.numbered(
            ax2, t[f"{name}_loss"], log=True, label=f"{label} (val acc {accuracy:.3f})"
        )
    ax2.set(xlabel="epoch", ylabel="training loss (log scale)", title="SGD with momentum, same lr")
    plotting.integer_ticks(ax2)
    ax2.legend()
    paths.append(plotting.save(fig, out_dir, "batchnorm-training"))
    return paths
