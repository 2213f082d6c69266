"""Pieces several experiments share: seeded generators, the digits, a plain training loop."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.train.loop import accuracy

__all__ = [
    "OPTIMIZERS",
    "Split",
    "digits",
    "evaluate",
    "mlp",
    "noisy_digits",
    "optimizer",
    "rng",
    "train_epoch",
]

#: The update rules the optimizer experiments compare, in the order of the table in
#: docs/fundamentals.md §4.
OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "AdamW")


def rng(seed: int, stream: int = 0) -> np.random.Generator:
    """A generator for ``seed``; distinct ``stream`` numbers give independent streams."""
    return np.random.default_rng([seed, stream])


@dataclass
class Split:
    """Arrays of a data set: train, validation and test features and labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def digits(seed: int, n_train: int | None = None, n_val: int = 300) -> Split:
    """The bundled 8x8 digits (64 features in [0, 1], 10 classes).

    The library's fixed test split stays the test set; the rest is shuffled with ``seed``
    into ``n_val`` validation samples and ``n_train`` training samples (all the rest by
    default).
    """
    splits = cr.data.load("digits")
    x, y = (t.numpy() for t in splits.train.tensors)
    x_test, y_test = (t.numpy() for t in splits.test.tensors)
    order = rng(seed, 99).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    if n_train is not None:
        train = train[:n_train]
    return Split(x[train], y[train], x[val], y[val], x_test, y_test)


def noisy_digits(seed: int, n_train: int | None, label_noise: float) -> Split:
    """:func:`digits` with a fraction ``label_noise`` of the training labels changed to
    another class (validation and test labels stay right)."""
    data = digits(seed, n_train=n_train)
    gen = rng(seed, 7)
    flip = gen.random(len(data.y_train)) < label_noise
    shift = gen.integers(1, 10, size=len(data.y_train))  # to any other class
    data.y_train = np.where(flip, (data.y_train + shift) % 10, data.y_train)
    return data


def optimizer(name: str, params, lr: float):
    """One of :data:`OPTIMIZERS` at rate ``lr`` (momentum 0.9; AdamW's decay 1e-2)."""
    if name in ("SGD", "Momentum", "Nesterov"):
        mu = 0.0 if name == "SGD" else 0.9
        return optim.SGD(params, lr=lr, momentum=mu, nesterov=name == "Nesterov")
    if name == "Adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "RMSprop":
        return optim.RMSprop(params, lr=lr)
    if name == "Adam":
        return optim.Adam(params, lr=lr)
    return optim.AdamW(params, lr=lr, weight_decay=1e-2)


def mlp(sizes, activation=nn.ReLU, batchnorm: bool = False, dropout: float = 0.0):
    """``Linear [BatchNorm] activation [Dropout]`` per hidden width, then ``Linear``."""
    layers = []
    for fan_in, fan_out in pairwise(sizes[:-1]):
        layers.append(nn.Linear(fan_in, fan_out))
        if batchnorm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(activation())
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def train_epoch(model, loss_fn, optimizer, x, y, batch_size: int, gen: np.random.Generator):
    """One pass over ``(x, y)`` in shuffled mini-batches; returns the mean loss."""
    model.train()
    order = gen.permutation(len(x))
    total = 0.0
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(cr.tensor(x[idx])), cr.tensor(y[idx]))
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(x)


def evaluate(model, loss_fn, x, y) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on ``(x, y)``, in eval mode, without a graph."""
    was_training = model.training
    model.eval()
    with cr.no_grad():
        out = model(cr.tensor(x))
        loss = loss_fn(out, cr.tensor(y)).item()
    model.train(was_training)
    return loss, accuracy(out, y)
