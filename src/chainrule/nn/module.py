"""``Module``, ``Parameter`` and the containers ``Sequential`` and ``ModuleList``.

A module finds its parameters by looking at its attributes: assigning a ``Parameter``
registers it, assigning a ``Module`` registers a child, and ``register_buffer`` stores
state that is saved but not trained (BatchNorm's running statistics). Names and
``state_dict`` keys are PyTorch's dotted paths (``0.weight``, ``bn.running_mean``), so a
PyTorch model's weights load unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from chainrule import devices as _devices
from chainrule import dtypes as _dt
from chainrule._backend import to_numpy, xp
from chainrule._recording import RECORDING
from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor, _make, _to_array

__all__ = ["Module", "ModuleList", "Parameter", "Sequential"]


class Parameter(Tensor):
    """A tensor that is a module's trainable state: a leaf that requires grad.

    ``Parameter(t)`` shares ``t``'s data.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            arr = xp.empty((0,), _dt.get_default_dtype())
        elif isinstance(data, Tensor):
            arr = data._array
        else:
            arr = _to_array(data, copy=False)
        self._init_leaf(arr, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _Handle:
    """Returned by the hook registrations; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = _Handle._next_id
        _Handle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


def _as_numpy(value) -> np.ndarray:
    """A state_dict value as an array: our tensors, PyTorch tensors, arrays, numbers."""
    if isinstance(value, Tensor):
        return to_numpy(value._array)
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a PyTorch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


def changed_options(module, **defaults) -> str:
    """``", name=value"`` for each option of ``module`` that differs from its default, in
    the order given: how PyTorch's ``extra_repr`` lists a layer's options."""
    values = {name: getattr(module, name) for name in defaults}
    return "".join(f", {k}={v}" for k, v in values.items() if v != defaults[k])


def _indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [" " * spaces + line for line in lines[1:]])


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()``, assign parameters, buffers and child modules
    as attributes, and define ``forward``. Calling the module runs the forward pre-hooks,
    ``forward``, and the forward hooks.
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    # ----------------------------------------------------------------- attributes
    def _store(self, name: str) -> dict:
        store = self.__dict__.get(name)
        if store is None:
            raise AttributeError(
                f"cannot assign parameters, buffers or modules before {type(self).__name__} "
                "calls Module.__init__() (call super().__init__() first)"
            )
        return store

    def _forget(self, name: str) -> None:
        self.__dict__.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            self.__dict__[store].pop(name, None)
        self._non_persistent.discard(name)

    def _put(self, store: str, name: str, value) -> None:
        """Register ``value`` in ``store`` and mirror it in the instance dict, so reading
        ``self.name`` is an ordinary (fast) attribute lookup."""
        self.__dict__[store][name] = value
        self.__dict__[name] = value
        RECORDING.module_changes += 1

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            self._store("_parameters")
            self._forget(name)
            self._put("_parameters", name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter '{name}' of "
                    f"{type(self).__name__} (a cr.nn.Parameter or None is expected)"
                )
            self._put("_parameters", name, None)
        elif isinstance(value, Module):
            self._store("_modules")
            self._forget(name)
            self._put("_modules", name, value)
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to child module '{name}'")
            self._put("_modules", name, None)
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to buffer '{name}' (a tensor is expected)"
                )
            self._put("_buffers", name, value)
        else:
            object.__setattr__(self, name, value)
            RECORDING.module_changes += 1  # a replay checks the modules it calls again

    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            s = self.__dict__.get(store)
            if s is not None and name in s:
                del s[name]
                self.__dict__.pop(name, None)
                self._non_persistent.discard(name)
                RECORDING.module_changes += 1
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a cr.nn.Parameter or None")
        self._store("_parameters")
        self._forget(name)
        self._put("_parameters", name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Keep ``tensor`` as state that moves with the module and (if persistent) is saved
        in ``state_dict``, but is not a parameter."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a tensor or None")
        self._store("_buffers")
        self._forget(name)
        self._put("_buffers", name, tensor)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module, got {type(module).__name__}")
        if "." in name or not name:
            raise KeyError(f"module name {name!r} must be non-empty and contain no '.'")
        self._store("_modules")
        self._forget(name)
        self._put("_modules", name, module)

    register_module = add_module

    # ----------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        if RECORDING.tape is not None:  # a step being captured: it needs this module's mode
            RECORDING.tape.module(self)
        pre, post = self._forward_pre_hooks, self._forward_hooks
        if pre:
            for hook in list(pre.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        if post:
            for hook in list(post.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook) -> _Handle:
        """Call ``hook(module, args, output)`` after every forward; a non-None return
        value replaces the output."""
        handle = _Handle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        RECORDING.module_changes += 1
        return handle

    def register_forward_pre_hook(self, hook) -> _Handle:
        """Call ``hook(module, args)`` before every forward; a non-None return value
        replaces the arguments."""
        handle = _Handle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        RECORDING.module_changes += 1
        return handle

    # ----------------------------------------------------------------- traversal
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ):
        """(dotted name, module) for this module and every descendant, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(
                    memo, f"{prefix}.{name}" if prefix else name, remove_duplicate
                )

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool):
        memo = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, module in mods:
            for name, value in module.__dict__[store].items():
                if value is None or (remove_duplicate and id(value) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ):
        """(dotted name, parameter) pairs; a parameter shared by several modules is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ----------------------------------------------------------------- modes and dtypes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) on this module and all
        its descendants; ``eval()`` is ``train(False)``."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be True or False, got {mode!r}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (set to None, or zero it in place)."""
        if RECORDING.tape is not None:  # a step captured by cr.compile clears them on replays
            return RECORDING.tape.method(self.zero_grad, set_to_none)
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    def to(self, *args, **kwargs) -> Module:
        """Convert every floating parameter and buffer (and gradient) to a dtype, in place,
        so optimizers holding the parameters keep working; PyTorch's forms: ``to(dtype)``,
        ``to(device)``, ``to(device, dtype)``, ``to(tensor)``. The device must be the CPU
        (chainrule runs there only): ``model.to("cuda")`` raises rather than pretend."""
        target, _ = _devices.parse_to("Module.to", args, kwargs)
        if target is None:
            return self
        if target.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are allowed, got {target}")
        for t in [*self.parameters(), *self.buffers()]:
            if t._array.dtype.kind == "f" and t._array.dtype != target:
                t._array = t._array.astype(target)
                if t.grad is not None:
                    t.grad._array = t.grad._array.astype(target)
        return self

    def cpu(self) -> Module:
        """This module, whose tensors are on the CPU already."""
        return self

    def cuda(self, device=None) -> Module:
        """Raises: chainrule has no GPU (choose with ``cr.cuda.is_available()``)."""
        _devices.check_device("Module.cuda", "cuda" if device is None else device)
        return self

    def float(self) -> Module:
        return self.to(_dt.float32)

    def double(self) -> Module:
        return self.to(_dt.float64)

    def half(self) -> Module:
        return self.to(_dt.float16)

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every descendant (children first) and then on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------- state
    def _local_state(self):
        for name, p in self._parameters.items():
            if p is not None:
                yield name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                yield name, b

    def state_dict(
        self, destination=None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict:
        """Parameters and persistent buffers by PyTorch's dotted keys, as tensors that share
        the module's memory (detached, as PyTorch's are): writing into one changes the
        model, and later training changes them. ``copy.deepcopy(model.state_dict())``
        keeps a snapshot; ``keep_vars`` gives the parameters themselves."""
        if destination is None:
            destination = OrderedDict()
        for name, t in self._local_state():
            destination[prefix + name] = t if keep_vars else t.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and buffers, in place.

        Every key and shape is checked before anything is written, so a bad state_dict
        leaves the module unchanged. Values may be arrays, chainrule tensors or PyTorch
        tensors, and are cast to each parameter's dtype. With ``strict`` (the default),
        missing and unexpected keys are errors; a wrong shape always is.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict expects a mapping, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and unexpected:
            errors.append("unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        if strict and missing:
            errors.append("missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = _as_numpy(state_dict[key])
            if value.dtype.kind not in "biuf":
                errors.append(f"the value for {key!r} has dtype {value.dtype}, not numbers")
                continue
            if tuple(value.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key!r}: the state_dict has shape {tuple(value.shape)}, "
                    f"the model has shape {tuple(target.shape)}"
                )
                continue
            values[key] = value
        if errors:
            raise RuntimeError(
                f"error(s) in loading state_dict for {type(self).__name__}:\n  "
                + "\n  ".join(errors)
            )
        for key, value in values.items():
            target = own[key]
            with no_grad():
                target.copy_(_make(xp.asarray(value), None, False))
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- display
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr``; layers override it."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): {_indent(repr(m), 2)}" for name, m in self._modules.items()]
        if not children and len(lines) <= 1:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"

    def __dir__(self):
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )


class Sequential(Module):
    """Modules applied one after another; indexable (``seq[0]``, ``seq[1:]``), iterable."""

    def __init__(self, *args) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def _items(self) -> list:
        return list(self._modules.items())

    def __getitem__(self, index):
        items = self._items()
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        try:
            return items[index][1]
        except IndexError:
            raise IndexError(
                f"index {index} is out of range for a Sequential of {len(items)} modules"
            ) from None

    def __setitem__(self, index: int, module: Module) -> None:
        name = self._items()[index][0]
        setattr(self, name, module)

    def __delitem__(self, index) -> None:
        for name, _ in self._items()[index] if isinstance(index, slice) else [self._items()[index]]:
            delattr(self, name)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(Module):
    """A list of modules, registered as children (so their parameters are found)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        try:
            return values[index]
        except IndexError:
            raise IndexError(
                f"index {index} is out of range for a ModuleList of {len(values)} modules"
            ) from None

    def __setitem__(self, index: int, module: Module) -> None:
        name = list(self._modules)[index]
        setattr(self, name, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _renumber(self, modules: list) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        values = list(self._modules.values())
        values.insert(index, module)
        self._renumber(values)
