"""``Dataset``, ``TensorDataset`` and ``DataLoader``.

A loader visits every sample exactly once per epoch, in batches. With ``shuffle`` the
order of epoch ``e`` is a permutation drawn from a generator seeded with ``(seed, e)``:
the same seed gives the same orders, and epoch ``e`` has the same order whether a run
got there straight or by resuming from a checkpoint.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._backend import to_numpy, xp
from chainrule.random import draw_seed
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = ["DataLoader", "Dataset", "TensorDataset", "validation_split"]


class Dataset:
    """A sized collection of samples: subclasses define ``__len__`` and ``__getitem__``
    (one index -> one sample, a tuple of arrays or tensors)."""

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError


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


def _collate(samples: list):
    """Stack a list of samples (tuples) into one batch (a tuple of tensors)."""
    columns = zip(*[s if isinstance(s, tuple | list) else (s,) for s in samples])
    out = []
    for column in columns:
        arrays = [c._array if isinstance(c, Tensor) else np.asarray(c) for c in column]
        out.append(as_tensor(xp.stack(arrays)))
    return tuple(out)


class DataLoader:
    """Batches of a dataset: ``for x, y in DataLoader(ds, batch_size=32, shuffle=True)``.

    ``drop_last`` skips a final batch smaller than ``batch_size``. ``seed`` fixes the
    shuffles (one permutation per epoch, from ``(seed, epoch)``); by default it is drawn
    from the library's generator, so ``cr.manual_seed`` fixes it too. The epoch advances
    at every full iteration; ``set_epoch`` sets it (to resume a run).
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r}"
            )
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty")
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.seed = draw_seed() if seed is None else int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample order of ``epoch`` (the current one by default)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        e = self.epoch if epoch is None else epoch
        return np.random.default_rng([self.seed, e]).permutation(n)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        order = self.order()
        self.epoch += 1
        vectorised = isinstance(self.dataset, TensorDataset)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            if len(idx) < self.batch_size and self.drop_last:
                break
            if vectorised:
                yield self.dataset[idx]
            else:
                yield _collate([self.dataset[int(i)] for i in idx])
