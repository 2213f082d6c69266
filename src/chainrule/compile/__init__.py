"""``cr.compile``: a training step captured once, then replayed without the framework.

An eager step spends part of its time on work that is the same on every call: building
tensors and graph nodes, checking arguments, ordering the backward pass, finding the
optimizer's parameters. ``cr.compile(step)`` records what the step does the first times
it runs (eagerly, with the usual checks) and from then on repeats only the arithmetic:
each op's forward and backward and the optimizer's update, in the recorded order, on the
new call's arrays. The numbers are the eager step's, to the last bit.

.. code-block:: python

    @cr.compile
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in loader:
        loss = step(x, y)          # the first two calls record, later ones replay

How it works (``tape.py`` records, ``replay.py`` replays):

1. The first call runs eagerly while a tape records every op, write, backward pass and
   optimizer call, and which arrays each reads and writes.
2. The second call with the same shapes records again, and the two tapes are compared:
   anything that differs without an op to explain it (a value computed from the data
   outside chainrule's ops, Python control flow on the data) means the step cannot be
   replayed, and it runs eagerly from then on, with a warning that says why.
3. Later calls replay. Before each replay, guards check what the recording assumed: the
   arguments' shapes, dtypes and places (inside tuples, lists and dicts too) and their
   Python values; grad mode and the default dtype; each module's train/eval mode; that
   every parameter and buffer is still the same array, requiring grad or not; each
   optimizer's hyperparameters; that every name the step reads from its globals, its
   closure, its default arguments or its object (``model``, ``w``, ``lr``,
   ``self.opt``), and what those and its argument objects hold (the functions, methods
   and callable objects they name; the forward of the user's own modules; the items and
   lengths of dicts, lists, tuples and deques, the contents of sets and small arrays; the
   attributes of plain objects, classes and modules it names: ``cfg.lr``, ``CFG.lr``,
   ``config.lr``, a property), still holds the same object or an equal value; each
   module's attributes (``dropout.p``, a replaced submodule); and the checks of the
   arguments' values that the library makes (class labels in range: a replay that fails
   one runs the call eagerly, which raises as the eager step does). When a guard fails
   the step is recorded again for the new situation; up to ``cache_size`` programs are
   kept (a last smaller batch, train and eval).

What a replay does not repeat is the step's Python code. So a step that reads tensor
values into Python (``loss.item()``, ``if loss > 1``), assigns ``.data``, uses custom
autograd Functions, hooks, ``create_graph`` or ``optimizer.step(closure)``, changes an
optimizer's hyperparameters (a scheduler's ``step()``) or a module (``model.train()``),
indexes with tensors of indices or masks, uses the recurrent layers, names Python's
``random`` or ``np.random``, or reaches something the guards cannot follow (a container
of more than 512 items, a large NumPy array, an object of unknown kind), runs eagerly,
with a warning that names the line. Return the tensors you need and read them after the
call; step schedulers and switch modes between calls (the guards see both). A replayed
result carries no graph. Not seen: Python state the step changes by itself (a counter:
it then records on every call and gives up with a warning), and a module's attribute
written through its ``__dict__``. Values nested more than six levels deep make the step
run eagerly: pass such values as arguments. Like the rest of chainrule (grad mode is one
switch for the process), a compiled step is not for use from several threads at once.
"""

from __future__ import annotations

import functools
import warnings

from chainrule._recording import RECORDING
from chainrule.autograd.grad_mode import STATE
from chainrule.compile.compare import RETRY, compare
from chainrule.compile.replay import DIVERGED, Program, call_key
from chainrule.compile.tape import Tape

__all__ = ["CompiledStep", "compile"]


