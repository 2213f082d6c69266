"""Callbacks: code that ``fit`` runs at the end of every epoch (and after every batch's
backward pass).

Each receives the training state (``state.model``, ``state.optimizer``,
``state.history``, ``state.epoch``...) and the epoch's record; setting ``state.stop``
ends training after this epoch.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from pathlib import Path

from chainrule.io import atomic_write_bytes
from chainrule.train.checkpoint import save_checkpoint

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "JSONLogger", "ModelCheckpoint"]


class Callback:
    """Base class; override the hooks you need."""

    def on_train_begin(self, state) -> None:
        pass

    def on_after_backward(self, state, inputs, targets, loss) -> None:
        """After ``loss.backward()`` on a batch, before gradient clipping and the
        optimizer's step: the batch's gradients are in the parameters' ``.grad``."""

    def on_epoch_end(self, state, record: dict) -> None:
        pass

    def on_train_end(self, state) -> None:
        pass


def _mode(monitor: str, mode: str) -> str:
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


def _value(record: dict, monitor: str) -> float:
    if monitor not in record:
        raise ValueError(f"cannot monitor {monitor!r}: the epoch recorded {', '.join(record)}")
    return float(record[monitor])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best_weights`` put back the weights of the best epoch."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.mode = _mode(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.best_weights = None
        self.wait = 0
        self.stopped_epoch = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, state, record: dict) -> None:
        value = _value(record, self.monitor)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, record.get("epoch"), 0
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(state.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop = True
            self.stopped_epoch = record.get("epoch")

    def on_train_end(self, state) -> None:
        if (
            self.restore_best_weights
            and self.best_weights is not None
            and self.stopped_epoch is not None
        ):
            state.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save a training checkpoint after each epoch (``save_best_only``: only when
    ``monitor`` improves). ``path`` may contain ``{epoch}``."""

    def __init__(
        self, path, monitor: str = "val_loss", mode: str = "auto", save_best_only: bool = False
    ) -> None:
        self.path, self.monitor, self.save_best_only = str(path), monitor, save_best_only
        self.mode = _mode(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_epoch_end(self, state, record: dict) -> None:
        if self.save_best_only:
            value = _value(record, self.monitor)
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        path = self.path.format(epoch=record.get("epoch"))
        save_checkpoint(
            path,
            state.model,
            state.optimizer,
            state.scheduler,
            state.epoch,
            state.history,
            state.extra,
        )
        self.saved.append(path)


class CSVLogger(Callback):
    """Keep ``path`` a CSV of the history, one row per epoch (rewritten atomically)."""

    def __init__(self, path) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state, record: dict) -> None:
        out = io.StringIO()
        keys = state.history.keys()
        writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for r in state.history.records:
            writer.writerow({k: r.get(k, "") for k in keys})
        atomic_write_bytes(self.path, out.getvalue().encode())


class JSONLogger(Callback):
    """Keep ``path`` a JSON list of the epoch records (rewritten atomically)."""

    def __init__(self, path) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state, record: dict) -> None:
        atomic_write_bytes(self.path, json.dumps(state.history.records, indent=1).encode())
