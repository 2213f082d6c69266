r"""Loss-function drills: the hinge loss and its subgradient, the exponential loss and its
gradient, and the 0-1 loss (with its relaxed form for regression, docs/fundamentals.md §6).

Keys: ``nn.HingeLoss``, ``nn.ExponentialLoss`` and ``nn.ZeroOneLoss``, with autograd for
the gradients. The worked solutions read the gradients from ``cr.explain``'s trace.
"""

from __future__ import annotations

import numpy as np

from chainrule import autograd, nn
from chainrule.drill.core import Draft, Numbers, Quantity, SolutionStep, fmt
from chainrule.drill.registry import register
from chainrule.drill.tracing import TraceReader
from chainrule.tensor import tensor

__all__ = ["exponential_loss", "hinge", "zero_one"]

SECTION = "Loss functions"
FROM_TRACE = "The gradient below is the one cr.explain records for this computation."


def _margins_step(y: np.ndarray, t: np.ndarray) -> SolutionStep:
    return SolutionStep(
        "Margins", [f"t ⊙ y = {fmt(t)} ⊙ {fmt(y)} = {fmt(t * y)} (positive: the right side)"]
    )


def _key(loss, y: np.ndarray, t: np.ndarray) -> dict:
    """The answers from chainrule: the per-sample losses and the mean of the loss class
    ``loss``, and the mean's gradient from autograd."""
    yt = tensor(y, requires_grad=True)
    mean = loss()(yt, tensor(t))
    return {
        "losses": loss(reduction="none")(yt, tensor(t)).detach().numpy(),
        "mean": mean.item(),
        "grad": autograd.grad(mean, yt)[0].numpy(),
    }


def _mean_step(losses: np.ndarray, mean: float) -> SolutionStep:
    return SolutionStep("Mean", [f"L = {fmt(losses.sum())} / 4 = {fmt(mean)}"], {"mean": mean})


def _losses_quantities(loss: str, grad_hint: str) -> list[Quantity]:
    return [
        Quantity(
            "losses", f"the per-sample losses {loss}", (4,), f"l_n = {loss}, sample by sample."
        ),
        Quantity(
            "mean", "the mean loss L over the 4 samples", (), "L = (l_0 + l_1 + l_2 + l_3) / 4."
        ),
        Quantity("grad", "∂L/∂y for the mean loss", (4,), grad_hint),
    ]


