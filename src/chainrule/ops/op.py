"""``Op``: the base class of chainrule's primitives, and how one is written.

Writing a primitive
-------------------
A primitive is a subclass of :class:`Op` with two methods::

    class Mul(Op):
        def forward(self, a, b):            # arrays in, array out
            self.save(a, b)
            return a * b

        def backward(self, lib, g, a, b):   # g: gradient of the output; a, b: what was saved
            return lib.sum_to(g * b, a.shape), lib.sum_to(g * a, b.shape)

``forward`` runs on raw arrays. ``backward`` is written once, in the small vocabulary of
``lib`` (see :mod:`chainrule.ops.rulemath`) plus Python operators. The engine passes raw
arrays and ``lib = ArrayMath`` for an ordinary backward (fast), and tensors with
``lib = TensorMath`` when the gradient must itself be differentiable
(``create_graph=True``), so the same rule yields second derivatives.

The docstring is part of the op: "Forward:" and "Backward:" give the formulas (``explain``
prints the Backward part next to the numbers), and the conventions at kinks follow.
Then give the op an entry in the op table (``chainrule/testing/opinfo.py``): its tests
(gradcheck in float64 with a random upstream gradient, second derivatives, PyTorch
parity, the kinks) run from there.
"""

from __future__ import annotations

import traceback
from typing import ClassVar

from chainrule._backend import ndarray, xp
from chainrule._fp_errors import silence, unsilence
from chainrule._recording import RECORDING
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.graph import OUTPUT, Node, next_sequence_number
from chainrule.autograd.views import refresh_view
from chainrule.ops.rulemath import ArrayMath
from chainrule.tensor import Tensor, VersionCounter, _make

__all__ = ["Op", "array_result"]

_new = object.__new__


class Op(Node):
    """Base class of the primitives. See the module docstring for how to write one.

    Subclasses register themselves in ``Op.registry``; the op table's coverage test fails
    when a registered primitive has no entry.
    """

    registry: ClassVar[dict[str, type]] = {}
    array_math = ArrayMath
    tensor_math = None  # TensorMath, set by chainrule/ops/__init__.py (it is built on the ops)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            Op.registry[cls.__name__] = cls

    def save(self, *values) -> None:
        """Keep ``values`` (inputs, the output, or any arrays) for the backward rule."""
        self.saved = values

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, lib, g, *saved):  # pragma: no cover - abstract
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
            out = array_result(ctx, out)
        if STATE.anomaly:
            _check_forward(ctx, datas, out)
        if not (record and STATE.grad and out.dtype.kind == "f"):
            if RECORDING.tape is not None:
                RECORDING.tape.forward(ctx, args, kwargs, out, False)
            return _make(out, None, False)
        ctx._next = parents
        ctx._seq = next_sequence_number()
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
        if RECORDING.tape is not None:
            RECORDING.tape.forward(ctx, args, kwargs, out, True)
        return t


def array_result(node, out):
    """``out`` as an array: NumPy returns a scalar, not a 0-d array, from ops on 0-d
    arrays. A saved scalar becomes the same array."""
    raw, out = out, xp.asarray(out)
    if node.saved:
        node.saved = tuple(out if s is raw else s for s in node.saved)
    return out


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
