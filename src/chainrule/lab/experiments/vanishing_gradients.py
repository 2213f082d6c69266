"""In a deep sigmoid network the gradient shrinks layer by layer toward the input: each
layer multiplies it by σ' ≤ 1/4 and by its weights, so the first layer's gradient is orders
of magnitude below the last's, while a ReLU network with He initialisation keeps the
gradient's size from layer to layer (tanh, with derivative up to 1, lies between).

docs/fundamentals.md §2, "Vanishing gradients", derives it: the activation is the main
cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most
from chainrule.lab.experiments._common import digits, rng

__all__ = ["ARMS", "DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "vanishing-gradients"
SECTION = 2
DERIVATION = """
With z_l = W_l a_{l−1} + b_l and a_l = f(z_l), the residual δ_l = ∂L/∂z_l obeys
δ_l = f'(z_l) ⊙ (W_{l+1}ᵀ δ_{l+1}), so ‖δ_l‖ ≤ max|f'| · ‖W_{l+1}‖₂ · ‖δ_{l+1}‖ and the
weight gradient ∂L/∂W_l = δ_l a_{l−1}ᵀ inherits the product of these factors over the
layers above it. For the sigmoid max σ' = 1/4, and with the usual initialisation
(‖W‖₂ about 1) the factor per layer is well below 1: the gradient decays geometrically
toward the input. ReLU's derivative is 1 on the active half, and He initialisation
(variance 2/fan_in) is chosen so that the variance of δ is kept from layer to layer.
"""

ARMS = ("sigmoid", "tanh", "relu")


@dataclass(frozen=True)
class Config(_Config):
    """``depth`` hidden layers of ``width`` units; ``batch``: samples for the gradient
    measurement; ``epochs``, ``lr``: the short SGD training of each net; ``vanishing``:
    the activation of the first arm (sigmoid, the premise; relu removes it)."""

    depth: int = 10
    width: int = 64
    batch: int = 512
    epochs: int = 8
    lr: float = 0.1
    vanishing: str = "sigmoid"


SMOKE = {"epochs": 4, "batch": 256}


class _Deep(nn.Module):
    """Linear-activation blocks that keep each pre-activation z_l for its gradient."""

    def __init__(self, config: Config, activation: str) -> None:
        super().__init__()
        sizes = [64] + [config.width] * config.depth
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in pairwise(sizes)])
        self.head = nn.Linear(config.width, 10)
        self.activation = activation
        if activation == "relu":  # ReLU with He initialisation
            for layer in self.layers:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        self.fn = {"sigmoid": cr.sigmoid, "tanh": cr.tanh, "relu": cr.relu}[activation]
        self.z: list = []

    def forward(self, x):
        self.z = []
        a = x
        for layer in self.layers:
            z = layer(a)
            if z.requires_grad:
                z.retain_grad()
            self.z.append(z)
            a = self.fn(z)
        return self.head(a)


def _measure(net: _Deep, x, y) -> dict:
    net.zero_grad()
    nn.functional.cross_entropy(net(cr.tensor(x)), cr.tensor(y)).backward()
    weight_norms = [float(np.linalg.norm(layer.weight.grad.numpy())) for layer in net.layers]
    delta_norms = [float(np.linalg.norm(z.grad.numpy())) for z in net.z]
    # The bound of each backward step: |δ_l| <= max|f'(z_l)| · |W_{l+1}|_2 · |δ_{l+1}|.
    bound_ratios = []
    for lower, upper, layer in zip(net.z, net.z[1:], net.layers[1:]):
        zl = lower.detach().numpy()
        if net.activation == "sigmoid":
            s = 1 / (1 + np.exp(-zl))
            fmax = float((s * (1 - s)).max())
        elif net.activation == "tanh":
            fmax = float((1 - np.tanh(zl) ** 2).max())
        else:
            fmax = float((zl > 0).max())
        spectral = float(np.linalg.norm(layer.weight.numpy(), 2))
        bound = fmax * spectral * np.linalg.norm(upper.grad.numpy())
        bound_ratios.append(float(np.linalg.norm(lower.grad.numpy()) / bound))
    return {
        "weight_grad_norms": weight_norms,
        "delta_norms": delta_norms,
        "bound_ratios": bound_ratios,
    }


def run(config: Config) -> Result:
    data = digits(config.seed)
    pick = rng(config.seed, 2).choice(len(data.x_train), size=config.batch, replace=False)
    x, y = data.x_train[pick], data.y_train[pick]
    metrics, traces = {}, {}
    arms = (config.vanishing, "tanh", "relu")
    for label, act in zip(ARMS, arms):
        cr.manual_seed(config.seed)
        net = _Deep(config, act)
        measured = _measure(net, x, y)
        z_first = net.z[0].detach().numpy()
        derivative = None
        if act == "sigmoid":
            s = 1 / (1 + np.exp(-np.concatenate([z.detach().numpy().ravel() for z in net.z])))
            derivative = s * (1 - s)
        opt = optim.SGD(net.parameters(), lr=config.lr)
        gen = rng(config.seed, 3)
        accs = []
        for _ in range(config.epochs):
            order = gen.permutation(len(data.x_train))
            for start in range(0, len(order), 32):
                idx = order[start : start + 32]
                opt.zero_grad()
                out = net(cr.tensor(data.x_train[idx]))
                nn.functional.cross_entropy(out, cr.tensor(data.y_train[idx])).backward()
                opt.step()
            with cr.no_grad():
                accs.append(
                    float((net(cr.tensor(data.x_val)).numpy().argmax(1) == data.y_val).mean())
                )
        w = measured["weight_grad_norms"]
        metrics[label] = {
            "activation": act,
            "first_over_last": w[0] / w[-1],
            "max_bound_ratio": max(measured["bound_ratios"]),
            "val_accuracy": accs[-1],
            "first_layer_preactivation_std": float(z_first.std()),
        }
        if derivative is not None:
            metrics[label]["max_derivative"] = float(derivative.max())
            metrics[label]["mean_derivative"] = float(derivative.mean())
            traces["sigmoid_derivative"] = derivative
        traces[label] = {**measured, "accuracy": np.array(accs)}
    metrics["orders_of_magnitude_relu_over_first"] = float(
        np.log10(metrics["relu"]["first_over_last"] / metrics["sigmoid"]["first_over_last"])
    )
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    checks = [
        # "Orders of magnitude": at least two.
        at_least(
            "log10 of (ReLU+He first/last gradient ratio) / (sigmoid's)",
            m["orders_of_magnitude_relu_over_first"],
            2.0,
        ),
        at_most(
            "sigmoid: first/last layer weight-gradient ratio", m["sigmoid"]["first_over_last"], 1e-2
        ),
        at_least(
            "ReLU+He: first/last layer weight-gradient ratio", m["relu"]["first_over_last"], 0.1
        ),
    ]
    for arm in ARMS:
        # A bound, up to float32 rounding of the norms.
        checks.append(
            at_most(
                f"{arm}: max over layers of |δ_l| / (max f' · |W_l+1|₂ · |δ_l+1|)",
                m[arm]["max_bound_ratio"],
                1 + 1e-5,
            )
        )
    if "max_derivative" in m["sigmoid"]:
        checks.append(
            at_most("sigmoid: largest σ'(z) over every unit", m["sigmoid"]["max_derivative"], 0.25)
        )
    checks.append(
        at_least(
            "validation accuracy after training, ReLU+He minus sigmoid",
            m["relu"]["val_accuracy"] - m["sigmoid"]["val_accuracy"],
            0.3,
        )
    )
    return checks


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, (ax1, ax2, ax3) = plotting.figure(3, width=3.7, height=3.3)
    for arm in ARMS:
        label = f"{m[arm]['activation']}: first/last {m[arm]['first_over_last']:.1e}"
        plotting.numbered(ax1, t[arm]["weight_grad_norms"], log=True, label=label)
    ax1.set_xlabel("hidden layer (1 = next to the input)")
    plotting.integer_ticks(ax1)
    ax1.set_ylabel("‖∂L/∂W_l‖ at initialisation")
    ax1.set_title("weight gradient per layer")
    ax1.legend()
    if "sigmoid_derivative" in t:
        ax2.hist(t["sigmoid_derivative"], bins=50, color="#0072B2")
        ax2.axvline(0.25, color="#D55E00", ls="--", label="bound 1/4")
        ax2.set_xlabel("σ'(z) over every unit and sample")
        ax2.set_ylabel("count")
        ax2.set_title("sigmoid's derivative in the net")
        ax2.legend()
    for arm in ARMS:
        plotting.numbered(ax3, t[arm]["accuracy"], label=m[arm]["activation"])
    ax3.set_xlabel("epoch (SGD, lr 0.1)")
    plotting.integer_ticks(ax3)
    ax3.set_ylabel("validation accuracy")
    ax3.set_title("training the same deep nets")
    ax3.set_ylim(0, 1)
    ax3.legend()
    return [plotting.save(fig, out_dir, "vanishing-gradients")]
