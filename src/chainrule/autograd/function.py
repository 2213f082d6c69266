"""Graph nodes: the built-in primitives (:class:`Op`) and user-defined :class:`Function`.

Every differentiable computation in chainrule is one of these. A node is created when an
op runs with grad mode on and an input requires grad; it remembers its parents (the nodes
or leaf tensors its inputs came from) and what its backward rule needs. Output tensors
point to their node, nodes never point to their outputs, so an intermediate result is
freed as soon as neither the user nor a backward rule needs it.

Writing a primitive
-------------------
A primitive is a subclass of :class:`Op` with two methods::

    class Mul(Op):
        def forward(self, a, b):          # arrays in, array out
            self.save(a, b)
            return a * b

        def backward(self, F, g, a, b):  # g: gradient of the output; a, b: what was saved
            return F.sum_to(g * b, a.shape), F.sum_to(g * a, b.shape)

``forward`` runs on raw arrays. ``backward`` is written once, in the small vocabulary of
``F`` plus Python operators. The engine passes raw arrays and ``F = ArrayMath`` for an
ordinary backward (fast), and tensors with ``F = TensorMath`` when the gradient must itself
be differentiable (``create_graph=True``), so the same rule yields second derivatives.
"""

from __future__ import annotations

import itertools
import traceback
import weakref
from typing import ClassVar

from chainrule._backend import ndarray, silence, unsilence, xp
from chainrule.autograd.grad_mode import STATE, no_grad, set_grad_enabled

__all__ = ["AccumulateGrad", "Function", "FunctionCtx", "Op", "check_saved_versions"]

_new = object.__new__
_SEQUENCE = itertools.count(1)  # numbers the nodes in the order they are recorded

