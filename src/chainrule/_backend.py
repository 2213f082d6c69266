"""The one place where chainrule reaches its array module.

Every op calls ``xp.<function>`` from here instead of importing NumPy itself, so that a
module with NumPy's API (CuPy, for a GPU) can replace NumPy without touching any op.
The module is chosen once, at import time, from the environment variable
``CHAINRULE_ARRAY_MODULE`` (default ``numpy``).
"""

from __future__ import annotations

import importlib
import os

import numpy

__all__ = ["ndarray", "quiet", "silence", "to_numpy", "tune_allocator", "unsilence", "xp"]

xp = importlib.import_module(os.environ.get("CHAINRULE_ARRAY_MODULE", "numpy"))
ndarray = xp.ndarray


def to_numpy(a):
    """Return ``a`` as a host NumPy array (a no-op when the array module is NumPy)."""
    if xp is numpy:
        return numpy.asarray(a)
    return xp.asnumpy(a)


def tune_allocator() -> bool:
    """Ask the C allocator to keep the memory a training step frees, for the next step.

    A step allocates and frees the same large arrays (activations, gradients, im2col
    columns) again and again. By default glibc serves arrays above a size threshold with
    fresh pages from the kernel and returns freed memory beyond another threshold, so
    every step pays for the first touch of each page again: a page fault per 4 KB, often
    more time than the arithmetic (measured here: a LeNet-like step at batch 64 took 5.5
    ms this way and 2.3 ms with the memory kept). This sets glibc's ``M_MMAP_THRESHOLD``
    to 32 MiB and ``M_TRIM_THRESHOLD`` to 256 MiB (the environment variables
    ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` do the same from outside).
    The price: the process keeps up to 256 MiB it has freed, instead of handing it back.

    It changes the whole process, so chainrule's library code never calls it; the
    ``chainrule`` commands (``demo``, ``train``, ``bench``) do. Returns False, changing
    nothing, where the C library is not glibc.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h> parameter numbers
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 256 << 20))


def quiet():
    """A context in which floating-point warnings (log(0), overflow in exp, 0/0) are not
    printed: like PyTorch, ops return inf or nan silently, and ``detect_anomaly`` is the
    tool that reports them."""
    return numpy.errstate(all="ignore")


# ``silence``/``unsilence`` do what ``quiet`` does around every single op, where the
# ~2 us of a Python context manager would be most of the op's cost. NumPy 2 keeps its
# floating-point error state in a context variable; setting it directly costs two C
# calls. The "ignore" state is rebuilt whenever the surrounding state changes, so other
# settings (buffer size, a user's seterr) are inherited as errstate would inherit them.
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
