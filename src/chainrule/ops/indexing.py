r"""Indexing: ``x[...]`` with slices, integers, integer arrays and boolean masks (NumPy's
rules, which PyTorch shares), and ``gather``.

The backward of reading ``x[index]`` writes the gradient back into zeros at ``index``.
Integer arrays may repeat an index; each repetition read the value once, so each adds its
gradient (``np.add.at``, never plain assignment, which would keep only the last).
"""

from __future__ import annotations

import numpy as np

import chainrule.ops.kernels as kernels
from chainrule import dtypes as _dt
from chainrule._backend import ndarray, xp
from chainrule._recording import replayable
from chainrule.autograd.views import make_view
from chainrule.errors import ShapeError
from chainrule.ops._common import normalize_dim
from chainrule.ops.op import Op
from chainrule.tensor import Tensor, as_tensor

__all__ = ["add_at", "gather", "getitem", "normalize_index"]


class GetItem(Op):
    r"""Forward: :math:`y = x[\text{index}]`.

    Backward: :math:`\bar x = 0` everywhere except :math:`\bar x[\text{index}] \mathrel{+}= \bar y`
    (accumulating over repeated integer indices).
    """

    def forward(self, x, index, advanced):
        self.in_shape, self.index, self.advanced = x.shape, index, advanced
        return x[index]

    def backward(self, lib, g):
        return lib.index_add(self.in_shape, self.index, g, self.advanced), None, None

    def explain(self, err, args):
        return type(err)(f"index into a tensor of shape {tuple(args[0].shape)}: {err}")

    def name(self) -> str:
        """PyTorch's name for the indexing done, as ``grad_fn`` prints it.

        PyTorch indexes one part at a time from the left and names the node after the
        last step: ``SelectBackward0`` for an integer, ``SliceBackward0`` for a slice,
        ``UnsqueezeBackward0`` for None, ``AliasBackward0`` when no step was taken; any
        integer array or mask makes it ``IndexBackward0``. Inside a tuple a slice that
        keeps the whole dimension is no step; a lone slice (``x[:2]``, ``x[:]``) always is.
        """
        parts = self.index if isinstance(self.index, tuple) else (self.index,)
        if any(not _is_basic(p) for p in parts):
            return "IndexBackward0"
        if len(parts) == 2 and isinstance(parts[0], slice) and parts[1] is Ellipsis:
            return "SliceBackward0"  # a lone slice, with the ``...`` getitem adds
        ellipsis = next((i for i, p in enumerate(parts) if p is Ellipsis), len(parts))
        used = sum(1 for p in parts if p is not None and p is not Ellipsis)
        ndim, last = len(self.in_shape), "Alias"
        for i, p in enumerate(parts):
            if p is None:
                last = "Unsqueeze"
            elif isinstance(p, slice):
                # The dimension this slice walks: counted from the left before ``...``,
                # from the right after it.
                before = sum(1 for q in parts[:i] if q is not None and q is not Ellipsis)
                dim = before if i < ellipsis else ndim - (used - before)
                n = self.in_shape[dim]
                if p.indices(n) != (0, n, 1):
                    last = "Slice"
            elif p is not Ellipsis:
                last = "Select"
        return f"{last}Backward0"

    @staticmethod
    def shape_depends_on_values(x, index, advanced) -> bool:
        """Whether the output's shape depends on the index's values, not only its shape:
        a boolean mask selects as many elements as it holds True (``cr.compile`` refuses
        to replay such a step)."""
        parts = index if isinstance(index, tuple) else (index,)
        for part in parts:
            part = getattr(part, "_array", part)
            if isinstance(part, ndarray) and part.dtype == bool:
                return True
        return False


class Gather(GetItem):
    r""":func:`gather` as an op of its index array: :class:`GetItem` with the full index
    (``index`` along ``axis``, every position elsewhere) built in the forward, so that a
    step captured by ``cr.compile`` replays it with each call's index.

    Forward: :math:`y_{i j} = x_{i, \mathrm{idx}_{i j}}` (along ``axis``).
    Backward: :math:`\bar x` is zero except :math:`\bar x_{i, \mathrm{idx}_{i j}}
    \mathrel{+}= \bar y_{i j}` (repeated indices accumulate), as for :class:`GetItem`.
    """

    def forward(self, x, idx, axis):
        grid = list(np.ix_(*(np.arange(s) for s in idx.shape)))
        grid[axis] = idx
        return super().forward(x, tuple(xp.asarray(g) for g in grid), True)

    name = Op.name  # GatherBackward0, as PyTorch's


