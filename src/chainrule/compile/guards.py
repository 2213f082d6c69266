"""What a replay checks before it runs: the names a step reads and what they hold.

A replay does not run the step's Python code, so it cannot see the step look a tensor,
a module or a number up again. :func:`names_read` lists, when the step is recorded,
every name the step reads from its globals, its closure or its object (and the same in
the functions it calls): a replay checks that each still holds the same object.
:func:`accounted` says which tensors and modules a replay may read again because it
can find them through those names.
"""

from __future__ import annotations

import dis
import random
from collections import deque
from functools import lru_cache, partial
from types import BuiltinFunctionType, CodeType, FunctionType, MethodType, ModuleType

import numpy as np

from chainrule._backend import ndarray
from chainrule.generator import Generator
from chainrule.nn.module import Module
from chainrule.optim.optimizer import Optimizer
from chainrule.tensor import Tensor

__all__ = [
    "accounted",
    "hyperparameters",
    "names_read",
    "reads_random",
    "same",
    "same_hyperparameters",
    "unfollowed",
]


_DEPTH = 6  # how many levels of names, items, attributes and calls the guards follow


def names_read(fn, arguments: tuple = ()) -> tuple:
    """(namespace, name, value) for each name that ``fn`` reads from its globals, its
    closure or, for a method, its object's attributes: a replay checks that each name
    still holds the same object, so ``w = new_tensor`` or ``lr = 0.01`` between calls is
    seen. What the names hold is followed a few levels deep: the functions, methods and
    callable objects they name, the items of small dicts and lists, the attributes of
    plain objects (``cfg.lr``)."""
    attributes: set = set()  # every attribute name the code reached reads
    for _ in range(4):  # again while the walk finds code that reads new attribute names
        known = len(attributes)
        out: list = []
        # id -> object, kept alive so that no id is reused during the walk; "names": the
        # attribute names, which decide what is followed inside objects
        seen: dict = {"names": attributes}
        _collect(fn, out, seen, _DEPTH)
        for value in arguments:  # an object passed in: what the step reads from it
            _follow(value, out, seen, _DEPTH)
        if len(attributes) == known:
            break
    return tuple(out)


_MISSING = object()
# The library code a step calls reads only its own module globals, which do not change.
_LIBRARIES = ("chainrule", "numpy", "builtins", "functools", "math")


def _library(obj) -> bool:
    return (getattr(obj, "__module__", None) or "").partition(".")[0] in _LIBRARIES


@lru_cache(maxsize=4096)
def _reads(code: CodeType) -> tuple[frozenset, frozenset]:
    """The global names and the attribute names that ``code`` reads, with the code
    nested in it (comprehensions, generator expressions, lambdas)."""
    names, attributes = set(), set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            names.add(instruction.argval)
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            attributes.add(instruction.argval)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            inner_names, inner_attributes = _reads(const)
            names |= inner_names
            attributes |= inner_attributes
    return frozenset(names), frozenset(attributes)


def _collect(fn, out: list, seen: dict, depth: int) -> None:
    if id(fn) in seen:
        return
    if _library(fn) and not isinstance(fn, Module) and not getattr(fn, "__closure__", None):
        return  # the library's own functions read only constants (a closure may hold state)
    seen[id(fn)] = fn
    if depth <= 0:
        return _cannot(out, "functions called more than six levels deep")
    owner = fn if isinstance(fn, Module) else getattr(fn, "__self__", None)
    fn = fn.forward if isinstance(fn, Module) else fn
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    names, attribute_names = _reads(code)
    seen["names"].update(attribute_names)
    values = []
    namespace = fn.__globals__
    for name in names:
        if name in namespace:
            out.append((namespace, name, namespace[name]))
            values.append(namespace[name])
    if owner is not None and not isinstance(owner, ModuleType):
        attributes = getattr(owner, "__dict__", None)
        for name in attribute_names:  # self.lr, self.model, self.helper()
            if type(attributes) is dict and name in attributes:
                out.append((attributes, name, attributes[name]))
                values.append(attributes[name])
            elif getattr(type(owner), name, _MISSING) is not _MISSING:
                _attribute(owner, name, out, seen, depth, attribute_names)
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # not yet assigned
            continue
        out.append((_Cell(cell), name, value))
        values.append(value)
    values += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    for name in ("__defaults__", "__kwdefaults__"):  # step.__defaults__ = (...) is seen
        out.append((_Attributes(fn, name, getattr(fn, name)), name, getattr(fn, name)))
    if "random" in attribute_names and any(v is np for v in values):  # np.random.rand()
        out.append(({"random": np.random}, "random", np.random))
    for value in values:
        _follow(value, out, seen, depth - 1, attribute_names)
    return None


