"""Gradient clipping, applied between ``backward()`` and ``optimizer.step()``, and the
conversion between a model's parameters and one flat vector."""

from __future__ import annotations

import math

from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.tensor import Tensor, _make

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _grads(parameters) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    r"""Rescale gradients in place so that their joint norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the vector of every gradient's norm (the
    norm of all gradients concatenated); each gradient is multiplied by
    :math:`\min(1, \mathrm{max\_norm}/(\mathrm{total} + 10^{-6}))`, PyTorch's formula.
    Returns the total norm from before clipping.
    """
    grads = _grads(parameters)
    if not grads:
        return _make(xp.asarray(0.0, dtype="float32"), None, False)
    return _scale_to_norm(float(max_norm), float(norm_type), error_if_nonfinite, *grads)


@replayable  # array work on the gradients: a step captured by cr.compile repeats it
def _scale_to_norm(max_norm: float, norm_type: float, error_if_nonfinite: bool, *grads):
    if math.isinf(norm_type):
        norms = [xp.abs(g._array).max() if g._array.size else xp.asarray(0.0) for g in grads]
        total = xp.max(xp.stack([xp.asarray(n) for n in norms]))
    else:
        norms = [(xp.abs(g._array) ** norm_type).sum() ** (1 / norm_type) for g in grads]
        total = (xp.stack([xp.asarray(n) for n in norms]) ** norm_type).sum() ** (1 / norm_type)
    total = xp.asarray(total, dtype=grads[0]._array.dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total {norm_type}-norm of the gradients is {float(total)}; "
            "the gradients contain nan or inf"
        )
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    for g in grads:
        g._array *= xp.asarray(coef, dtype=g._array.dtype)
        g._bump_version()
    return _make(total, None, False)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    _clamp(float(clip_value), *_grads(parameters))


@replayable  # array work on the gradients: a step captured by cr.compile repeats it
def _clamp(clip_value: float, *grads) -> None:
    for g in grads:
        xp.clip(g._array, -clip_value, clip_value, out=g._array)
        g._bump_version()


def parameters_to_vector(parameters) -> Tensor:
    """All ``parameters`` flattened and concatenated, in order, into one vector. It is
    in the graph: the gradient of anything computed from it flows back to the
    parameters."""
    from chainrule.ops import cat, reshape

    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: expected tensors, got {type(p).__name__}")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Make each parameter use the next ``numel`` entries of ``vec`` as its values, in
    order (as PyTorch, through ``.data``: the parameters then share ``vec``'s memory, and
    autograd does not see the change)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector, got shape {tuple(vec.shape)}"
        )
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    needed = sum(p._array.size for p in params)
    if vec.shape[0] < needed:
        raise ValueError(
            f"vector_to_parameters: the parameters hold {needed} values, but the vector has "
            f"only {vec.shape[0]}"
        )
    start = 0
    for p in params:
        n = p._array.size
        p.data = _make(vec._array[start : start + n].reshape(p._array.shape), None, False)
        start += n
