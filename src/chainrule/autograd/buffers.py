"""Who owns a gradient's memory: the backward pass's two speed devices.

The plain rule of ``engine.py`` would copy freely: every rule allocates its result, and
every leaf gets a gradient of its own. Two shortcuts avoid copies that nobody needs,
each guarded so that no gradient ever shares memory with another by accident:

1. **Reuse.** A rule may write its result into the gradient it received, instead of
   allocating one, when nothing else refers to that array (NumPy elides its own
   temporaries on the same grounds). ReLU's backward does (``Node.reuses_grad``); on a
   large activation this saves an allocation and a pass over memory per step.
2. **Leaves keep what they receive.** The first gradient a leaf receives becomes its
   ``.grad`` without a copy, unless the same array may also be seen elsewhere: a view,
   read-only memory, the caller's own gradient passed to ``backward(gradient)``, or an
   array already given to another leaf (a rule such as ``add`` passes its gradient
   through unchanged, so one array can reach two leaves). Later gradients are added in
   place.

Both are tested to give the same bits as the plain form, and a leaf's ``.grad`` is
always its own memory (clipping one never changes another).
"""

from __future__ import annotations

import sys

from chainrule._backend import ndarray
from chainrule.tensor import _make

__all__ = ["LeafGradients", "owned"]

# Where the interpreter cannot count references, no gradient is ever offered for reuse.
_refcount = getattr(sys, "getrefcount", lambda _: 0)
# References to g while ``owned(g)`` counts them: the engine's variable, this function's
# parameter, and getrefcount's own argument. Any more, and someone else holds g.
_ONLY_THE_ENGINE = 3


def owned(g) -> bool:
    """Whether the rule about to receive ``g`` may overwrite it: a plain, writable array
    that nothing but the backward loop refers to (see the module docstring)."""
    return (
        type(g) is ndarray
        and g.base is None
        and g.flags.writeable
        and _refcount(g) == _ONLY_THE_ENGINE
    )


class LeafGradients:
    """Adds each gradient that reaches a leaf into its ``.grad``, copying only what may
    be shared (see the module docstring). ``roots_grads``: the gradients the backward
    started from, which belong to the caller."""

    def __init__(self, roots_grads, differentiable: bool) -> None:
        self.differentiable = differentiable
        self.given = set() if differentiable else {id(g) for g in roots_grads}

    def accumulate(self, leaf, g) -> None:
        if self.differentiable:
            # A leaf's gradient is its own tensor, never one that the caller or another
            # leaf holds too (PyTorch's AccumulateGrad clones it the same way).
            leaf._grad = g.clone() if leaf._grad is None else leaf._grad + g
            return
        if leaf._grad is None:
            if g.base is not None or id(g) in self.given or not g.flags.writeable:
                g = g.copy()
            self.given.add(id(g))
            leaf._grad = _make(g, None, False)
            return
        current = leaf._grad._array
        if current.flags.writeable and current.shape == g.shape and current.dtype == g.dtype:
            current += g
            leaf._grad._bump_version()
        else:
            leaf._grad = _make(current + g, None, False)
