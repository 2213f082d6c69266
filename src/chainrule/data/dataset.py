"""Datasets, as PyTorch's ``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``Subset``,
``ConcatDataset`` and ``random_split``. (``DataLoader`` is in ``loader.py`` and importable
from here too.)"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Sequence

import numpy as np

from chainrule._backend import to_numpy
from chainrule.random import rng
from chainrule.tensor import _make, as_tensor

__all__ = [
    "ConcatDataset",
    "Dataset",
    "Subset",
    "TensorDataset",
    "random_split",
    "validation_split",
]


class Dataset:
    """A sized collection of samples: subclasses define ``__len__`` and ``__getitem__``
    (one index -> one sample, a tuple of arrays or tensors). ``a + b`` concatenates."""

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError

    def __add__(self, other) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of some tensors of equal length: ``ds[i] == (x[i], y[i])``.
    Indexing with an array of indices returns whole batches at once."""

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(as_tensor(t) for t in tensors)
        lengths = {t.shape[0] if t.ndim else None for t in self.tensors}
        if len(lengths) != 1 or None in lengths:
            shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
            raise ValueError(
                f"TensorDataset: every tensor needs the same first dimension, got shapes {shapes}"
            )

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(_make(t._array[index], None, False) for t in self.tensors)


def validation_split(
    dataset: TensorDataset, fraction: float, *, seed: int = 0, stratify: bool = False
) -> tuple[TensorDataset, TensorDataset]:
    """Hold out about ``fraction`` of ``dataset`` for validation: returns ``(train, val)``,
    two TensorDatasets whose samples keep their order in ``dataset``.

    The held-out samples are the first of a permutation drawn from ``seed``; with
    ``stratify`` (class labels in the last tensor), each class gives its own count times
    ``fraction``, rounded half up, so both parts keep the classes' proportions. Either part
    coming out empty is an error.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split: fraction must be in (0, 1), got {fraction!r}")
    n = len(dataset)
    order = np.random.default_rng(seed).permutation(n)
    if stratify:
        labels = to_numpy(dataset.tensors[-1]._array)[order]
        if labels.dtype.kind not in "iu" or labels.ndim != 1:
            raise ValueError(
                f"validation_split: stratify needs class labels (integers, one per sample), "
                f"got dtype {labels.dtype} and shape {labels.shape}"
            )
        held = np.concatenate(
            [
                order[labels == c][: math.floor(fraction * n_c + 0.5)]
                for c, n_c in zip(*np.unique(labels, return_counts=True))
            ]
        )
    else:
        held = order[: math.floor(fraction * n + 0.5)]
    if not 0 < len(held) < n:
        raise ValueError(
            f"validation_split: holding out {fraction} of {n} samples leaves "
            f"{'no validation' if len(held) == 0 else 'no training'} sample"
        )
    val = np.zeros(n, bool)
    val[held] = True
    index = np.arange(n)
    return TensorDataset(*dataset[index[~val]]), TensorDataset(*dataset[index[val]])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, idx)[i]`` is
    ``ds[idx[i]]``; a list of positions gives the list of samples (or, when ``dataset``
    takes a list, what it returns for the mapped list)."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after another: sample ``i`` comes from the dataset whose range
    of positions holds it (``cumulative_sizes`` are the ends of those ranges)."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        if idx < 0:
            if -idx > len(self):
                raise ValueError(
                    f"ConcatDataset: index {idx} is out of range for {len(self)} samples"
                )
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


def _split_lengths(n: int, lengths: Sequence) -> list[int]:
    """PyTorch's rule: fractions that sum to 1 become floor(n * f) each, and the samples
    left over go one by one to the splits in order; whole numbers are taken as they are."""
    lengths = list(lengths)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        sizes = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"random_split: the split at index {i} has length 0 (an empty dataset)",
                    UserWarning,
                    stacklevel=3,
                )
        return sizes
    if total != n:
        raise ValueError(
            f"random_split: the lengths sum to {total}, but the dataset has {n} samples "
            "(give sizes that sum to it, or fractions that sum to 1)"
        )
    for i, size in enumerate(lengths):
        if isinstance(size, bool) or not isinstance(size, int | np.integer):
            raise TypeError(
                "random_split: lengths must be whole numbers, or fractions that sum to 1; "
                f"got {size!r} at index {i}"
            )
        if size < 0:
            raise ValueError(f"random_split: lengths must be non-negative, got {size} at index {i}")
    return [int(s) for s in lengths]


def random_split(dataset, lengths: Sequence, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping :class:`Subset`s of the given lengths, the
    samples assigned by a random permutation drawn from ``generator`` (by default the
    library's, so ``cr.manual_seed`` fixes the split). ``lengths`` are sizes that sum to
    ``len(dataset)``, or fractions that sum to 1 (``[0.8, 0.2]``), rounded as PyTorch
    rounds them (floors, then the remainder one by one from the first split)."""
    sizes = _split_lengths(len(dataset), lengths)
    perm = rng(generator).permutation(sum(sizes)).tolist()
    ends = np.cumsum(sizes).tolist()
    return [Subset(dataset, perm[end - size : end]) for size, end in zip(sizes, ends)]
