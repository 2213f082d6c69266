"""NumPy's spellings of two argument names, which PyTorch's reductions accept too.

``x.sum(axis=0, keepdims=True)`` is ``x.sum(dim=0, keepdim=True)`` in PyTorch: its
argument parser maps ``axis`` to ``dim`` and ``keepdims`` to ``keepdim`` for the
reductions (``sum mean var std amax amin max min argmax argmin logsumexp any all
prod``), so code written with NumPy habits runs. :func:`numpy_names` gives a function
the same two aliases.
"""

from __future__ import annotations

import functools

__all__ = ["numpy_names"]

_ALIASES = (("axis", "dim"), ("keepdims", "keepdim"))


def numpy_names(fn):
    """``fn`` accepting ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``.

    Giving both spellings of one argument is a TypeError, as in PyTorch. A call without
    keyword arguments goes straight through.
    """

    @functools.wraps(fn)
    def accepting_numpy_names(*args, **kwargs):
        if kwargs:
            for alias, name in _ALIASES:
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(
                            f"{fn.__name__}() got both {name}= and its NumPy spelling {alias}="
                        )
                    kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    return accepting_numpy_names
