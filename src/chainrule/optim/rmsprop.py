r"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.optim.optimizer import (
    Optimizer,
    check,
    hyperparameters,
    regularized,
)

__all__ = ["RMSprop", "rmsprop_update"]


# Mirrors PyTorch's functional signature (torch.optim.rmsprop.rmsprop), for one parameter.
def rmsprop_update(
    param,
    grad,
    square_avg,
    momentum_buffer,
    grad_avg,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    r"""One RMSprop step on arrays, in place (PyTorch's algorithm):

    .. code-block:: text

        g ← (-g if maximize else g) + λ θ          (weight_decay λ, often 0)
        v ← α v + (1 - α) g²
        if centered:  ḡ ← ḡ + (1 - α)(g - ḡ);   d ← √(v - ḡ²) + ε
        else:         d ← √v + ε
        if μ > 0:     b ← μ b + g / d;   θ ← θ - γ b
        else:         θ ← θ - γ g / d
    """
    grad = regularized(grad, param, weight_decay, maximize)
    square_avg *= alpha
    square_avg += (1 - alpha) * (grad * grad)
    if centered:
        grad_avg += (1 - alpha) * (grad - grad_avg)
        avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = xp.sqrt(square_avg) + eps
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += grad / avg
        param -= lr * momentum_buffer
    else:
        param -= lr * (grad / avg)


class RMSprop(Optimizer):
    r"""RMSprop: Adagrad with a leaky average (decay :math:`\alpha`) instead of an ever
    growing sum, so the effective rate adapts instead of dying out.

    Conventions: eps is added after the square root (PyTorch; TensorFlow adds it inside).
    ``centered`` divides by an estimate of the gradient's standard deviation rather than
    its root mean square. With ``momentum`` the normalised gradient is accumulated in a
    buffer. Clipping goes between ``backward()`` and ``step()``.
    """

    # Mirrors PyTorch's signature.
    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, hyperparameters(locals()))

    checked = ("lr", "eps", "momentum", "weight_decay")

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        check(
            0 <= group["alpha"] <= 1, f"Invalid alpha value: {group['alpha']} (must be in [0, 1])"
        )

    update_args = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def _state_names(self, group: dict) -> tuple[tuple, tuple]:
        momentum = ("momentum_buffer",) if group["momentum"] > 0 else ()
        centered = ("grad_avg",) if group["centered"] else ()
        return ("step",), ("square_avg", *momentum, *centered)

    def _update(self, param, grad, state, group, options) -> None:
        if "square_avg" not in state:
            state["step"] = 0.0
            state["square_avg"] = xp.zeros_like(param)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        self._run(
            rmsprop_update,
            options,
            param,
            grad,
            state["square_avg"],
            state.get("momentum_buffer"),
            state.get("grad_avg"),
        )
