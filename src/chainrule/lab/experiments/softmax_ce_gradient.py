"""The softmax's Jacobian has a_i(1 − a_i) on its diagonal and −a_i a_j off it, and the
cross-entropy C = −Σ y_i ln a_i of a softmax output a = softmax(z) has the gradient
dC/dz = a − y, for one sample and, divided by m, for a batch mean.

docs/fundamentals.md §3, "Softmax and cross-entropy: dC/dz = a − y", has the full
derivation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_most
from chainrule.lab.experiments._common import rng
from chainrule.nn import functional as F

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "softmax-ce-gradient"
SECTION = 3
DERIVATION = """
With a_i = e^{z_i}/S and S = Σ_k e^{z_k}: ∂a_i/∂z_i = (e^{z_i}S − e^{z_i}e^{z_i})/S² =
a_i(1 − a_i), and for j ≠ i, ∂a_i/∂z_j = −e^{z_i}e^{z_j}/S² = −a_i a_j; together
J = diag(a) − a aᵀ. For C = −Σ_i y_i ln a_i the chain rule gives
∂C/∂z_j = −Σ_i (y_i/a_i) ∂a_i/∂z_j = −y_j(1 − a_j) + Σ_{i≠j} y_i a_j = a_j Σ_i y_i − y_j,
which is a_j − y_j because the target's entries sum to 1. For a batch of m samples and the
mean over samples, each row of the gradient is divided by m: (A − Y)/m.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``classes``: n; ``batch``: m samples for the batch check; ``target_sum``: what the
    target's entries add up to (1 for a one-hot or probability target, the premise of
    a − y)."""

    classes: int = 6
    batch: int = 32
    target_sum: float = 1.0


SMOKE: dict = {}


def _jacobian_autograd(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    zt = cr.tensor(z, dtype=cr.float64, requires_grad=True)
    a = cr.softmax(zt, dim=0)
    rows = [cr.autograd.grad(a[i], zt, retain_graph=True)[0].numpy() for i in range(len(z))]
    return a.detach().numpy(), np.stack(rows)


def _jacobian_numeric(z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    def soft(v):
        return cr.softmax(cr.tensor(v, dtype=cr.float64), dim=0).numpy()

    cols = [(soft(z + h * e) - soft(z - h * e)) / (2 * h) for e in np.eye(len(z))]
    return np.stack(cols, axis=1)


def _ce_grad(z: np.ndarray, y: np.ndarray, fused: bool) -> np.ndarray:
    zt = cr.tensor(z, dtype=cr.float64, requires_grad=True)
    yt = cr.tensor(y, dtype=cr.float64)
    if fused:
        loss = F.cross_entropy(zt, yt)  # log-softmax inside, class-probability targets
    else:  # the composition written out: softmax, then log, then -Σ y ln a, mean over samples
        loss = -(yt * cr.log(cr.softmax(zt, dim=-1))).sum(dim=-1).mean()
    loss.backward()
    return zt.grad.numpy()


def run(config: Config) -> Result:
    gen = rng(config.seed)
    n, m = config.classes, config.batch
    z = gen.standard_normal(n) * 2
    a, jac = _jacobian_autograd(z)
    formula = np.diag(a) - np.outer(a, a)
    numeric = _jacobian_numeric(z)
    off = ~np.eye(n, dtype=bool)

    y = np.eye(n)[gen.integers(n)] * config.target_sum
    grad_one = _ce_grad(z[None], y[None], fused=False)[0]

    zb = gen.standard_normal((m, n)) * 2
    yb = np.eye(n)[gen.integers(n, size=m)] * config.target_sum
    ab = np.exp(zb - zb.max(axis=1, keepdims=True))
    ab /= ab.sum(axis=1, keepdims=True)
    expected = (ab - yb) / m
    grad_batch = _ce_grad(zb, yb, fused=False)
    grad_fused = _ce_grad(zb, yb, fused=True)
    metrics = {
        "jacobian_diag_error": float(np.abs(np.diag(jac) - a * (1 - a)).max()),
        "jacobian_offdiag_error": float(np.abs(jac[off] - (-np.outer(a, a))[off]).max()),
        "jacobian_numeric_error": float(np.abs(numeric - formula).max()),
        "jacobian_column_sums": float(np.abs(jac.sum(axis=0)).max()),
        "ce_one_sample_error": float(np.abs(grad_one - (a - y)).max()),
        "ce_batch_error": float(np.abs(grad_batch - expected).max()),
        "ce_fused_batch_error": float(np.abs(grad_fused - expected).max()),
        "target_sum": config.target_sum,
    }
    traces = {"a": a, "jacobian": jac, "formula": formula, "y": y, "grad": grad_one}
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    # float64 throughout: rounding is a few ulps of numbers below 1. Central differences
    # with h = 1e-6 are accurate to about h² times the third derivative plus 1e-16/h.
    return [
        at_most("max |autograd ∂a_i/∂z_i - a_i(1 - a_i)|", m["jacobian_diag_error"], 1e-15),
        at_most("max |autograd ∂a_i/∂z_j - (-a_i a_j)|, i ≠ j", m["jacobian_offdiag_error"], 1e-15),
        at_most("max |finite differences - (diag(a) - a aᵀ)|", m["jacobian_numeric_error"], 1e-9),
        at_most("max |column sum of the Jacobian| (Σ_i a_i = 1)", m["jacobian_column_sums"], 1e-15),
        at_most("one sample: max |autograd dC/dz - (a - y)|", m["ce_one_sample_error"], 1e-15),
        at_most(
            "batch of m, softmax then log: max |dC/dz - (A - Y)/m|", m["ce_batch_error"], 1e-16
        ),
        at_most(
            "batch of m, fused cross_entropy: max |dC/dz - (A - Y)/m|",
            m["ce_fused_batch_error"],
            1e-16,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    t = result.traces
    fig, (ax1, ax2, ax3) = plotting.figure(3, width=3.5, height=3.2)
    n = len(t["a"])
    lim = np.abs(t["jacobian"]).max()
    for ax, mat, title in (
        (ax1, t["jacobian"], "autograd Jacobian ∂a_i/∂z_j"),
        (ax2, t["formula"], "formula diag(a) − a aᵀ"),
    ):
        im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set(title=title, xlabel="j (logit)", ylabel="i (probability)")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.grid(False)
    fig.colorbar(im, ax=[ax1, ax2], shrink=0.8, location="left", pad=0.02)
    k = np.arange(n)
    ax3.bar(k - 0.2, t["a"] - t["y"], width=0.4, label="a − y (formula)")
    ax3.bar(k + 0.2, t["grad"], width=0.4, label="dC/dz (autograd)")
    ax3.axhline(0, color="k", lw=0.5)
    ax3.set(xlabel="class i", ylabel="gradient", title="cross-entropy gradient, one sample")
    ax3.legend(loc="lower left")
    return [plotting.save(fig, out_dir, "softmax-ce-gradient")]
