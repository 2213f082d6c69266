"""Reverse-mode differentiation: the chain rule, applied node by node.

``backward`` orders the graph so that every node comes after all the nodes that consume
its output (an iterative depth-first search, so a chain of any depth works, and the order
is deterministic). It then walks that order once. Each node receives the sum of the
gradients sent by its consumers, runs its backward rule, and sends one gradient to each
parent. A leaf adds what it receives into ``.grad``.
"""

from __future__ import annotations

import sys
from operator import attrgetter

from chainrule._backend import ndarray, silence, unsilence, xp
from chainrule.autograd.function import _FREED_MESSAGE, check_saved_versions
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.rulemath import ArrayMath, TensorMath

__all__ = ["run_backward"]

# The gradients a custom Function returns are always checked (shape, dtype). Those of the
# built-in primitives are checked when this is True, as the test suite sets it: then a
# wrong shape or dtype from any rule raises. In normal runs the built-in rules, verified
# by those tests, skip the checks (they cost more than many rules themselves).
CHECK_BUILTIN_RULES = False

# Counting references tells whether a gradient array is held by anything but the engine.
# Where the interpreter cannot count them, no gradient is ever offered for reuse.
_refcount = getattr(sys, "getrefcount", lambda _: 0)
_seq_of = attrgetter("_seq")


def _toposort(roots) -> list:
    """Nodes reachable from ``roots``, each one before its parents (a leaf's ``_next`` is
    empty, so the walk stops there). Every node is numbered when it is created, after its
    parents, so the reachable set sorted by decreasing number is such an order; finding
    the set needs no recursion (any depth works), and the order is deterministic."""
    seen = set(roots)
    stack = list(seen)
    pop, push, add = stack.pop, stack.append, seen.add
    while stack:
        for parent in pop()._next:
            if parent is not None and parent not in seen:
                add(parent)
                push(parent)
    return sorted(seen, key=_seq_of, reverse=True)


def _add_pending(pending: dict, node, oi: int, g) -> None:
    if node.n_out == 1:
        prev = pending.get(node)
        pending[node] = g if prev is None else prev + g
    else:
        slots = pending.get(node)
        if slots is None:
            slots = pending[node] = [None] * node.n_out
        slots[oi] = g if slots[oi] is None else slots[oi] + g


def _run_hooks(hooks, g, differentiable):

    for hook in hooks:
        arg = g if differentiable else _make(g, None, False)
        result = hook(arg)
        if result is not None:
            if not isinstance(result, Tensor):
                raise TypeError(f"a tensor hook must return a tensor or None, got {type(result)}")
            if tuple(result.shape) != tuple(g.shape):
                raise RuntimeError(
                    f"a tensor hook returned a gradient of shape {tuple(result.shape)} "
                    f"for a tensor of shape {tuple(g.shape)}"
                )
            g = result if differentiable else result._array
    return g


def _node_hooks(node, g, differentiable):
    """Run the hooks registered on a node's output tensors (one list per output)."""
    if node.n_out == 1:
        return _run_hooks(node._hooks.get(0, ()), g, differentiable)
    return [
        _run_hooks(node._hooks.get(i, ()), gi, differentiable) if gi is not None else gi
        for i, gi in enumerate(g)
    ]


def _check_finite(node, i: int, g) -> None:
    data = g._array if not isinstance(g, ndarray) else g
    if data.dtype.kind == "f" and not xp.isfinite(data).all():
        bad = "nan" if xp.isnan(data).any() else "inf"
        where = ""
        if node.trace:
            where = "\nThe op was created here:\n" + "".join(node.trace[-6:])
        raise RuntimeError(
            f"detect_anomaly: the backward of op '{node.op_name}' produced {bad} in the "
            f"gradient for its input {i}{where}"
        )


def _accumulate_leaf(leaf, g, differentiable: bool, handed: set) -> None:
    """Add ``g`` into ``leaf.grad``, never leaving two gradients sharing one buffer."""

    if differentiable:
        # A leaf's gradient is its own tensor, never one that the caller or another leaf
        # holds too (PyTorch's AccumulateGrad clones it the same way).
        leaf._grad = g.clone() if leaf._grad is None else leaf._grad + g
        return
    if leaf._grad is None:
        # A rule may pass its incoming gradient through unchanged (add, reshape, ...), so
        # the same buffer can reach two leaves. Copy anything that may be shared, so that
        # an in-place update of one .grad (clipping, zero_) never touches another.
        if g.base is not None or id(g) in handed or not g.flags.writeable:
            g = g.copy()
        handed.add(id(g))
        leaf._grad = _make(g, None, False)
        return
    current = leaf._grad._array
    if current.flags.writeable and current.shape == g.shape and current.dtype == g.dtype:
        current += g
        leaf._grad._bump_version()
    else:
        leaf._grad = _make(current + g, None, False)


