"""``cr.utils.data``: PyTorch's data path, datasets, ``random_split`` and ``DataLoader``,
batch for batch against ``torch.utils.data`` on the same samples."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
import chainrule.utils.data as crd

Pair = collections.namedtuple("Pair", "x y")


def _same(mine, theirs, where="batch"):
    """The same structure, values and dtypes."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(mine, cr.Tensor), where
        assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "cr."), where
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=where)
    elif isinstance(theirs, dict):
        assert isinstance(mine, dict) and list(mine) == list(theirs), where
        for k in theirs:
            _same(mine[k], theirs[k], f"{where}[{k!r}]")
    elif isinstance(theirs, list | tuple):
        assert type(mine) is type(theirs) and len(mine) == len(theirs), (where, mine, theirs)
        for i, (a, b) in enumerate(zip(mine, theirs)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert mine == theirs, where


class Samples:
    """A map-style dataset whose samples are whatever a test gives (both libraries)."""

    def __init__(self, make):
        self.make = make

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return self.make(i)


def test_pytorchs_import_paths():
    assert cr.utils.data.DataLoader is cr.data.DataLoader is crd.DataLoader
    for name in [
        "Dataset",
        "TensorDataset",
        "Subset",
        "ConcatDataset",
        "random_split",
        "DataLoader",
        "default_collate",
        "get_worker_info",
    ]:
        assert hasattr(tud, name) and hasattr(crd, name), name
    assert crd.get_worker_info() is tud.get_worker_info() is None


SAMPLES = {
    "tensor and int": lambda L: lambda i: (L.ones(2) * i, i),
    "float, bool and str": lambda L: lambda i: (i / 2, i % 2 == 0, f"s{i}"),
    "numpy": lambda L: lambda i: (np.full(3, i, np.float32), np.int64(i), np.float64(i)),
    "dict": lambda L: lambda i: {"x": L.full((2,), float(i)), "y": i, "meta": {"id": i}},
    "nested": lambda L: lambda i: (L.zeros(1), (i, [i, 2 * i])),
    "named tuple": lambda L: lambda i: Pair(L.tensor([float(i)]), i),
}


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_default_collation_as_pytorch(kind):
    mine = list(crd.DataLoader(Samples(SAMPLES[kind](cr)), batch_size=2))
    theirs = list(tud.DataLoader(Samples(SAMPLES[kind](torch)), batch_size=2))
    assert len(mine) == len(theirs) == 3
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if kind == "named tuple":
            assert type(a) is Pair and type(b) is Pair
            a, b = list(a), list(b)
        _same(a, b, f"batch {i}")


def test_collation_errors():
    for L, lib in ((cr, crd), (torch, tud)):
        ragged = Samples(lambda i, L=L: L.ones(i + 1))
        with pytest.raises(RuntimeError, match=r"size|shape"):
            next(iter(lib.DataLoader(ragged, batch_size=2)))
    with pytest.raises(RuntimeError, match=r"\[1\] at entry 0 and \[2\] at entry 1"):
        next(iter(crd.DataLoader(Samples(lambda i: cr.ones(i + 1)), batch_size=2)))
    with pytest.raises(TypeError, match="found object"):
        crd.default_collate([object(), object()])


def _tensor_data(L, n=10):
    return L.utils.data.TensorDataset(
        L.arange(n * 2, dtype=L.float32).reshape(n, 2), L.tensor(np.arange(n) % 3)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"batch_size": 3},
        {"batch_size": 3, "drop_last": True},
        {"batch_size": 4, "sampler": [9, 0, 3, 3, 5]},
        {"batch_size": 2, "sampler": range(7), "drop_last": True},
        {"batch_sampler": [[1, 2], [0], [9, 8, 7]]},
        {"batch_size": None},
        {"batch_size": 3, "collate_fn": lambda b: len(b)},
        {"batch_size": None, "collate_fn": lambda s: s[1]},
        {"batch_size": 4, "num_workers": 2, "pin_memory": True, "persistent_workers": True},
        {"batch_size": 4, "num_workers": 1, "prefetch_factor": 3, "timeout": 5},
    ],
)
def test_the_loaders_batches_as_pytorch(kwargs):
    mine = crd.DataLoader(_tensor_data(cr), **kwargs)
    theirs = tud.DataLoader(_tensor_data(torch), **kwargs)
    assert len(mine) == len(theirs)
    with warnings.catch_warnings():  # torch warns that pin_memory means nothing on a CPU
        warnings.simplefilter("ignore", UserWarning)
        want = list(theirs)
    got = list(mine)
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        _same(a, b, f"batch {i}")
    assert list(mine) is not got and len(list(mine)) == len(want)  # a second epoch


