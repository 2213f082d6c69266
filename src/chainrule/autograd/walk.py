"""The backward pass, node by node, as the engine runs it, for tools that show it.

:func:`walk_backward` is the one place outside ``engine.py`` that knows how the engine
walks a graph: it takes the engine's own order (``engine.backward_order``), gives each node the
sum of what its consumers sent, runs the node's rule and records what went in and what
came out. It reads node internals (``_next``, ``_next_oi``, ``saved``, ``n_out``) and
nothing else of the engine, so a rewrite of the engine touches this file only.
:func:`engine_gradients` asks the engine itself (``autograd.grad``) for the gradient at
each node, so that a trace can be checked against what ``backward`` really computes.

Neither frees the graph nor touches any ``.grad``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainrule._backend import xp
from chainrule.autograd.engine import backward_order
from chainrule.autograd.graph import FREED_MESSAGE, check_saved_versions
from chainrule.tensor import Tensor, _make

__all__ = ["NodeRecord", "engine_edge_gradients", "engine_gradients", "walk_backward"]


@dataclass
class NodeRecord:
    """What one node of the graph received and sent during the backward pass.

    ``node``: the graph node, or the leaf tensor. ``upstream``: per output of the node,
    the gradient that reached it (the sum of ``received``). ``received``: per output, the
    ``(index of the sending record, array)`` pairs that were summed; the root's seed comes
    from index None. ``downstream``/``parents``: per input of the node, the gradient its
    rule sent and ``(parent, output index)``, both None for an input needing no gradient.
    """

    node: object
    upstream: list
    received: list
    downstream: list = field(default_factory=list)
    parents: list = field(default_factory=list)


def _sum(parts: list):
    total = None
    for _, g in parts:  # in arrival order, as the engine adds them
        total = g if total is None else total + g
    return total


def walk_backward(output, seed) -> list[NodeRecord]:
    """Run the backward pass of ``output`` (seeded with the array ``seed``) node by node in
    the engine's order, recording every gradient; the graph is left as it was. With
    ``seed=None`` no rule runs: the records hold the graph's structure only (every
    ``upstream`` and ``downstream`` None), which needs no saved values.

    Raises RuntimeError when a rule must run and the graph was freed by a backward pass.
    """
    root = output._node if output._node is not None else output
    pending: dict = {(root, output._output_index): [(None, seed)]}
    records: list[NodeRecord] = []
    for node in backward_order([root]):
        leaf = isinstance(node, Tensor)
        if seed is None:
            parents = [] if leaf else list(node._next)
            oi = [0] * len(parents) if leaf or node._next_oi is None else list(node._next_oi)
            records.append(
                NodeRecord(
                    node,
                    [None],
                    [[]],
                    [None] * len(parents),
                    [None if p is None else (p, o) for p, o in zip(parents, oi)],
                )
            )
            continue
        received = [pending.pop((node, i), []) for i in range(1 if leaf else node.n_out)]
        if not any(received):
            continue  # every consumer sent None to it
        upstream = [_sum(parts) if parts else None for parts in received]
        record = NodeRecord(node, upstream, received)
        records.append(record)
        if leaf:
            continue
        if node.saved is None:
            raise RuntimeError(FREED_MESSAGE)
        if node.saved_versions:
            check_saved_versions(node)
        node.grad_owned = False  # a rule may reuse an owned gradient; the trace keeps it
        g = upstream[0] if node.n_out == 1 else upstream
        result = node.backward(node.array_math, g, *node.saved)
        if type(result) is not tuple:
            result = (result,)
        for i, (parent, gi) in enumerate(zip(node._next, result)):
            if parent is None or gi is None:
                record.downstream.append(None)
                record.parents.append(None)
                continue
            oi = 0 if node._next_oi is None else node._next_oi[i]
            if isinstance(parent, Tensor):
                dtype = parent._array.dtype
            else:
                dtype = parent.dtype if parent.n_out == 1 else parent.dtypes[oi]
            gi = xp.asarray(gi)
            if gi.dtype != dtype:
                gi = gi.astype(dtype)  # as the engine casts a custom Function's gradient
            record.downstream.append(gi)
            record.parents.append((parent, oi))
            pending.setdefault((parent, oi), []).append((len(records) - 1, gi))
    return records


def engine_gradients(output, seed, records: list[NodeRecord]) -> list[list]:
    """The gradient the engine computes at each output of each record's node (what a
    ``backward`` from ``output`` seeded with ``seed`` delivers there), via
    :func:`chainrule.autograd.grad` on stand-in tensors for the nodes."""
    from chainrule.autograd import grad  # (the package imports this module)

    targets, where = [], []
    for k, rec in enumerate(records):
        if isinstance(rec.node, Tensor):
            targets.append(rec.node)
            where.append((k, 0))
            continue
        for oi in range(rec.node.n_out):
            t = _make(xp.empty(0), rec.node, True)  # stands for output oi of the node
            t._output_index = oi
            targets.append(t)
            where.append((k, oi))
    gradient = _make(xp.asarray(seed), None, False)
    found = grad(output, targets, grad_outputs=gradient, retain_graph=True, allow_unused=True)
    out: list[list] = [[None] * len(rec.upstream) for rec in records]
    for (k, oi), g in zip(where, found):
        out[k][oi] = None if g is None else g._array
    return out


def engine_edge_gradients(record: NodeRecord) -> list:
    """What the engine sends along each input edge of ``record``'s node for the recorded
    upstream gradient: the node is run by ``autograd.grad`` on a copy of it whose inputs
    are fresh leaves, one per edge, so that each edge's gradient arrives apart from every
    other path. None for inputs needing no gradient."""
    import copy

    from chainrule.autograd import grad  # (the package imports this module)

    node = record.node
    if isinstance(node, Tensor):
        return []
    twin = copy.copy(node)
    leaves, edges = [], []
    for pair in record.parents:
        if pair is None:
            edges.append(None)
            continue
        parent, oi = pair
        if isinstance(parent, Tensor):
            shape, dtype = parent._array.shape, parent._array.dtype
        elif parent.n_out == 1:
            shape, dtype = parent.shape, parent.dtype
        else:
            shape, dtype = parent.shapes[oi], parent.dtypes[oi]
        edges.append(len(leaves))
        leaves.append(_make(xp.zeros(shape, dtype), None, True))
    twin._next = [None if k is None else leaves[k] for k in edges]
    twin._next_oi = None
    twin._hooks = None
    roots, grads = [], []
    for oi, g in enumerate(record.upstream):
        if g is None:
            continue
        t = _make(xp.broadcast_to(xp.zeros((), g.dtype), g.shape), twin, True)  # no memory
        t._output_index = oi
        roots.append(t)
        grads.append(_make(g, None, False))
    found = grad(roots, leaves, grad_outputs=grads, retain_graph=True, allow_unused=True)
    return [None if k is None or found[k] is None else found[k]._array for k in edges]
