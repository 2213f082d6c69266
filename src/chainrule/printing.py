"""How a tensor prints: ``repr(t)`` as PyTorch prints it, and the options that change it.

The layout is PyTorch's, rule for rule, so that the same values print the same text:

* One format for all the elements of a tensor, chosen from its finite non-zero values:
  whole numbers print as ``3.`` (floating) or ``3`` (integer); otherwise ``precision``
  (4) decimals, ``1.5000``; scientific notation, ``1.0000e+05``, when the largest is
  more than 1000 times the smallest, above 1e8, or the smallest is below 1e-4. Every
  element is padded to the widest one.
* Rows wrap at ``linewidth`` (80) characters; nested dimensions are separated by one
  blank line per level.
* Above ``threshold`` (1000) elements, each dimension shows its first and last
  ``edgeitems`` (3) entries around ``...``.
* Suffixes: ``dtype=`` unless the dtype is the default float, int64 or bool (always for
  an empty tensor of another dtype than the default float), ``size=`` for an empty
  tensor that is not 1-D, then ``grad_fn=<...>`` or ``requires_grad=True``. The dtype
  prints as ``print(t.dtype)`` does, ``dtype=cr.float64`` where PyTorch writes
  ``dtype=torch.float64``, so the text is valid code after ``import chainrule as cr``.

``cr.set_printoptions(precision=..., threshold=..., edgeitems=..., linewidth=...,
sci_mode=..., profile=...)`` and the ``cr.printoptions(...)`` context change them, as in
PyTorch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import to_numpy

__all__ = ["get_printoptions", "printoptions", "set_printoptions", "tensor_repr"]


@dataclasses.dataclass
class _Options:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


OPTIONS = _Options()
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set how tensors print (PyTorch's options and profiles 'default', 'short', 'full').
    ``sci_mode`` True or False forces or forbids scientific notation; None chooses."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {list(_PROFILES)}")
        for key, value in _PROFILES[profile].items():
            setattr(OPTIONS, key, value)
    for key, value in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if value is not None:
            setattr(OPTIONS, key, value)
    OPTIONS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options, as keyword arguments of :func:`set_printoptions`."""
    return dataclasses.asdict(OPTIONS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Change the print options inside a ``with`` block."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


# --------------------------------------------------------------------------- formatting
class _Formatter:
    """The one format of a tensor's elements, and its width."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.width = max(self.width, len(str(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        size = np.abs(finite).astype(np.float64)
        lo, hi = size.min(), size.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if OPTIONS.sci_mode is None:
            self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        else:
            self.sci_mode = OPTIONS.sci_mode
        p = OPTIONS.precision
        for v in finite.tolist():
            if self.sci_mode:
                text = f"{v:.{p}e}"
            elif self.int_mode:
                text = f"{v:.0f}" + "."  # the point marks a floating tensor
            else:
                text = f"{v:.{p}f}"
            self.width = max(self.width, len(text))

    def format(self, v) -> str:
        if not self.floating:
            text = str(v)
        elif self.sci_mode:
            text = f"{v:{self.width}.{OPTIONS.precision}e}"
        elif self.int_mode:
            text = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            text = f"{v:.{OPTIONS.precision}f}"
        return " " * (self.width - len(text)) + text


def _summarized(a: np.ndarray) -> np.ndarray:
    """The elements that a summarised print shows (for choosing the format)."""
    edge = OPTIONS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:edge], a[-edge:]]) if a.shape[0] > 2 * edge else a
    if not edge:
        return a.reshape((0,) * a.ndim)
    rows = list(range(edge)) + list(range(a.shape[0] - edge, a.shape[0]))
    if a.shape[0] <= 2 * edge:
        rows = range(a.shape[0])
    return np.stack([_summarized(a[i]) for i in rows])


def _vector(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    edge = OPTIONS.edgeitems
    per_line = max(1, math.floor((OPTIONS.linewidth - indent) / (fmt.width + 2)))
    if summarize and not edge:
        items = ["..."]
    elif summarize and a.shape[0] > 2 * edge:
        items = (
            [fmt.format(v) for v in a[:edge].tolist()]
            + [" ..."]
            + [fmt.format(v) for v in a[-edge:].tolist()]
        )
    else:
        items = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    edge = OPTIONS.edgeitems
    if summarize and a.shape[0] > 2 * edge:
        parts = (
            [_nested(a[i], indent + 1, summarize, fmt) for i in range(edge)]
            + ["..."]
            + [
                _nested(a[i], indent + 1, summarize, fmt)
                for i in range(a.shape[0] - edge, a.shape[0])
            ]
        )
    else:
        parts = [_nested(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _body(a: np.ndarray, indent: int) -> str:
    if a.size == 0:
        return "[]"
    summarize = a.size > OPTIONS.threshold
    fmt = _Formatter(_summarized(a) if summarize else a)
    return _nested(a, indent, summarize, fmt)


def _with_suffixes(text: str, suffixes: list, indent: int) -> str:
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > OPTIONS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(t) -> str:
    """``repr`` of a tensor, PyTorch's layout (see the module docstring)."""
    a = to_numpy(t._array)
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    default = _dt.get_default_dtype()
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if a.dtype != default:
            suffixes.append(f"dtype={_dt.wrap(a.dtype)}")
    elif a.dtype not in (default, _dt.int64, _dt.bool):
        suffixes.append(f"dtype={_dt.wrap(a.dtype)}")
    grad_fn = t.grad_fn
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + _body(a, indent), suffixes, indent)
