r"""In-place operations and views: writing into memory that a graph may still need.

PyTorch lets a program change a tensor where it lies (``x.add_(y)``, ``x += 1``,
``x[i] = v``, ``p -= lr * p.grad``), and several tensors may share one piece of memory
(a slice, a reshape, a transpose, ``detach()``). chainrule keeps the same rules, which
rest on three mechanisms.

**Version counters.** Each piece of memory counts the in-place writes made to it
(``tensor._version``); a tensor and its views share the count. A value that an op saves
for its backward remembers the count it saw. If the count has moved when backward needs
the value, the value is no longer the one the forward used, and backward raises (with
the op, dtype, shape and both counts) instead of computing a wrong gradient.

**In-place ops in the graph.** ``x.mul_(y)`` computes ``x * y`` as the ordinary op would,
from a copy of ``x``'s old values that keeps ``x``'s history, writes the result into
``x``'s memory, and moves ``x``'s history to the new node. So the gradient of whatever
is computed from ``x`` afterwards flows through the multiplication into ``x``'s past,
exactly as if the program had written ``x = x * y``. Two cases are refused, as PyTorch
refuses them, because the old value would be needed and is gone: an in-place op on a
leaf that requires grad (or on a view of one) while grad mode is on. Under ``no_grad``
the same op is the update idiom, and simply writes.

**Views.** A view (basic indexing, ``reshape`` when it needs no copy, ``permute``,
``transpose``, ``squeeze``, ``unsqueeze``, ``expand``) shares its base's memory, so an
in-place op on a view changes the base. The base's history then moves to a
:class:`CopySlices` node: the base's new value is its old value with the view's region
replaced, so the old base receives the gradient outside the region and the new values
receive the gradient inside it. The view's own node is rebuilt from the base's. Any
other view of the same base notices, the next time it is used, that its base has a new
history, and rebuilds its node the same way (:func:`refresh_view`).

``.data`` is the one deliberate exception, as in PyTorch: it shares the memory but not
the counter, so writes through ``p.data`` are invisible to autograd.
"""

from __future__ import annotations

import numpy as np

from chainrule._backend import xp
from chainrule._recording import RECORDING, replayable
from chainrule.autograd.grad_mode import STATE, no_grad
from chainrule.autograd.graph import Node, next_sequence_number
from chainrule.autograd.views import refresh_if_stale, refresh_view, replay
from chainrule.errors import ShapeError
from chainrule.ops.rulemath import ArrayMath
from chainrule.tensor import Tensor, _make

__all__ = [
    "CopySlices",
    "apply_inplace",
    "check_internal_overlap",
    "check_overlap",
    "records",
    "write",
]


class CopySlices(Node):
    r"""The base of a view after an in-place op through the view (PyTorch's name).

    Forward (done by the in-place op): :math:`b' = b` with the view's region replaced by
    the new values :math:`v`.

    Backward: :math:`\bar b = \bar b'` outside the region and 0 inside it (those old
    values were overwritten); :math:`\bar v = \bar b'` restricted to the region (the
    view's steps applied to the gradient).
    """

    array_math = ArrayMath
    tensor_math = None  # TensorMath, set by chainrule/ops/__init__.py

    def __init__(self, base, new, keep, steps: tuple) -> None:
        self.steps = steps
        self.keep = keep  # True outside the view's region
        self._next = (
            base._node if base._node is not None else (base if base._requires_grad else None),
            new._node,
        )
        self.needs_input_grad = (self._next[0] is not None, True)
        if new._output_index:
            self._next_oi = (base._output_index, new._output_index)
        elif base._output_index:
            self._next_oi = (base._output_index, 0)
        self.shape = base._array.shape
        self.dtype = base._array.dtype

    @property
    def op_name(self) -> str:
        return "copy_slices"

    def name(self) -> str:
        return "CopySlices"

    def backward(self, lib, g):
        need_base, _ = self.needs_input_grad
        return lib.where(self.keep, g, 0.0) if need_base else None, replay(g, self.steps)