# Values that cannot change in place: guarding the name that holds one is enough.
_IMMUTABLE = (
    int, float, complex, bool, str, bytes, type(None), range, slice, frozenset,
    np.generic, np.dtype, np.ufunc, BuiltinFunctionType, type(Ellipsis), Generator,
)  # fmt: skip


def _follow(value, out: list, seen: dict, depth: int, names=()) -> None:
    """Guards on what a named ``value`` may lead the step to read; ``names``: the names
    the code reading it uses (its attributes among them). What the guards cannot follow
    makes the step run eagerly."""
    names = frozenset(seen["names"])  # the attribute names met so far (see names_read)
    if isinstance(value, Module):
        # What the forward of each module of the user's own classes reads (chainrule's
        # modules read only their attributes, which the module guards check).
        for module in value.modules():
            if not type(module).__module__.startswith("chainrule."):
                _collect(MethodType(type(module).forward, module), out, seen, _DEPTH)
        return
    if isinstance(value, (Tensor, Optimizer, *_IMMUTABLE)):
        return
    if depth <= 0:
        return _cannot(out, "values nested more than six levels deep (names, items, attributes)")
    if isinstance(value, ModuleType | type):  # config.lr, CFG.lr: the attributes it names
        if value.__name__.partition(".")[0] in _LIBRARIES or _library(value):
            return
        for name in names:
            if name in vars(value) or (isinstance(value, type) and hasattr(value, name)):
                _attribute(value, name, out, seen, depth, names)
        return None
    value = getattr(value, "__wrapped__", value)  # a decorated or compiled function
    if isinstance(value, FunctionType | MethodType):
        _collect(value, out, seen, depth)
    elif isinstance(value, partial):
        _follow(value.func, out, seen, depth)
        _items(list(value.args) + list(value.keywords.values()), out, seen, depth)
    elif isinstance(value, dict | list | tuple | deque):
        _items(value, out, seen, depth)
    elif isinstance(value, set):
        out.append((_Snapshot(value), None, value))
    elif isinstance(value, ndarray):
        if value.size > _ITEMS:
            return _cannot(out, f"a NumPy array of {value.size} elements")
        out.append((_Snapshot(value), None, value))  # float(a[0]) reads its values
    elif type(getattr(value, "__dict__", None)) is dict:
        out.append((_Attributes(value, "__dict__", value.__dict__), "__dict__", value.__dict__))
        _items(value.__dict__, out, seen, depth)  # a plain object: cfg.lr
        for name in names:  # class defaults and properties it names: cfg.lr of CFG
            if name not in value.__dict__ and hasattr(type(value), name):
                _attribute(value, name, out, seen, depth, names)
        if not _library(type(value)):  # the methods it names, __call__, __getitem__, ...
            for name, function in vars(type(value)).items():
                if isinstance(function, FunctionType) and (name in names or name in _DUNDERS):
                    _collect(MethodType(function, value), out, seen, depth)
    elif isinstance(getattr(type(value), "__slots__", None), tuple | list):
        for name in type(value).__slots__:
            _attribute(value, name, out, seen, depth, names)
    elif not callable(value):
        _cannot(out, f"a {type(value).__name__}")
    return None


# The special methods through which a step reads an object's data.
_DUNDERS = frozenset(
    [
        "__call__",
        "__getitem__",
        "__len__",
        "__iter__",
        "__next__",
        "__contains__",
        "__getattr__",
        "__float__",
        "__int__",
        "__index__",
        "__bool__",
    ]
)


def _attribute(obj, name: str, out: list, seen: dict, depth: int, names=()) -> None:
    """A guard on ``obj.name`` read through ``getattr`` (a class default, a property):
    the replay checks that it still gives an equal value."""
    try:
        value = getattr(obj, name)
    except Exception:
        return
    out.append((_Attributes(obj, name, value), name, value))
    _follow(value, out, seen, depth - 1, names)


def _cannot(out: list, what: str) -> None:
    out.append((_Unfollowed(what), None, None))


def unfollowed(names: tuple) -> str | None:
    """Why the guards cannot cover what the step reads, if they cannot."""
    for namespace, _, _ in names:
        if isinstance(namespace, _Unfollowed):
            return (
                f"the step reaches {namespace.what}, which the guards of a replay cannot "
                "follow; pass the values it needs as arguments"
            )
    return None


def reads_random(names: tuple) -> bool:
    """Whether a step that reads ``names`` may draw from Python's or NumPy's random
    generators (a replay would not draw again)."""
    for _, _, value in names:
        if value is random or value is np.random:
            return True
        if isinstance(value, random.Random | np.random.Generator | np.random.RandomState):
            return True
    return False


