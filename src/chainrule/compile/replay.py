"""Replaying a recorded step: the events of a tape, run on the arrays of a new call.

A replay is the step with everything but the arithmetic taken out: no tensors, no graph
nodes checked and linked, no argument checks, no backward order to work out. Each event
became a small function of the slot list ``vals`` when the program was built; a replay
fills in the arguments' arrays and runs them in order. The arithmetic is the same code
as the eager step's (each op's ``forward`` and ``backward``, the optimizer's update),
called in the same order on the same values, so a replay gives the eager step's bits.

What a replay checks first (:meth:`Program.matches`): the arguments' shapes and dtypes,
grad mode, the modules' train/eval modes, that every parameter and buffer the step read
is still the same array, and the guard calls (:class:`~chainrule.compile.tape.Call`
with Python results, such as the check of class labels).
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import ndarray
from chainrule._fp_errors import silence, unsilence
from chainrule._recording import RECORDING
from chainrule.autograd.buffers import LeafGradients, owned
from chainrule.autograd.grad_mode import STATE
from chainrule.compile.guards import hyperparameters, same_hyperparameters
from chainrule.compile.tape import (
    CONST,
    PRODUCED,
    UNTRACKED,
    Backward,
    Call,
    Forward,
    Method,
    Tape,
    Write,
    flatten,
)
from chainrule.ops.op import array_result
from chainrule.ops.rulemath import ArrayMath
from chainrule.tensor import Tensor, _make

__all__ = ["DIVERGED", "Program", "call_key"]

DIVERGED = object()  # a guard call returned other Python values: record this call again
_new = object.__new__


def call_key(args: tuple, kwargs: dict) -> tuple:
    """What must be equal between two calls for one program to serve both: grad mode,
    the default dtype, and for each argument (inside tuples, lists and dicts too) its
    place and its shape, dtype and requires_grad (a tensor), shape and dtype (an array)
    or value; and which arguments are the same array."""
    key = [STATE.grad, _dt.get_default_dtype()]
    arrays = []
    for path, value in flatten((args, kwargs)):
        if isinstance(value, Tensor):
            a = value._array
            key.append((path, a.shape, a.dtype, value._requires_grad))
            arrays.append(id(a))
        elif isinstance(value, ndarray):
            key.append((path, "array", value.shape, value.dtype))
            arrays.append(id(value))
        else:
            kind = type(value)
            if isinstance(value, float | np.floating):
                value = float(value).hex()  # -0.0 is not 0.0, and nan is nan
            elif not isinstance(value, _PLAIN):
                value = _Identity(value)  # an object: this one (its contents are guarded)
            key.append((path, kind, value))
            arrays.append(None)
    # Which arguments share one array ((x, x) records a single slot for both).
    key.append(tuple(map(arrays.index, arrays)))
    return tuple(key)


_PLAIN = (int, str, bytes, bool, type(None), complex, np.integer, np.bool_)


class _Identity:
    """An object in a call key, equal only to itself (not through its ``__eq__``, which
    may compare tensors), and kept alive so that its id is not reused."""

    __slots__ = ("obj",)

    def __init__(self, obj) -> None:
        self.obj = obj

    def __eq__(self, other) -> bool:
        return type(other) is _Identity and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def argument(args: tuple, kwargs: dict, path: tuple):
    """The argument at ``path`` (see :func:`~chainrule.compile.tape.flatten`)."""
    value = (args, kwargs)
    for step in path:
        value = value[step]
    return value


class Program:
    """A step, replayable: built from the second of two matching tapes."""

    def __init__(self, tape: Tape, key: tuple) -> None:
        self.key = key
        self.template = [
            value if kind in (CONST, UNTRACKED) else None
            for kind, value in zip(tape.kinds, tape.values)
        ]
        self.arg_slots = tuple(tape.arg_slots.items())
        self.guards = tuple(tape.tensors.values())
        self.modules = tuple(tape.modules.values())
        self.names = tape.names
        self.optimizers = tuple((o, hyperparameters(o)) for o, _ in tape.optimizers.values())
        self.module_changes = -1  # check the modules on the first replay
        self.outputs = tape.outputs
        self.nodes: list = [None] * len(tape.events)  # the ops' nodes of the current replay
        first, rest = [], []
        for index, event in enumerate(tape.events):
            step = _BUILD[type(event)](event, index, self)
            (first if isinstance(event, Call) and event.first else rest).append(step)
        self.first, self.steps = tuple(first), tuple(rest)
        self.drops = _last_uses(tape, first, rest)

    # ----------------------------------------------------------------- guards
    def matches(self, key: tuple) -> bool:
        """Whether this program may run a call with ``key`` (see :func:`call_key`):
        the same key, the modules in the same modes, the same parameter arrays."""
        if key != self.key:
            return False
        if self.module_changes != RECORDING.module_changes:  # some module changed
            for module, training, members in self.modules:
                if module.training is not training or not _same_members(module, members):
                    return False
                if module._forward_hooks or module._forward_pre_hooks:
                    return False  # recorded again, and refused: a replay would not run them
            self.module_changes = RECORDING.module_changes
        for namespace, name, value in self.names:
            if namespace.get(name, _MISSING) is not value:
                return False
        for tensor, array, requires_grad in self.guards:
            if tensor._array is not array or tensor._requires_grad is not requires_grad:
                return False
            if tensor._hooks:  # a gradient hook added since: record again (and refuse)
                return False
        for optimizer, settings in self.optimizers:
            if not same_hyperparameters(optimizer, settings):
                return False
        return True

    # ----------------------------------------------------------------- running
    def run(self, args: tuple, kwargs: dict):
        """Replay on new arguments; ``DIVERGED`` if a guard call disagrees (nothing has
        been changed then)."""
        vals = self.template.copy()
        for path, slot in self.arg_slots:
            value = argument(args, kwargs, path)
            vals[slot] = value._array if isinstance(value, Tensor) else value
        vals.append((args, kwargs))  # the last entry: the arguments (leaves among them)
        token = silence()
        try:
            try:
                for step in self.first:
                    if step(vals) is DIVERGED:
                        return DIVERGED
            except Exception:
                # A check failed (a label out of range): the call runs eagerly instead, so
                # that it raises where, and leaves the state as, the eager step does.
                return DIVERGED
            drops = self.drops
            for k, step in enumerate(self.steps):
                step(vals)
                for slot in drops[k]:
                    vals[slot] = None
        finally:
            unsilence(token)
            self.nodes = [None] * len(self.nodes)
        return _result(self.outputs, vals)


_MISSING = object()


def _same_members(module, members) -> bool:
    """Whether ``module``'s attributes hold the same objects as when recorded: its
    parameters, buffers and submodules (``model.fc.weight = nn.Parameter(...)``,
    ``model[1] = nn.Tanh()``) and its settings (``dropout.p = 0.1``)."""
    current = module.__dict__
    if len(current) != len(members):
        return False
    return all(current.get(name, _MISSING) is value for name, value in members)


def _result(template, vals):
    kind, value = template
    if kind == "tensor":
        return _make(vals[value], None, False)
    if kind == "array":
        return vals[value]
    if kind in ("value", "object"):
        return value
    if kind is dict:
        return {k: _result(v, vals) for k, v in value.items()}
    return kind(_result(v, vals) for v in value)


def _last_uses(tape: Tape, first, rest) -> list:
    """For each step of ``rest``, the produced slots that no later step reads and the
    result does not return: the replay lets go of them there, as the eager step would."""
    order = [e for e in tape.events if not (isinstance(e, Call) and e.first)]
    last = {}
    for k, event in enumerate(order):
        for slot in event.reads():
            last[slot] = k
    kept = set(_slots_of(tape.outputs))
    drops = [[] for _ in order]
    for slot, k in last.items():
        if tape.kinds[slot] == PRODUCED and slot not in kept:
            drops[k].append(slot)
    return [tuple(d) for d in drops]


def _slots_of(template):
    if template is None:
        return
    kind, value = template
    if kind in ("tensor", "array"):
        yield value
    elif kind is dict:
        for v in value.values():
            yield from _slots_of(v)
    elif kind not in ("value", "object"):
        for v in value:
            yield from _slots_of(v)


# --------------------------------------------------------------------------- the events
def _forward(event: Forward, index: int, program: Program):
    op, ins, out, needs = event.op, event.ins, event.out, event.needs
    kw = event.kw
    nodes = program.nodes
    shape, dtype, recorded = event.shape, event.dtype, event.recorded

    if kw or not ins:

        def inputs(vals):
            return [vals[i] for i in ins], {k: vals[i] for k, i in kw}

    elif len(ins) == 1:
        (only,) = ins

        def inputs(vals):
            return (vals[only],), _NO_KW

    else:
        get = itemgetter(*ins)

        def inputs(vals):
            return get(vals), _NO_KW

    def run(vals):
        node = _new(op)
        node.needs_input_grad = needs
        args, kwargs = inputs(vals)
        try:
            result = node.forward(*args, **kwargs)
        except (ValueError, IndexError, TypeError) as err:
            raise node.explain(err, args) from None
        if type(result) is not ndarray:
            result = array_result(node, result)
        if recorded:
            node.shape, node.dtype = shape, dtype
            nodes[index] = node
        vals[out] = result

    return run


_NO_KW: dict = {}


def _call(event: Call, index: int, program: Program):
    fn, ins, kw, tensors, outs = event.fn, event.ins, event.kw, set(event.tensors), event.outs
    guarded = {id(array): tensor for tensor, array, _ in program.guards}
    first = event.first

    def argument(vals, i, position):
        value = vals[i]
        if position in tensors:
            tensor = guarded.get(id(value))
            return tensor if tensor is not None else _make(value, None, False)
        return value

    def run(vals):
        args = [argument(vals, i, p) for p, i in enumerate(ins)]
        result = fn(*args, **{k: vals[i] for k, i in kw})
        if not _store(outs, result, vals) and first:
            return DIVERGED
        return None

    return run


def _store(template, result, vals) -> bool:
    """Put ``result``'s arrays into their slots; False if its Python values differ from
    the recorded ones."""
    if isinstance(template, list):
        if not isinstance(result, tuple | list) or len(result) != len(template):
            return False
        return all([_store(t, r, vals) for t, r in zip(template, result)])
    if isinstance(template, int):
        vals[template] = result._array if isinstance(result, Tensor) else result
        return True
    return type(result) is type(template[1]) and result == template[1]


def _write(event: Write, index: int, program: Program):
    target, value, tensor, where = event.target, event.value, event.tensor, event.index

    def run(vals):
        vals[target][where] = vals[value]
        if type(tensor) is tuple:  # the call's own argument
            args, kwargs = vals[-1]
            argument(args, kwargs, tensor[1])._bump_version()
        elif tensor is not None:
            tensor._bump_version()

    return run


def _method(event: Method, index: int, program: Program):
    fn, args = event.fn, event.args

    def run(vals):
        fn(*args)

    return run


def _backward(event: Backward, index: int, program: Program):
    """The engine's loop (``autograd/engine.py``) with its order, its routing and its
    checks worked out when the step was recorded."""
    nodes = program.nodes
    plan = []
    for entry, parents in zip(event.nodes, event.parents):
        if type(entry) is int:
            plan.append((entry, None, parents))
        else:
            plan.append((None, entry, parents))
    roots, grads, retain, n = event.roots, event.grads, event.retain, len(event.nodes)
    lib = ArrayMath

    def leaf_of(entry, vals):
        kind, what = entry
        if kind == "leaf":
            return what
        args, kwargs = vals[-1]  # a tensor argument that requires grad
        return argument(args, kwargs, what)

    def run(vals):
        sums = [None] * n
        root_grads = []
        for k, slot in roots:
            g = vals[slot]
            root_grads.append(g)
            sums[k] = g if sums[k] is None else sums[k] + g
        leaves = LeafGradients(root_grads, False)
        for k in range(n):
            g = sums[k]
            if g is None:
                continue
            sums[k] = None
            index, leaf, parents = plan[k]
            if leaf is not None:
                leaves.accumulate(leaf_of(leaf, vals), g)
                continue
            node = nodes[index]
            if node.reuses_grad:
                node.grad_owned = owned(g)
            grads_in = node.backward(lib, g, *node.saved)
            if not retain:
                node.saved = None
            g = None
            if type(grads_in) is not tuple:
                grads_in = (grads_in,)
            for p, gi in zip(parents, grads_in):
                if p is None or gi is None:
                    continue
                prev = sums[p]
                sums[p] = gi if prev is None else prev + gi
            grads_in = gi = prev = None
        for k, slot in grads:
            tensor = leaf_of(plan[k][1], vals)
            vals[slot] = None if tensor._grad is None else tensor._grad._array

    return run


_BUILD = {Forward: _forward, Call: _call, Write: _write, Method: _method, Backward: _backward}
