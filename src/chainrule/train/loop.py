"""``fit`` and ``evaluate``: the training loop, short enough to read in one glance.

Per batch: ``zero_grad`` -> forward -> loss -> ``backward`` -> callbacks'
``on_after_backward`` -> (clip) -> ``step``.
When a penalty is given, the loss minimised is the structural risk: the empirical risk
(the data loss) plus the penalty, and both are recorded separately.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from chainrule.autograd.grad_mode import no_grad
from chainrule.data.dataset import Dataset, TensorDataset
from chainrule.data.loader import DataLoader
from chainrule.nn.utils import clip_grad_norm_
from chainrule.random import draw_seed
from chainrule.train.history import History

__all__ = ["TrainState", "accuracy", "evaluate", "fit"]


def accuracy(outputs, targets) -> float | None:
    """The fraction of correct predictions, or None when it is not defined:
    class-index targets (argmax of (N, C) outputs) or -1/+1 targets (sign of the output)."""
    out = outputs._array if hasattr(outputs, "_array") else np.asarray(outputs)
    t = targets._array if hasattr(targets, "_array") else np.asarray(targets)
    if t.dtype.kind in "iu" and out.ndim == t.ndim + 1:
        return float((out.argmax(axis=1) == t).mean())
    if t.dtype.kind == "f" and out.shape == t.shape and np.isin(t, (-1.0, 1.0)).all():
        return float((np.where(out > 0, 1.0, -1.0) == t).mean())
    return None


def _loader(data, batch_size: int, shuffle: bool, seed) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, tuple | list) and len(data) == 2:
        data = TensorDataset(*data)
    if not isinstance(data, Dataset):
        raise TypeError(
            f"expected a DataLoader, a Dataset or an (inputs, targets) pair, got {type(data).__name__}"
        )
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)


@dataclass
class TrainState:
    """What callbacks see: the objects being trained and where training stands."""

    model: object
    optimizer: object
    scheduler: object
    history: History
    epoch: int = 0
    stop: bool = False
    extra: dict = field(default_factory=dict)


class _Mean:
    """Running mean of per-batch values weighted by batch size."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.count = 0

    def add(self, n: int, **values) -> None:
        self.count += n
        for k, v in values.items():
            if v is not None:
                self.total[k] = self.total.get(k, 0.0) + float(v) * n

    def means(self) -> dict:
        return {k: v / self.count for k, v in self.total.items()}


def evaluate(model, loss_fn, data, batch_size: int = 1024, metrics: dict | None = None) -> dict:
    """Mean loss (and accuracy / other metrics) of ``model`` on ``data``, without a graph
    and in eval mode (the model's mode is restored afterwards)."""
    loader = _loader(data, batch_size, False, 0)
    metrics = {"accuracy": accuracy} if metrics is None else metrics
    was_training = model.training
    model.eval()
    mean = _Mean()
    try:
        with no_grad():
            for x, y in loader:
                out = model(x)
                values = {name: fn(out, y) for name, fn in metrics.items()}
                mean.add(len(y), loss=loss_fn(out, y).item(), **values)
    finally:
        model.train(was_training)
    return mean.means()


def _describe(record: dict) -> str:
    parts = [f"epoch {record['epoch']}"]
    for key in ("loss", "risk", "penalty", "accuracy", "val_loss", "val_accuracy"):
        if key in record:
            parts.append(f"{key} {record[key]:.4f}")
    parts.append(f"({record['time']:.1f}s)")
    return "  ".join(parts)


