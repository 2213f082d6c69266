r"""Ops that move values without changing them: reshape, permute, broadcast, cast, cat.

Their backward rules move the gradient back the same way: reshape it back, permute it by
the inverse permutation, sum it over broadcast dimensions, cast it to the input's dtype,
or slice it into the concatenated pieces. ``flatten``, ``squeeze``, ``unsqueeze``,
``transpose`` and ``stack`` are compositions of these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule.autograd.views import make_view
from chainrule.errors import ShapeError
from chainrule.ops._common import normalize_dim
from chainrule.ops.op import Op
from chainrule.tensor import Tensor, as_tensor

__all__ = [
    "broadcast_to",
    "cast",
    "cat",
    "concat",
    "expand",
    "flatten",
    "permute",
    "reshape",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
]


class Reshape(Op):
    r"""Forward: the same values in a new shape (row-major order). Backward: the gradient
    reshaped back to the input's shape."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, lib, g):
        return lib.reshape(g, self.in_shape), None


class Permute(Op):
    r"""Forward: dimensions reordered, output dim i is input dim ``dims[i]``. Backward: the
    gradient permuted by the inverse permutation."""

    def forward(self, x, dims):
        self.inverse = tuple(int(i) for i in np.argsort(dims))
        return x.transpose(dims)

    def backward(self, lib, g):
        return lib.permute(g, self.inverse), None


class Expand(Op):
    r"""Forward: broadcast to a larger shape (a view, no copy: a stretched dimension has
    stride 0). Backward: the gradient summed over every dimension that was stretched or
    added."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        view = xp.broadcast_to(x, shape)
        if not x.flags.writeable:
            return view
        # NumPy marks a broadcast view read-only; PyTorch lets ``fill_`` write through an
        # expanded tensor (and refuses other in-place ops: ops/inplace.py checks).
        return xp.lib.stride_tricks.as_strided(x, view.shape, view.strides, writeable=True)

    def backward(self, lib, g):
        return lib.sum_to(g, self.in_shape), None


class Cast(Op):
    r"""Forward: the values converted to another dtype (always a copy). Backward: the
    gradient converted back to the input's dtype, so a gradient always has the dtype of
    the tensor it belongs to."""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, lib, g):
        return lib.cast(g, self.in_dtype), None


class Cat(Op):
    r"""Forward: tensors joined along an existing dimension. Backward: the gradient sliced
    back into the pieces."""

    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = np.cumsum([0] + [a.shape[axis] for a in arrays]).tolist()
        return xp.concatenate(arrays, axis=axis)

    def backward(self, lib, g):
        lead = (slice(None),) * self.axis
        return tuple(
            g[(*lead, slice(lo, hi))] if need else None
            for need, lo, hi in zip(self.needs_input_grad, self.bounds, self.bounds[1:])
        )


def _shape_arg(shape, op: str) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, int | np.integer) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be integers, got {shape}")
    return tuple(int(s) for s in shape)


def reshape(input, *shape):
    """The same values in ``shape``; one size may be -1 and is then inferred."""
    x = as_tensor(input)
    shape = _shape_arg(shape, "reshape")
    size = x._array.size
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or any(s < -1 for s in shape):
        raise ShapeError(f"reshape: invalid shape {shape}: at most one size may be -1, none below")
    if (-1 in shape and (known == 0 or size % known)) or (-1 not in shape and known != size):
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({size} elements) "
            f"into shape {shape}"
        )
    if shape == x._array.shape:
        return x
    out = Reshape.apply(x, shape)
    if out._array.base is not None and xp.may_share_memory(out._array, x._array):
        make_view(out, x, (Reshape, (shape,)))  # NumPy could reshape without copying
    return out


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Merge dimensions ``start_dim`` to ``end_dim`` (inclusive) into one."""
    x = as_tensor(input)
    if x._array.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x._array.ndim, "flatten")
    e = normalize_dim(end_dim, x._array.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim})")
    shape = x._array.shape
    return reshape(x, (*shape[:s], math.prod(shape[s : e + 1]), *shape[e + 1 :]))


def squeeze(input, dim=None):
    """Remove dimensions of size 1 (only ``dim``, or only those in a tuple ``dim``, if given;
    naming a dimension whose size is not 1 leaves it in place, as in PyTorch)."""
    x = as_tensor(input)
    shape = x._array.shape
    if dim is None:
        drop = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
        drop = {normalize_dim(d, x._array.ndim, "squeeze") for d in dims}
        drop = {d for d in drop if x._array.ndim and shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in drop))


