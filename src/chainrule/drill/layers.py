r"""Drills on the remedies for overfitting (docs/fundamentals.md §5): batch
normalisation's forward pass, inverted dropout in training and evaluation, and the
gradients of the L1 and L2 penalties.

Keys: ``nn.BatchNorm1d`` (and ``F.batch_norm``, ``mean``, ``var``), ``nn.Dropout``, and
autograd on ``F.l1_penalty`` / ``F.l2_penalty``. The penalties' worked solution reads its
gradients from ``cr.explain``'s trace.
"""

from __future__ import annotations

import numpy as np

from chainrule import autograd, nn
from chainrule import generator as _random
from chainrule import random as _stream
from chainrule.autograd.grad_mode import no_grad
from chainrule.drill.core import Draft, Numbers, Quantity, SolutionStep, fmt, par
from chainrule.drill.registry import register
from chainrule.drill.tracing import TraceReader
from chainrule.dtypes import float64
from chainrule.nn import functional as F
from chainrule.tensor import tensor

__all__ = ["batchnorm_forward", "dropout_scale", "l1_l2_gradient"]

SECTION = "Overfitting remedies"


# ----------------------------------------------------------------------------- batch norm
@register("batchnorm-forward", "Batch normalisation of a small batch", SECTION)
def batchnorm_forward(n: Numbers) -> Draft:
    """One feature over a batch of 4: normalise with the batch statistics, scale, shift."""
    while True:
        x = n.values(4, -2, 2, avoid=())
        sd = x.std()
        # no sample at the mean: x - mean would be a difference of near-equal numbers
        if sd >= 0.2 and np.abs(x - x.mean()).min() >= 0.1 * sd:
            break
    inputs = {"x": x, "gamma": n.value(0.5, 2, avoid=()), "beta": n.value(-1, 1, avoid=())}
    eps = 1e-5  # BatchNorm1d's default
    batch = tensor(x[:, None])  # 4 samples of 1 feature, (N, C)
    layer = nn.BatchNorm1d(1, eps=eps, dtype=float64)  # training mode: batch statistics
    with no_grad():
        layer.weight.fill_(inputs["gamma"])
        layer.bias.fill_(inputs["beta"])
    key = {
        "mean": batch.mean(0).numpy(),
        "var": batch.var(0, correction=0).numpy(),
        "x_hat": F.batch_norm(batch, training=True, eps=eps).numpy()[:, 0],
        "y": layer(batch).detach().numpy()[:, 0],
    }
    question = (
        "A batch-normalisation layer in training mode receives one feature for a batch of 4 "
        "samples, x. Normalise it with the batch mean and the (biased, 1/N) batch variance, "
        f"x̂ = (x - μ) / √(σ² + ε) with ε = {eps:g}, then scale and shift: y = γ x̂ + β."
    )
    quantities = [
        Quantity("mean", "the batch mean μ", (), "μ = (x_0 + x_1 + x_2 + x_3) / 4."),
        Quantity("var", "the batch variance σ²", (), "σ² = Σ_i (x_i - μ)² / 4 (divide by N)."),
        Quantity("x_hat", "x̂, the normalised batch", (4,), "x̂_i = (x_i - μ) / √(σ² + ε)."),
        Quantity("y", "y = γ x̂ + β", (4,), "Scale each x̂_i by γ, then add β."),
    ]

    def solve() -> list[SolutionStep]:
        gamma, beta = inputs["gamma"], inputs["beta"]
        mu = x.mean()
        d = x - mu
        var = (d * d).mean()
        x_hat = d / np.sqrt(var + eps)
        y = gamma * x_hat + beta
        return [
            SolutionStep(
                "Batch mean",
                [f"μ = Σ_i x_i / N = {fmt(x.sum())} / 4 = {fmt(mu)}"],
                {"mean": mu},
            ),
            SolutionStep(
                "Batch variance",
                [
                    f"x - μ = {fmt(d)}",
                    f"σ² = Σ_i (x_i - μ)² / N = {fmt((d * d).sum())} / 4 = {fmt(var)}",
                ],
                {"var": var},
            ),
            SolutionStep(
                "Normalise",
                [
                    f"√(σ² + ε) = {fmt(np.sqrt(var + eps))}",
                    f"x̂ = (x - μ) / √(σ² + ε) = {fmt(x_hat)} (mean 0, variance 1 over the batch)",
                ],
                {"x_hat": x_hat},
            ),
            SolutionStep(
                "Scale and shift",
                [
                    f"y = γ x̂ + β = {fmt(gamma)} × {fmt(x_hat)} + {par(beta)} = {fmt(y)}",
                    "γ and β are learned, so the layer can undo the normalisation where that "
                    "helps. In evaluation the running averages of μ and σ² replace the batch's, "
                    "so a sample's output does not depend on the rest of its batch.",
                ],
                {"y": y},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- dropout
def _drop(x: np.ndarray, p: float, seed: int) -> tuple[np.ndarray, object, object]:
    """chainrule's own Dropout on x, in training mode, with the first mask drawn from the
    library's generator seeded at ``seed``, ``seed + 1``, ... that keeps some units and
    drops others. The generator's state is restored afterwards, so the exercise leaves no
    trace in the library's random stream."""
    layer = nn.Dropout(p)
    saved = _stream.get_rng_state()
    try:
        for k in range(100):
            _random.manual_seed(seed + k)
            xt = tensor(x, requires_grad=True)
            out = layer(xt)
            keep = out.detach().numpy() != 0
            if keep.any() and not keep.all():
                return keep.astype(np.int64), xt, out
    finally:
        _stream.set_rng_state(saved)
    raise RuntimeError("dropout-scale: no mixed mask in 100 draws")  # pragma: no cover


@register("dropout-scale", "Inverted dropout in training and in evaluation", SECTION)
def dropout_scale(n: Numbers) -> Draft:
    """What inverted dropout multiplies the kept units by, and what it does in eval."""
    p = n.pick((0.2, 0.25, 0.5))
    x = n.values(4, -2, 2, gap=0.1)
    mask, xt, out = _drop(x, p, n.integer(0, 2**31 - 101))
    (through,) = autograd.grad(out.sum(), xt)  # mask / (1 - p): what each unit is multiplied by
    layer = nn.Dropout(p).eval()
    inputs = {"x": x, "p": p, "mask": mask}
    key = {
        "scale": through.numpy()[mask == 1][0],
        "train_output": out.detach().numpy(),
        "eval_output": layer(tensor(x)).numpy(),
    }
    question = (
        f"An inverted-dropout layer with drop probability p = {p:g} receives x. In training "
        "it drew the mask (1: unit kept, 0: dropped). Compute the factor the kept units are "
        "multiplied by, the layer's output in training, and its output in evaluation."
    )
    quantities = [
        Quantity(
            "scale",
            "the factor applied to a kept unit",
            (),
            "Inverted dropout keeps each unit with probability 1 - p and divides it by 1 - p, "
            "so that the expected output equals the input.",
        ),
        Quantity(
            "train_output", "the output in training", (4,), "mask ⊙ x / (1 - p), unit by unit."
        ),
        Quantity(
            "eval_output",
            "the output in evaluation",
            (4,),
            "Dropout is used only in training; what does the layer do in evaluation?",
        ),
    ]

    def solve() -> list[SolutionStep]:
        scale = 1.0 / (1.0 - p)
        train = mask * x * scale
        return [
            SolutionStep(
                "The scale",
                [
                    f"Each unit is kept with probability 1 - p = {fmt(1 - p)}; dividing the kept "
                    f"ones by it, 1/(1 - p) = {fmt(scale)}, makes E[output] = (1 - p)·x/(1 - p) "
                    "= x, so nothing needs rescaling at evaluation."
                ],
                {"scale": scale},
            ),
            SolutionStep(
                "Training",
                [
                    f"output = mask ⊙ x / (1 - p) = {fmt(mask)} ⊙ {fmt(x)} × {fmt(scale)} = {fmt(train)}"
                ],
                {"train_output": train},
            ),
            SolutionStep(
                "Evaluation",
                [
                    f"The layer is the identity: output = x = {fmt(x)}. (The gradient in "
                    "training flows through the same mask and scale.)"
                ],
                {"eval_output": x},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- penalties
@register("l1-l2-gradient", "The L1 and L2 penalties and their gradients", SECTION)
def l1_l2_gradient(n: Numbers) -> Draft:
    """λ Σ|w| and λ ½ Σ w² for 3 weights, and their gradients."""
    inputs = {"w": n.values(3, -2, 2, gap=0.05), "lam": n.pick((0.01, 0.1, 0.5))}
    lam = inputs["lam"]
    w = tensor(inputs["w"], requires_grad=True)
    l1 = lam * F.l1_penalty(w)
    l2 = lam * F.l2_penalty(w)
    key = {
        "l1": l1.item(),
        "l1_grad": autograd.grad(l1, w)[0].numpy(),
        "l2": l2.item(),
        "l2_grad": autograd.grad(l2, w)[0].numpy(),
    }
    question = (
        f"The weights w are penalised with strength lam = {lam:g}, by the L1 (lasso) penalty "
        "lam·Σ|w_i| or by the L2 (ridge) penalty lam·½Σw_i² (chainrule's F.l2_penalty has the "
        "½). Compute both penalties and their gradients with respect to w."
    )
    quantities = [
        Quantity("l1", "lam·Σ|w_i|", (), "Add the absolute values, multiply by lam."),
        Quantity("l1_grad", "∂(lam·Σ|w_i|)/∂w", (3,), "d|w|/dw = sign(w) (w ≠ 0)."),
        Quantity("l2", "lam·½Σw_i²", (), "Add the squares, halve, multiply by lam."),
        Quantity("l2_grad", "∂(lam·½Σw_i²)/∂w", (3,), "d(½w²)/dw = w."),
    ]

    def solve() -> list[SolutionStep]:
        wv = inputs["w"]
        w = tensor(wv, requires_grad=True)
        r1 = TraceReader(lam * F.l1_penalty(w), {"w": w})
        r2 = TraceReader(lam * F.l2_penalty(w), {"w": w})
        return [
            SolutionStep(
                "L1 penalty",
                [f"lam·Σ|w_i| = {fmt(lam)} × {fmt(np.abs(wv).sum())} = {fmt(r1.trace.loss)}"],
                {"l1": r1.trace.loss},
            ),
            SolutionStep(
                "L1 gradient",
                [
                    "The gradient below is the one cr.explain records for this computation.",
                    f"∂/∂w = lam·sign(w) = {fmt(lam)} × {fmt(np.sign(wv))} = {fmt(r1.grad(w))}",
                    "A pull of the same size, lam, whatever the weight: small weights reach 0 "
                    "and stay there, which makes L1 select features.",
                ],
                {"l1_grad": r1.grad(w)},
            ),
            SolutionStep(
                "L2 penalty",
                [f"lam·½Σw_i² = {fmt(lam)} × ½ × {fmt((wv * wv).sum())} = {fmt(r2.trace.loss)}"],
                {"l2": r2.trace.loss},
            ),
            SolutionStep(
                "L2 gradient",
                [
                    f"∂/∂w = lam·w = {fmt(lam)} × {fmt(wv)} = {fmt(r2.grad(w))}",
                    "A pull proportional to the weight (weight decay: an SGD step multiplies w "
                    "by 1 - lr·lam), which shrinks large weights most and rarely makes one 0.",
                ],
                {"l2_grad": r2.grad(w)},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)
