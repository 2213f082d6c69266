"""The containers ``ModuleDict``, ``ParameterList`` and ``ParameterDict``.

Each stores its entries as ordinary registered children or parameters, named by their
key (``"encoder"``) or position (``"0"``), so ``parameters()`` finds them and
``state_dict`` keys are PyTorch's (``heads.encoder.weight``, ``scales.0``). A tensor put
into a ``ParameterList`` or ``ParameterDict`` becomes a ``Parameter`` (sharing its
memory), as in PyTorch; other objects are kept as plain attributes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor

__all__ = ["ModuleDict", "ParameterDict", "ParameterList"]


def _pairs(values, name: str, sort_plain_dicts: bool) -> list:
    """(key, value) pairs from a mapping or an iterable of pairs, checked as PyTorch does.
    A plain dict's keys are sorted where PyTorch sorts them (ParameterDict)."""
    if not isinstance(values, Iterable):
        raise TypeError(
            f"{name}.update expects a mapping or an iterable of (key, value) pairs, got "
            f"{type(values).__name__}"
        )
    if isinstance(values, OrderedDict | ModuleDict | ParameterDict):
        return list(values.items())
    if isinstance(values, Mapping):
        return sorted(values.items()) if sort_plain_dicts else list(values.items())
    out = []
    for j, pair in enumerate(values):
        if not isinstance(pair, Iterable) or isinstance(pair, str):
            raise TypeError(
                f"{name}.update: element #{j} should be a (key, value) pair, got "
                f"{type(pair).__name__}"
            )
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{name}.update: element #{j} has length {len(pair)}; 2 is required")
        out.append(pair)
    return out


def _describe(value) -> str:
    """One line of a parameter container's repr."""
    if isinstance(value, Tensor):
        kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
        size = "x".join(str(s) for s in value.shape)
        return f"{kind} containing: [{value.dtype} of size {size}]"
    return f"Object of type: {type(value).__name__}"


class _NamedEntries(Module):
    """What ``ModuleDict`` and ``ParameterDict`` share: ``len``, iteration over the keys,
    ``in``, ``pop`` and ``clear``, over the ordered names that :meth:`_names` returns."""

    def _names(self) -> dict:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names()))

    def __contains__(self, key) -> bool:
        return key in self._names()

    def pop(self, key: str):
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        for key in list(self._names()):
            del self[key]


class ModuleDict(_NamedEntries):
    """Modules by name, in insertion order; registered as children, so their parameters
    are found. Indexing, ``in``, ``len``, iteration over the keys, ``keys() values()
    items() update() pop() clear()``, as a dict."""

    def __init__(self, modules=None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _names(self) -> dict:
        return self._modules

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(key)
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        for key, module in _pairs(modules, "ModuleDict", sort_plain_dicts=False):
            self[key] = module


class ParameterList(Module):
    """Parameters in a list, registered as ``"0"``, ``"1"``, ...; tensors added become
    Parameters. Indexing (slices give a new ParameterList), ``len``, iteration,
    ``append``, ``extend``, ``+=``."""

    def __init__(self, values=None) -> None:
        super().__init__()
        self.__dict__["_size"] = 0
        if values is not None:
            self.extend(values)

    def _index(self, idx: int) -> str:
        n = self._size
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a ParameterList of {n} entries")
        return str(idx % n)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(*idx.indices(len(self)))])
        return getattr(self, self._index(idx))

    def __setitem__(self, idx: int, value) -> None:
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, self._index(idx), value)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator:
        return iter([self[i] for i in range(len(self))])

    def __iadd__(self, values) -> ParameterList:
        return self.extend(values)

    def append(self, value) -> ParameterList:
        self.__dict__["_size"] += 1
        self[self._size - 1] = value
        return self

    def extend(self, values) -> ParameterList:
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(
                f"ParameterList.extend expects an iterable, got {type(values).__name__}"
            )
        for v in values:
            self.append(v)
        return self

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "ParameterList should not be called (it holds parameters, not a forward)"
        )

    def extra_repr(self) -> str:
        return "\n".join(f"  ({i}): {_describe(v)}" for i, v in enumerate(self))


class ParameterDict(_NamedEntries):
    """Parameters by name; tensors added become Parameters. A dict's interface: indexing,
    ``in``, ``len``, iteration over the keys, ``keys() values() items() get() update()
    pop() popitem() setdefault() clear() copy() fromkeys()``. As in PyTorch, ``update``
    with a plain ``dict`` adds its keys in sorted order (an ``OrderedDict`` or pairs keep
    theirs)."""

    def __init__(self, parameters=None) -> None:
        super().__init__()
        self.__dict__["_keys"] = {}
        if parameters is not None:
            self.update(parameters)

    def _names(self) -> dict:
        return self._keys

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        self._keys[key] = None
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(key)
        del self._keys[key]
        delattr(self, key)

    def keys(self):
        return list(self._keys)

    def values(self):
        return [self[k] for k in self._keys]

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def get(self, key: str, default=None):
        return self[key] if key in self._keys else default

    def setdefault(self, key: str, default=None):
        if key not in self._keys:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple:
        if not self._keys:
            raise KeyError("popitem(): the ParameterDict is empty")
        key = list(self._keys)[-1]
        return key, self.pop(key)

    def copy(self) -> ParameterDict:
        return ParameterDict(OrderedDict(self.items()))

    def fromkeys(self, keys, default=None) -> ParameterDict:
        return ParameterDict(OrderedDict((k, default) for k in keys))

    def update(self, parameters) -> None:
        for key, value in _pairs(parameters, "ParameterDict", sort_plain_dicts=True):
            self[key] = value

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "ParameterDict should not be called (it holds parameters, not a forward)"
        )

    def extra_repr(self) -> str:
        return "\n".join(f"  ({k}): {_describe(v)}" for k, v in self.items())
