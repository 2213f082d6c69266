"""Data: the loader's epochs and shuffles, every data set, and the IDX parser on files the
tests write themselves (no network)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, TensorDataset, idx


# ------------------------------------------------------------------ the loader
@pytest.mark.parametrize(
    ("n", "batch", "drop_last"), [(10, 3, False), (10, 3, True), (12, 4, False), (5, 8, False)]
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once_per_epoch(n, batch, drop_last, shuffle):
    ds = TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))
    loader = DataLoader(ds, batch_size=batch, shuffle=shuffle, drop_last=drop_last, seed=3)
    for _ in range(3):
        seen = np.concatenate([y.numpy() for _, y in loader])
        sizes = [len(y) for _, y in loader]
        expected = n - n % batch if drop_last else n
        assert len(seen) == expected == sum(sizes)
        assert len(set(seen.tolist())) == expected
        assert len(loader) == len(sizes)
        if not drop_last:
            assert sorted(seen.tolist()) == list(range(n))
        if not shuffle:
            assert seen.tolist() == list(range(expected))


def test_shuffles_are_reproducible_and_differ_between_epochs():
    ds = TensorDataset(np.zeros((50, 1), np.float32), np.arange(50))
    a, b = DataLoader(ds, 10, shuffle=True, seed=7), DataLoader(ds, 10, shuffle=True, seed=7)
    first = [np.concatenate([y.numpy() for _, y in a]) for _ in range(3)]
    second = [np.concatenate([y.numpy() for _, y in b]) for _ in range(3)]
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[0], first[1])
    c = DataLoader(ds, 10, shuffle=True, seed=7)
    c.set_epoch(2)  # resuming at epoch 2 gives epoch 2's order
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in c]), first[2])
    assert not np.array_equal(DataLoader(ds, 10, shuffle=True, seed=8).order(0), a.order(0))


def test_default_seed_comes_from_manual_seed():
    ds = TensorDataset(np.zeros((20, 1), np.float32), np.arange(20))
    cr.manual_seed(5)
    a = DataLoader(ds, 4, shuffle=True).order(0)
    cr.manual_seed(5)
    np.testing.assert_array_equal(DataLoader(ds, 4, shuffle=True).order(0), a)


def test_a_generic_dataset_is_collated_into_tensors():
    class Squares(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i % 2

    batches = list(DataLoader(Squares(), batch_size=3))
    x, y = batches[0]
    assert x.shape == (3, 2) and x.dtype == cr.float32 and y.tolist() == [0, 1, 0]
    assert [len(b[1]) for b in batches] == [3, 3, 1]


def test_loader_and_dataset_errors():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.zeros((3, 2))), batch_size=0)


# ------------------------------------------------------------------ the data sets
def test_validation_split_is_stratified_seeded_and_disjoint():
    x = np.arange(200, dtype=np.float32)[:, None]
    y = np.array([0] * 120 + [1] * 60 + [2] * 20)
    ds = cr.data.TensorDataset(x, y)
    train, val = cr.data.validation_split(ds, 0.1, seed=3, stratify=True)
    assert np.bincount(val.tensors[1].numpy()).tolist() == [12, 6, 2]  # 10% of each class
    assert np.bincount(train.tensors[1].numpy()).tolist() == [108, 54, 18]
    seen = np.concatenate([train.tensors[0].numpy()[:, 0], val.tensors[0].numpy()[:, 0]])
    assert sorted(seen.tolist()) == x[:, 0].tolist()  # every sample once
    again = cr.data.validation_split(ds, 0.1, seed=3, stratify=True)[1]
    other = cr.data.validation_split(ds, 0.1, seed=4, stratify=True)[1]
    assert np.array_equal(again.tensors[0].numpy(), val.tensors[0].numpy())
    assert not np.array_equal(other.tensors[0].numpy(), val.tensors[0].numpy())
    plain = cr.data.validation_split(ds, 0.25, seed=3)[1]
    assert len(plain) == 50
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\), got 1.0"):
        cr.data.validation_split(ds, 1.0)
    with pytest.raises(ValueError, match="leaves no validation sample"):
        cr.data.validation_split(ds, 0.001)
    with pytest.raises(ValueError, match="stratify needs class labels"):
        cr.data.validation_split(cr.data.TensorDataset(x, x), 0.1, stratify=True)


def test_digits_are_the_real_uci_digits():
    d = cr.data.load("digits")
    assert len(d.train) + len(d.test) == 1797 and len(d.test) == round(1797 * 0.2)
    x = np.concatenate([d.train.tensors[0].numpy(), d.test.tensors[0].numpy()])
    y = np.concatenate([d.train.tensors[1].numpy(), d.test.tensors[1].numpy()])
    assert x.shape == (1797, 64) and x.dtype == np.float32 and x.min() >= 0 and x.max() == 1.0
    assert y.dtype == np.int64 and set(y.tolist()) == set(range(10))
    assert np.bincount(y).min() >= 170  # about 180 of each digit
    assert d.num_classes == 10 and d.input_shape == (64,)
    images = cr.data.load("digits", flatten=False)
    assert images.train.tensors[0].shape[1:] == (1, 8, 8) and images.input_shape == (1, 8, 8)
    # the same seed gives the same split, another seed another one
    np.testing.assert_array_equal(
        cr.data.load("digits").test.tensors[1].numpy(), d.test.tensors[1].numpy()
    )
    assert not np.array_equal(
        cr.data.load("digits", seed=1).test.tensors[1].numpy(), d.test.tensors[1].numpy()
    )


@pytest.mark.parametrize(
    ("name", "classes", "features"),
    [("spirals", 3, 2), ("moons", 2, 2), ("circles", 2, 2), ("blobs", 3, 2), ("xor", 2, 2)],
)
def test_generated_classification_sets(name, classes, features):
    d = cr.data.load(name)
    x, y = d.train.tensors
    assert x.dtype == cr.float32 and y.dtype == cr.int64
    assert x.shape[1:] == (features,) and d.num_classes == classes
    labels = np.concatenate([y.numpy(), d.test.tensors[1].numpy()])
    assert set(labels.tolist()) == set(range(classes))
    again = cr.data.load(name)
    np.testing.assert_array_equal(again.train.tensors[0].numpy(), x.numpy())
    assert not np.array_equal(cr.data.load(name, seed=4).train.tensors[0].numpy(), x.numpy())


def test_xor_is_not_linearly_separable_but_labelled_by_signs():
    x, y = cr.data.synthetic.xor(n=400, noise=0.05)
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64))


def test_regression_with_outliers():
    x, y = cr.data.synthetic.regression(n=200, outlier_fraction=0.1, noise=0.1)
    assert x.shape == y.shape == (200, 1)
    residual = y[:, 0] - (2 * x[:, 0] + 1)
    assert (residual > 3).sum() == 20 and np.abs(residual[residual < 3]).max() < 0.6
    d = cr.data.load("regression")
    assert d.task == "regression" and d.num_classes is None


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown dataset 'cifar'; known datasets: blobs, circles, digits"
    ):
        cr.data.load("cifar")
    with pytest.raises(ValueError, match="moons"):
        cr.data.load("moons", wrong_option=3)


# ------------------------------------------------------------------ IDX files
def _idx_bytes(array: np.ndarray) -> bytes:
    code = {
        np.uint8: 0x08,
        np.int8: 0x09,
        np.int16: 0x0B,
        np.int32: 0x0C,
        np.float32: 0x0D,
        np.float64: 0x0E,
    }
    header = bytes([0, 0, code[array.dtype.type], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_parser_reads_every_type(tmp_path, dtype, compress):
    array = (np.arange(24).reshape(2, 3, 4) * (1.5 if np.dtype(dtype).kind == "f" else 1)).astype(
        dtype
    )
    raw = _idx_bytes(array)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = idx.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


def test_idx_parser_rejects_bad_files(tmp_path):
    good = _idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    (tmp_path / "short").write_bytes(good[:-2])
    with pytest.raises(
        ValueError, match=r"holds 10 bytes of data, but its header \(3, 4\) of uint8 needs 12"
    ):
        idx.read_idx(tmp_path / "short")
    (tmp_path / "magic").write_bytes(b"\x01\x02\x08\x01" + good[4:])
    with pytest.raises(ValueError, match="not an IDX file"):
        idx.read_idx(tmp_path / "magic")
    (tmp_path / "gz").write_bytes(gzip.compress(good)[:20])
    with pytest.raises(ValueError, match="damaged gzip"):
        idx.read_idx(tmp_path / "gz")


def _write_fake_mnist(folder, n_train=6, n_test=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, array in files.items():
        (folder / name).write_bytes(gzip.compress(_idx_bytes(array)))
    return files


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_loader_reads_local_idx_files(tmp_path, name):
    files = _write_fake_mnist(tmp_path / name)
    d = cr.data.load(name, root=tmp_path)
    assert len(d.train) == 6 and len(d.test) == 4 and d.input_shape == (784,)
    x, y = d.train.tensors
    np.testing.assert_allclose(
        x.numpy().reshape(6, 28, 28), files["train-images-idx3-ubyte.gz"] / 255.0, rtol=1e-6
    )
    assert y.dtype == cr.int64 and y.tolist() == list(range(6))
    images = cr.data.load(name, root=tmp_path, flatten=False)
    assert images.train.tensors[0].shape == (6, 1, 28, 28)


def test_mnist_without_files_or_download_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        cr.data.load("mnist", root=tmp_path)
    assert set(idx.MNIST["files"]) == set(idx.FASHION_MNIST["files"])
    assert all(
        len(h) == 64 for h in [*idx.MNIST["files"].values(), *idx.FASHION_MNIST["files"].values()]
    )
