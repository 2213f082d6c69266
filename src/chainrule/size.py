"""``Size``: a tensor's shape, a tuple that prints as PyTorch's ``torch.Size`` does.

``t.shape`` and ``t.size()`` return one. It is a tuple in every way that matters (it
equals the tuple of the same numbers, indexes, unpacks and hashes like one, NumPy takes it
as a shape), prints as ``cr.Size([2, 3])``, and stays a ``Size`` when sliced, added to a
tuple or repeated, as in PyTorch. ``numel()`` is the product of the sizes.
"""

from __future__ import annotations

import math
import operator

__all__ = ["Size"]


class Size(tuple):
    """The sizes of a tensor's dimensions: ``cr.Size([2, 3])``.

    Build one from an iterable of integers (``cr.Size([2, 3])``, ``cr.Size((2, 3))``).
    """

    __slots__ = ()

    def __new__(cls, sizes=()) -> Size:
        values = []
        for i, s in enumerate(sizes):
            if not hasattr(s, "__index__"):
                raise TypeError(
                    f"cr.Size() takes an iterable of 'int' (item {i} is '{type(s).__name__}')"
                )
            values.append(operator.index(s))
        return tuple.__new__(cls, values)

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for ``Size([])``)."""
        return math.prod(self)

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return _size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return _size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return _size(tuple.__add__(other, self))

    def __mul__(self, count):
        return _size(tuple.__mul__(self, count))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"cr.Size({list(self)})"

    __str__ = __repr__

    def __reduce__(self):
        return (Size, (tuple(self),))


def _size(shape: tuple) -> Size:
    """A ``Size`` from a tuple of Python ints, without checking them (what ``t.shape`` uses)."""
    return tuple.__new__(Size, shape)
