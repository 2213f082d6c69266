"""Recording a step: what ``cr.compile`` writes down while the step runs eagerly.

While the step runs, every array it touches gets a *slot*, a number in the program:

* the arrays of the step's tensor arguments (``arg``);
* the arrays that a recorded event produced: an op's output, a replayable function's
  result, a leaf's gradient after the backward pass (``produced``);
* arrays that came from elsewhere: a parameter, a buffer, a tensor the step made with a
  factory, a constant array (``untracked``);
* Python values passed to ops (``const``).

and every piece of work becomes an *event* naming the slots it reads and writes:

* :class:`Forward`: a primitive's forward (``Op.apply``);
* :class:`Call`: a function marked :func:`chainrule._recording.replayable`;
* :class:`Write`: an in-place write without a graph (``write`` in ``ops/inplace.py``);
* :class:`Backward`: ``loss.backward()``: the nodes in the order the engine took, and
  where each sends its gradients;
* :class:`Method`: a call with effects on Python objects: ``optimizer.step()``,
  ``zero_grad()``, ``t.grad = None``.

Whatever a replay could not repeat faithfully stops the recording with a reason (see
:meth:`Tape.refuse`); the step still finishes eagerly. Two tapes of two calls are then
compared (:func:`compare`): an untracked array or a Python value that differs between
them was computed from the data in a way no event shows, so that step is refused too.
"""

from __future__ import annotations

import os
import sys

from chainrule._backend import ndarray
from chainrule._recording import RECORDING
from chainrule.autograd.engine import backward_order, node_of
from chainrule.compile.guards import (
    accounted,
    hyperparameters,
    names_read,
    reads_random,
    same_hyperparameters,
    unfollowed,
)
from chainrule.ops.op import Op
from chainrule.optim.optimizer import Optimizer
from chainrule.tensor import Tensor

__all__ = [
    "Backward",
    "Call",
    "Forward",
    "Method",
    "Tape",
    "Write",
    "flatten",
]

ARG, CONST, UNTRACKED, PRODUCED = "arg", "const", "untracked", "produced"
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Forward:
    """``op.forward(*ins, **kw)`` into slot ``out``. ``recorded``: a graph node was made
    (the backward pass may run this op's rule)."""

    __slots__ = ("dtype", "ins", "kw", "needs", "op", "out", "recorded", "shape")

    def __init__(self, op, ins, kw, out, needs, recorded, shape, dtype) -> None:
        self.op, self.ins, self.kw, self.out = op, ins, kw, out
        self.needs, self.recorded, self.shape, self.dtype = needs, recorded, shape, dtype

    def signature(self) -> tuple:
        return (self.op, self.ins, self.kw, self.out, self.needs, self.recorded)

    def reads(self) -> tuple:
        return self.ins + tuple(s for _, s in self.kw)


class Call:
    """``fn(*ins, **kw)`` of a replayable function. ``tensors``: the positions passed as
    tensors (``Tensor`` objects: the guarded tensor itself, or a new one around the
    slot's array). ``outs``: its result's shape, with slots for arrays and tensors and
    the values themselves for Python values. ``first``: the call returns Python values,
    so a replay runs it before everything else and compares them."""

    __slots__ = ("first", "fn", "ins", "kw", "outs", "tensors")

    def __init__(self, fn, ins, kw, tensors, outs, first) -> None:
        self.fn, self.ins, self.kw, self.tensors, self.outs = fn, ins, kw, tensors, outs
        self.first = first

    def signature(self) -> tuple:
        return (self.fn, self.ins, self.kw, self.tensors, _shape_of(self.outs))

    def reads(self) -> tuple:
        return self.ins + tuple(s for _, s in self.kw)


class Write:
    """``slots[target][index] = slots[value]``, and a new version for ``tensor`` (the
    written tensor, when it outlives the step). ``index``: a basic index (integers,
    slices, ``...``) or ``...`` for the whole tensor."""

    __slots__ = ("index", "target", "tensor", "value")

    def __init__(self, target, value, tensor, index) -> None:
        self.target, self.value, self.tensor, self.index = target, value, tensor, index

    def signature(self) -> tuple:
        return (self.target, self.value, self.tensor, self.index)

    def reads(self) -> tuple:
        return (self.target, self.value)