def fit(
    model,
    loss_fn,
    optimizer,
    train_data,
    epochs: int,
    val_data=None,
    callbacks=(),
    scheduler=None,
    clip_grad_norm: float | None = None,
    penalty=None,
    batch_size: int = 32,
    seed: int | None = None,
    metrics: dict | None = None,
    verbose: int = 1,
    history: History | None = None,
    start_epoch: int = 0,
    extra: dict | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs (counting from ``start_epoch`` when resuming).

    ``train_data``/``val_data``: a DataLoader, a Dataset, or an ``(inputs, targets)`` pair
    (batched by ``batch_size``, shuffled with ``seed``; without one, the seed is drawn
    from the library's generator, once per run: it is kept in the history, and a run
    resumed with that history uses it again). ``penalty(model)`` returns the
    regularisation term added to the loss. ``clip_grad_norm`` clips the gradients' total
    norm before each step. ``scheduler.step()`` runs once per epoch. ``metrics`` maps names
    to ``fn(outputs, targets) -> float`` (default: accuracy where it is defined).
    ``verbose``: 0 silent, 1 a progress bar (only on a terminal) and a line per epoch.
    Callbacks see each batch (``on_after_backward``, then ``on_batch_end`` after the
    step) and each epoch (``on_epoch_end``); one that sets ``state.stop`` at the end of a
    batch ends training at once, and that epoch is neither
    recorded nor passed to ``on_epoch_end`` (so no checkpoint of it is written): pass
    :class:`~chainrule.train.TerminateOnNaN` to stop a run whose loss stops being finite.
    Returns the :class:`History` (one record per finished epoch).
    """
    history = history if history is not None else History()
    if not isinstance(train_data, DataLoader):
        if seed is None:
            # Drawn at the start of a run only: a resumed run restored the generator to
            # where the first one stopped, so a draw now would give another data order.
            seed = history.seed if history.seed is not None else draw_seed()
        history.seed = seed
    loader = _loader(train_data, batch_size, True, seed)
    metrics = {"accuracy": accuracy} if metrics is None else metrics
    state = TrainState(model, optimizer, scheduler, history, start_epoch, extra=extra or {})
    for cb in callbacks:
        cb.on_train_begin(state)
    # A callback may stop before the first epoch (a resumed run that had already stopped).
    remaining = range(start_epoch, epochs) if not state.stop else range(0)
    for epoch in remaining:
        start = time.perf_counter()
        model.train()
        loader.set_epoch(epoch)
        mean = _Mean()
        batches = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{epochs}",
            leave=False,
            file=sys.stderr,
            disable=None if verbose else True,
        )
        steps = len(loader)
        for step, (x, y) in enumerate(batches, 1):
            optimizer.zero_grad()
            out = model(x)
            risk = loss_fn(out, y)
            extra_term = penalty(model) if penalty is not None else None
            loss = risk + extra_term if extra_term is not None else risk
            loss.backward()
            for cb in callbacks:
                cb.on_after_backward(state, x, y, loss)
            if clip_grad_norm is not None:
                clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            value = loss.item()
            values = {name: fn(out, y) for name, fn in metrics.items()}
            mean.add(
                len(y),
                loss=value,
                **values,
                **(
                    {"risk": risk.item(), "penalty": extra_term.item()}
                    if extra_term is not None
                    else {}
                ),
            )
            if not batches.disable:
                batches.set_postfix({k: f"{v:.4f}" for k, v in mean.means().items()}, refresh=False)
            batch = {"epoch": epoch + 1, "step": step, "steps": steps, "loss": value}
            for cb in callbacks:
                cb.on_batch_end(state, batch)
            if state.stop:
                break
        batches.close()
        if state.stop:  # stopped within the epoch: the epoch is abandoned, not recorded
            break
        record = {"epoch": epoch + 1, **mean.means(), "lr": optimizer.param_groups[0]["lr"]}
        if scheduler is not None:
            scheduler.step()
        if val_data is not None:
            for k, v in evaluate(model, loss_fn, val_data, metrics=metrics).items():
                record[f"val_{k}"] = v
        record["time"] = time.perf_counter() - start
        history.append(record)
        state.epoch = epoch + 1
        if verbose:
            print(_describe(record), flush=True)
        for cb in callbacks:
            cb.on_epoch_end(state, record)
        if state.stop:
            break
    for cb in callbacks:
        cb.on_train_end(state)
    return history
