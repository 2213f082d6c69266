"""The ``Optimizer`` base: parameter groups, lazily created state, ``step(closure)``,
``zero_grad`` and ``state_dict``, with PyTorch's behaviour and formats.

Each optimizer subclass names its hyperparameters and their checks, creates its state
buffers, and implements ``_update`` by handing its pure update function on arrays to
``_run``, with the hyperparameters it lists in ``hyper``. The update rules that need
scratch space write it into one workspace the optimizer keeps (``scratch=`` of the update
functions): a step then allocates nothing beyond what the rule's options demand.

The built-in rules are elementwise: each element of the new parameter and buffers depends
only on the same element of the old ones, of the gradient, and on scalars. Two speed-ups
rest on that (a subclass whose rule is not elementwise sets ``elementwise = False`` and
gets neither):

- a parameter larger than ``CHUNK`` elements is updated a slice at a time (:func:`chunked`),
  which bounds the workspace;
- small parameters (at most ``SMALL`` elements) of one group are updated together, as one
  flat array (:class:`_Together`): a network of many small layers then costs a handful of
  NumPy calls per step instead of a handful per parameter. Their state buffers are views
  of flat buffers; ``state[p]`` and ``state_dict()`` look exactly as they would otherwise,
  and the numbers are the same to the last bit.

Where gradient clipping goes in a training loop::

    loss.backward()
    cr.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # after backward
    optimizer.step()                                                 # before the update
"""

from __future__ import annotations

import copy
import math
import numbers
from operator import attrgetter, is_

import numpy as np

from chainrule._backend import to_numpy, xp
from chainrule._fp_errors import silence, unsilence
from chainrule.autograd.grad_mode import enable_grad
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor

__all__ = [
    "CHUNK",
    "SMALL",
    "Optimizer",
    "check",
    "check_nonnegative",
    "check_number",
    "chunked",
    "regularized",
]

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


def check(condition: bool, message: str) -> None:
    """Raise ValueError(message) unless ``condition``: the hyperparameter checks."""
    if not condition:
        raise ValueError(message)


_LABELS = {
    "lr": "learning rate",
    "eps": "epsilon value",
    "initial_accumulator_value": "initial_accumulator_value",
}


def check_number(value, label: str) -> None:
    """Raise TypeError unless ``value`` is a real number (a bool is not one)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{label} must be a real number, got {value!r}")


def check_nonnegative(group: dict, *keys: str) -> None:
    """Raise ValueError, in PyTorch's words, for the first of ``keys`` that is negative
    (TypeError for one that is not a number)."""
    for key in keys:
        label = _LABELS.get(key, f"{key} value")
        check_number(group[key], f"the {label}")
        check(group[key] >= 0, f"Invalid {label}: {group[key]} (must be >= 0)")


def regularized(grad, param, weight_decay: float, maximize: bool):
    """The gradient an update rule follows: negated to maximize, plus the L2 term
    :math:`\\lambda\\theta` (a new array whenever it changes, never ``grad`` in place)."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


_array_of = attrgetter("_array")


def _is_buffer(value, param) -> bool:
    return hasattr(value, "shape") and tuple(value.shape) == tuple(param._array.shape)


class _Together:
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
                if _is_buffer(value, params[0]):
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
                    if not (_is_buffer(value, p) and _is_buffer(first[key], params[0])):
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

    def step(self, optimizer: Optimizer, group: dict, hyper: dict) -> None:
        params = self.params
        xp.concatenate([p._grad._array for p in params], axis=None, out=self.grad)
        xp.concatenate([p._array for p in params], axis=None, out=self.param)
        fresh = not self.state
        optimizer._update(self.param, self.grad, self.state, group, hyper)
        if fresh and self.state:
            self.split()
        for p, new in zip(params, self.values):
            p._array[...] = new
            p._bump_version()  # an in-place write, as any: graphs that saved p notice
        if self.scalars:
            scalars = {k: self.state[k] for k in self.scalars}
            for d in self.dicts:
                d.update(scalars)


