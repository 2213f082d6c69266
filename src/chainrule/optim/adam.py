r"""Adam and AdamW: momentum and RMSprop together, with bias correction."""

from __future__ import annotations

import math

from chainrule._backend import xp
from chainrule.optim.arith import add_scaled_square_, lerp_, root_plus, sub_scaled_ratio_
from chainrule.optim.optimizer import (
    Optimizer,
    hyperparameters,
    regularized,
)

__all__ = ["Adam", "AdamW", "adam_update"]


# Mirrors PyTorch's functional signature (torch.optim.adam.adam), for one parameter.
def adam_update(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    *,
    step: float,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    bias_correction: bool,
    decoupled: bool,
    maximize: bool,
    scratch: tuple = (),
) -> None:
    r"""One Adam (or AdamW) step on arrays, in place (PyTorch's algorithm), at step ``t``:

    .. code-block:: text

        g ← -g                                    if maximize
        θ ← θ (1 - γλ)                            if decoupled (AdamW)
        g ← g + λ θ                               otherwise, if λ ≠ 0 (L2)
        m ← m + (1 - β1)(g - m)                   i.e. β1 m + (1 - β1) g
        v ← β2 v + (1 - β2) g²
        c1 ← 1 - β1^t,  c2 ← 1 - β2^t            (both 1 without bias_correction)
        v̂ ← max(v̂, v) if amsgrad else v
        θ ← θ - (γ / c1) m / (√v̂ / √c2 + ε)

    ``scratch``: optionally two work arrays shaped like ``param``; the step then
    allocates no temporaries (beyond those ``maximize`` and L2 decay need). Each line of
    the body is a line of the box, in place (``arith.py``).
    """
    m, v = exp_avg, exp_avg_sq
    work, ratio = scratch or (xp.empty_like(param), xp.empty_like(param))
    if decoupled and weight_decay != 0:
        param *= 1 - lr * weight_decay
    grad = regularized(grad, param, 0 if decoupled else weight_decay, maximize)
    lerp_(m, grad, 1 - beta1, work)  # m ← m + (1 - β1)(g - m)
    v *= beta2  # v ← β2 v + (1 - β2) g²
    add_scaled_square_(v, grad, 1 - beta2, work)
    c1, c2 = (1 - beta1**step, 1 - beta2**step) if bias_correction else (1.0, 1.0)
    if amsgrad:
        v = xp.maximum(max_exp_avg_sq, v, out=max_exp_avg_sq)  # v̂ ← max(v̂, v)
    denom = root_plus(v, math.sqrt(c2), eps, out=work)  # √v̂ / √c2 + ε
    sub_scaled_ratio_(param, m, denom, lr / c1, ratio)  # θ ← θ - (γ / c1) m / denom


class Adam(Optimizer):
    r"""Adam: a momentum average of the gradient divided by the root of an average of its
    square, with both averages corrected for starting at zero. The algorithm is in
    :func:`adam_update`.

    Conventions
    -----------
    *Bias correction.* :math:`m` and :math:`v` start at 0, so early averages are too small
    by the factors :math:`1 - \beta^t`; the standard algorithm divides them out.
    ``bias_correction=False`` gives the uncorrected Adam of docs/fundamentals.md §4 ("Adam
    and its bias correction"):
    ``m = b1*m + (1-b1)*dx; v = b2*v + (1-b2)*dx**2; x -= lr * m / (sqrt(v) + eps)``.

    *eps* is added after the square root of the corrected :math:`v`, i.e.
    :math:`\sqrt{\hat v} + \epsilon` (PyTorch's placement; some libraries add it inside
    the root).

    *Weight decay* here is L2 regularisation: :math:`\lambda\theta` is added to the gradient
    before the averages, so it too is divided by :math:`\sqrt{\hat v}`: coordinates with
    large gradients are decayed less. :class:`AdamW` decouples it instead.

    ``amsgrad`` divides by the running maximum of :math:`v`, so the step size never grows.
    Clipping goes between ``backward()`` and ``step()``.
    """

    _decoupled = False
    update_args = ("lr", "eps", "weight_decay", "amsgrad", "bias_correction", "maximize")

    # Mirrors PyTorch's signature.
    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        bias_correction: bool = True,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, hyperparameters(locals()))

    checked = ("lr", "eps", "betas", "weight_decay")

    def _state_names(self, group: dict) -> tuple[tuple, tuple]:
        amsgrad = ("max_exp_avg_sq",) if group["amsgrad"] else ()
        return ("step",), ("exp_avg", "exp_avg_sq", *amsgrad)

    def _update(self, param, grad, state, group, options) -> None:
        if "exp_avg" not in state:
            state["step"] = 0.0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        self._run(
            adam_update,
            options,
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            state.get("max_exp_avg_sq"),
            scratch=2,
            step=state["step"],
            beta1=beta1,
            beta2=beta2,
            decoupled=self._decoupled,
        )


class AdamW(Adam):
    r"""Adam with decoupled weight decay: Adam's update, plus :math:`\theta \leftarrow
    \theta(1 - \gamma\lambda)` applied directly to the weights (default :math:`\lambda =
    10^{-2}`).

    Conventions: with L2 in the gradient (``Adam(weight_decay=λ)``), the decay term passes
    through the adaptive denominator, so weights whose gradients are large are barely
    decayed; decoupled decay shrinks every weight by the same factor per step, independent
    of the gradient history. For plain SGD the two coincide (up to rescaling :math:`\lambda`
    by the learning rate); for adaptive methods they do not.
    """

    _decoupled = True

    # Mirrors PyTorch's signature (Adam's, with weight_decay=1e-2 and no bias_correction).
    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
