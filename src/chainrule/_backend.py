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

__all__ = ["ndarray", "to_numpy", "xp"]

xp = importlib.import_module(os.environ.get("CHAINRULE_ARRAY_MODULE", "numpy"))
ndarray = xp.ndarray


def to_numpy(a):
    """Return ``a`` as a host NumPy array (a no-op when the array module is NumPy)."""
    if xp is numpy:
        return numpy.asarray(a)
    return xp.asnumpy(a)
