"""``Sampler``: the base class of PyTorch's samplers, for code that writes its own.

A sampler is an iterable of dataset indices; ``DataLoader(sampler=...)`` visits the samples
in its order (any iterable of ints works there; subclassing ``Sampler`` is the PyTorch
idiom, so it is here). Subclasses define ``__iter__`` and, for ``len(loader)``,
``__len__``.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Sampler"]


class Sampler:
    """Base class: ``__iter__`` yields indices. ``data_source`` is accepted and ignored,
    as in PyTorch, where it is deprecated."""

    def __init__(self, data_source: object | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(
            f"{type(self).__name__} is a Sampler without __iter__: a sampler subclass must "
            "define __iter__, yielding the dataset indices in the order to visit them"
        )