class Backward:
    """The backward pass as the engine walked it. ``nodes[k]``: the forward event whose
    node came k-th, or ``("leaf", tensor)``/``("arg", i)`` for a leaf; ``parents[k]``:
    for each input of that node, the position its gradient goes to (None: none needed).
    ``roots``: (position, slot of the upstream gradient). ``grads``: (position of a leaf,
    slot of its ``.grad`` afterwards)."""

    __slots__ = ("grads", "nodes", "parents", "retain", "roots")

    def __init__(self, nodes, parents, roots, grads, retain) -> None:
        self.nodes, self.parents, self.roots = nodes, parents, roots
        self.grads, self.retain = grads, retain

    def signature(self) -> tuple:
        return (tuple(self.nodes), self.parents, self.roots, self.grads, self.retain)

    def reads(self) -> tuple:
        return tuple(s for _, s in self.roots)


class Method:
    """``fn(*args)``: a bound method with effects on Python objects (``optimizer.step``).
    ``writes``: the slots whose arrays it may change."""

    __slots__ = ("args", "fn", "writes")

    def __init__(self, fn, args, writes) -> None:
        self.fn, self.args, self.writes = fn, args, writes

    def signature(self) -> tuple:
        return (_identity(self.fn), self.args, self.writes)

    def reads(self) -> tuple:
        return ()


def _identity(fn) -> tuple:
    """A bound method by its function and object: ``opt.step`` is a new object each time."""
    return (getattr(fn, "__func__", fn), id(getattr(fn, "__self__", None)))


def _shape_of(outs):
    """A result's template without the Python values (compared separately)."""
    if isinstance(outs, list):
        return tuple(_shape_of(o) for o in outs)
    return outs if isinstance(outs, int) else "value"


