"""The graph that backward walks: its nodes, and what they keep for backward.

A node is created when an op runs with grad mode on and an input requires grad. It
remembers its parents (the nodes, or the leaf tensors, its inputs came from) and the
values its backward rule will need. An output tensor points to its node; a node never
points to its outputs, so an intermediate result is freed as soon as neither the user
nor a backward rule needs it.

Two kinds of node exist: the built-in primitives (``chainrule.ops.op.Op``) and the
context of a user's custom :class:`~chainrule.autograd.function.Function`. The engine
needs only what :class:`Node` defines.
"""

from __future__ import annotations

import itertools
import weakref
from typing import ClassVar

from chainrule.tensor import Tensor, _make

__all__ = [
    "FREED_MESSAGE",
    "OUTPUT",
    "AccumulateGrad",
    "Node",
    "OutputRef",
    "check_saved_versions",
    "next_sequence_number",
]

_SEQUENCE = itertools.count(1)


def next_sequence_number() -> int:
    """Numbers the nodes in the order they are recorded: a node's number is larger than
    every one of its parents', which is all the backward order needs."""
    return next(_SEQUENCE)


FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to read saved tensors after "
    "they were freed). A backward pass frees the values saved for it; pass "
    "retain_graph=True to the first backward if you need to run it again."
)


class OutputRef:
    """Marks a saved value that is output ``index`` of the node itself. It is rebuilt as a
    tensor on demand, so a node never holds a reference to its own output tensor."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


OUTPUT = OutputRef(0)


class Node:
    """What the engine needs from every graph node.

    ``array_math``/``tensor_math``: the vocabulary the node's ``backward(lib, g, *saved)``
    rule is written in, as the engine hands it over: on arrays for an ordinary backward,
    on tensors (so the result is differentiable) for ``create_graph=True``. Each kind of
    node brings its own, so the engine depends on none.

    ``_next``: one entry per input, the parent node, the leaf tensor, or None when that
    input needs no gradient. ``_next_oi``: the output index within a multi-output parent
    (None when every parent has one output). ``saved``: the values backward reads; set to
    None once freed. ``shape``/``dtype``: the metadata of the output, which the gradients
    flowing in must match (the engine checks it for custom Functions always, and for the
    built-in primitives when ``engine.CHECK_BUILTIN_RULES`` is set, as the tests do).
    """

    array_math = tensor_math = None
    n_out = 1
    _seq = 0  # creation number (set when recorded): larger than every parent's
    checked = False  # the engine validates this node's gradients even in normal runs
    # For a node whose class sets ``reuses_grad``, the engine sets ``grad_owned`` just
    # before an ordinary (array) backward: True when the incoming gradient array is
    # referenced by nothing else, so the rule may overwrite it with its result instead of
    # allocating one (ReLU's does; NumPy elides its temporaries on the same grounds).
    reuses_grad = False
    grad_owned = False
    saved: tuple | None = ()
    saved_src: list | tuple | None = None
    # One record per saved value that a tensor's memory holds: (position in ``saved``,
    # that memory's version counter, the count when saved, the tensor or None for an
    # output). Backward refuses a value whose count has moved (see check_saved_versions).
    saved_versions: tuple | list = ()
    _next: list | tuple = ()
    _next_oi: list | tuple | None = None
    _hooks: dict | None = None
    trace: list | None = None

    @property
    def op_name(self) -> str:
        """The op's name as users call it (``mul``, ``log_softmax``), used in messages."""
        return type(self).__name__.lower()

    def name(self) -> str:
        """PyTorch's spelling, e.g. ``MulBackward0``."""
        return f"{type(self).__name__}Backward0"

    @property
    def next_functions(self) -> tuple:
        """PyTorch's view of the parents: one ``(node, output index)`` pair per input,
        with an :class:`AccumulateGrad` node for a leaf that requires grad and
        ``(None, 0)`` for an input that needs no gradient."""
        out = []
        for i, parent in enumerate(self._next):
            if parent is None:
                out.append((None, 0))
            elif isinstance(parent, Tensor):
                out.append((AccumulateGrad.of(parent), 0))
            else:
                out.append((parent, 0 if self._next_oi is None else self._next_oi[i]))
        return tuple(out)

    def release(self) -> None:
        """Free what backward needed; a later backward through this node raises."""
        self.saved = None
        self.saved_src = None

    def unpack_saved(self) -> tuple:
        """The saved values as tensors, for a differentiable (create_graph) backward."""

        if self.saved is None:
            raise RuntimeError(FREED_MESSAGE)
        src = self.saved_src or (None,) * len(self.saved)
        out = []
        for value, origin in zip(self.saved, src):
            if origin is None:
                out.append(value)
            elif isinstance(origin, OutputRef):
                t = _make(value, self, True)
                t._output_index = origin.index
                out.append(t)
            else:
                out.append(origin)
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad:
    r"""Where a leaf's gradient ends up, as it appears in ``next_functions``: the node
    whose ``variable`` is the leaf. The engine adds into ``variable.grad`` directly; this
    object exists so that code walking PyTorch's graph finds what it expects.

    Backward: :math:`\mathrm{grad} \mathrel{+}= \bar y`, the sum of what every op that
    used the leaf sent it (a leaf used twice receives two terms).
    """

    # By the leaf's id: a weak-keyed dict would compare tensors with ``==``, which is
    # elementwise. The node holds its leaf, so an id is never reused while it is listed.
    _by_leaf: ClassVar[weakref.WeakValueDictionary] = weakref.WeakValueDictionary()
    next_functions = ()

    def __init__(self, variable) -> None:
        self.variable = variable

    @classmethod
    def of(cls, leaf) -> AccumulateGrad:
        """The one AccumulateGrad of ``leaf`` (the same object every time)."""
        node = cls._by_leaf.get(id(leaf))
        if node is None:
            node = cls._by_leaf[id(leaf)] = cls(leaf)
        return node

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def check_saved_versions(node) -> None:
    """Raise when a value ``node`` saved for backward was changed in place since."""
    for i, counter, expected, tensor in node.saved_versions:
        if counter.value == expected:
            continue
        value = node.saved[i]
        desc = f"[{value.dtype} {list(value.shape)}]"
        if tensor is None:
            desc += f", which is output 0 of {_label(node)},"
        elif tensor._node is not None:
            desc += f", which is output {tensor._output_index} of {_label(tensor._node)},"
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: {desc} is at version {counter.value}; expected version "
            f"{expected} instead. Hint: the op that saved it is '{node.op_name}'; run the "
            "forward under cr.autograd.detect_anomaly() to see where it was created."
        )


def _label(node) -> str:
    """A node's name as PyTorch's version message shows it (``Sigmoid``, ``Mul``)."""
    return node.name().removesuffix("Backward0").removesuffix("Backward")
