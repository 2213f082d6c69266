"""The optimizers' speed devices: the same updates, in fewer NumPy calls and no fresh
memory per step.

The built-in update rules are elementwise: each element of the new parameter and
buffers depends only on the same element of the old ones, of the gradient, and on
scalars. Three devices rest on that (an optimizer whose rule is not elementwise sets
``elementwise = False`` and gets the plain loop of ``optimizer.py``):

- **Flat groups** (:class:`FlatGroup`): the small parameters of a group (at most
  ``SMALL`` elements each) are updated together, as one flat array: one gather of the
  gradients and of the values, one call of the update rule, one copy back. A network of
  many small layers then costs a handful of NumPy calls per step instead of a handful
  per parameter (what that saves: docs/performance.md, "Where the speed devices pay").
  Their state buffers are views of flat buffers, so ``state[p]`` and
  ``state_dict()`` look exactly as they would otherwise, and the numbers are the same to
  the last bit (tested for every optimizer configuration).
- **Slices** (:func:`chunked`): a parameter larger than ``CHUNK`` elements is updated a
  slice at a time, which bounds the work arrays.
- **Work arrays** (:class:`WorkArrays`): the update rules that need scratch space (Adam,
  SGD) write into arrays the optimizer keeps, so a step allocates nothing beyond what
  the rule's options demand.
"""

from __future__ import annotations

from operator import attrgetter, is_

import numpy as np

from chainrule._backend import xp

__all__ = ["CHUNK", "SMALL", "FastStep", "FlatGroup", "WorkArrays", "chunked"]

CHUNK = 1 << 20  # elements per slice of a large parameter (4 MB of float32)
SMALL = 1 << 15  # parameters up to this size are updated together with their group's others


def chunked(*arrays):
    """Matching slices of same-shaped arrays (None entries stay None; the first, the
    parameter, is never None): flat views of at most CHUNK elements when every array is
    contiguous, otherwise the arrays whole."""
    if arrays[0].size <= CHUNK:  # the parameter: the common case
        return (arrays,)
    present = [a for a in arrays if a is not None]
    if not all(a.flags.c_contiguous for a in present):
        return (arrays,)
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    n = present[0].size
    return [[None if f is None else f[s : s + CHUNK] for f in flat] for s in range(0, n, CHUNK)]


_array_of = attrgetter("_array")


def is_buffer(value, param) -> bool:
    """Whether a state entry is a buffer of ``param``'s shape (not a scalar)."""
    return hasattr(value, "shape") and tuple(value.shape) == tuple(param._array.shape)


class FlatGroup:
    """Small parameters of one group, updated as one flat array.

    Each step gathers their gradients and values into ``grad`` and ``param`` (one
    ``concatenate`` each), runs the update rule once on the flat arrays with the flat
    state ``state``, and copies the new values back. ``dicts[i]`` is ``params[i]``'s entry
    of ``Optimizer.state``: its buffers are views of the flat buffers, its scalars (the
    step count) copies of the flat state's. A plan is rebuilt whenever it no longer
    matches (other parameters have gradients, ``load_state_dict`` replaced the state, or a
    buffer was replaced), so it is never stale.
    """

    def __init__(self, params: list, state: dict) -> None:
        self.params = params
        self.datas = [p._array for p in params]
        ends = np.cumsum([p._array.size for p in params]).tolist()
        self.parts = [slice(a, b) for a, b in zip([0, *ends], ends)]
        dtype = params[0]._array.dtype
        self.param = xp.empty(ends[-1], dtype)
        self.grad = xp.empty(ends[-1], dtype)
        self.values = [self.param[s].reshape(p._array.shape) for p, s in zip(params, self.parts)]
        self.dicts = [state.setdefault(p, {}) for p in params]
        self.state = {}
        self.checks: list = []  # (state entry, key, view): what must still be in place
        self.scalars: list = []
        if self.dicts[0]:  # the state so far, each buffer concatenated
            for key, value in self.dicts[0].items():
                if is_buffer(value, params[0]):
                    parts = [d[key] for d in self.dicts]
                    self.state[key] = xp.concatenate(parts, axis=None).astype(dtype, copy=False)
                else:
                    self.state[key] = value
            self.split()

    @staticmethod
    def compatible(params: list, state: dict) -> bool:
        """Whether these parameters can share one flat state: one dtype, and state entries
        that agree (none yet, or the same keys, buffers of each parameter's shape and
        equal scalars)."""
        dtype = params[0]._array.dtype
        first = state.get(params[0]) or {}
        for p in params:
            own = state.get(p) or {}
            if p._array.dtype != dtype or own.keys() != first.keys():
                return False
            for key, value in own.items():
                if hasattr(value, "shape") or hasattr(first[key], "shape"):
                    if not (is_buffer(value, p) and is_buffer(first[key], params[0])):
                        return False
                elif not (type(value) is type(first[key]) and value == first[key]):
                    return False
        return True

    def matches(self, params: list, state: dict) -> bool:
        return (
            len(params) == len(self.params)
            and all(map(is_, params, self.params))
            and all(map(is_, map(_array_of, params), self.datas))  # not replaced, so same shape
            and all(map(is_, map(state.get, params), self.dicts))
            and all(d.get(key) is view for d, key, view in self.checks)
        )

    def split(self) -> None:
        """Point each parameter's state entry at its slice of the flat state."""
        buffers = [(k, v) for k, v in self.state.items() if hasattr(v, "shape")]
        self.checks = []
        for p, d, part in zip(self.params, self.dicts, self.parts):
            for key, flat in buffers:
                view = d[key] = flat[part].reshape(p._array.shape)
                self.checks.append((d, key, view))
        self.scalars = [k for k in self.state if not hasattr(self.state[k], "shape")]

    def step(self, optimizer, group: dict, options: dict) -> None:
        params = self.params
        xp.concatenate([p._grad._array for p in params], axis=None, out=self.grad)
        xp.concatenate([p._array for p in params], axis=None, out=self.param)
        fresh = not self.state
        optimizer._update(self.param, self.grad, self.state, group, options)
        if fresh and self.state:
            self.split()
        for p, new in zip(params, self.values):
            p._array[...] = new
            p._bump_version()  # an in-place write, as any: graphs that saved p notice
        if self.scalars:
            scalars = {k: self.state[k] for k in self.scalars}
            for d in self.dicts:
                d.update(scalars)