# --------------------------------------------------------------------------- writing
def check_internal_overlap(arr, name: str) -> None:
    """Refuse to write, other than one value everywhere, into memory that several
    elements share (an expanded tensor), as PyTorch refuses: the result would depend on
    the order of the writes."""
    if any(s == 0 and n > 1 for s, n in zip(arr.strides, arr.shape)):
        raise RuntimeError(
            f"{name}: unsupported operation: more than one element of the written-to tensor "
            "refers to a single memory location. Please clone() the tensor before performing "
            "the operation."
        )


def write(x, values, name: str, check: bool = True):
    """Write ``values`` into ``x``'s memory (NumPy's broadcasting and casting) and count
    the write: the plain in-place write of a ``no_grad`` update, of ``nn.init`` and of
    ``load_state_dict``. ``check=False``: the caller has checked for shared memory (a
    fill writes one value everywhere, which PyTorch allows in an expanded tensor)."""
    arr = x._array
    if check:
        check_internal_overlap(arr, name)
    if not arr.flags.writeable:
        raise RuntimeError(
            f"{name}: this tensor's memory is read-only (a NumPy array that cannot be "
            "written, shared with from_numpy?); clone() it first"
        )
    try:
        arr[...] = values
    except ValueError as err:
        raise ShapeError(
            f"{name}: cannot write values of shape {tuple(np.shape(values))} into a tensor "
            f"of shape {tuple(arr.shape)}: {err}"
        ) from None
    if RECORDING.tape is not None:
        RECORDING.tape.write(x, values)
    x._bump_version()
    return x


def _dense_span(a):
    """The bytes ``(start, end)`` of an array whose elements fill one block of memory with
    no gaps and no repeats (in some order of its dimensions), else None."""
    dims = sorted((s, n) for s, n in zip(a.strides, a.shape) if n != 1)
    expected = a.itemsize
    for stride, n in dims:
        if stride != expected:
            return None
        expected *= n
    start = a.__array_interface__["data"][0]
    return start, start + a.size * a.itemsize


def check_overlap(dest, value, name: str) -> None:
    """PyTorch's rule: an in-place op may read the memory it writes only element for
    element (``x.add_(x)``); an input that overlaps the written memory only in part would
    be read after some of it was overwritten, so it is refused. (As in PyTorch, layouts
    too irregular to compare cheaply are let through.)"""
    if not isinstance(value, Tensor):
        return
    src = value._array
    if src is dest or src.size == 0 or dest.size == 0 or not np.may_share_memory(src, dest):
        return
    a, b = _dense_span(dest), _dense_span(src)
    if a is None or b is None or (a == b and dest.strides == src.strides):
        return
    if a[0] < b[1] and b[0] < a[1]:
        raise RuntimeError(
            f"{name}: unsupported operation: some elements of the input tensor and the "
            "written-to tensor refer to a single memory location. Please clone() the tensor "
            "before performing the operation."
        )


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _check_result(x, result, name: str) -> None:
    """PyTorch's rules for an in-place result: x's shape (x never grows by broadcasting),
    and a dtype that casts to x's without changing kind downwards (no float into int)."""
    if result.shape != x._array.shape:
        raise ShapeError(
            f"{name}: output with shape {list(x._array.shape)} doesn't match the broadcast "
            f"shape {list(result.shape)}"
        )
    if _KIND_RANK[result.dtype.kind] > _KIND_RANK[x._array.dtype.kind]:
        raise RuntimeError(
            f"{name}: result type {result.dtype} can't be cast to the desired output type "
            f"{x._array.dtype}"
        )


def _check_writable_history(x) -> None:
    """Refuse an in-place op whose old values autograd would need: on a leaf that
    requires grad, or on a view of one, while grad mode is on."""
    info = x._view
    if info is None:
        if x._node is None and x._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation. "
                "(To update a parameter in place, do it inside `with cr.no_grad():`.)"
            )
    elif info.base._node is None and info.base._requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation. (To update a parameter in place, do it inside `with cr.no_grad():`.)"
        )


