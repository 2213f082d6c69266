r"""NAdam: Adam with Nesterov momentum (Dozat 2016), PyTorch's form."""

from __future__ import annotations

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule.optim.optimizer import (
    Optimizer,
    hyperparameters,
    regularized,
)

__all__ = ["NAdam", "nadam_update"]


def momentum_coefficient(beta1: float, momentum_decay: float, step: float) -> float:
    r""":math:`\mu_t = \beta_1(1 - \tfrac12\, 0.96^{t\psi})`: the momentum of step ``t``,
    which warms up from :math:`\beta_1/2` towards :math:`\beta_1` (Dozat's schedule)."""
    return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))


# Mirrors PyTorch's functional signature (torch.optim.nadam.nadam), for one parameter.
def nadam_update(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    *,
    step: float,
    mu_product: float,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    momentum_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    r"""One NAdam step on arrays, in place (PyTorch's algorithm), at step ``t``, with
    ``mu_product`` :math:`= \prod_{i \le t} \mu_i` (this step's :math:`\mu_t` included):

    .. code-block:: text

        g ← -g                                    if maximize
        θ ← θ (1 - γλ)                            if decoupled_weight_decay
        g ← g + λ θ                               otherwise, if λ ≠ 0 (L2)
        μ_t ← β1 (1 - ½ 0.96^(t ψ));   μ_{t+1} ← β1 (1 - ½ 0.96^((t+1) ψ))
        m ← m + (1 - β1)(g - m)
        v ← β2 v + (1 - β2) g²
        d ← √(v / (1 - β2^t)) + ε
        θ ← θ - γ (1 - μ_t) / (1 - Π_t) · g / d
        θ ← θ - γ μ_{t+1} / (1 - Π_t μ_{t+1}) · m / d
    """
    if decoupled_weight_decay and weight_decay != 0:
        param *= 1 - lr * weight_decay
    grad = regularized(grad, param, 0 if decoupled_weight_decay else weight_decay, maximize)
    mu = momentum_coefficient(beta1, momentum_decay, step)
    mu_next = momentum_coefficient(beta1, momentum_decay, step + 1)
    exp_avg += (1 - beta1) * (grad - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    denom = xp.sqrt(exp_avg_sq / (1 - beta2**step)) + eps
    param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
    param += (-lr * mu_next / (1.0 - mu_product * mu_next)) * exp_avg / denom


class NAdam(Optimizer):
    r"""NAdam: Adam whose momentum step looks ahead, as Nesterov's does. The update mixes
    this step's gradient (weight :math:`1 - \mu_t`) with the momentum average that the
    next step will use (weight :math:`\mu_{t+1}`), each bias-corrected by the product of
    the momentum coefficients so far. The algorithm is in :func:`nadam_update`.

    Conventions
    -----------
    *Momentum schedule.* :math:`\mu_t = \beta_1(1 - \tfrac12 0.96^{t\psi})`, with
    ``momentum_decay`` :math:`\psi` (default 4e-3): early steps use about half of
    :math:`\beta_1`. With :math:`\psi = 0` every :math:`\mu_t = \beta_1/2`.

    *Bias correction.* The first moment is corrected by :math:`1 - \prod_i \mu_i` (state
    ``mu_product``), not by :math:`1 - \beta_1^t`; the second as in Adam. PyTorch keeps
    ``mu_product`` in its default scalar dtype: float32 unless the default dtype is
    float64; so does chainrule (``cr.get_default_dtype()``), so trajectories agree with
    PyTorch's under either setting.

    *eps* is added after the square root of the corrected :math:`v`, as in Adam.

    *Weight decay*: L2 (added to the gradient) by default; ``decoupled_weight_decay=True``
    shrinks the weights by :math:`1 - \gamma\lambda` instead (AdamW's form, "NAdamW").
    """

    update_args = (
        "lr",
        "eps",
        "weight_decay",
        "momentum_decay",
        "decoupled_weight_decay",
        "maximize",
    )

    # Mirrors PyTorch's signature.
    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, hyperparameters(locals()))

    checked = ("lr", "eps", "betas", "weight_decay", "momentum_decay")

    def _state_names(self, group: dict) -> tuple[tuple, tuple]:
        return ("step", "mu_product"), ("exp_avg", "exp_avg_sq")

    def _update(self, param, grad, state, group, options) -> None:
        if "exp_avg" not in state:
            state["step"] = 0.0
            state["mu_product"] = 1.0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        mu = momentum_coefficient(beta1, group["momentum_decay"], state["step"])
        state["mu_product"] = _scalar_product(state["mu_product"], mu)
        self._run(
            nadam_update,
            options,
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            step=state["step"],
            mu_product=state["mu_product"],
            beta1=beta1,
            beta2=beta2,
        )


def _scalar_product(product: float, factor: float) -> float:
    """``product * factor`` computed as PyTorch computes its scalar state: in float32
    (both factors rounded first) unless the default dtype is float64."""
    if _dt.get_default_dtype() == _dt.float64:
        return product * factor
    return float(np.float32(product) * np.float32(factor))
