"""Reverse-mode differentiation: the chain rule, applied node by node.

``run_backward`` orders the graph so that every node comes after all the nodes that
consume its output. It then walks that order once. Each node receives the sum of the
gradients its consumers sent it (the chain rule's sum over paths), runs its backward
rule on it, and sends one gradient to each parent. A leaf adds what it receives into
``.grad``.

What the loop leaves to helpers: the order (:func:`backward_order`), tensor hooks,
the checks of the gradients a rule returns (:func:`checked_gradients`: always for custom
Functions, for the built-in rules when the tests ask), ``autograd.grad``'s bookkeeping
(:class:`Targets`), and the two speed devices that decide who owns a gradient array
(``buffers.py``).
"""

from __future__ import annotations

from operator import attrgetter

from chainrule._backend import ndarray, xp
from chainrule._fp_errors import silence, unsilence
from chainrule._recording import reported
from chainrule.autograd import buffers
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.graph import FREED_MESSAGE, check_saved_versions
from chainrule.tensor import Tensor, _make

__all__ = ["CHECK_BUILTIN_RULES", "backward_order", "run_backward"]

# The gradients a custom Function returns are always checked (shape, dtype). Those of the
# built-in primitives are checked when this is True, as part of the test suite sets it:
# then a wrong shape or dtype from any rule raises. In normal runs the built-in rules,
# verified by those tests, skip the checks (they cost more than many rules themselves).
CHECK_BUILTIN_RULES = False


@reported("backward")  # a step captured by cr.compile records the walk
def run_backward(roots, grads, *, retain_graph, create_graph, inputs=None, accumulate=True):
    """Back-propagate ``grads`` (one per root: arrays, or tensors when ``create_graph``)
    from the tensors ``roots``. With ``inputs``, return the gradient that reaches each of
    them (``autograd.grad``); with ``accumulate``, add into the leaves' ``.grad``."""
    sums: dict = {}  # node -> the sum of the gradients its consumers have sent it so far
    for root, g in zip(roots, grads):
        send_to_slot(sums, node_of(root), root._output_index, g)
    order = backward_order(list(sums))
    targets = Targets(inputs, order) if inputs is not None else None
    leaves = buffers.LeafGradients(grads, create_graph)
    checking = CHECK_BUILTIN_RULES or STATE.anomaly
    grad_mode, token = STATE.grad, silence()
    STATE.grad = create_graph  # only a differentiable backward records a graph
    try:
        for node in order:
            g = sums.pop(node, None)
            if g is None or (targets is not None and targets.skip(node, g)):
                continue
            if node._hooks:
                g = run_hooks(node, g, create_graph, targets)
            if not node._next:  # a leaf tensor: the gradient stops here
                if accumulate:
                    leaves.accumulate(node, g)
                continue
            saved = node.saved
            if saved is None:
                raise RuntimeError(FREED_MESSAGE)
            for _, counter, expected, _ in node.saved_versions:
                if counter.value != expected:  # a saved value was changed in place since
                    check_saved_versions(node)  # raises, naming it
            if create_graph:
                grads_in = node.backward(node.tensor_math, g, *node.unpack_saved())
            else:
                if node.reuses_grad:
                    node.grad_owned = buffers.owned(g)  # the rule may write into g
                grads_in = node.backward(node.array_math, g, *saved)
            if saved and not retain_graph:
                node.release()
            saved = g = None  # let what was released be freed before the next rule runs
            if type(grads_in) is not tuple:
                grads_in = (grads_in,)
            if checking or node.checked:
                grads_in = checked_gradients(node, grads_in, create_graph)
            slots = node._next_oi
            for i, (parent, gi) in enumerate(zip(node._next, grads_in)):
                if parent is None or gi is None:
                    continue
                if parent.n_out == 1:  # the sum over consumers, as it arrives
                    prev = sums.get(parent)
                    sums[parent] = gi if prev is None else prev + gi
                else:
                    send_to_slot(sums, parent, slots[i] if slots else 0, gi)
            grads_in = gi = prev = None  # sums holds the gradients now, and only it
    finally:
        STATE.grad = grad_mode
        unsilence(token)
    return None if targets is None else targets.gradients(inputs, create_graph)


# --------------------------------------------------------------------------- the order
_number_of = attrgetter("_seq")


def node_of(t):
    """The graph node a tensor's gradient goes to: the op that made it, or the leaf itself."""
    return t._node if t._node is not None else t


