r"""Adadelta: RMSprop whose step size is itself a running RMS of past updates."""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.optim.optimizer import (
    Optimizer,
    check,
    check_nonnegative,
    hyperparameters,
    regularized,
)

__all__ = ["Adadelta", "adadelta_update"]


# Mirrors PyTorch's functional signature (torch.optim.adadelta.adadelta), for one parameter.
def adadelta_update(
    param,
    grad,
    square_avg,
    acc_delta,
    *,
    lr: float,
    rho: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    r"""One Adadelta step (Zeiler, 2012) on arrays, in place, as PyTorch computes it:

    .. code-block:: text

        g ← (-g if maximize else g) + λ θ          (weight_decay λ, often 0)
        v ← ρ v + (1 - ρ) g²
        Δ ← √(u + ε) / √(v + ε) · g
        u ← ρ u + (1 - ρ) Δ²
        θ ← θ - γ Δ
    """
    grad = regularized(grad, param, weight_decay, maximize)
    square_avg *= rho
    square_avg += (1 - rho) * (grad * grad)
    delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
    acc_delta *= rho
    acc_delta += (1 - rho) * (delta * delta)
    param -= lr * delta


class Adadelta(Optimizer):
    r"""Adadelta: the step is the ratio of two running RMS values, of past updates and of
    past gradients, so it has the units of the parameter and needs no learning rate in
    principle (``lr`` scales it, 1.0 by default).

    Conventions: eps is added inside both square roots (it also sets the size of the very
    first steps, when the update history is empty). Clipping goes between ``backward()``
    and ``step()``.
    """

    # Mirrors PyTorch's signature.
    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, hyperparameters(locals()))

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        check(0 <= group["rho"] <= 1, f"Invalid rho value: {group['rho']} (must be in [0, 1])")
        check_nonnegative(group, "eps", "weight_decay")

    update_args = ("lr", "rho", "eps", "weight_decay", "maximize")

    def _state_names(self, group: dict) -> tuple[tuple, tuple]:
        return ("step",), ("square_avg", "acc_delta")

    def _update(self, param, grad, state, group, options) -> None:
        if "square_avg" not in state:
            state["step"] = 0.0
            state["square_avg"] = xp.zeros_like(param)
            state["acc_delta"] = xp.zeros_like(param)
        state["step"] += 1
        self._run(adadelta_update, options, param, grad, state["square_avg"], state["acc_delta"])