class IndexSelect(GetItem):
    r"""``x[..., idx, ...]`` along ``axis`` (``index_select``) as an op of its index
    array, like :class:`Gather`.

    Forward: :math:`y = x[\dots, \mathrm{idx}, \dots]`.
    Backward: :math:`\bar x` is zero except the rows ``idx`` along ``axis``, which
    receive :math:`\bar y` (summed over repeated indices), as for :class:`GetItem`.
    """

    def forward(self, x, idx, axis):
        return super().forward(x, (slice(None),) * axis + (idx.reshape(-1),), True)

    name = Op.name  # IndexSelectBackward0, as PyTorch's


class IndexAdd(Op):
    r"""Forward: zeros of ``shape`` with ``values`` added at ``index`` (the backward of
    :class:`GetItem`, as an op so that second derivatives flow through it).

    Backward: :math:`\overline{values} = \bar y[\text{index}]`.
    """

    def forward(self, values, shape, index, accumulate):
        self.index = index
        return kernels.index_add(shape, index, values, accumulate)

    def backward(self, lib, g):
        return g[self.index], None, None, None


def _is_advanced(part) -> bool:
    return isinstance(part, ndarray) and part.dtype.kind in "iu"


def normalize_index(index):
    """An index with tensors and lists turned into arrays, checked for dtype and range."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            p = p._array
        elif isinstance(p, list | range):
            p = xp.asarray(p)
            if p.size == 0:
                p = p.astype(_dt.int64)
        if isinstance(p, ndarray):
            if p.dtype.kind not in "biu":
                raise IndexError(
                    f"tensors used as indices must be integer or bool, got dtype {p.dtype}"
                )
        elif isinstance(p, float):
            raise IndexError(
                f"indices must be integers, slices, None, ... or tensors, got the float {p}"
            )
        out.append(p)
    return tuple(out) if isinstance(index, tuple) or len(out) != 1 else out[0]


def getitem(input, index):
    """``input[index]``: basic indexing (integers, slices, None, ``...``) gives a view,
    integer arrays and masks a copy."""
    x = as_tensor(input)
    index = normalize_index(index)
    parts = index if isinstance(index, tuple) else (index,)
    if all(_is_basic(p) for p in parts):
        if not any(p is Ellipsis for p in parts):
            # A trailing ``...`` makes NumPy return a view even where every dimension is
            # indexed by an integer (a 0-d view, not a detached scalar), as PyTorch does.
            parts = (*parts, Ellipsis)
        return make_view(GetItem.apply(x, parts, False), x, (GetItem, (parts, False)))
    advanced = any(_is_advanced(p) for p in parts)
    return GetItem.apply(x, index, advanced)


def _is_basic(part) -> bool:
    return (
        part is None
        or part is Ellipsis
        or isinstance(part, slice)
        or (isinstance(part, int | np.integer) and not isinstance(part, bool | np.bool_))
    )


def add_at(shape, index, values, accumulate: bool = True):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeats accumulate): the
    backward of reading ``x[index]``, as an op. (PyTorch's ``index_add``, with another
    signature, is in ``ops/scatter.py``.)"""
    v = as_tensor(values)
    return IndexAdd.apply(v, tuple(shape), normalize_index(index), accumulate)


def gather(input, dim: int, index):
    """Values along ``dim`` picked by ``index``: ``out[i][j] = input[i][index[i][j]]`` for
    ``dim=1``. ``index`` has the same number of dimensions as ``input``; the gradient goes
    back to the picked positions (adding up where an index repeats)."""
    x = as_tensor(input)
    idx = index._array if isinstance(index, Tensor) else xp.asarray(index)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != x._array.ndim:
        raise ShapeError(
            f"gather: index has {idx.ndim} dimensions but input has {x._array.ndim} "
            f"(shapes {tuple(idx.shape)} and {tuple(x.shape)})"
        )
    axis = normalize_dim(dim, x._array.ndim, "gather")
    for d in range(x._array.ndim):
        if d != axis and idx.shape[d] > x._array.shape[d]:
            raise ShapeError(
                f"gather: index shape {tuple(idx.shape)} exceeds input shape {tuple(x.shape)} "
                f"in dimension {d}"
            )
    _check_gather(idx, x._array.shape[axis] if x._array.ndim else 1, axis)
    if idx.ndim == 0:
        return GetItem.apply(x, (), False)
    return Gather.apply(x, idx, axis)


@replayable  # a check of the index values: a step captured by cr.compile repeats it
def _check_gather(idx, n: int, axis: int) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(
            f"gather: index values must lie in [0, {n}) for dimension {axis}, "
            f"got values from {idx.min()} to {idx.max()}"
        )
