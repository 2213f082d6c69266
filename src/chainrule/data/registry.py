"""``cr.data.load(name)``: every data set behind one name.

Each loader returns a :class:`Splits` with ``train`` and ``test`` TensorDatasets (float32
features; int64 class labels, or float32 targets for regression) and what a model needs
to know: ``num_classes``, ``input_shape``, ``task``.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from chainrule.data import idx, synthetic
from chainrule.data.dataset import TensorDataset

__all__ = ["DATASETS", "Splits", "available", "load"]

_DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


@dataclass
class Splits:
    """A data set split for training and testing."""

    name: str
    train: TensorDataset
    test: TensorDataset
    num_classes: int | None
    input_shape: tuple
    task: str = "classification"
    description: str = ""
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        classes = f", {self.num_classes} classes" if self.num_classes else ""
        return (
            f"Splits({self.name!r}: {len(self.train)} train / {len(self.test)} test, "
            f"input {self.input_shape}{classes})"
        )


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])


def _images(x: np.ndarray, flatten: bool) -> np.ndarray:
    return x.reshape(len(x), -1) if flatten else x[:, None]


def _digits(flatten: bool = True, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    raw = resources.files("chainrule.data").joinpath("files/digits.csv.gz").read_bytes()
    if hashlib.sha256(raw).hexdigest() != _DIGITS_SHA256:
        raise OSError(
            "digits: the bundled digits.csv.gz does not match its recorded SHA-256; reinstall chainrule"
        )
    table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.int64)
    x = (table[:, :64] / 16.0).astype(np.float32).reshape(-1, 8, 8)
    y = table[:, 64].astype(np.int64)
    train, test = _split(_images(x, flatten), y, test_fraction, seed)
    shape = (64,) if flatten else (1, 8, 8)
    return Splits(
        "digits",
        train,
        test,
        10,
        shape,
        description="UCI optical handwritten digits, 1,797 8x8 images scaled to [0, 1]",
    )


def _idx_set(
    name: str, source: dict, root=None, download: bool = False, flatten: bool = True
) -> Splits:
    paths = idx.fetch(source, name, root, download)

    def images(f):
        return idx.read_idx(paths[f]).astype(np.float32) / 255.0

    def labels(f):
        return idx.read_idx(paths[f]).astype(np.int64)

    x_train, x_test = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
    y_train, y_test = labels("train-labels-idx1-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")
    for xs, ys, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(xs) != len(ys) or xs.ndim != 3:
            raise ValueError(
                f"{name}: the {split} images {xs.shape} and labels {ys.shape} do not fit together"
            )
    h, w = x_train.shape[1:]
    return Splits(
        name,
        TensorDataset(_images(x_train, flatten), y_train),
        TensorDataset(_images(x_test, flatten), y_test),
        10,
        (h * w,) if flatten else (1, h, w),
        description=f"{name}: 28x28 grey images in [0, 1]",
    )


def _synthetic(name: str, make, task: str = "classification"):
    def loader(
        test_fraction: float = 0.25, seed: int = 0, flatten: bool = True, **options
    ) -> Splits:
        # The features are already flat vectors; ``flatten`` is accepted so every data set
        # takes the same options.
        x, y = make(seed=seed, **options)
        train, test = _split(x, y, test_fraction, seed + 1)
        classes = int(y.max()) + 1 if task == "classification" else None
        return Splits(
            name,
            train,
            test,
            classes,
            tuple(x.shape[1:]),
            task,
            description=(make.__doc__ or "").strip().split("\n")[0],
        )

    return loader


DATASETS = {
    "digits": _digits,
    "mnist": lambda **kw: _idx_set("mnist", idx.MNIST, **kw),
    "fashion-mnist": lambda **kw: _idx_set("fashion-mnist", idx.FASHION_MNIST, **kw),
    "spirals": _synthetic("spirals", synthetic.spirals),
    "moons": _synthetic("moons", synthetic.moons),
    "circles": _synthetic("circles", synthetic.circles),
    "blobs": _synthetic("blobs", synthetic.blobs),
    "xor": _synthetic("xor", synthetic.xor),
    "regression": _synthetic("regression", synthetic.regression, task="regression"),
}


def available() -> list[str]:
    """The names :func:`load` knows."""
    return sorted(DATASETS)


def load(name: str, **options) -> Splits:
    """Load a data set by name (see :func:`available`). Options go to its loader: e.g.
    ``flatten=False`` for images as (1, H, W), ``seed`` and ``test_fraction`` for the
    split, ``root`` and ``download=True`` for MNIST and Fashion-MNIST, ``noise`` and sizes
    for the generated sets."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(available())}")
    try:
        return DATASETS[name](**options)
    except TypeError as err:
        raise ValueError(f"dataset {name!r}: {err}") from None