def unsqueeze(input, dim: int):
    """Insert a dimension of size 1 at ``dim`` (which may be ``ndim``, meaning last)."""
    x = as_tensor(input)
    d = normalize_dim(dim, x._array.ndim + 1, "unsqueeze")
    shape = x._array.shape
    return reshape(x, (*shape[:d], 1, *shape[d:]))


def permute(input, *dims):
    """Reorder dimensions: output dimension i is input dimension ``dims[i]``."""
    x = as_tensor(input)
    dims = _shape_arg(dims, "permute")
    ndim = x._array.ndim
    if len(dims) != ndim:
        raise ShapeError(f"permute: got {len(dims)} dims {dims} for a tensor of {ndim} dimensions")
    norm = tuple(normalize_dim(d, ndim, "permute") for d in dims)
    if sorted(norm) != list(range(ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the dimensions 0..{ndim - 1}")
    if norm == tuple(range(ndim)):
        return x
    return make_view(Permute.apply(x, norm), x, (Permute, (norm,)))


def transpose(input, dim0: int, dim1: int):
    """Swap two dimensions."""
    x = as_tensor(input)
    ndim = x._array.ndim
    if ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    d0 = normalize_dim(dim0, ndim, "transpose")
    d1 = normalize_dim(dim1, ndim, "transpose")
    dims = list(range(ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(x, tuple(dims))


def broadcast_to(input, shape):
    """A view of ``input`` broadcast to ``shape`` (NumPy's rules)."""
    x = as_tensor(input)
    shape = _shape_arg((shape,), "broadcast_to")
    if shape == x._array.shape:
        return x
    try:
        np.broadcast_shapes(x._array.shape, shape)
        ok = len(shape) >= x._array.ndim and np.broadcast_shapes(x._array.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(
            f"broadcast_to: cannot broadcast a tensor of shape {tuple(x.shape)} to {shape}"
        )
    return make_view(Expand.apply(x, shape), x, (Expand, (shape,)))


def expand(input, *sizes):
    """PyTorch's ``expand``: broadcast to ``sizes``, where -1 keeps a dimension's size."""
    x = as_tensor(input)
    sizes = _shape_arg(sizes, "expand")
    lead = len(sizes) - x._array.ndim
    if lead < 0:
        raise ShapeError(
            f"expand: {sizes} has fewer dimensions than the tensor's shape {tuple(x.shape)}"
        )
    shape = tuple(
        x._array.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes)
    )
    return broadcast_to(x, shape)


def cast(input, dtype):
    """``input`` converted to ``dtype`` (a copy); differentiable between floating dtypes."""
    return Cast.apply(as_tensor(input), _dt.to_dtype(dtype))


def cat(tensors, dim: int = 0, *, out=None):
    """Join tensors along an existing dimension; all other sizes must match."""
    if out is not None:
        return _write_out("cat", cat(tensors, dim), out)
    tensors = [as_tensor(t) for t in _sequence(tensors, "cat")]
    first = tensors[0]
    if first._array.ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_dim(dim, first._array.ndim, "cat")
    ref = first._array.shape
    for i, t in enumerate(tensors[1:], 1):
        s = t._array.shape
        if len(s) != len(ref) or any(a != b for k, (a, b) in enumerate(zip(s, ref)) if k != axis):
            raise ShapeError(
                f"cat: tensor {i} has shape {tuple(s)} but tensor 0 has shape {tuple(ref)}; "
                f"all sizes must match except in dimension {axis}"
            )
    dt = _dt.result_type(*(t._array for t in tensors))
    tensors = [t if t._array.dtype == dt else cast(t, dt) for t in tensors]
    return Cat.apply(*tensors, axis=axis)


concat = cat


def stack(tensors, dim: int = 0, *, out=None):
    """Join tensors of one shape along a new dimension ``dim``."""
    if out is not None:
        return _write_out("stack", stack(tensors, dim), out)
    tensors = [as_tensor(t) for t in _sequence(tensors, "stack")]
    ref = tensors[0]._array.shape
    for i, t in enumerate(tensors[1:], 1):
        if t._array.shape != ref:
            raise ShapeError(
                f"stack: tensor {i} has shape {tuple(t._array.shape)} but tensor 0 has shape "
                f"{tuple(ref)}; stack needs equal shapes"
            )
    d = normalize_dim(dim, len(ref) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def _write_out(name: str, result, out):
    """PyTorch's ``out=`` (``ops/_out.py``, imported here as it needs this module)."""
    from chainrule.ops._out import write_out

    return write_out(name, result, out, exact=False)


def _sequence(tensors, op: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence):
        raise TypeError(f"{op}: expects a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expects a non-empty list of tensors")
    return list(tensors)
