"""Floating-point warnings off while an op runs, as PyTorch computes: ``log(0)`` is
-inf and ``0/0`` nan, silently (``detect_anomaly`` is the tool that reports them).

The plain way is ``numpy.errstate(all="ignore")`` around each op, which enters and leaves
a Python context manager each time, costing more than many small ops themselves (the
figure: docs/performance.md, "Where the speed devices pay"). A speed device instead: NumPy 2 keeps its error state in
a context variable, and setting it directly costs two C calls. The "ignore" state is
rebuilt whenever the surrounding state changes, so other settings (buffer size, a
user's ``seterr``) are inherited as ``errstate`` would inherit them. On NumPy 1 it falls
back to the plain way.
"""

from __future__ import annotations

import numpy

__all__ = ["silence", "unsilence"]

try:
    from numpy._core.umath import _extobj_contextvar, _make_extobj
except ImportError:  # NumPy < 2: fall back to the public context manager
    _extobj_contextvar = None

_cache = [None, None]  # [surrounding state, its "ignore" variant]


def silence():
    """Start ignoring floating-point warnings; pass the result to :func:`unsilence`."""
    if _extobj_contextvar is None:
        state = numpy.errstate(all="ignore")
        state.__enter__()
        return state
    current = _get_state()
    if current is _cache[1]:
        return None  # already silent (nested): nothing to undo
    if current is not _cache[0]:
        _cache[0] = current
        _cache[1] = _make_extobj(all="ignore")
    return _set_state(_cache[1])


def unsilence(token) -> None:
    """Restore the state that :func:`silence` replaced."""
    if token is None:
        return
    if _extobj_contextvar is None:
        token.__exit__(None, None, None)
    else:
        _reset_state(token)


if _extobj_contextvar is not None:
    _get_state, _set_state, _reset_state = (
        _extobj_contextvar.get,
        _extobj_contextvar.set,
        _extobj_contextvar.reset,
    )