def records(x, *args) -> bool:
    """Whether an in-place op on ``x`` with these arguments enters the graph: grad mode
    is on and ``x`` or one of the arguments requires grad."""
    if x._view is not None:
        refresh_if_stale(x)
    if not STATE.grad:
        return False
    return x._requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)


def apply_inplace(x, name: str, op, *args, check: bool = True, region=None, **kwargs):
    """``x.name(*args)``: compute ``op(x, *args, **kwargs)`` and make ``x`` hold it.

    Without a graph to keep (grad mode off, or nothing involved requires grad) the result
    is written into ``x``'s memory and the write counted. Otherwise the op is recorded:
    see the module docstring. ``region``: an index outside which the op changes nothing;
    only it is written (``x[i] = v`` into an expanded tensor must not rewrite the rest).
    """
    if check:  # (unless the caller checked: fill_, x[i] = v)
        check_internal_overlap(x._array, name)
        for a in args:
            check_overlap(x._array, a, name)
    if not records(x, *args):
        with no_grad():
            result = op(x, *args, **kwargs)
        _check_result(x, result._array, name)
        return write(x, result._array, name, check=False)

    _check_writable_history(x)
    if x._view is not None and x._view.multi_output:
        raise RuntimeError(
            f"{x._view.multi_output} is a view and is being modified inplace. This view is "
            "the output of a function that returns multiple views (split, chunk, unbind), "
            "and, as in PyTorch, such views cannot be modified inplace while autograd "
            "records it. Replace the inplace operation by an out-of-place one (or make it "
            "under cr.no_grad())."
        )
    if any(s == 0 and n > 1 for s, n in zip(x._array.strides, x._array.shape)):
        # Several elements of x are one memory location, so the values the graph would
        # record for them are not what memory holds after the write (PyTorch's answer
        # depends on the order of its writes). Refused rather than a doubtful gradient.
        raise RuntimeError(
            f"{name}: cannot record an in-place write into an expanded tensor, where several "
            "elements share one memory location, while its gradient is needed; clone() it "
            "first (writing under cr.no_grad() works)"
        )
    if RECORDING.tape is not None and (x._view is not None or region is not None):
        RECORDING.tape.refuse(f"{name} writes into a view or a region while recording a graph")
    # The op reads a copy of x's old values that carries x's history: whatever it saves
    # for its backward stays as it was when x is overwritten below.
    old = _make(copy_of(x._array), x._node, x._requires_grad)
    old._output_index = x._output_index
    result = op(old, *args, **kwargs)
    _check_result(x, result._array, name)
    if result._array.dtype != x._array.dtype:
        result = result.to(x._array.dtype)  # the Cast op, through the Tensor seam
    info = x._view
    keep = None
    if info is not None:
        # Which elements of the base lie outside the view: a mask with the base's memory
        # layout, so that the view's steps select the same elements in it.
        keep = xp.ones_like(info.base._array, dtype=bool)
        replay(keep, info.steps)[...] = False
    if region is None:
        write(x, result._array, name, check=False)
    else:
        x._array[region] = result._array[region]
        x._bump_version()
    _adopt_saved_output(result, x)
    if info is None:
        x._node = result._node
        x._output_index = result._output_index
        x._requires_grad = True
        return x
    base = info.base
    node = CopySlices(base, result, keep, info.steps)
    node._seq = next_sequence_number()
    base._node = node
    base._output_index = 0
    base._requires_grad = True
    refresh_view(x)
    return x


@replayable
def copy_of(array):
    """A copy of ``array`` (a function of its own so that a captured step makes it too)."""
    return array.copy()


def _adopt_saved_output(result, x) -> None:
    """If the new node saved its output, point it at ``x``'s memory, which now holds the
    same values: the node then checks ``x``'s version, as PyTorch's does."""
    node = result._node
    if node is None or not node.saved_versions:
        return
    counter = result._version_counter
    arr = result._array
    node.saved = tuple(x._array if s is arr else s for s in node.saved)
    node.saved_versions = tuple(
        (i, x._counter(), x._version, None) if c is counter else (i, c, v, t)
        for i, c, v, t in node.saved_versions
    )
