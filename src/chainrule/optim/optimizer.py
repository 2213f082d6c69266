"""The ``Optimizer`` base: parameter groups, lazily created state, ``step(closure)``,
``zero_grad`` and ``state_dict``, with PyTorch's behaviour and formats.

Writing an optimizer: a subclass names its hyperparameters (``__init__`` and the
``_validate`` checks, in PyTorch's words), says what it keeps for a parameter
(``_state_names``), and implements ``_update(param, grad, state, group, options)``:
create the state's buffers on the first step, then hand the pure update function on
arrays (``sgd_update``, ``adam_update``: each the algorithm box of its docstring) to
``_run``. ``update_args`` lists the group entries the update function takes by keyword;
they arrive in ``options``, read once per group and step.

The plain step is a loop over the parameters that have a gradient. For the built-in
rules, which are elementwise, ``flat.py`` runs the same updates faster (small parameters
batched into flat arrays, large ones in slices, work arrays kept between steps), with
the same bits.

Where gradient clipping goes in a training loop::

    loss.backward()
    cr.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # after backward
    optimizer.step()                                                 # before the update
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from chainrule._backend import to_numpy, xp
from chainrule._fp_errors import silence, unsilence
from chainrule._recording import RECORDING
from chainrule.autograd.grad_mode import enable_grad
from chainrule.errors import ShapeError
from chainrule.optim.flat import FastStep, is_buffer
from chainrule.tensor import Tensor

__all__ = [
    "Optimizer",
    "check",
    "check_betas",
    "check_nonnegative",
    "check_number",
    "hyperparameters",
    "regularized",
]


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


def check_betas(group: dict) -> None:
    """Adam's and NAdam's ``betas``: a pair of numbers, each in [0, 1) (PyTorch's words)."""
    betas = group["betas"]
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_number(beta, f"beta{i + 1} (betas[{i}])")
        check(0 <= beta < 1, f"Invalid beta parameter at index {i}: {beta} (must be in [0, 1))")


def hyperparameters(arguments: dict) -> dict:
    """An optimizer's defaults: ``locals()`` in its ``__init__``, taken before it names
    anything else, holds its arguments; all but ``self`` and ``params`` are the defaults
    (PyTorch spells out ``dict(lr=lr, ...)``). A list (``betas=[0.9, 0.999]``) is kept as
    a tuple."""
    return {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in arguments.items()
        if name not in ("self", "params", "__class__")
    }


def regularized(grad, param, weight_decay: float, maximize: bool):
    """The gradient an update rule follows: negated to maximize, plus the L2 term
    :math:`\\lambda\\theta` (a new array whenever it changes, never ``grad`` in place)."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


def _take_names(group: dict) -> None:
    """Split (name, parameter) pairs, as ``model.named_parameters()`` yields them, into
    the parameters and the group's ``"param_names"`` (PyTorch 2.x's format)."""
    params = group["params"]
    named = [p for p in params if isinstance(p, tuple)]
    if not named:
        return
    if len(named) != len(params):
        raise ValueError(
            "a parameter group must give every parameter with its name, (name, parameter) as "
            "model.named_parameters() does, or none"
        )
    for pair in named:
        if len(pair) != 2 or not isinstance(pair[0], str):
            raise TypeError(
                f"a named parameter must be a (name, parameter) pair, got {type(pair).__name__} "
                f"of length {len(pair)}"
            )
    group["param_names"] = [name for name, _ in named]
    group["params"] = [p for _, p in named]


class Optimizer:
    """Base class: holds ``param_groups`` (each a dict with ``"params"`` and its own
    hyperparameters) and ``state`` (per-parameter buffers, created at the first step that
    sees a gradient, under PyTorch's key names)."""

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self._fast = FastStep()  # the speed devices' plans and work arrays (flat.py)
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

    # The hyperparameters _validate checks, in PyTorch's order: each a number >= 0, except
    # ``betas``, a pair in [0, 1). A subclass lists its own, and overrides _validate only
    # for checks of another kind.
    checked: tuple = ("lr",)

    def _validate(self, group: dict) -> None:
        """Check a group's hyperparameters (those in ``checked``, in order)."""
        for key in self.checked:
            if key == "betas":
                check_betas(group)
            else:
                check_nonnegative(group, key)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones take the
        optimizer's defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters must be an ordered collection (a list), not a set, "
                "whose order changes from run to run"
            )
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        _take_names(group)
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
        for g in self.param_groups:
            if ("param_names" in g) != ("param_names" in group):
                raise ValueError(
                    "all parameter groups must be given with names (model.named_parameters()) "
                    "or all without; cannot add a group "
                    + ("with names" if "param_names" in group else "without names")
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError("a parameter group lists the same parameter twice")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (None by default, as in PyTorch)."""
        if RECORDING.tape is not None:  # a step being captured by cr.compile
            return RECORDING.tape.method(self.zero_grad, set_to_none)
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
        if RECORDING.tape is not None:  # a step being captured by cr.compile
            if closure is not None:
                RECORDING.tape.refuse("optimizer.step(closure) re-evaluates the loss")
            else:
                params = [p for group in self.param_groups for p in group["params"]]
                return RECORDING.tape.method(self.step, writes=params)
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        token = silence()  # a diverging run gives inf/nan, as in PyTorch, without warnings
        try:
            for index, group in enumerate(self.param_groups):
                options = {key: group[key] for key in self.update_args}  # read once per group
                params = [p for p in group["params"] if p._grad is not None]
                if self.elementwise:  # the same updates, batched: see flat.py
                    self._fast.step_group(self, index, params, group, options)
                    continue
                for p in params:
                    self._update_one(p, group, options)
        finally:
            unsilence(token)
        return loss

    elementwise = True  # the update rule is elementwise, so flat.py may batch it

    def _update_one(self, p, group: dict, options: dict) -> None:
        """Update one parameter from its gradient: the plain step."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
        for key, value in state.items():
            if hasattr(value, "shape") and not is_buffer(value, p):
                raise ShapeError(
                    f"{type(self).__name__}: the state {key!r} of a parameter has shape "
                    f"{tuple(value.shape)}, but the parameter now has shape "
                    f"{tuple(p._array.shape)} (was it replaced after the optimizer saw it?)"
                )
        self._update(p._array, p._grad._array, state, group, options)
        p._bump_version()  # the update wrote p in place: graphs that saved p notice

    update_args: tuple = ()  # the group entries the update function takes, by keyword

    def _update(self, param, grad, state: dict, group: dict, options: dict) -> None:
        """Create ``state``'s buffers if new, then ``_run`` the update function; ``options``
        holds the group's entries named in ``update_args``."""
        raise NotImplementedError  # pragma: no cover

    def _run(self, update, options: dict, *arrays, scratch: int = 0, **extra) -> None:
        """Call the pure ``update`` on ``arrays`` (parameter, gradient, buffers) with the
        ``options`` and ``extra`` as keywords, and ``scratch`` work arrays shaped like the
        parameter if it asks for them (kept between steps, and large parameters updated a
        slice at a time: flat.py)."""
        if not self.elementwise:
            if scratch:
                extra["scratch"] = tuple(xp.empty_like(arrays[0]) for _ in range(scratch))
            update(*arrays, **options, **extra)
            return
        self._fast.run(update, options, arrays, scratch, extra)

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