class Tape:
    """The recording of one call of a step (see the module docstring).

    ``args``/``kwargs``: the step's arguments. The tape is active while
    ``RECORDING.tape`` is it; :meth:`refuse` makes it inactive for the rest of the call.
    """

    def __init__(self, fn, args: tuple, kwargs: dict) -> None:
        self.kinds: list = []  # slot -> ARG, CONST, UNTRACKED, PRODUCED
        self.values: list = []  # slot -> its value when recorded (the arrays are kept alive)
        self.slot_of: dict = {}  # id(array) -> the slot that holds it now
        self.tensors: dict = {}  # id(tensor) -> (tensor, array, requires_grad): guards
        self.events: list = []
        self.modules: dict = {}  # id(module) -> (module, training)
        self.node_event: dict = {}  # id(node) -> index of the Forward that made it
        self.reason: str | None = None
        self.outputs = None
        self.alive: list = []  # the nodes recorded (their ids must stay unique)
        self.fn = fn
        objects = [v for _, v in flatten((args, kwargs)) if not isinstance(v, _PLAIN)]
        self.names = names_read(fn, objects)  # the names it reads, and what they hold
        self.objects = objects
        if unfollowed(self.names):
            self.reason = unfollowed(self.names)
        elif reads_random(self.names):
            self.reason = (
                "the step may draw from Python's or NumPy's random generators, which a "
                "replay would not draw from again; draw with cr.rand, cr.randn or "
                "cr.randint (or a cr.Generator) instead"
            )
        self.optimizers: dict = {}  # id -> (optimizer, its hyperparameters when first seen)
        for _, _, value in self.names:
            if isinstance(value, Optimizer):
                self._watch(value)
        self.arg_slots = {}  # path into (args, kwargs) -> slot
        for path, value in flatten((args, kwargs)):
            array = value._array if isinstance(value, Tensor) else value
            if type(array) is ndarray and id(array) not in self.slot_of:
                self.arg_slots[path] = self._new(ARG, array)

    # ----------------------------------------------------------------- slots
    def _new(self, kind: str, value) -> int:
        slot = len(self.kinds)
        self.kinds.append(kind)
        self.values.append(value)
        if kind != CONST:
            self.slot_of[id(value)] = slot
        return slot

    def ref(self, value) -> int:
        """The slot of ``value``: a tensor (its array), an array, or a Python value."""
        if isinstance(value, Tensor):
            tensor, array = value, value._array
        elif isinstance(value, ndarray):
            tensor, array = None, value
        else:
            if _holds_arrays(value):
                self.refuse(
                    "an op received tensors or arrays inside a tuple or list (an index of "
                    "tensors, a mask, gather, sort or topk), whose values a replay could not "
                    "follow"
                )
            return self._new(CONST, value)
        slot = self.slot_of.get(id(array))
        if slot is None:
            slot = self._new(UNTRACKED, array)
        if tensor is not None and self.kinds[slot] == UNTRACKED:
            self.tensors.setdefault(id(tensor), (tensor, array, tensor._requires_grad))
        return slot

    def _produced(self, array) -> bool:
        slot = self.slot_of.get(id(array))
        return slot is not None and self.kinds[slot] == PRODUCED

    def produce(self, array) -> int:
        return self._new(PRODUCED, array)

    # ----------------------------------------------------------------- refusing
    def refuse(self, reason: str) -> None:
        """Stop recording: a replay could not repeat what the step just did. The step
        runs on eagerly; ``reason`` says what happened and where in the user's code."""
        if self.reason is None:
            self.reason = f"{reason} (at {_user_frame()})"
        RECORDING.tape = None

    def _resume(self) -> None:
        RECORDING.tape = None if self.reason else self

    # ----------------------------------------------------------------- reports
    def forward(self, node, args, kwargs: dict, out, recorded: bool) -> None:
        """An op ran: ``Op.apply`` reports its node, inputs, output and whether it
        recorded the node in the graph."""
        depends = getattr(node, "shape_depends_on_values", None)
        if depends is not None and depends(*args, **kwargs):
            return self.refuse(
                f"{node.op_name} makes an output whose shape depends on the values of its "
                "input (a boolean mask), which a replay could not follow"
            )
        ins = tuple(self.ref(a) for a in args)
        kw = tuple((k, self.ref(v)) for k, v in kwargs.items())
        slot = self.produce(out)
        needs = tuple(node.needs_input_grad)
        self.events.append(
            Forward(type(node), ins, kw, slot, needs, recorded, out.shape, out.dtype)
        )
        if recorded:
            self.node_event[id(node)] = len(self.events) - 1
            self.alive.append(node)

    def call(self, fn, args: tuple, kwargs: dict):
        """A replayable function is called: run it and record it."""
        ins = tuple(self.ref(a) for a in args)
        kw = tuple((k, self.ref(v)) for k, v in kwargs.items())
        tensors = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        RECORDING.tape = None
        try:
            result = fn(*args, **kwargs)
        finally:
            self._resume()
        values = []
        outs = self._template(result, values)
        first = bool(values)
        if first:
            reads = set(ins) | {s for _, s in kw}
            written = self._written()
            if any(self.kinds[s] == PRODUCED or s in written for s in reads):
                self.refuse(
                    f"{fn.__qualname__} checks values (class labels, indices) that the step "
                    "itself computed or changed (y.view(-1), y[:n], y.long()), so a replay "
                    "could not check them before it starts; compute them before the step and "
                    "pass them in"
                )
                return result
        self.events.append(Call(fn, ins, kw, tensors, outs, first))
        return result

    def _template(self, result, values: list):
        """Slots for the arrays and tensors in ``result`` (a value, or nested tuples and
        lists); ``("value", v)`` for a Python value, collected into ``values``."""
        if isinstance(result, tuple | list):
            return [self._template(r, values) for r in result]
        if isinstance(result, Tensor | ndarray):
            array = result._array if isinstance(result, Tensor) else result
            # A function may hand back an array of the call's (labels, checked).
            slot = self.slot_of.get(id(array))
            if slot is not None and self.kinds[slot] in (ARG, PRODUCED):
                return slot
            return self.produce(array)
        if result is not None:
            values.append(result)
        return ("value", result)

    def _written(self) -> set:
        """The slots that an event so far may have written."""
        out = set()
        for event in self.events:
            if isinstance(event, Write):
                out.add(event.target)
            elif isinstance(event, Call) and not event.first:  # a guard call only reads
                out.update(event.reads())
            elif isinstance(event, Method):
                out.update(event.writes)
        return out

    def write(self, tensor, values, index=Ellipsis) -> None:
        """``tensor[index] = values`` in its memory, with no graph recorded."""
        if not _basic(index):
            return self.refuse(
                "the step writes into a tensor through an index of tensors or arrays"
            )
        target = self.ref(tensor)
        value = self.ref(values)
        kind = self.kinds[target]
        if kind == ARG:  # bump the version of the call's own argument on a replay
            keep = ("arg", next(p for p, s in self.arg_slots.items() if s == target))
        else:
            keep = tensor if kind != PRODUCED else None
        self.events.append(Write(target, value, keep, index))
        return None

    def method(self, fn, *args, writes=()):
        """``fn(*args)``, a call with effects on Python objects: run it and record it.
        ``writes``: tensors whose memory it may change."""
        slots = tuple(self.ref(t) for t in writes)
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, Optimizer):
            self._watch(owner)
        RECORDING.tape = None
        try:
            result = fn(*args)
        finally:
            self._resume()
        self.events.append(Method(fn, args, slots))
        return result

    def _watch(self, optimizer) -> None:
        self.optimizers.setdefault(id(optimizer), (optimizer, hyperparameters(optimizer)))

    def module(self, module) -> None:
        """A module was called: a replay needs it in the same train/eval mode."""
        if module._forward_hooks or module._forward_pre_hooks:
            self.refuse(f"{type(module).__name__} has forward hooks, which a replay would not run")
        members = tuple(module.__dict__.items())
        self.modules.setdefault(id(module), (module, module.training, members))

    def read(self, tensor, how: str) -> None:
        """A tensor's values were read into Python (``item``, ``bool``, ``numpy``)."""
        self.refuse(
            f"the step reads a tensor's values into Python ({how}), so what it does next "
            "may depend on them; return the tensor instead and read it after the call"
        )

    def backward(
        self, run, roots, grads, *, retain_graph, create_graph, inputs=None, accumulate=True
    ):
        """``run_backward`` was called: record the engine's walk, then let it run."""
        plan = None
        if create_graph or inputs is not None or not accumulate:
            self.refuse(
                "the step computes gradients with create_graph or autograd.grad; a replay "
                "repeats only loss.backward()"
            )
        else:
            plan = self._plan(roots, grads, retain_graph)
        RECORDING.tape = None
        try:
            result = run(
                roots,
                grads,
                retain_graph=retain_graph,
                create_graph=create_graph,
                inputs=inputs,
                accumulate=accumulate,
            )
        finally:
            self._resume()
        if plan is not None and self.reason is None:
            leaves, event = plan
            for k, leaf in leaves:
                if leaf._grad is not None:
                    event.grads.append((k, self.produce(leaf._grad._array)))
            event.grads = tuple(event.grads)
            self.events.append(event)
        return result

    def _plan(self, roots, grads, retain: bool):
        roots_nodes = list(dict.fromkeys(node_of(r) for r in roots))
        order = [n for n in backward_order(roots_nodes) if not isinstance(n, Tensor)]
        # The leaves last, as in the engine, but in a fixed order (the engine's order among
        # them follows a set's; it does not matter which leaf is served first).
        leaves_first_seen = [n for n in roots_nodes if isinstance(n, Tensor)]
        for node in order:
            leaves_first_seen += [p for p in node._next if isinstance(p, Tensor)]
        order += list(dict.fromkeys(leaves_first_seen))
        position = {id(n): k for k, n in enumerate(order)}
        nodes, parents, leaves = [], [], []
        args = {id(self.values[s]): path for path, s in self.arg_slots.items()}
        for k, node in enumerate(order):
            if node._hooks:
                return self.refuse("a tensor in the step has a gradient hook")
            if isinstance(node, Tensor):  # a leaf
                path = args.get(id(node._array))
                if path is not None:
                    nodes.append(("arg", path))
                elif self._produced(node._array):
                    return self.refuse(
                        "the step makes a tensor that requires grad and back-propagates to it; "
                        "make it outside the step and pass it in, or keep it as a parameter"
                    )
                else:
                    self.ref(node)  # guarded: the same leaf on every call
                    nodes.append(("leaf", node))
                leaves.append((k, node))
                parents.append(())
                continue
            index = self.node_event.get(id(node))
            if index is None or not isinstance(node, Op):
                what = type(node).__name__
                return self.refuse(
                    f"backward reaches a node ({what}) that the step did not make with a "
                    "built-in op (a custom Function, or a graph built before the call)"
                )
            if node.n_out != 1 or node._next_oi is not None:
                return self.refuse(
                    f"backward reaches an op with several outputs ({node.op_name}: the "
                    "recurrent layers and cells cut their steps and gates this way), which a "
                    "replay does not support yet"
                )
            nodes.append(index)
            parents.append(tuple(None if p is None else position[id(p)] for p in node._next))
        root_slots = []
        for r, g in zip(roots, grads):
            if r._output_index:
                return self.refuse("backward starts from an output of a multi-output op")
            root_slots.append((position[id(node_of(r))], self.ref(g)))
        event = Backward(tuple(nodes), tuple(parents), tuple(root_slots), [], retain)
        return leaves, event

    def finish(self, result) -> None:
        """The step returned ``result``: its template, for building the replay's result.
        Then the tape lets go of the arrays the step made (and the graph's nodes): only
        the untracked arrays and the Python values are compared with the next call's."""
        for optimizer, before in self.optimizers.values():
            if not same_hyperparameters(optimizer, before):
                self.refuse(
                    f"the step changes the hyperparameters of {type(optimizer).__name__} (a "
                    "learning-rate scheduler's step?), which a replay would not repeat; change "
                    "them outside the compiled step"
                )
        if self.reason is None:
            self.outputs = self._output(result)
        if self.reason is None:
            self._check_provenance()
        self.values = [
            v if kind in (UNTRACKED, CONST) else None for kind, v in zip(self.kinds, self.values)
        ]
        self.alive = self.slot_of = self.fn = self.objects = None

    def _check_provenance(self) -> None:
        """Refuse if the step read a tensor or called a module that a replay could not
        find again: one it reached through an attribute, a list or a dict (the caller
        may rebind it between calls without any guard seeing)."""
        optimizers = [o for o, _ in self.optimizers.values()]
        known, arrays = accounted(self.fn, self.names, optimizers, self.objects)
        for module, _, _ in self.modules.values():
            if id(module) not in known:
                return self.refuse(
                    f"the step calls a {type(module).__name__} that it reaches through an "
                    "attribute, a list or a dict, which a replay could not follow if it were "
                    "replaced; pass it in, or name it as a global or closure variable"
                )
        for tensor, array, _ in self.tensors.values():
            if id(tensor) not in known and id(array) not in arrays:
                return self.refuse(
                    f"{self._reader(array)} uses a tensor of shape {tuple(tensor.shape)} that "
                    "no recorded op made and that the step does not reach through an "
                    "argument, a module or a name it reads: either a library function "
                    "computed it outside an op, or the step read it from an attribute, a list "
                    "or a dict, where a replay could not see it replaced"
                )
        return None

    def _reader(self, array) -> str:
        """Which event first read ``array``, in words."""
        return self.reader(next((k for k, v in enumerate(self.values) if v is array), None))

    def reader(self, slot) -> str:
        """Which event first read ``slot``, in words."""
        for event in self.events:
            if slot in event.reads():
                return describe(event)
        return "the step's result"

    def _output(self, result):
        if isinstance(result, tuple | list):
            return (type(result), [self._output(r) for r in result])
        if isinstance(result, dict):
            return (dict, {k: self._output(v) for k, v in result.items()})
        if isinstance(result, Tensor):
            if result._requires_grad and not any(isinstance(e, Backward) for e in self.events):
                self.refuse(
                    "the step returns a tensor with a graph and runs no backward: the "
                    "gradient would be computed outside the step, which a replay cannot "
                    "follow; compile the whole training step (forward, backward, update)"
                )
                return None
            slot = self.ref(result)
            if self.kinds[slot] == UNTRACKED:  # a parameter, a buffer: the object itself
                return ("object", result)
            return ("tensor", slot)
        if isinstance(result, ndarray):
            return ("array", self.ref(result))
        return ("value", result)


