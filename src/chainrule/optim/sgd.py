r"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.optim.arith import sub_scaled_
from chainrule.optim.optimizer import (
    Optimizer,
    check,
    hyperparameters,
    regularized,
)

__all__ = ["SGD", "sgd_update"]


# Mirrors PyTorch's functional signature (torch.optim.sgd.sgd), for one parameter.
def sgd_update(
    param,
    grad,
    momentum_buffer,
    *,
    first: bool,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    scratch: tuple = (),
) -> None:
    r"""One SGD step on arrays, in place (PyTorch's algorithm):

    .. code-block:: text

        g ← -g                                    if maximize
        g ← g + λ θ                               if weight_decay λ ≠ 0
        if μ ≠ 0:
            b ← g                                 on the first step
            b ← μ b + (1 - τ) g                   afterwards (dampening τ)
            g ← g + μ b   if nesterov   else   g ← b
        θ ← θ - γ g

    ``scratch``: optionally one work array shaped like ``param``, so that the step
    allocates no temporary for γ g.
    """
    grad = regularized(grad, param, weight_decay, maximize)
    if momentum != 0:
        if first:
            momentum_buffer[...] = grad
        else:
            momentum_buffer *= momentum
            momentum_buffer += grad if dampening == 0 else (1 - dampening) * grad
        grad = grad + momentum * momentum_buffer if nesterov else momentum_buffer
    sub_scaled_(param, grad, lr, scratch[0] if scratch else None)  # θ ← θ - γ g


class SGD(Optimizer):
    r"""Stochastic gradient descent: :math:`\theta \leftarrow \theta - \gamma g`, the
    vanilla update :math:`x = x - lr \cdot dx` (docs/fundamentals.md §4), optionally with
    momentum, dampening, L2 weight decay and Nesterov momentum. The algorithm is in
    :func:`sgd_update`.

    Conventions
    -----------
    *Momentum.* PyTorch's form, used here, keeps a velocity free of the learning rate:
    :math:`b = \mu b + g`, :math:`\theta = \theta - \gamma b`. The other common form
    (docs/fundamentals.md §4, "Momentum: two ways of writing it") folds the rate in:
    :math:`v = \mu v - \gamma g`, :math:`x = x + v`. By induction :math:`v = -\gamma b` at
    every step while :math:`\gamma` is constant, so the two produce the same iterates. Once
    a schedule changes :math:`\gamma`, they differ: that form's :math:`v` still carries the
    old rate, PyTorch's :math:`b` is rescaled by the new one at once. The first step sets
    :math:`b = g` (no dampening), as PyTorch does.

    *Nesterov.* The textbook form (docs/fundamentals.md §4, "Nesterov: the look-ahead,
    rewritten") evaluates the gradient at the look-ahead point:
    :math:`x_{ahead} = x + \mu v`, :math:`v = \mu v - \gamma\nabla f(x_{ahead})`,
    :math:`x = x + v`. Storing the look-ahead point itself as the parameter,
    :math:`\theta = x + \mu v`, turns this into :math:`b = \mu b + g`, :math:`\theta = \theta -
    \gamma(g + \mu b)` with :math:`g = \nabla f(\theta)`: the gradient the backward pass
    already computed, so no extra evaluation is needed. (Same iterates for a constant rate;
    the parameters are the look-ahead points.)

    *Weight decay* adds :math:`\lambda\theta` to the gradient (L2 regularisation, the
    gradient of :math:`\frac\lambda2\|\theta\|^2`).

    Where clipping goes: ``loss.backward()``, then ``cr.nn.utils.clip_grad_norm_(...)``,
    then ``optimizer.step()``.
    """

    # Mirrors PyTorch's signature.
    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, hyperparameters(locals()))

    checked = ("lr", "momentum", "weight_decay")

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        check(
            not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
            "Nesterov momentum requires a momentum > 0 and zero dampening",
        )

    update_args = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def _state_names(self, group: dict) -> tuple[tuple, tuple]:
        return (), ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _update(self, param, grad, state, group, options) -> None:
        first, buf = False, None
        if group["momentum"] != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                first, buf = True, state.setdefault("momentum_buffer", xp.empty_like(param))
        self._run(sgd_update, options, param, grad, buf, scratch=1, first=first)
