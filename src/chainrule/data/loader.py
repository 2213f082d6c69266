"""``DataLoader`` and ``default_collate``, with PyTorch's signature and batches.

A loader visits every sample exactly once per epoch, in batches (or in the order of a
``sampler``, or in the batches of a ``batch_sampler``), and builds each batch with
``collate_fn`` (by default :func:`default_collate`, which stacks what PyTorch's stacks).

Shuffling is reproducible. Without ``generator``, the order of epoch ``e`` is a
permutation drawn from a generator seeded with ``(seed, e)``, where ``seed`` is drawn
from the library's generator when the loader is made (or given as ``seed=``, a chainrule
extension): the same seed gives the same orders, and epoch ``e`` has the same order
whether a run got there straight or by resuming from a checkpoint (``set_epoch``). With
``generator=`` (a :class:`chainrule.Generator`), each epoch's order is drawn from it when
iteration starts, as in PyTorch: reseeding it replays the orders.

Loading runs in this process. ``num_workers``, ``pin_memory``, ``timeout``,
``worker_init_fn``, ``multiprocessing_context``, ``prefetch_factor``,
``persistent_workers``, ``pin_memory_device`` and ``in_order`` are accepted and checked
as PyTorch checks them, so scripts run unchanged, but no worker process is started: with
``num_workers > 0`` the batches are the same ones, loaded here, and ``worker_init_fn`` is
called with worker id 0 at the start of each epoch.
"""

from __future__ import annotations

import collections.abc
import math

import numpy as np

from chainrule._backend import xp
from chainrule.data.dataset import TensorDataset
from chainrule.random import draw_seed, rng
from chainrule.tensor import Tensor, as_tensor

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def _stack(arrays: list, what: str):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        i, other = next((i, a.shape) for i, a in enumerate(arrays) if a.shape != first)
        raise RuntimeError(
            f"default_collate: {what} of different shapes cannot be stacked into a batch: "
            f"{list(first)} at entry 0 and {list(other)} at entry {i}; give the DataLoader a "
            "collate_fn that pads them, or samples of one shape"
        )
    return as_tensor(xp.stack(arrays))


def default_collate(batch: list):
    """Turn a list of samples into a batch, as PyTorch's ``default_collate``: tensors and
    NumPy arrays are stacked along a new first dimension, Python floats become a float64
    tensor, ints an int64 tensor, bools a bool tensor, NumPy scalars a tensor of their
    dtype; strings stay as they are, gathered in a sequence; dicts, tuples and lists are collated entry by entry (a
    sequence gives a list, a named tuple the same named tuple, a dict the same keys)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t._array for t in batch], "tensors")
    if isinstance(elem, np.ndarray) and elem.dtype.kind in "biuf":
        return _stack([xp.asarray(a) for a in batch], "arrays")
    if isinstance(elem, np.generic | bool | int | float) and not isinstance(elem, np.str_):
        return as_tensor(np.asarray(batch))
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if len({len(s) for s in batch}) != 1:
            raise RuntimeError(
                "default_collate: each element in list of batch should be of equal size"
            )
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError(
        "default_collate: a batch must contain tensors, NumPy arrays, numbers, strings, "
        f"dicts or lists; found {type(elem).__name__}"
    )


def default_convert(data):
    """One sample as PyTorch's loader gives it without batching (``batch_size=None``):
    NumPy arrays become tensors, tuples and lists lists of converted entries."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple | list):
        return [default_convert(d) for d in data]
    return data


def get_worker_info():
    """Information on the worker process this runs in: None, since chainrule's loader
    loads in the main process (as PyTorch's answer there)."""
    return None


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"DataLoader: {name} should be a positive integer value, but got {name}={value!r}"
        )


class DataLoader:
    """Batches of a dataset, as PyTorch's ``torch.utils.data.DataLoader``::

        for x, y in DataLoader(ds, batch_size=32, shuffle=True):
            ...

    ``batch_size`` samples per batch (None: one sample at a time, unbatched);
    ``shuffle`` a new order every epoch; ``sampler`` any iterable of indices, in place of
    ``shuffle``; ``batch_sampler`` any iterable of lists of indices, in place of
    ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``; ``collate_fn`` builds a
    batch from a list of samples (default :func:`default_collate`); ``drop_last`` skips a
    final batch smaller than ``batch_size``; ``generator`` the :class:`chainrule.Generator`
    the shuffles are drawn from. ``seed`` (chainrule's; keyword only) fixes the shuffles
    without a generator; ``set_epoch`` sets the epoch (to resume a run). The worker and
    memory options are accepted; loading runs in this process (see the module's note).
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "DataLoader: num_workers should be a non-negative integer; use num_workers=0 "
                f"to load in this process, got {num_workers!r}"
            )
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor can only be given with num_workers > 0 (it counts "
                "batches each worker loads ahead); leave it None"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, "
                    "sampler and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "DataLoader: batch_size=None (no batching) is mutually exclusive with drop_last"
                )
        else:
            _check_positive_int("batch_size", batch_size)
        if generator is not None:
            rng(generator)  # checks its type now rather than at the first epoch
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self.generator = generator
        self.seed = draw_seed() if seed is None else int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample order of ``epoch`` (the current one by default). With a
        ``generator`` the next order is drawn from it, whatever ``epoch`` says; with a
        ``sampler`` it is the sampler's order."""
        if self.sampler is not None:
            return np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.generator is not None:
            return rng(self.generator).permutation(n)
        e = self.epoch if epoch is None else epoch
        return np.random.default_rng([self.seed, e]).permutation(n)

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _batches(self):
        """The index lists of this epoch's batches."""
        if self.batch_sampler is not None:
            yield from (np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler)
            return
        order = self.order()
        size = self.batch_size or 1
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            if len(idx) < size and self.drop_last:
                break
            yield idx

    def __iter__(self):
        if self.num_workers > 0 and self.worker_init_fn is not None:
            self.worker_init_fn(0)
        batches = self._batches()
        self.epoch += 1
        if self.batch_size is None and self.batch_sampler is None:
            convert = self.collate_fn or default_convert
            for idx in batches:
                yield convert(self.dataset[int(idx[0])])
            return
        # A TensorDataset gives a whole batch from one fancy index: the same tensors that
        # stacking its samples would, without a Python loop over them.
        vectorised = (
            self.collate_fn is None
            and isinstance(self.dataset, TensorDataset)
            and type(self.dataset).__getitem__ is TensorDataset.__getitem__
        )
        collate = self.collate_fn or default_collate
        for idx in batches:
            if vectorised:
                yield list(self.dataset[idx])
            else:
                yield collate([self.dataset[int(i)] for i in idx])
