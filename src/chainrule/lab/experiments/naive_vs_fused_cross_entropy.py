"""Cross-entropy computed as −log(clip(softmax(z), 1e-10, 1)) on probabilities stops
tracking the true loss once the true class's probability falls below the clip (its loss
saturates at −ln 1e-10 ≈ 23.03) and there its gradient with respect to the logits is
exactly 0; the fused form on logits, log-softmax inside, keeps both the loss and the
gradient a − y at every margin.

docs/fundamentals.md §3, "Cross-entropy on probabilities or on logits", derives it:
TensorFlow's two ways of writing the loss, and why clipping the probability only guards
log(0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

import chainrule as cr
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_least, at_most, between
from chainrule.nn import functional as F

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "naive-vs-fused-cross-entropy"
SECTION = 3
DERIVATION = """
Two classes, logits z = (μ, 0) with the true class first, so μ is the margin. The true loss
is −ln a_1 = ln(1 + e^{−μ}) = softplus(−μ) and its gradient with respect to z_1 is
a_1 − 1 = −σ(−μ). The clip form computes p = softmax(z), then −ln(clip(p_1, ε, 1)). Once
p_1 < ε, i.e. μ < ln ε = −23.03 for ε = 1e−10, the clip returns the constant ε: the loss
stays at −ln ε while the true loss grows like −μ, and the clip's derivative is 0, so no
gradient reaches the logits however wrong the prediction. Without the clip, p_1 underflows
to 0 in float32 below about μ = −103.97 and the loss is inf. The fused form computes
log a_1 = z_1 − logsumexp(z) directly from the logits, with no probability to round, and
its gradient is a − y exactly as derived.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``margins``: the grid of μ from ``low`` to ``high``; ``eps``: the clip;
    ``clip_form``: ``"clip"`` (softmax, clip, log: the premise) or ``"fused"``
    (log-softmax fed to the same code, which removes the premise)."""

    low: float = -120.0
    high: float = 40.0
    step: float = 0.125
    eps: float = 1e-10
    clip_form: str = "clip"


SMOKE = {"step": 0.5}


def _losses(form: str, z: cr.Tensor, target: np.ndarray, eps: float) -> cr.Tensor:
    """Per-sample losses (reduction ``none``) of one way of computing the cross-entropy."""
    if form == "fused":
        return F.cross_entropy(z, cr.tensor(target), reduction="none")
    if form == "clip":
        return F.categorical_cross_entropy(cr.softmax(z, dim=1), target, eps=eps, reduction="none")
    return -cr.log_softmax(z, dim=1)[:, 0]  # "clip" with the premise removed: fused inside


def run(config: Config) -> Result:
    margins = np.arange(config.low, config.high + config.step / 2, config.step)
    logits = np.stack([margins, np.zeros_like(margins)], axis=1).astype(np.float32)
    target = np.zeros(len(margins), dtype=np.int64)  # the first class is the true one

    out = {}
    for name, form, eps in (
        ("clip", config.clip_form, config.eps),
        ("fused", "fused", 0.0),
        ("unclipped", config.clip_form, 0.0),
    ):
        z = cr.tensor(logits, requires_grad=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            losses = _losses(form, z, target, eps)
            # Each loss depends on its own row only: the sum's gradient holds every row's.
            losses.sum().backward()
        out[name] = (
            losses.detach().numpy().astype(np.float64),
            z.grad.numpy()[:, 0].astype(np.float64),
        )

    true_loss = np.logaddexp(0.0, -margins)  # softplus(-μ), float64
    true_grad = -expit(-margins)
    clip_loss, clip_grad = out["clip"]
    fused_loss, fused_grad = out["fused"]
    threshold = math.log(config.eps)
    below = margins < threshold - config.step  # the clip is certainly active
    above = margins > threshold + config.step  # certainly not
    rel = np.abs(fused_loss - true_loss) / true_loss
    unclipped_finite = np.isfinite(out["unclipped"][0])
    metrics = {
        "clip_threshold": threshold,
        "clip_loss_max": float(clip_loss.max()),
        "clip_loss_error_at_lowest_margin": float(abs(clip_loss[0] - true_loss[0])),
        "clip_zero_gradient_fraction_below": float((clip_grad[below] == 0).mean()),
        "clip_gradient_error_above": float(np.abs(clip_grad[above] - true_grad[above]).max()),
        "clip_loss_error_above": float(
            (np.abs(clip_loss - true_loss) / np.maximum(true_loss, 1e-30))[
                above & (margins < 0)
            ].max()
        ),
        "fused_loss_rel_error_wrong_side": float(rel[margins <= 0].max()),
        "fused_loss_abs_error": float(np.abs(fused_loss - true_loss).max()),
        "fused_gradient_error": float(np.abs(fused_grad - true_grad).max()),
        "unclipped_first_finite_margin": float(margins[unclipped_finite].min()),
    }
    traces = {
        "margins": margins,
        "true_loss": true_loss,
        "true_grad": true_grad,
        **{f"{k}_loss": v[0] for k, v in out.items()},
        **{f"{k}_grad": v[1] for k, v in out.items()},
    }
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    ceiling = -m["clip_threshold"]
    return [
        # The clip form's loss can never exceed -ln(eps); it gets there (float32 rounding).
        between(
            "largest loss of the clip form (−ln ε = 23.03)",
            m["clip_loss_max"],
            ceiling - 1e-4,
            ceiling + 1e-4,
        ),
        at_least(
            "clip form, lowest margin: |loss - true loss|",
            m["clip_loss_error_at_lowest_margin"],
            50.0,
        ),
        at_least(
            "clip form: share of margins below ln ε with a gradient of exactly 0",
            m["clip_zero_gradient_fraction_below"],
            1.0,
        ),
        # Where the clip is inactive the clip form is right: float32 rounding only.
        at_most(
            "clip form above ln ε: max |gradient - (a − y)|", m["clip_gradient_error_above"], 1e-6
        ),
        at_most(
            "clip form above ln ε, wrong side: max relative loss error",
            m["clip_loss_error_above"],
            1e-6,
        ),
        at_most(
            "fused form, margins ≤ 0: max relative loss error",
            m["fused_loss_rel_error_wrong_side"],
            1e-6,
        ),
        at_most(
            "fused form: max |loss - true loss| over all margins", m["fused_loss_abs_error"], 1e-5
        ),
        at_most(
            "fused form: max |gradient - (a − y)| over all margins", m["fused_gradient_error"], 1e-6
        ),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    mu = t["margins"]
    fig, (ax1, ax2) = plotting.figure(2, width=4.6)
    ax1.semilogy(mu, t["true_loss"], color="k", lw=3, alpha=0.3, label="true loss (float64)")
    ax1.semilogy(mu, t["clip_loss"], label="−log clip(softmax(z), 1e−10, 1)")
    ax1.semilogy(mu, t["fused_loss"], ls="--", label="fused cross_entropy(z)")
    ax1.axvline(m["clip_threshold"], color="#D55E00", ls=":", label="ln ε = −23.03")
    ax1.set_xlabel("margin μ = z_true − z_other")
    ax1.set_ylabel("loss (log scale)")
    ax1.set_title("the clip form saturates at −ln ε")
    ax1.annotate(
        "float32: both forms round\nthe loss to 0 past μ ≈ 16.6",
        xy=(16.6, 1e-8),
        xytext=(-10, 1e-13),
        fontsize=7,
        arrowprops={"arrowstyle": "->", "lw": 0.8},
    )
    ax1.legend(loc="lower left")
    ax2.plot(mu, -t["true_grad"], color="k", lw=3, alpha=0.3, label="true |a − y|")
    ax2.plot(mu, -t["clip_grad"], label="clip form")
    ax2.plot(mu, -t["fused_grad"], ls="--", label="fused form")
    ax2.axvline(m["clip_threshold"], color="#D55E00", ls=":", label="ln ε")
    ax2.set_xlabel("margin μ = z_true − z_other")
    ax2.set_ylabel("−∂loss/∂z_true")
    ax2.set_title("the clip form's gradient vanishes below ln ε")
    ax2.legend(loc="center right")
    return [plotting.save(fig, out_dir, "naive-vs-fused-cross-entropy")]