_FREED_MESSAGE = (
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

    ``_next``: one entry per input, the parent node, the leaf tensor, or None when that
    input needs no gradient. ``_next_oi``: the output index within a multi-output parent
    (None when every parent has one output). ``saved``: the values backward reads; set to
    None once freed. ``shape``/``dtype``: the metadata of the output, which the gradients
    flowing in must match (the engine checks it for custom Functions always, and for the
    built-in primitives when ``engine.CHECK_BUILTIN_RULES`` is set, as the tests do).
    """

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
            raise RuntimeError(_FREED_MESSAGE)
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
    """Where a leaf's gradient ends up, as it appears in ``next_functions``: the node
    whose ``variable`` is the leaf. The engine adds into ``variable.grad`` directly; this
    object exists so that code walking PyTorch's graph finds what it expects."""

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


class Op(Node):
    """Base class of the primitives. See the module docstring for how to write one.

    Subclasses register themselves in ``Op.registry``; the op table's coverage test fails
    when a registered primitive has no entry.
    """

    registry: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            Op.registry[cls.__name__] = cls

    def save(self, *values) -> None:
        """Keep ``values`` (inputs, the output, or any arrays) for the backward rule."""
        self.saved = values

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, F, g, *saved):  # pragma: no cover - abstract
        raise NotImplementedError

    def explain(self, err: Exception, args: tuple) -> Exception:
        """Turn an error raised by the array module into one that names the op and shapes."""
        shapes = ", ".join(str(tuple(a.shape)) for a in args if hasattr(a, "shape"))
        return type(err)(f"{self.op_name}: {err} (input shapes: {shapes})")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op on tensors (or constants) and record a node when a gradient is needed."""
        ctx = _new(cls)
        datas = []
        parents = []
        needs = []
        record = multi = False
        for a in args:
            if isinstance(a, Tensor):
                if a._view is not None and a._view.base_node is not a._view.base._node:
                    refresh_view(a)  # its base was changed in place: a new history
                datas.append(a._array)
                if a._requires_grad:
                    record = True
                    parents.append(a if a._node is None else a._node)
                    needs.append(True)
                    if a._output_index:
                        multi = True
                    continue
            else:
                datas.append(a)
            parents.append(None)
            needs.append(False)
        ctx.needs_input_grad = needs  # forward may skip saving what no gradient needs
        token = silence()
        try:
            out = ctx.forward(*datas, **kwargs)
        except (ValueError, IndexError, TypeError) as err:
            raise ctx.explain(err, args) from None
        finally:
            unsilence(token)
        if type(out) is not ndarray:
            # NumPy returns a scalar, not a 0-d array, from ops on 0-d arrays.
            raw, out = out, xp.asarray(out)
            if ctx.saved:
                ctx.saved = tuple(out if s is raw else s for s in ctx.saved)
        if STATE.anomaly:
            _check_forward(ctx, datas, out)
        if not (record and STATE.grad and out.dtype.kind == "f"):
            return _make(out, None, False)
        ctx._next = parents
        ctx._seq = next(_SEQUENCE)
        if multi:
            ctx._next_oi = [a._output_index if p is not None else 0 for a, p in zip(args, parents)]
        ctx.shape = out.shape
        ctx.dtype = out.dtype
        saved = ctx.saved
        out_counter = None
        if saved:
            # Remember which saved arrays are inputs or the output, so that a differentiable
            # backward can use the tensors (with their graph) instead of the bare arrays,
            # and the version each had, so that backward notices an in-place change.
            src = []
            versions = []
            for i, s in enumerate(saved):
                if s is out:
                    src.append(OUTPUT)
                    if out_counter is None:
                        out_counter = VersionCounter()
                    versions.append((i, out_counter, 0, None))
                    continue
                for a, d in zip(args, datas):
                    if s is d and d is not a:
                        src.append(a)
                        counter = a._version_counter or a._counter()
                        versions.append((i, counter, counter.value, a))
                        break
                else:
                    src.append(None)
            ctx.saved_src = src
            ctx.saved_versions = versions
        if STATE.anomaly:
            ctx.trace = traceback.format_stack()[:-1]
        t = _make(out, ctx, True)
        if out_counter is not None:
            t._version_counter = out_counter
        return t


def _check_forward(node, datas, out) -> None:
    """In anomaly mode, raise when an op turns finite inputs into NaN or inf."""
    if out.dtype.kind not in "fc" or xp.isfinite(out).all():
        return
    for d in datas:
        if isinstance(d, ndarray) and d.dtype.kind in "fc" and not xp.isfinite(d).all():
            return  # the non-finite values came from an input, not from this op
        if isinstance(d, float) and not xp.isfinite(d):
            return
    bad = "nan" if xp.isnan(out).any() else "inf"
    raise RuntimeError(
        f"detect_anomaly: op '{node.op_name}' produced {bad} in its forward output "
        f"(shape {tuple(out.shape)}) from finite inputs"
    )


class FunctionCtx(Node):
    """The ``ctx`` a custom :class:`Function` receives; it is also that call's graph node."""

    checked = True  # user code: every gradient it returns is checked

    def __init__(self, fn: type) -> None:
        self.fn = fn
        self.needs_input_grad: tuple = ()
        self.to_save: tuple = ()

    @property
    def op_name(self) -> str:
        return self.fn.__name__

    def name(self) -> str:
        return f"{self.fn.__name__}Backward"

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors for ``backward``; read them back with ``ctx.saved_tensors``."""

        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"{self.op_name}: save_for_backward takes tensors (or None), "
                    f"got {type(t).__name__}; store other values as attributes of ctx"
                )
        self.to_save = tensors

    def release(self) -> None:
        super().release()
        self.to_save = ()

    @property
    def saved_tensors(self) -> tuple:
        if self.saved is None:
            raise RuntimeError(_FREED_MESSAGE)
        check_saved_versions(self)
        return self.unpack_saved() if self.saved_src is not None else self.to_save

    def backward(self, F, g, *_saved):
        from chainrule.autograd.rulemath import TensorMath

        differentiable = F is TensorMath
        grads = list(g) if self.n_out > 1 else [g]
        for i, gi in enumerate(grads):
            if gi is None:
                gi = xp.zeros(self.shapes[i], self.dtypes[i])
            if not isinstance(gi, Tensor):
                gi = _make(gi, None, False)
            grads[i] = gi
        with set_grad_enabled(differentiable):
            result = self.fn.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self._next):
            raise RuntimeError(
                f"{self.op_name}.backward returned {len(result)} gradient(s), but forward took "
                f"{len(self._next)} input(s); return None for inputs that need no gradient"
            )
        out = []
        for r in result:
            if r is None:
                out.append(None)
            elif isinstance(r, Tensor):
                out.append(r if differentiable else r._array)
            else:
                arr = xp.asarray(r)
                out.append(_make(arr, None, False) if differentiable else arr)
        return tuple(out)


class Function:
    """A differentiable operation with a hand-written backward, as in PyTorch.

    Subclass it with two static methods and call it through ``apply``::

        class Cube(cr.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * 3 * x ** 2

        y = Cube.apply(x)

    ``forward`` runs without recording a graph and returns a tensor or a tuple of tensors.
    ``backward`` receives one gradient per output and returns one per input of forward
    (None for inputs that need none). ``ctx.needs_input_grad`` says which inputs need one.
    With ``create_graph=True`` backward runs with grad mode on, so a backward written with
    chainrule ops is itself differentiable.
    """

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args):

        ctx = FunctionCtx(cls)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with no_grad():
            result = cls.forward(ctx, *args)
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        for o in outs:
            if not isinstance(o, Tensor):
                raise TypeError(
                    f"{cls.__name__}.forward must return a tensor or a tuple of tensors, "
                    f"got {type(o).__name__}"
                )
        if not (STATE.grad and any(ctx.needs_input_grad)):
            return result
        ctx._next = tuple(
            (a._node if a._node is not None else a) if need else None
            for a, need in zip(args, ctx.needs_input_grad)
        )
        ctx._seq = next(_SEQUENCE)
        if any(need and a._output_index for a, need in zip(args, ctx.needs_input_grad)):
            ctx._next_oi = tuple(
                a._output_index if need else 0 for a, need in zip(args, ctx.needs_input_grad)
            )
        ctx.n_out = len(outs)
        ctx.shapes = [o._array.shape for o in outs]
        ctx.dtypes = [o._array.dtype for o in outs]
        ctx.shape, ctx.dtype = ctx.shapes[0], ctx.dtypes[0]
        if STATE.anomaly:
            ctx.trace = traceback.format_stack()[:-1]
        # New tensors carry the node, so an input returned unchanged is never rewired.
        wrapped = []
        for i, o in enumerate(outs):
            if o._array.dtype.kind == "f":
                w = _make(o._array, ctx, True)
                w._output_index = i
            else:
                w = _make(o._array, None, False)
            w._version_counter = o._counter()  # one memory: a write to w is a write to o
            wrapped.append(w)
        saved = ctx.to_save
        ctx.saved = tuple(t._array if t is not None else None for t in saved)
        ctx.saved_versions = tuple(
            (i, t._counter(), t._version, None if any(t is o for o in outs) else t)
            for i, t in enumerate(saved)
            if t is not None
        )
        if any(t is o for t in saved for o in outs):
            # A saved output must be rebuilt from the node, never held by it.
            src = []
            for t in saved:
                idx = next((i for i, o in enumerate(outs) if t is o), None)
                src.append(OutputRef(idx) if idx is not None else t)
            ctx.saved_src = tuple(src)
            ctx.to_save = ()
        return wrapped[0] if single else tuple(wrapped)


from chainrule.autograd.inplace import refresh_view  # noqa: E402
from chainrule.tensor import Tensor, VersionCounter, _make  # noqa: E402  (tensor.py imports this)
