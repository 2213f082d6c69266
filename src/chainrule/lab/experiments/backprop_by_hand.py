"""Backpropagation is the chain rule applied layer by layer: for a two-layer MLP the
residual formulas, δ2 = (a2 − y)/m at the softmax output and δ1 = (δ2 W2) ⊙ σ'(z1)
below it, with ∂L/∂W = δᵀ(layer input) and ∂L/∂b = Σ δ, written in plain NumPy, give the
same gradients as autograd; finite differences agree on the whole model; and cr.explain's
trace of the backward pass, node by node, recomputes to autograd's numbers and sends the
very residuals δ2 and δ1 of the formulas.

docs/fundamentals.md §1, "Backpropagation by hand", derives it (a learner should be able
to).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_most, holds
from chainrule.lab.experiments._common import rng
from chainrule.nn import functional as F

__all__ = [
    "DERIVATION",
    "NAME",
    "SECTION",
    "SMOKE",
    "Config",
    "check",
    "hand_gradients",
    "plot",
    "run",
]

NAME = "backprop-by-hand"
SECTION = 1
DERIVATION = """
Forward: z1 = x W1ᵀ + b1, a1 = σ(z1), z2 = a1 W2ᵀ + b2, a2 = softmax(z2),
L = −(1/m) Σ_n log a2[n, y_n]. Backward, one residual δ = ∂L/∂z per layer: at the output,
softmax and cross-entropy together give δ2 = (a2 − Y)/m (Y one-hot). A linear layer
z = a Wᵀ + b passes ∂L/∂W = δᵀ a, ∂L/∂b = Σ_n δ_n and ∂L/∂a = δ W back. The sigmoid
multiplies elementwise by its derivative σ'(z1) = a1(1 − a1): δ1 = (δ2 W2) ⊙ a1(1 − a1).
Every gradient is a product of a residual and the activation that entered the layer, which
is why the forward pass must keep the activations.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``m`` samples of ``inputs`` features, ``hidden`` sigmoid units, ``classes``;
    ``derivative``: the activation derivative the hand-written backward uses, ``"sigmoid"``
    (a(1 − a), right) or ``"tanh"`` (1 − a², the wrong rule, which removes the premise)."""

    m: int = 16
    inputs: int = 4
    hidden: int = 5
    classes: int = 3
    derivative: str = "sigmoid"


SMOKE: dict = {}


def _params(config: Config, gen) -> dict:
    return {
        "W1": gen.standard_normal((config.hidden, config.inputs)),
        "b1": gen.standard_normal(config.hidden) * 0.1,
        "W2": gen.standard_normal((config.classes, config.hidden)),
        "b2": gen.standard_normal(config.classes) * 0.1,
    }


def hand_gradients(p: dict, x: np.ndarray, y: np.ndarray, derivative: str = "sigmoid") -> dict:
    """The residual formulas of docs/fundamentals.md §1, in plain NumPy."""
    m = len(x)
    z1 = x @ p["W1"].T + p["b1"]
    a1 = 1 / (1 + np.exp(-z1))
    z2 = a1 @ p["W2"].T + p["b2"]
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    a2 = e / e.sum(axis=1, keepdims=True)
    onehot = np.eye(p["W2"].shape[0])[y]
    d2 = (a2 - onehot) / m  # δ2 = ∂L/∂z2
    slope = a1 * (1 - a1) if derivative == "sigmoid" else 1 - a1**2
    d1 = (d2 @ p["W2"]) * slope  # δ1 = ∂L/∂z1
    return {
        "W2": d2.T @ a1,
        "b2": d2.sum(axis=0),
        "W1": d1.T @ x,
        "b1": d1.sum(axis=0),
        "delta1": d1,
        "delta2": d2,
    }


def _loss(params: dict, x, y):
    a1 = cr.sigmoid(x @ params["W1"].T + params["b1"])
    return F.cross_entropy(a1 @ params["W2"].T + params["b2"], y)


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)
    gen = rng(config.seed)
    p = _params(config, gen)
    x = gen.standard_normal((config.m, config.inputs))
    y = gen.integers(config.classes, size=config.m)
    hand = hand_gradients(p, x, y, config.derivative)

    tensors = {k: cr.tensor(v, requires_grad=True) for k, v in p.items()}
    xt, yt = cr.tensor(x), cr.tensor(y)
    loss = _loss(tensors, xt, yt)
    names = ("W1", "b1", "W2", "b2")
    trace = cr.explain(loss, params=tensors)
    # The residuals as the trace shows them: what the loss node sends to the logits (δ2)
    # and what the sigmoid node sends to its input z1 (δ1).
    sent = {step.op: step.downstream[0] for step in trace.steps if step.downstream}
    trace_ok = bool(trace.check())  # before backward frees the graph
    loss.backward()
    errors = {k: float(np.abs(hand[k] - tensors[k].grad.numpy()).max()) for k in names}
    scale = max(float(np.abs(tensors[k].grad.numpy()).max()) for k in names)

    def as_function(W1, b1, W2, b2):
        return _loss({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, xt, yt)

    inputs = tuple(cr.tensor(p[k], requires_grad=True) for k in names)
    passed_gradcheck = cr.autograd.gradcheck(as_function, inputs, raise_exception=False)
    metrics = {
        "max_abs_error": errors,
        "largest_gradient": scale,
        "gradcheck": bool(passed_gradcheck),
        "explain_check": trace_ok,
        "explain_steps": len(trace.steps),
        "explain_ops": [step.op for step in trace.steps],
        "explain_delta2_error": float(np.abs(sent["softmaxcrossentropy"] - hand["delta2"]).max()),
        "explain_delta1_error": float(np.abs(sent["sigmoid"] - hand["delta1"]).max()),
        "loss": loss.item(),
    }
    traces = {
        "hand": {k: hand[k] for k in names},
        "auto": {k: tensors[k].grad.numpy() for k in names},
        "delta1": hand["delta1"],
        "delta2": hand["delta2"],
    }
    traces["explain"] = str(trace)
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    checks = [
        # float64, the same operations in a different order: rounding of numbers below 1.
        at_most(f"max |hand - autograd| for {k}", v, 1e-14)
        for k, v in m["max_abs_error"].items()
    ]
    checks.append(
        holds(
            "gradcheck of the whole model (finite differences)",
            m["gradcheck"],
            m["gradcheck"],
            "yes",
        )
    )
    checks.append(
        holds(
            "cr.explain(loss).check(): every step of the trace recomputes to autograd's gradient",
            m["explain_check"],
            m["explain_check"],
            "yes",
        )
    )
    checks.append(
        at_most(
            "cr.explain: the loss node sends δ2, max |trace - hand|",
            m["explain_delta2_error"],
            1e-15,
        )
    )
    checks.append(
        at_most(
            "cr.explain: the sigmoid node sends δ1, max |trace - hand|",
            m["explain_delta1_error"],
            1e-15,
        )
    )
    return checks


def plot(result: Result, out_dir) -> list:
    t = result.traces
    fig, (ax1, ax2, ax3) = plotting.figure(3, width=3.6, height=3.3)
    hand = np.concatenate([t["hand"][k].ravel() for k in ("W1", "b1", "W2", "b2")])
    auto = np.concatenate([t["auto"][k].ravel() for k in ("W1", "b1", "W2", "b2")])
    lim = np.abs(auto).max() * 1.1
    ax1.plot([-lim, lim], [-lim, lim], color="0.7", lw=1, label="y = x")
    ax1.plot(auto, hand, "o", ms=3, label="each parameter")
    ax1.set_xlabel("autograd ∂L/∂θ")
    ax1.set_ylabel("residual formulas ∂L/∂θ")
    ax1.set_title("hand against autograd")
    ax1.legend()
    diff = np.maximum(np.abs(hand - auto), 1e-20)
    ax2.semilogy(diff, "o", ms=3)
    ax2.set_xlabel("parameter index (W1, b1, W2, b2)")
    ax2.set_ylabel("|hand − autograd| (log scale, floor 1e-20)")
    ax2.set_title("differences: rounding only")
    for ax, key, title in ((ax3, "delta1", "residuals δ1 = ∂L/∂z1"),):
        lim = np.abs(t[key]).max()
        im = ax.imshow(t[key], cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set(xlabel="hidden unit", ylabel="sample", title=title)
        ax.grid(False)
        fig.colorbar(im, ax=ax, shrink=0.85)
    return [plotting.save(fig, out_dir, "backprop-by-hand")]