def run_backward(
    roots,
    grads,
    *,
    retain_graph: bool,
    create_graph: bool,
    inputs=None,
    accumulate: bool = True,
):
    """Back-propagate ``grads`` from ``roots``.

    ``roots``: tensors; ``grads``: one gradient per root (arrays, or tensors when
    ``create_graph``). With ``inputs`` (a list of tensors), return the gradient reaching
    each of them (None where none does); with ``accumulate``, add into leaves' ``.grad``.
    """

    F = TensorMath if create_graph else ArrayMath
    pending: dict = {}
    handed: set = set()
    root_nodes = []
    for t, g in zip(roots, grads):
        node = t._node if t._node is not None else t
        root_nodes.append(node)
        if not create_graph:
            handed.add(id(g))
        _add_pending(pending, node, t._output_index, g)

    order = _toposort(root_nodes)

    wanted = None
    captured: dict = {}
    if inputs is not None:
        wanted = {}
        for t in inputs:
            wanted.setdefault(t._node if t._node is not None else t, []).append(t)
        # Only nodes from which a wanted input can be reached need to run.
        needed = set(wanted)
        for node in reversed(order):
            if not isinstance(node, Tensor) and any(p in needed for p in node._next):
                needed.add(node)

    grad_mode, token = STATE.grad, silence()
    STATE.grad = create_graph  # only a differentiable backward records a graph
    anomaly = STATE.anomaly
    check_all = CHECK_BUILTIN_RULES or anomaly
    try:
        for node in order:
            g = pending.pop(node, None)
            if g is None:
                continue
            if wanted is not None and node in wanted:
                captured[node] = g
            if not node._next:  # a leaf tensor
                if node._hooks:
                    g = _run_hooks(node._hooks, g, create_graph)
                    if wanted is not None and node in wanted:
                        captured[node] = g
                if not accumulate:
                    continue
                if node._grad is None and not create_graph:  # the common case, inline
                    if g.base is not None or id(g) in handed or not g.flags.writeable:
                        g = g.copy()  # may be shared with another gradient; see _accumulate_leaf
                    handed.add(id(g))
                    node._grad = _make(g, None, False)
                else:
                    _accumulate_leaf(node, g, create_graph, handed)
                continue
            if wanted is not None and node not in needed:
                continue
            if node._hooks:
                g = _node_hooks(node, g, create_graph)
                if wanted is not None and node in wanted:
                    captured[node] = g
            saved = node.saved
            if saved is None:
                raise RuntimeError(_FREED_MESSAGE)
            for _, counter, expected, _ in node.saved_versions:
                if counter.value != expected:  # a saved value was changed in place since
                    check_saved_versions(node)  # raises, naming it
            if node.reuses_grad and not create_graph:
                # Nothing but this loop holds g (two references: the name and the call's
                # argument): the rule may write its result into it (see Node.grad_owned).
                node.grad_owned = (
                    type(g) is ndarray
                    and g.base is None
                    and _refcount(g) == 2
                    and g.flags.writeable
                )
            result = node.backward(F, g, *(node.unpack_saved() if create_graph else saved))
            if saved and not retain_graph:
                node.release()
            saved = g = None  # let what was released be freed before the next rule runs
            if type(result) is not tuple:
                result = (result,)
            if not (check_all or node.checked or node._next_oi is not None):
                # The common case: a built-in rule, parents with one output each.
                for parent, gi in zip(node._next, result):
                    if parent is None or gi is None:
                        continue
                    if type(gi) is not ndarray and not create_graph:
                        gi = xp.asarray(gi)  # a NumPy scalar from an op on 0-d arrays
                    if parent.n_out != 1:
                        _add_pending(pending, parent, 0, gi)
                        continue
                    prev = pending.get(parent)
                    pending[parent] = gi if prev is None else prev + gi
                result = gi = prev = None  # pending holds the gradients now, and only it
                continue
            next_oi = node._next_oi
            for i, (parent, gi) in enumerate(zip(node._next, result)):
                if parent is None or gi is None:
                    continue
                if type(gi) is not ndarray and not create_graph:
                    gi = xp.asarray(gi)
                oi = 0 if next_oi is None else next_oi[i]
                if parent.n_out != 1:
                    shape, dtype = parent.shapes[oi], parent.dtypes[oi]
                elif parent._next:  # an op node
                    shape, dtype = parent.shape, parent.dtype
                else:  # a leaf tensor
                    shape, dtype = parent._array.shape, parent._array.dtype
                if gi.shape != shape:
                    raise RuntimeError(
                        f"the backward of op '{node.op_name}' returned a gradient of shape "
                        f"{tuple(gi.shape)} for its input {i}, which has shape {tuple(shape)}"
                    )
                if gi.dtype != dtype:
                    if check_all and not node.checked:
                        raise RuntimeError(
                            f"the backward of op '{node.op_name}' returned a {gi.dtype} "
                            f"gradient for its input {i}, which is {dtype}"
                        )
                    gi = F.cast(gi, dtype)  # a custom Function's gradient, cast as PyTorch does
                if anomaly:
                    _check_finite(node, i, gi)
                if parent.n_out == 1:
                    prev = pending.get(parent)
                    pending[parent] = gi if prev is None else prev + gi
                else:
                    _add_pending(pending, parent, oi, gi)
            result = gi = prev = None
    finally:
        STATE.grad = grad_mode
        unsilence(token)

    if inputs is None:
        return None
    out = []
    for t in inputs:
        node = t._node if t._node is not None else t
        g = captured.get(node)
        if g is not None and node.n_out != 1 and not isinstance(node, Tensor):
            g = g[t._output_index]
        if g is not None and not create_graph:
            g = _make(g, None, False)
        out.append(g)
    return out


from chainrule.tensor import Tensor, _make  # noqa: E402  (tensor.py imports this module)