def accounted(fn, names: tuple, optimizers, arguments: list = ()) -> tuple[set, set]:
    """The ids of the tensors and modules a replay may read again without seeing how the
    step reached them: those its guarded names hold (and ``fn`` itself, for a compiled
    module), their parameters, buffers and submodules, the optimizers' parameters, and
    ``fn``'s default arguments; and the ids of those tensors' arrays (a tensor sharing
    one, ``w.detach()``, is as good as the tensor)."""
    roots = [value for _, _, value in names]
    roots += list(getattr(fn, "__defaults__", None) or ())
    if isinstance(fn, Module):
        roots.append(fn)
    roots += list(optimizers) + list(arguments)
    out: set = set()
    tensors: list = []
    for value in roots:
        if isinstance(value, Module):
            for module in value.modules():
                out.add(id(module))
                tensors += [t for t in module._parameters.values() if t is not None]
                tensors += [t for t in module._buffers.values() if t is not None]
        elif isinstance(value, Optimizer):
            tensors += [p for group in value.param_groups for p in group["params"]]
        elif isinstance(value, Tensor):
            tensors.append(value)
    out.update(map(id, tensors))
    return out, {id(t._array) for t in tensors}


_ITEMS = 512  # a named dict or list up to this size has its items guarded too


def _items(container, out: list, seen: dict, depth: int) -> None:
    """Guards on the items of a dict or list the step names (``cfg["lr"]``,
    ``state["w"]``): each must stay the same object."""
    if len(container) > _ITEMS:
        return _cannot(out, f"a {type(container).__name__} of {len(container)} items")
    out.append((_Length(container), None, _Length))  # an item added or removed
    space = container if isinstance(container, dict) else _Items(container)
    keys = container.keys() if isinstance(container, dict) else range(len(container))
    for key in keys:
        value = container[key]
        out.append((space, key, value))
        _follow(value, out, seen, depth - 1)


class _Snapshot:
    """A small array's values when recorded, with a namespace's ``get``: it returns the
    array while its values are unchanged."""

    __slots__ = ("array", "values")

    def __init__(self, container) -> None:
        self.array, self.values = container, container.copy()

    def get(self, name, default=None):
        a, saved = self.array, self.values
        if isinstance(a, set):
            return a if a == saved else default
        return a if a.shape == saved.shape and np.array_equal(a, saved) else default


class _Attributes:
    """``obj.name`` with a namespace's ``get``: it returns the recorded value while
    ``getattr`` still gives an equal one (a property makes a new object each time)."""

    __slots__ = ("name", "obj", "value")

    def __init__(self, obj, name: str, value) -> None:
        self.obj, self.name, self.value = obj, name, value

    def get(self, name, default=None):
        current = getattr(self.obj, name, default)
        if current is self.value or (name not in _BY_IDENTITY and same(current, self.value)):
            return self.value
        return default


class _Length:
    """A container's length when recorded, with a namespace's ``get``."""

    __slots__ = ("container", "n")

    def __init__(self, container) -> None:
        self.container, self.n = container, len(container)

    def get(self, name, default=None):
        return _Length if len(self.container) == self.n else default


_BY_IDENTITY = frozenset({"__dict__", "__defaults__", "__kwdefaults__"})


class _Unfollowed:
    """A marker: the step reaches ``what``, which the guards cannot follow."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def get(self, name, default=None):
        return None


class _Items:
    """A list with a namespace's ``get``, for the guards."""

    __slots__ = ("items",)

    def __init__(self, items: list) -> None:
        self.items = items

    def get(self, index, default=None):
        items = self.items
        return items[index] if index < len(items) else default


class _Cell:
    """A closure cell with a namespace's ``get``, for the guards."""

    __slots__ = ("cell",)

    def __init__(self, cell) -> None:
        self.cell = cell

    def get(self, name, default=None):
        try:
            return self.cell.cell_contents
        except ValueError:
            return default


def hyperparameters(optimizer) -> list:
    """Each parameter group's size and settings (all but the parameters)."""
    return [
        (len(g["params"]), tuple((k, v) for k, v in g.items() if k != "params"))
        for g in optimizer.param_groups
    ]


def same_hyperparameters(optimizer, settings: list) -> bool:
    """Whether ``optimizer`` still holds ``settings`` (see :func:`hyperparameters`): a
    learning rate changed records the step again, since the step may read it."""
    groups = optimizer.param_groups
    if len(groups) != len(settings):
        return False
    for group, (n, items) in zip(groups, settings):
        if len(group) != len(items) + 1 or len(group["params"]) != n:
            return False
        for k, v in items:
            w = group.get(k, _MISSING)
            if w is not v and not same(w, v):
                return False
    return True


def same(a, b) -> bool:
    """Equal values: arrays by dtype, shape and contents (nan equal to nan), containers
    element by element, anything else with ``type`` and ``==``."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, Tensor):  # the same values: one array (a parameter, w.detach())
        return a._array is b._array and a._requires_grad is b._requires_grad
    try:
        return bool(a == b)
    except Exception:
        return False