def test_the_same_batches_from_a_generic_dataset():
    data = Samples(lambda i: (np.arange(3, dtype=np.float32) + i, i))
    for kwargs in ({"batch_size": 2}, {"batch_size": 2, "drop_last": True}):
        _same(list(crd.DataLoader(data, **kwargs)), list(tud.DataLoader(data, **kwargs)))


def test_worker_init_fn_runs_in_process_once_per_epoch():
    calls = []
    loader = crd.DataLoader(
        _tensor_data(cr), batch_size=5, num_workers=3, worker_init_fn=calls.append
    )
    list(loader), list(loader)
    assert calls == [0, 0]
    list(crd.DataLoader(_tensor_data(cr), worker_init_fn=calls.append))  # no workers: not called
    assert calls == [0, 0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 0},
        {"batch_size": -1},
        {"batch_size": 2.0},
        {"num_workers": -1},
        {"prefetch_factor": 2},
        {"persistent_workers": True},
        {"shuffle": True, "sampler": [1, 2]},
        {"batch_sampler": [[1]], "batch_size": 3},
        {"batch_sampler": [[1]], "drop_last": True},
        {"batch_sampler": [[1]], "shuffle": True},
        {"timeout": -1},
    ],
)
def test_the_loaders_argument_errors_as_pytorch(kwargs):
    with pytest.raises(ValueError):
        tud.DataLoader(_tensor_data(torch), **kwargs)
    with pytest.raises(ValueError, match="DataLoader: "):
        crd.DataLoader(_tensor_data(cr), **kwargs)


def test_an_empty_dataset_gives_no_batches():
    assert list(crd.DataLoader(crd.TensorDataset(cr.zeros(0, 2)))) == []
    assert list(tud.DataLoader(tud.TensorDataset(torch.zeros(0, 2)))) == []


def test_shuffling_from_a_generator_as_pytorch():
    g = cr.Generator().manual_seed(0)
    loader = crd.DataLoader(_tensor_data(cr, 20), batch_size=20, shuffle=True, generator=g)
    first = next(iter(loader))[1].numpy()
    second = next(iter(loader))[1].numpy()
    g.manual_seed(0)
    replay = next(iter(loader))[1].numpy()
    np.testing.assert_array_equal(first, replay)
    assert not np.array_equal(first, second)
    x = next(iter(loader))[0].numpy()
    assert sorted(x[:, 0].tolist()) == list(range(0, 40, 2))  # a permutation of the samples
    # The order comes from PCG64 for that seed: the permutation NumPy draws.
    g.manual_seed(3)
    order = next(iter(loader))[0].numpy()[:, 0] / 2
    np.testing.assert_array_equal(order, np.random.Generator(np.random.PCG64(3)).permutation(20))
    with pytest.raises(TypeError, match="generator"):
        crd.DataLoader(_tensor_data(cr), generator=5)


# --------------------------------------------------------------------- datasets
@pytest.mark.parametrize(
    ("n", "lengths"),
    [
        (10, [0.3, 0.7]),
        (10, [0.33, 0.33, 0.34]),
        (11, [0.5, 0.5]),
        (10, [0.1] * 10),
        (10, [3, 7]),
        (10, [0, 10]),
        (1797, [0.8, 0.2]),
    ],
)
def test_random_split_lengths_as_pytorch(n, lengths):
    mine = crd.random_split(range(n), lengths)
    theirs = tud.random_split(range(n), lengths)
    assert [len(s) for s in mine] == [len(s) for s in theirs]
    assert all(isinstance(s, crd.Subset) for s in mine)
    picked = [i for s in mine for i in s]
    assert sorted(picked) == list(range(n))  # a partition