class WorkArrays:
    """Work arrays for the update rules, kept from step to step: views of one buffer as
    large as the largest request so far (an update must not keep them)."""

    def __init__(self) -> None:
        self.views: dict = {}  # (dtype, count) -> buffer; (shape, dtype, count) -> views

    def get(self, like, count: int) -> tuple:
        """``count`` work arrays shaped like ``like``."""
        key = (like.shape, like.dtype, count)
        work = self.views.get(key)
        if work is None:
            buffer = self.views.get((like.dtype, count))
            if buffer is None or buffer.shape[1] < like.size:
                self.views = {}  # views of a smaller buffer: let it go
                buffer = self.views[(like.dtype, count)] = xp.empty((count, like.size), like.dtype)
            work = self.views[key] = tuple(
                buffer[i, : like.size].reshape(like.shape) for i in range(count)
            )
        return work


class FastStep:
    """An optimizer's step through the devices above: flat groups for its small
    parameters, slices and work arrays for the update rule. It keeps the flat plans (by
    group and batch) and the work arrays between steps."""

    def __init__(self) -> None:
        self.plans: dict = {}  # (group index, batch number) -> FlatGroup
        self.work = WorkArrays()

    def step_group(self, optimizer, index: int, params: list, group: dict, options: dict) -> None:
        """Update ``params`` (those of group ``index`` that have a gradient): large ones
        one by one, small ones in flat batches of at most CHUNK elements."""
        small, size, batch = [], 0, 0
        for p in params:
            n = p._array.size
            if n > SMALL:
                optimizer._update_one(p, group, options)
                continue
            if size + n > CHUNK:  # keep each flat batch within one slice
                self._update_together(optimizer, (index, batch), small, group, options)
                small, size, batch = [], 0, batch + 1
            small.append(p)
            size += n
        if small:
            self._update_together(optimizer, (index, batch), small, group, options)

    def _update_together(self, optimizer, key, params: list, group: dict, options: dict) -> None:
        """Update ``params`` as one flat array when their states allow it, else one by one."""
        if len(params) > 1:
            plan = self.plans.get(key)
            if plan is None or not plan.matches(params, optimizer.state):
                self.plans.pop(key, None)
                plan = None
                if FlatGroup.compatible(params, optimizer.state):
                    plan = self.plans[key] = FlatGroup(params, optimizer.state)
            if plan is not None:
                plan.step(optimizer, group, options)
                return
        for p in params:
            optimizer._update_one(p, group, options)

    def run(self, update, options: dict, arrays: tuple, scratch: int, extra: dict) -> None:
        """Call the pure ``update`` on ``arrays`` (parameter, gradient, buffers), a slice at
        a time when they are large, with ``scratch`` work arrays of the slice's shape."""
        if arrays[0].size <= CHUNK:  # the common case: one slice
            if scratch:
                extra["scratch"] = self.work.get(arrays[0], scratch)
            update(*arrays, **options, **extra)
            return
        for part in chunked(*arrays):
            if scratch:
                extra["scratch"] = self.work.get(part[0], scratch)
            update(*part, **options, **extra)
