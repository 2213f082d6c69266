"""Views: tensors that share a base tensor's memory, and how their history follows it.

A view (basic indexing, ``reshape`` when no copy is needed, ``permute``, ``transpose``,
``squeeze``, ``unsqueeze``, ``expand``) shares its base's memory and version counter.
When an in-place op changes the base (directly or through another view), the base's
history moves to a new node; each view notices this the next time it is used
(:func:`refresh_if_stale`) and rebuilds its own node from the base's by replaying the
view ops that made it. ``chainrule/ops/inplace.py`` has the in-place ops themselves.
"""

from __future__ import annotations

from chainrule.autograd.grad_mode import enable_grad
from chainrule.tensor import Tensor

__all__ = ["ViewInfo", "make_view", "refresh_if_stale", "refresh_view", "replay"]

_new = object.__new__


class ViewInfo:
    """What a view remembers of its base: ``base`` (the tensor that owns the memory; for
    a view of a view, the first one), ``steps`` (the view ops that lead from the base to
    the view, as ``(op class, arguments)``) and ``base_node`` (the base's node when the
    view's own node was last built)."""

    __slots__ = ("base", "base_node", "multi_output", "steps")

    def __init__(self, base, steps: tuple, multi_output: str | None = None) -> None:
        self.base = base
        self.steps = steps
        self.base_node = base._node
        # "Output i of Split" for a piece of split/chunk/unbind (or a view of one): PyTorch
        # refuses to record in-place changes through those (see ops/inplace.py).
        self.multi_output = multi_output


def make_view(out, x, step: tuple, multi_output: str | None = None):
    """Mark ``out``, just computed from ``x`` by the view op ``step``, as a view of ``x``'s
    memory: it shares the version counter and remembers how to find itself in the base.
    ``multi_output`` names the piece when ``out`` is one of several views that one
    function returned (``split``, ``chunk``, ``unbind``)."""
    out._version_counter = x._counter()
    info = x._view
    if info is None:
        out._view = ViewInfo(x, (step,), multi_output)
    else:
        multi_output = multi_output or info.multi_output
        out._view = ViewInfo(info.base, (*info.steps, step), multi_output)
    return out


def replay(x, steps: tuple):
    """Apply a view's steps to ``x``: a tensor (the ops are recorded) or an array."""
    for op, args in steps:
        x = op.apply(x, *args) if isinstance(x, Tensor) else _new(op).forward(x, *args)
    return x


def refresh_if_stale(view) -> None:
    """Rebuild ``view``'s node if its base has a new history since it was last built."""
    info = view._view
    if info.base_node is not info.base._node:
        refresh_view(view)


def refresh_view(view) -> None:
    """Give ``view`` a node built from its base's current one (the base's history moved,
    by an in-place op on the base or on another view of it)."""
    info = view._view
    base = info.base
    if info.multi_output and base._requires_grad:
        raise RuntimeError(
            f"{info.multi_output} is a view and its base or another view of its base has been "
            "modified inplace. This view is the output of a function that returns multiple "
            "views (split, chunk, unbind): such views cannot follow an in-place change of "
            "their base while autograd records it (nor in PyTorch). Take the pieces after "
            "the in-place operation, or clone() them."
        )
    info.base_node = base._node
    if base._requires_grad:
        with enable_grad():
            fresh = replay(base, info.steps)
        view._node = fresh._node
        view._output_index = fresh._output_index
        view._requires_grad = fresh._requires_grad