def compile(
    model=None,
    *,
    fullgraph: bool = False,
    dynamic=None,
    backend=None,
    mode=None,
    options=None,
    disable: bool = False,
    cache_size: int = 8,
):
    """Capture ``model`` (a function or a module: the training step) and replay it on
    later calls (see the module docstring).

    ``fullgraph=True`` raises instead of running eagerly when the step cannot be
    replayed, naming the reason. ``disable=True`` returns ``model`` unchanged.
    ``dynamic``, ``backend``, ``mode`` and ``options`` are PyTorch's and accepted for
    compatibility; they change nothing here. Used without ``model``, returns a decorator.
    """
    del dynamic, backend, mode, options
    if model is None:
        return functools.partial(
            compile, fullgraph=fullgraph, disable=disable, cache_size=cache_size
        )
    if disable:
        return model
    if not callable(model):
        raise TypeError(f"compile: expected a function or a module, got {type(model).__name__}")
    return CompiledStep(model, fullgraph=fullgraph, cache_size=cache_size)


class CompiledStep:
    """A callable that records ``fn`` and replays it. Attributes: ``replays`` and
    ``recordings`` (calls of each kind so far) and ``reason`` (why it runs eagerly, or
    None)."""

    def __init__(self, fn, *, fullgraph: bool = False, cache_size: int = 8) -> None:
        self.fn = fn
        self.fullgraph = fullgraph
        self.cache_size = cache_size
        self.programs: list[Program] = []
        self.pending: dict = {}  # call key -> the tape of a first recording
        self.reason: str | None = None
        self.replays = self.recordings = 0
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args, **kwargs):
        if self.reason is not None or RECORDING.tape is not None or STATE.anomaly:
            # Eager: refused, inside another capture, or anomaly detection (whose checks
            # of every op a replay would skip).
            return self.fn(*args, **kwargs)
        key = call_key(args, kwargs)
        for program in self.programs:
            if program.matches(key):
                result = program.run(args, kwargs)
                if result is not DIVERGED:
                    self.replays += 1
                    return result
        return self._record(key, args, kwargs)

    def _record(self, key, args, kwargs):
        tape = Tape(self.fn, args, kwargs)
        changes = RECORDING.module_changes
        RECORDING.tape = tape if tape.reason is None else None
        try:
            result = self.fn(*args, **kwargs)
        finally:
            RECORDING.tape = None
        if RECORDING.module_changes != changes:
            tape.refuse(
                "the step changes a module (calls train() or eval(), assigns an attribute, a "
                "parameter, a buffer or a submodule) or makes one (model[:-1], a layer built "
                "inside the step), which a replay would not repeat; do it outside the "
                "compiled step"
            )
        self.recordings += 1
        tape.finish(result)
        if tape.reason is not None:
            return self._refuse(tape.reason, result)
        # The two recordings compared are of calls with the same key and the same
        # modules' modes (train, then eval, is two situations, each recorded twice).
        pair = (key, tuple(training for _, training, _ in tape.modules.values()))
        first = self.pending.pop(pair, None)
        why = RETRY if first is None else compare(first, tape)
        if why is None:
            self.programs.insert(0, Program(tape, key))
            del self.programs[self.cache_size :]
            return result
        if why is not RETRY:
            return self._refuse(why, result)
        self.pending[pair] = tape  # compared with the next recording in this situation
        while len(self.pending) > self.cache_size:
            del self.pending[next(iter(self.pending))]
        if self.recordings >= 4 * self.cache_size and not self.replays:
            return self._refuse(
                f"it was recorded {self.recordings} times and never replayed: something it "
                "depends on changes on every call (a Python number passed in: pass it as a "
                "tensor; a learning rate stepped by a scheduler on every call; a global or "
                "an attribute the step itself changes)",
                result,
            )
        return result

    def _refuse(self, reason: str, result):
        self.reason = reason
        self.programs, self.pending = [], {}
        message = f"cr.compile: {getattr(self.fn, '__qualname__', 'the step')} cannot be replayed: {reason}"
        if self.fullgraph:
            raise RuntimeError(message + " (this call ran eagerly)")
        warnings.warn(message + "; it runs eagerly", RuntimeWarning, stacklevel=3)
        return result

    def __getattr__(self, name):
        if name == "fn":
            raise AttributeError(name)
        return getattr(self.fn, name)  # a compiled module keeps its methods and attributes

    def __repr__(self) -> str:
        state = f"eager: {self.reason}" if self.reason else f"{len(self.programs)} recorded"
        return f"<compiled {getattr(self.fn, '__qualname__', self.fn)!r} ({state})>"