def backward_order(roots) -> list:
    """The nodes reachable from ``roots``, each before its parents. Every node is
    numbered when it is created, after its parents, so the reachable nodes sorted by
    decreasing number are in such an order; finding them needs no recursion (a chain of
    any depth works), and the order is deterministic. (A leaf's number is 0 and its
    ``_next`` is empty, so it comes last and the walk stops there.)"""
    seen = set(roots)
    stack = list(seen)
    while stack:
        for parent in stack.pop()._next:
            if parent is not None and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_number_of, reverse=True)


def send_to_slot(sums: dict, node, slot: int, g) -> None:
    """Add ``g`` to what ``node`` has received for its output ``slot`` (a node with
    several outputs keeps one sum per output)."""
    if node.n_out == 1:
        prev = sums.get(node)
        sums[node] = g if prev is None else prev + g
        return
    slots = sums.get(node)
    if slots is None:
        slots = sums[node] = [None] * node.n_out
    slots[slot] = g if slots[slot] is None else slots[slot] + g


# --------------------------------------------------------------------------- hooks
def run_hooks(node, g, differentiable: bool, targets):
    """The gradient after the hooks registered on the tensor(s) behind ``node``."""
    if not node._next:  # a leaf tensor: its hooks are a list
        g = _apply_hooks(node._hooks, g, differentiable)
    elif node.n_out == 1:
        g = _apply_hooks(node._hooks.get(0, ()), g, differentiable)
    else:
        g = [
            gi if gi is None else _apply_hooks(node._hooks.get(i, ()), gi, differentiable)
            for i, gi in enumerate(g)
        ]
    if targets is not None:
        targets.seen(node, g)
    return g


def _apply_hooks(hooks, g, differentiable: bool):
    for hook in hooks:
        result = hook(g if differentiable else _make(g, None, False))
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


# --------------------------------------------------------------------------- checks
def checked_gradients(node, grads_in: tuple, differentiable: bool) -> tuple:
    """``grads_in`` after checking each against its input: the shape must match (the
    rule is wrong otherwise); a dtype that differs is cast for a custom Function, as
    PyTorch casts it, and is an error for a built-in rule. Under ``detect_anomaly`` a
    non-finite gradient raises, naming the op."""
    out = []
    slots = node._next_oi
    for i, (parent, gi) in enumerate(zip(node._next, grads_in)):
        if parent is None or gi is None:
            out.append(gi)
            continue
        if type(gi) is not ndarray and not differentiable:
            gi = xp.asarray(gi)  # a NumPy scalar from an op on 0-d arrays
        if parent.n_out != 1:
            slot = slots[i] if slots else 0
            shape, dtype = parent.shapes[slot], parent.dtypes[slot]
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
            if not node.checked:
                raise RuntimeError(
                    f"the backward of op '{node.op_name}' returned a {gi.dtype} "
                    f"gradient for its input {i}, which is {dtype}"
                )
            gi = gi.to(dtype) if differentiable else gi.astype(dtype)
        if STATE.anomaly:
            _check_finite(node, i, gi)
        out.append(gi)
    return tuple(out)


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


# --------------------------------------------------------------------------- autograd.grad
class Targets:
    """The bookkeeping of ``autograd.grad(outputs, inputs)``: only the nodes from which
    an input can be reached need to run, and the gradient that reaches each input (after
    its hooks) is kept instead of being accumulated."""

    def __init__(self, inputs, order: list) -> None:
        self.wanted = {node_of(t) for t in inputs}
        self.needed = set(self.wanted)
        for node in reversed(order):  # parents first
            if node._next and any(p in self.needed for p in node._next):
                self.needed.add(node)
        self.captured: dict = {}

    def skip(self, node, g) -> bool:
        """Keep ``g`` if ``node`` is wanted; True when ``node`` need not run at all."""
        if node in self.wanted:
            self.captured[node] = g
        return node not in self.needed

    def seen(self, node, g) -> None:
        if node in self.wanted:
            self.captured[node] = g  # what the hooks made of it

    def gradients(self, inputs, differentiable: bool) -> list:
        out = []
        for t in inputs:
            node = node_of(t)
            g = self.captured.get(node)
            if g is not None and node.n_out != 1:
                g = g[t._output_index]
            if g is not None and not differentiable:
                g = _make(g, None, False)
            out.append(g)
        return out