class Optimizer:
    """Base class: holds ``param_groups`` (each a dict with ``"params"`` and its own
    hyperparameters) and ``state`` (per-parameter buffers, created at the first step that
    sees a gradient, under PyTorch's key names)."""

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self._scratch: dict = {}  # (dtype, count) -> work buffer, and views of it by shape
        self._together: dict = {}  # (group index, batch number) -> _Together
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of tensors or of dicts, got a single tensor; "
                "pass [tensor] or model.parameters()"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _validate(self, group: dict) -> None:
        """Check a group's hyperparameters; subclasses extend it."""
        check_nonnegative(group, "lr")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones take the
        optimizer's defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"an optimizer can only optimize tensors, got {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(
                    "an optimizer can only optimize leaf tensors (parameters), not results of ops"
                )
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError("a parameter group lists the same parameter twice")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (None by default, as in PyTorch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    if set_to_none:
                        p._grad = None
                    else:
                        p._grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient (parameters whose ``.grad`` is None
        are skipped). ``closure``, if given, is called once (with grad mode on) to
        re-evaluate the loss before the update; its return value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        token = silence()  # a diverging run gives inf/nan, as in PyTorch, without warnings
        try:
            for index, group in enumerate(self.param_groups):
                hyper = {key: group[key] for key in self.hyper}  # read once per group
                small, size, batch = [], 0, 0
                for p in group["params"]:
                    grad = p._grad
                    if grad is None:
                        continue
                    n = p._array.size
                    if n > SMALL or not self.elementwise:
                        self._update_one(p, group, hyper)
                        continue
                    if size + n > CHUNK:  # keep each flat batch within one slice
                        self._update_together((index, batch), small, group, hyper)
                        small, size, batch = [], 0, batch + 1
                    small.append(p)
                    size += n
                if small:
                    self._update_together((index, batch), small, group, hyper)
        finally:
            unsilence(token)
        return loss

    elementwise = True  # see the module docstring

    def _update_one(self, p, group: dict, hyper: dict) -> None:
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
        for key, value in state.items():
            if hasattr(value, "shape") and not _is_buffer(value, p):
                raise ShapeError(
                    f"{type(self).__name__}: the state {key!r} of a parameter has shape "
                    f"{tuple(value.shape)}, but the parameter now has shape "
                    f"{tuple(p._array.shape)} (was it replaced after the optimizer saw it?)"
                )
        self._update(p._array, p._grad._array, state, group, hyper)
        p._bump_version()  # the update wrote p in place: graphs that saved p notice

    def _update_together(self, key, params: list, group: dict, hyper: dict) -> None:
        """Update ``params`` (small, of one group) as one flat array when their states
        allow it (see :class:`_Together`), else one by one."""
        if len(params) > 1:
            plan = self._together.get(key)
            if plan is None or not plan.matches(params, self.state):
                self._together.pop(key, None)
                plan = None
                if _Together.compatible(params, self.state):
                    plan = self._together[key] = _Together(params, self.state)
            if plan is not None:
                plan.step(self, group, hyper)
                return
        for p in params:
            self._update_one(p, group, hyper)

    hyper: tuple = ()  # the group entries the update function takes, by keyword

    def _update(self, param, grad, state: dict, group: dict, hyper: dict) -> None:
        """Create ``state``'s buffers if new, then ``_run`` the update function; ``hyper``
        holds the group's entries named in ``hyper``, read once per step."""
        raise NotImplementedError  # pragma: no cover

    def _run(self, update, hyper: dict, *arrays, scratch: int = 0, **extra) -> None:
        """Call the pure ``update`` on ``arrays`` (parameter, gradient, buffers), a slice at
        a time when they are large (see :func:`chunked`), with the hyperparameters and
        ``extra`` as keywords, and ``scratch`` work arrays of the slice's shape if it asks
        for them."""
        if arrays[0].size <= CHUNK or not self.elementwise:  # the common case: one slice
            if scratch:
                extra["scratch"] = self._work(arrays[0], scratch)
            update(*arrays, **hyper, **extra)
            return
        for part in chunked(*arrays):
            if scratch:
                extra["scratch"] = self._work(part[0], scratch)
            update(*part, **hyper, **extra)

    def _work(self, like, count: int) -> tuple:
        """``count`` work arrays shaped like ``like``: views of one buffer this optimizer
        keeps (as large as the largest request so far), so that steps do not allocate
        them again (an update must not keep them)."""
        key = (like.shape, like.dtype, count)
        work = self._scratch.get(key)
        if work is None:
            buffer = self._scratch.get((like.dtype, count))
            if buffer is None or buffer.shape[1] < like.size:
                self._scratch = {}  # views of a smaller buffer: let it go
                buffer = self._scratch[(like.dtype, count)] = xp.empty(
                    (count, like.size), like.dtype
                )
            work = self._scratch[key] = tuple(
                buffer[i, : like.size].reshape(like.shape) for i in range(count)
            )
        return work

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, the
        PyTorch format: parameters are numbered in group order. Buffers are copies."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: to_numpy(v).copy() if hasattr(v, "shape") else v
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": copy.deepcopy(groups)}

    def _state_names(self, group: dict) -> tuple[tuple, tuple] | None:
        """What ``_update`` keeps for a parameter of ``group`` once it has taken a step:
        the names of its scalars and of its buffers (arrays shaped like the parameter).
        None where a subclass does not say; its loaded buffers then get a shape check only."""
        return None

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and buffers saved by :meth:`state_dict` into an
        optimizer built over the same parameters (same groups, same sizes).

        Everything is checked before anything changes: each group's parameter indices and
        hyperparameters, and each parameter's state, which is empty (no step yet) or holds
        exactly what this optimizer keeps with the loaded options (Adam: ``step``,
        ``exp_avg``, ``exp_avg_sq``, and ``max_exp_avg_sq`` with ``amsgrad``): a finite,
        non-negative number for each scalar and a floating-point array of the parameter's
        shape for each buffer (cast to the parameter's dtype, as PyTorch does). A
        ValueError names the parameter index and the entry that is wrong.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups'")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, list | tuple) or not isinstance(saved_state, dict):
            raise ValueError(f"{name}: 'param_groups' must be a list and 'state' a dict")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        groups, by_index = [], {}
        for i, (saved, own) in enumerate(zip(saved_groups, self.param_groups)):
            indices = saved.get("params") if isinstance(saved, dict) else None
            if not isinstance(indices, list | tuple):
                raise ValueError(f"{name}: parameter group {i} is not a dict with a 'params' list")
            if len(indices) != len(own["params"]):
                raise ValueError(
                    f"{name}: parameter group {i} has {len(indices)} parameters in "
                    f"the state but {len(own['params'])} in this optimizer"
                )
            for idx, p in zip(indices, own["params"]):
                if type(idx) is not int or idx in by_index:
                    raise ValueError(
                        f"{name}: parameter group {i} lists {idx!r}, not the index of a new parameter"
                    )
                by_index[idx] = (p, i)
            group = {**own, **{k: v for k, v in saved.items() if k != "params"}}
            try:
                self._validate(group)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{name}: parameter group {i}: {err}") from None
            groups.append(group)
        new_state = {}
        for idx, entries in saved_state.items():
            if idx not in by_index or type(idx) is not int:
                raise ValueError(f"{name}: state for parameter {idx!r}, which no group lists")
            p, i = by_index[idx]
            if not isinstance(entries, dict):
                raise ValueError(f"{name}: the state of parameter {idx} is not a dict")
            new_state[p] = self._checked_state(name, idx, p, entries, groups[i])
        for group, own in zip(groups, self.param_groups):
            for k, v in group.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)
        self.state = new_state

    def _checked_state(self, name: str, idx: int, p, entries: dict, group: dict) -> dict:
        """One parameter's loaded state, checked (see :meth:`load_state_dict`), as new arrays."""
        names = self._state_names(group)
        shape, where = tuple(p._array.shape), f"{name}: parameter {idx}"
        if names is not None and entries:
            expected = [*names[0], *names[1]]
            missing = [k for k in expected if k not in entries]
            unknown = [k for k in entries if k not in expected]
            if missing or unknown:
                problems = [f"lacks {', '.join(map(repr, missing))}"] if missing else []
                problems += [f"has the unknown {', '.join(map(repr, unknown))}"] if unknown else []
                raise ValueError(
                    f"{where} {' and '.join(problems)}: with these options "
                    f"{type(self).__name__} keeps {', '.join(expected)} for a parameter that has "
                    "taken a step"
                )
        restored = {}
        for key, value in entries.items():
            if names is None and not (hasattr(value, "shape") and np.ndim(value) > 0):
                restored[key] = value.item() if hasattr(value, "item") else value
            elif names is None or key in names[1]:  # a buffer
                if not hasattr(value, "shape"):
                    raise ValueError(
                        f"{where}: buffer {key!r} is a {type(value).__name__}, not an array of "
                        f"the parameter's shape {shape}"
                    )
                arr = np.asarray(value)
                if arr.shape != shape:
                    raise ValueError(
                        f"{where}: buffer {key!r} has shape {arr.shape}, the parameter has "
                        f"shape {shape}"
                    )
                if arr.dtype.kind != "f":
                    raise ValueError(
                        f"{where}: buffer {key!r} has dtype {arr.dtype}, not a floating-point one"
                    )
                restored[key] = xp.asarray(arr, dtype=p._array.dtype).copy()
            else:  # a scalar: the step count
                number = value.item() if hasattr(value, "shape") and np.ndim(value) == 0 else value
                if (
                    not isinstance(number, int | float)
                    or isinstance(number, bool)
                    or not 0 <= number < math.inf
                ):
                    raise ValueError(
                        f"{where}: {key!r} is {value!r}, not a finite non-negative number"
                    )
                restored[key] = float(number)
        return restored

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
