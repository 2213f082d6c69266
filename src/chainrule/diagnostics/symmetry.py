r"""The symmetry failure: hidden units that are copies of each other.

Two hidden units with the same incoming weights and bias compute the same output for
every input. If their outgoing weights are equal too (as after a zero or constant
initialisation), backpropagation gives them the same gradient, so after every update they
are still equal: the layer has as many distinct units as groups of copies, however wide
it is. Random initialisation breaks the tie once and for all.
"""

from __future__ import annotations

import numpy as np

__all__ = ["distinct_rows", "hidden_layers", "symmetry"]


def distinct_rows(weight, bias=None, atol: float = 0.0) -> int:
    """The number of different units of a layer: rows of ``weight`` (one per output unit;
    the rest of a convolution's weight flattened) joined with their ``bias``, two rows
    being the same when no entry differs by more than ``atol``."""
    w = np.asarray(weight, dtype=np.float64)
    rows = w.reshape(w.shape[0], -1) if w.ndim else w.reshape(1, 1)
    if bias is not None:
        rows = np.concatenate([rows, np.asarray(bias, np.float64).reshape(-1, 1)], axis=1)
    if atol <= 0:
        return int(np.unique(rows, axis=0).shape[0])
    groups: list[np.ndarray] = []  # one representative per group, greedily
    for r in rows:
        if not any(np.max(np.abs(r - g)) <= atol for g in groups):
            groups.append(r)
    return len(groups)


def hidden_layers(model) -> list[tuple[str, object]]:
    """``(name, module)`` for the modules whose weight has one row per unit (2-D or more:
    Linear, Conv2d), in registration order, without the last one, which produces the
    outputs: output units are told apart by their targets, not by their weights."""
    layers = []
    for name, m in model.named_modules():
        w = m._parameters.get("weight")
        if w is not None and w.ndim >= 2:
            layers.append((name, m))
    return layers[:-1]


def symmetry(model, atol: float = 0.0) -> dict[str, int]:
    """How many distinct hidden units each layer of ``model`` really has.

    Parameters
    ----------
    model : nn.Module
    atol : float
        Two units are the same when their incoming weights and bias differ by at most
        this much, entry by entry (0: exactly equal).

    Returns
    -------
    dict
        Layer name (as in ``named_modules()``) -> number of distinct hidden units, for
        every layer with a weight of two or more dimensions except the last (the output
        layer). A layer of 32 units after ``nn.init.zeros_`` has 1.
    """
    if atol < 0:
        raise ValueError(f"symmetry: atol must be non-negative, got {atol}")
    out = {}
    for name, m in hidden_layers(model):
        bias = m._parameters.get("bias")
        out[name] = distinct_rows(m.weight._array, None if bias is None else bias._array, atol=atol)
    return out