# ----------------------------------------------------------------------------- hinge
@register("hinge", "The hinge loss and its subgradient", SECTION)
def hinge(n: Numbers) -> Draft:
    """max(0, 1 - t y) for 4 scores, some inside the margin and some beyond it."""
    while True:
        # away from y = ±1, where t y = 1 sits on the hinge
        y, t = n.values(4, -2, 2, avoid=(1.0, -1.0)), n.signs(4)
        active = t * y < 1
        if active.any() and not active.all():
            break
    inputs = {"y": y, "t": t}
    key = _key(nn.HingeLoss, y, t)
    question = (
        "Scores y of 4 samples with targets t in {-1, +1}; the hinge loss of the SVM is "
        "l_n = max(0, 1 - t_n y_n), and L is its mean. Compute each l_n, L and the "
        "(sub)gradient ∂L/∂y."
    )
    quantities = _losses_quantities(
        "max(0, 1 - t y)",
        "Where t_n y_n < 1, l_n = 1 - t_n y_n has slope -t_n; beyond the margin it is flat. "
        "Divide by N = 4 for the mean.",
    )

    def solve() -> list[SolutionStep]:
        yt = tensor(y, requires_grad=True)
        r = TraceReader(nn.HingeLoss()(yt, tensor(t)), {"y": yt})
        losses = np.maximum(0.0, 1 - t * y)
        return [
            _margins_step(y, t),
            SolutionStep(
                "Per-sample losses",
                [f"l = max(0, 1 - t ⊙ y) = max(0, {fmt(1 - t * y)}) = {fmt(losses)}"],
                {"losses": losses},
            ),
            _mean_step(losses, r.trace.loss),
            SolutionStep(
                "Subgradient",
                [
                    "∂L/∂y_n = -t_n / N where t_n y_n < 1 (inside the margin), 0 beyond it: "
                    "being right by more than the margin earns nothing.",
                    FROM_TRACE,
                    f"active = {fmt((t * y < 1).astype(float))}, so ∂L/∂y = {fmt(r.grad(yt))}",
                ],
                {"grad": r.grad(yt)},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- exponential
@register("exponential-loss", "The exponential loss and its gradient", SECTION)
def exponential_loss(n: Numbers) -> Draft:
    """exp(-t y) for 4 scores (AdaBoost's loss)."""
    inputs = {"y": n.values(4, -2, 2), "t": n.signs(4)}
    y, t = inputs["y"], inputs["t"]
    key = _key(nn.ExponentialLoss, y, t)
    question = (
        "Scores y of 4 samples with targets t in {-1, +1}; AdaBoost's exponential loss is "
        "l_n = exp(-t_n y_n), and L is its mean. Compute each l_n, L and ∂L/∂y."
    )
    quantities = _losses_quantities(
        "exp(-t y)", "d exp(-t y)/dy = -t exp(-t y); divide by N = 4 for the mean."
    )

    def solve() -> list[SolutionStep]:
        yt = tensor(y, requires_grad=True)
        # the per-sample losses, then their mean: the same loss as the key's, by another graph
        r = TraceReader(nn.ExponentialLoss(reduction="none")(yt, tensor(t)).mean(), {"y": yt})
        losses = np.exp(-t * y)
        return [
            _margins_step(y, t),
            SolutionStep(
                "Per-sample losses",
                [f"l = exp(-t ⊙ y) = exp({fmt(-t * y)}) = {fmt(losses)}"],
                {"losses": losses},
            ),
            _mean_step(losses, r.trace.loss),
            SolutionStep(
                "Gradient",
                [
                    f"∂L/∂y_n = -t_n exp(-t_n y_n) / N. {FROM_TRACE}",
                    f"∂L/∂y = -t ⊙ l / 4 = {fmt(-t * losses)} / 4 = {fmt(r.grad(yt))}",
                    "The loss never reaches 0 and grows exponentially with a wrong margin: a "
                    f"sample with t y = {fmt((t * y).min())} weighs {fmt(losses.max())}, which "
                    "is why boosting with this loss is sensitive to outliers and label noise.",
                ],
                {"grad": r.grad(yt)},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- 0-1
def _surrogate_message() -> str:
    """What chainrule answers when asked for the 0-1 loss's gradient."""
    loss = nn.ZeroOneLoss()(tensor(np.array([0.5])), tensor(np.array([1.0])))
    try:
        loss.backward()
    except RuntimeError as err:
        return str(err)
    raise AssertionError("ZeroOneLoss.backward() should refuse")  # pragma: no cover


@register("zero-one", "The 0-1 loss and its relaxed form", SECTION)
def zero_one(n: Numbers) -> Draft:
    """Sign errors for 4 classifier scores; |Y - f| ≥ T errors for 3 regression outputs."""
    while True:
        y, t = n.values(4, -2, 2), n.signs(4)
        wrong = np.sign(y) != t
        if wrong.any() and not wrong.all():
            break
    tol = n.pick((0.1, 0.25, 0.5))
    while True:
        # errors at least 0.02 from the tolerance, some within it and some beyond
        f = n.values(3, -2, 2, avoid=())
        error = n.values(3, -2 * tol, 2 * tol, avoid=(tol, -tol), gap=0.02)
        if (np.abs(error) < tol).any() and (np.abs(error) > tol).any():
            break
    target = np.round(f + error, 2)
    inputs = {"y": y, "t": t, "f": f, "target": target, "T": tol}
    key = {
        "losses": nn.ZeroOneLoss(reduction="none")(tensor(y), tensor(t)).numpy(),
        "error_rate": nn.ZeroOneLoss()(tensor(y), tensor(t)).item(),
        "relaxed": nn.ZeroOneLoss(tolerance=tol, reduction="none")(
            tensor(f), tensor(target)
        ).numpy(),
    }
    question = (
        "A classifier gives scores y to 4 samples with targets t in {-1, +1}; it predicts "
        "sign(y) (a score of 0 counts as wrong). Compute the 0-1 loss of each sample (1 when "
        f"wrong, 0 when right) and their mean, the error rate. Then a regression model predicts "
        f"f for 3 targets; with the relaxed 0-1 loss of regression a prediction counts as right "
        f"when |target - f| < T = {tol:g}: compute its 3 losses."
    )
    quantities = [
        Quantity("losses", "the 0-1 loss of each sample", (4,), "1 where sign(y_n) ≠ t_n, else 0."),
        Quantity("error_rate", "their mean", (), "The fraction of wrong samples."),
        Quantity(
            "relaxed",
            "the relaxed 0-1 losses of the regression outputs",
            (3,),
            "1 where |target - f| ≥ T, else 0.",
        ),
    ]

    def solve() -> list[SolutionStep]:
        losses = (np.sign(y) != t).astype(float)
        err = np.abs(target - f)
        relaxed = (err >= tol).astype(float)
        return [
            SolutionStep(
                "Per-sample 0-1 losses",
                [
                    f"sign(y) = {fmt(np.sign(y))} against t = {fmt(t)}: losses {fmt(losses)}",
                    "How wrong does not matter: a score just past 0 costs as much as a "
                    "confident mistake.",
                ],
                {"losses": losses},
            ),
            SolutionStep(
                "Error rate",
                [f"{fmt(losses.sum())} wrong of 4: {fmt(losses.mean())}"],
                {"error_rate": losses.mean()},
            ),
            SolutionStep(
                "Relaxed 0-1 loss",
                [
                    f"|target - f| = {fmt(err)}, against T = {tol:g}: losses {fmt(relaxed)}",
                    "Its gradient is 0 wherever it exists, so no gradient method can train on "
                    "it; it measures, and a surrogate trains. chainrule says so when asked: "
                    f"“{_surrogate_message()}”",
                ],
                {"relaxed": relaxed},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)