def _holds_arrays(value) -> bool:
    if isinstance(value, tuple | list):
        return any(map(_holds_arrays, value))
    if isinstance(value, dict):
        return any(map(_holds_arrays, value.values()))
    return isinstance(value, Tensor | ndarray)


def flatten(value, path: tuple = ()):
    """(path, leaf) for each value inside nested tuples, lists and dicts."""
    if isinstance(value, tuple | list):
        for i, v in enumerate(value):
            yield from flatten(v, (*path, i))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, (*path, k))
    else:
        yield path, value


_PLAIN = (Tensor, ndarray, int, float, complex, bool, str, bytes, type(None))


def describe(event) -> str:
    """An event in words, for the reasons a step is refused."""
    if isinstance(event, Forward):
        return f"op {event.op.__name__}"
    if isinstance(event, Call | Method):
        return f"call of {getattr(event.fn, '__qualname__', event.fn)}"
    return type(event).__name__.lower()


def _basic(index) -> bool:
    """Whether ``index`` holds only integers, slices, None and ``...`` (it can be kept)."""
    if isinstance(index, tuple):
        return all(map(_basic, index))
    return index is None or index is Ellipsis or isinstance(index, int | slice)


def _user_frame() -> str:
    """``file:line`` of the innermost frame outside chainrule, where the user's code is."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE + os.sep):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "unknown"
