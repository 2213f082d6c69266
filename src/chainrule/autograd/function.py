"""Custom differentiable functions, as in PyTorch: :class:`Function` and its context.

A :class:`Function` subclass gives a forward and a hand-written backward; calling it
with ``apply`` records one graph node, the :class:`FunctionCtx`, which is also the
``ctx`` both methods receive.
"""

from __future__ import annotations

import traceback

from chainrule._backend import xp
from chainrule.autograd.grad_mode import STATE, no_grad, set_grad_enabled
from chainrule.autograd.graph import (
    FREED_MESSAGE,
    Node,
    OutputRef,
    check_saved_versions,
    next_sequence_number,
)
from chainrule.autograd.views import refresh_if_stale
from chainrule.tensor import Tensor, _make

__all__ = ["Function", "FunctionCtx"]


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
            raise RuntimeError(FREED_MESSAGE)
        check_saved_versions(self)
        return self.unpack_saved() if self.saved_src is not None else self.to_save

    def backward(self, lib, g, *_saved):
        # The user's backward is written with chainrule ops on tensors, not in a rule
        # vocabulary (``lib`` is None): the engine runs it under grad mode exactly when
        # the gradient must be differentiable (create_graph=True).
        differentiable = STATE.grad
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
        for a in args:
            if isinstance(a, Tensor) and a._view is not None:
                refresh_if_stale(a)  # its base was changed in place: a new history
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
        ctx._seq = next_sequence_number()
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
