"""``Variable``: the wrapper of PyTorch before 0.4, kept so that old scripts run.

Since PyTorch 0.4 every tensor carries ``requires_grad`` and ``grad``, and
``Variable(t)`` only returns a new leaf that shares ``t``'s memory, outside any graph
(``t.detach()``, with ``requires_grad`` as asked); every tensor counts as a Variable for
``isinstance``. chainrule does the same.
"""

from __future__ import annotations

import warnings

from chainrule.tensor import Tensor

__all__ = ["Variable"]


class _AnyTensor(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_AnyTensor):
    """``Variable(data, requires_grad=False)``: ``data.detach()``, a leaf sharing its
    memory, with ``requires_grad`` set; ``Variable()`` is an empty float tensor.
    ``volatile`` is accepted and ignored, with a warning (use ``no_grad()``)."""

    def __new__(  # type: ignore[misc]
        cls, data: Tensor | None = None, requires_grad: bool = False, volatile: bool = False
    ) -> Tensor:
        if volatile:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with cr.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
        if data is None:
            from chainrule.tensor import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(bool(requires_grad))
