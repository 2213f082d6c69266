"""PyTorch's ``out=`` argument: a function writes its result into a tensor the caller gave.

The rules, as PyTorch applies them:

* ``out`` must be a tensor (a tuple of tensors for functions with several results, such
  as ``sort`` and ``topk``); the function returns it.
* No graph is recorded through ``out``: with grad mode on, a result that would require
  grad, or an ``out`` that requires grad, is an error.
* The dtype must be the result's (``exact``); the elementwise arithmetic and comparison
  functions instead accept any dtype the result casts to without going down a kind
  (no float into an integer tensor, nothing but bool into a bool one).
* A shape that differs is resized to the result's: silently when ``out`` is empty, with
  PyTorch's deprecation warning otherwise. The resized tensor holds new memory.
"""

from __future__ import annotations

import warnings

from chainrule._backend import xp
from chainrule.autograd.grad_mode import STATE
from chainrule.ops.inplace import write
from chainrule.tensor import Tensor

__all__ = ["write_out"]

_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def write_out(name: str, result, out, *, exact: bool = True):
    """Return ``result``, or, when ``out`` is given, write it into ``out`` and return that.

    ``result`` is a tensor or a tuple of tensors; ``out`` is None or matches it.
    """
    if out is None:
        return result
    results = result if isinstance(result, tuple) else (result,)
    outs = tuple(out) if isinstance(out, tuple | list) else (out,)
    if len(outs) != len(results) or not all(isinstance(o, Tensor) for o in outs):
        want = "a tensor" if len(results) == 1 else f"a tuple of {len(results)} tensors"
        raise TypeError(f"{name}(): out must be {want}, got {type(out).__name__}")
    if STATE.grad and any(t.requires_grad for t in (*results, *outs)):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    for r, o in zip(results, outs):
        _check_dtype(name, r._array.dtype, o._array.dtype, exact)
    for r, o in zip(results, outs):
        _store(name, r._array, o)
    if not isinstance(result, tuple):
        return outs[0]
    return outs if type(result) is tuple else type(result)(*outs)


def _check_dtype(name: str, have, want, exact: bool) -> None:
    if exact and have != want:
        raise RuntimeError(
            f"{name}(): expected out= to have dtype {have}, the result's, but got {want}"
        )
    if _KIND_RANK[have.kind] > _KIND_RANK[want.kind]:
        raise RuntimeError(f"{name}(): result type {have} can't be cast to the desired out= {want}")


def _store(name: str, values, out: Tensor) -> None:
    """Write ``values`` into ``out``, resizing it (new memory) when the shapes differ."""
    if out._array.shape == values.shape:
        write(out, values, f"{name}(out=)")
        return
    if out._array.size:
        warnings.warn(
            f"{name}(): an output with one or more elements was resized since it had shape "
            f"{list(out._array.shape)}, which does not match the required output shape "
            f"{list(values.shape)}. This behavior is deprecated (in PyTorch too): pass an "
            "out= tensor of the right shape, or an empty one.",
            UserWarning,
            stacklevel=4,
        )
    out._array = xp.array(values, dtype=out._array.dtype)
    out._view = None  # the new memory is its own
    out._bump_version()
