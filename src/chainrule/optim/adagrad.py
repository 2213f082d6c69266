r"""Adagrad: a per-coordinate learning rate that shrinks where gradients have been large."""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.optim.optimizer import Optimizer, hyperparameters, regularized

__all__ = ["Adagrad", "adagrad_update"]


# Mirrors PyTorch's functional signature (torch.optim.adagrad.adagrad), for one parameter.
def adagrad_update(
    param,
    grad,
    state_sum,
    *,
    step: float,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    r"""One Adagrad step on arrays, in place (PyTorch's algorithm), at step ``t``:

    .. code-block:: text

        g ← -g                                    if maximize
        g ← g + λ θ                               if weight_decay λ ≠ 0
        γ_t ← γ / (1 + (t - 1) η)                 (lr_decay η)
        s ← s + g²                                (s starts at initial_accumulator_value)
        θ ← θ - γ_t g / (√s + ε)
    """
    grad = regularized(grad, param, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += grad * grad
    param -= clr * (grad / (xp.sqrt(state_sum) + eps))


class Adagrad(Optimizer):
    r"""Adagrad. The textbook rule (docs/fundamentals.md §4, "The update rules"):
    ``cache += dx**2; x -= lr * dx / (sqrt(cache) + eps)``, which is :func:`adagrad_update`
    with ``lr_decay=0`` and no weight decay (eps outside the square root in both).
    Coordinates with a history of large gradients take small steps; the accumulated sum
    only grows, so the effective rate decays toward 0 (what RMSprop and Adam fix with a
    moving average).

    Conventions: eps is added after the square root; the first step uses the full
    learning rate (:math:`t - 1 = 0` in the decay). Clipping goes between ``backward()``
    and ``step()``.
    """

    # Mirrors PyTorch's signature.
    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, hyperparameters(locals()))

    checked = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    update_args = ("lr", "lr_decay", "weight_decay", "eps", "maximize")

    def _state_names(self, group: dict) -> tuple[tuple, tuple]:
        return ("step",), ("sum",)

    def _update(self, param, grad, state, group, options) -> None:
        if "sum" not in state:
            state["step"] = 0.0
            state["sum"] = xp.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        self._run(adagrad_update, options, param, grad, state["sum"], step=state["step"])