def test_random_split_warns_and_refuses_as_pytorch():
    for lib in (crd, tud):
        with pytest.warns(UserWarning) as caught:
            sizes = [len(s) for s in lib.random_split(range(7), [0.1] * 10)]
        assert sizes == [1] * 7 + [0] * 3
        assert ["index 7" in str(w.message) for w in caught] == [True, False, False]
    for lengths, kind in [
        ([3, 8], ValueError),
        ([0.5, 0.6], ValueError),
        ([1.5, -0.5], ValueError),
    ]:
        with pytest.raises(ValueError):
            tud.random_split(range(10), lengths)
        with pytest.raises(kind, match="random_split"):
            crd.random_split(range(10), lengths)
    with pytest.raises(TypeError):
        tud.random_split(range(10), [3, 7.0])
    with pytest.raises(TypeError, match="whole numbers"):
        crd.random_split(range(10), [3, 7.0])
    with pytest.raises(ValueError, match="non-negative"):  # PyTorch returns nonsense here
        crd.random_split(range(10), [-1, 11])


def test_random_split_is_reproducible():
    def split(**kw):
        return [s.indices for s in crd.random_split(range(30), [10, 20], **kw)]

    assert split(generator=cr.Generator().manual_seed(42)) == split(
        generator=cr.Generator().manual_seed(42)
    )
    expected = np.random.Generator(np.random.PCG64(42)).permutation(30).tolist()
    first, second = split(generator=cr.Generator().manual_seed(42))
    assert first + second == expected
    cr.manual_seed(1)
    a = split()
    cr.manual_seed(1)
    assert split() == a


def test_subset_and_concat_as_pytorch():
    for L, lib in ((cr, crd), (torch, tud)):
        ds = _tensor_data(L)
        sub = lib.Subset(ds, [1, 3, 8])
        assert len(sub) == 3
        batch = sub[[0, 2]]  # a list reaches the dataset as one fancy index
        assert batch[1].tolist() == [1, 2]
        assert sub[-1][1].item() == 2
        both = ds + ds
        assert isinstance(both, lib.ConcatDataset) and len(both) == 20
        assert both[12][0].tolist() == [4.0, 5.0] and both[-1][1].item() == 0
        assert len(lib.ConcatDataset([sub, ds])) == 13
    with pytest.raises(ValueError, match="out of range"):
        (_tensor_data(cr) + _tensor_data(cr))[-21]
    with pytest.raises(ValueError, match="empty"):
        crd.ConcatDataset([])
    # A subset feeds a loader, as the split of a data set does.
    train, _ = crd.random_split(_tensor_data(cr), [0.8, 0.2], generator=cr.Generator())
    xs = [x for x, _ in crd.DataLoader(train, batch_size=3)]
    assert sum(len(x) for x in xs) == 8 and xs[0].shape == (3, 2)


def test_a_sampler_subclass_orders_the_batches_as_in_pytorch():
    for L in (cr, torch):

        class EvensThenOdds(L.utils.data.Sampler):
            def __init__(self, n):
                super().__init__()
                self.n = n

            def __iter__(self):
                return iter([*range(0, self.n, 2), *range(1, self.n, 2)])

            def __len__(self):
                return self.n

        ds = L.utils.data.TensorDataset(L.arange(6))
        loader = L.utils.data.DataLoader(ds, batch_size=4, sampler=EvensThenOdds(6))
        assert [b[0].tolist() for b in loader] == [[0, 2, 4, 1], [3, 5]] and len(loader) == 2
        with pytest.raises(NotImplementedError):
            iter(L.utils.data.Sampler())
