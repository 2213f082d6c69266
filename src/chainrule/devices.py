"""Devices: where a tensor's memory lives. In chainrule that is the CPU, and it says so.

chainrule computes with NumPy, on the CPU. PyTorch code names devices everywhere
(``torch.device("cuda" if torch.cuda.is_available() else "cpu")``, ``x.to(device)``,
``model.to(device)``, ``torch.zeros(3, device=device)``), so chainrule takes the same
words: :class:`device` describes a device as PyTorch's does (``device("cpu")``,
``device("cpu", 0)``, ``device("cuda:1")``, with ``.type`` and ``.index``), and every
place that takes a device checks it. The CPU is accepted (with any index, as PyTorch
does); any other device, ``"cuda"``, ``"cuda:0"``, ``"mps"``, raises a ``RuntimeError``
that says chainrule runs on the CPU, rather than quietly computing somewhere other than
asked. So ``cr.cuda.is_available()`` is False, and code that picks its device from it
runs unchanged.

(Describing a device is not using it: ``cr.device("cuda")`` is a valid description, as in
PyTorch, and only putting a tensor or a model there raises.)
"""

from __future__ import annotations

from chainrule import dtypes as _dt
from chainrule._backend import xp

__all__ = [
    "check_device",
    "device",
    "get_default_device",
    "home",
    "parse_to",
    "set_default_device",
]

# The device types PyTorch knows by name, so that a misspelt one is told apart from a
# real one that this machine does not have.
_KNOWN = (
    *("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve"),
    *("fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone"),
)


class device:
    """A device, as PyTorch describes one: ``device("cpu")``, ``device("cuda", 0)``,
    ``device("cuda:0")``, or a copy of another ``device``.

    ``type`` is the kind (``"cpu"``), ``index`` the number or None. ``str()`` gives
    ``"cpu"`` or ``"cuda:0"``, ``repr()`` ``device(type='cpu')``. Two devices are equal when
    both type and index are; a device is never equal to a string, as in PyTorch.
    """

    __slots__ = ("index", "type")

    def __init__(self, type, index: int | None = None) -> None:
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): an index cannot be given with a device object")
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError(
                f"device({type}): a bare number means accelerator {type}, and chainrule "
                "runs on the CPU only; use device('cpu')"
            )
        if not isinstance(type, str):
            raise TypeError(f"device() takes a string such as 'cpu', got {type!r}")
        kind, sep, number = type.partition(":")
        if kind not in _KNOWN:
            raise RuntimeError(
                f"device({type!r}): unknown device type {kind!r}; expected one of "
                f"{', '.join(_KNOWN)} (optionally with an index, as in 'cuda:0')"
            )
        if sep:
            if index is not None:
                raise RuntimeError(
                    f"device({type!r}, {index}): the index is given twice (in the string and "
                    "as an argument)"
                )
            if not number.isdigit():
                raise RuntimeError(f"device({type!r}): the index {number!r} is not a number")
            index = int(number)
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"device(): the index must be an integer, got {index!r}")
            if index < 0:
                raise RuntimeError(f"device(): the index must not be negative, got {index}")
        self.type, self.index = kind, index

    def __eq__(self, other) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))


# Where chainrule's arrays live: the CPU with NumPy (a GPU only with a CuPy-like array
# module chosen through CHAINRULE_ARRAY_MODULE, see chainrule/_backend.py).
_HOME = device("cpu") if xp.__name__ == "numpy" else device("cuda")


def home() -> device:
    """The device every chainrule tensor lives on (``device(type='cpu')``)."""
    return _HOME


def check_device(where: str, dev) -> device:
    """``dev`` (None, a string, a :class:`device`) as a device, when it is the one
    chainrule computes on; any other raises a RuntimeError that says so."""
    if dev is None:
        return _HOME
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != _HOME.type:
        where_arrays = "the CPU only (its arrays are NumPy arrays)"
        if _HOME.type != "cpu":
            where_arrays = f"{_HOME.type} only (its array module is {xp.__name__})"
        raise RuntimeError(
            f"{where}: chainrule runs on {where_arrays}, so there is no {str(d)!r} device "
            f"here. Use '{_HOME.type}', or pick the device as PyTorch code does: "
            "device = cr.device('cuda' if cr.cuda.is_available() else 'cpu')"
        )
    return d


def set_default_device(dev) -> None:
    """PyTorch's ``set_default_device``: the device factories use when given none. Only
    chainrule's own device (or None, which resets it) is accepted."""
    check_device("set_default_device", dev)


def get_default_device() -> device:
    """The device factories create tensors on: ``device(type='cpu')``."""
    return _HOME


def _is_dtype(x) -> bool:
    if isinstance(x, _dt.dtype):
        return True
    if isinstance(x, str):
        try:
            _dt.to_dtype(x)
        except TypeError:
            return False
        return True
    return isinstance(x, type) or hasattr(x, "kind")


def parse_to(where: str, args: tuple, kwargs: dict):
    """Read the arguments of PyTorch's ``to``: ``to(dtype)``, ``to(device)``,
    ``to(device, dtype)``, ``to(other_tensor)``, each optionally followed by
    ``non_blocking`` and ``copy``, or the same as keywords (``device=``, ``dtype=``,
    ``non_blocking=``, ``copy=``, ``memory_format=``).

    Returns ``(dtype or None, copy)``, having checked the device. A string is a device
    when it names one (``"cpu"``, ``"cuda:0"``) and a dtype when it names one
    (``"float64"``, which PyTorch does not accept).
    """
    kwargs = dict(kwargs)
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    args = list(args)
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    if args:
        first = args[0]
        if hasattr(first, "_array") and hasattr(first, "device"):  # a tensor
            dev, dtype = first.device, first.dtype
            args.pop(0)
        elif isinstance(first, device) or (
            isinstance(first, str) and first.partition(":")[0] in _KNOWN
        ):
            dev = args.pop(0)
            if args and _is_dtype(args[0]) and not isinstance(args[0], bool):
                dtype = args.pop(0)
        elif isinstance(first, int) and not isinstance(first, bool):
            dev = args.pop(0)
        elif first is None or _is_dtype(first):
            dtype = args.pop(0)
        else:
            raise TypeError(
                f"{where}(): expected a device, a dtype or a tensor, got {type(first).__name__}"
            )
    if len(args) > 2:
        raise TypeError(f"{where}() takes at most 4 positional arguments")
    non_blocking = args[0] if args else kwargs.pop("non_blocking", False)
    copy = args[1] if len(args) > 1 else kwargs.pop("copy", False)
    del non_blocking  # (there is nothing to overlap with: a copy on the CPU is synchronous)
    check_device(where, dev)
    return (None if dtype is None else _dt.to_dtype(dtype)), bool(copy)
