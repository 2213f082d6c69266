"""Callbacks: code that ``fit`` runs after every batch (after its backward pass, and
after its step) and at the end of every epoch.

Each receives the training state (``state.model``, ``state.optimizer``,
``state.history``, ``state.epoch``...) and the batch's numbers or the epoch's record;
setting ``state.stop`` at the end of an epoch ends training after it, at the end of a
batch ends it at once, abandoning the epoch (see :func:`~chainrule.train.fit`).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from pathlib import Path

from chainrule._backend import xp
from chainrule.io import atomic_write_bytes
from chainrule.train.checkpoint import save_checkpoint

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "JSONLogger",
    "ModelCheckpoint",
    "TerminateOnNaN",
]


class Callback:
    """Base class; override the hooks you need."""

    def on_train_begin(self, state) -> None:
        pass

    def on_after_backward(self, state, inputs, targets, loss) -> None:
        """After ``loss.backward()`` on a batch, before gradient clipping and the
        optimizer's step: the batch's gradients are in the parameters' ``.grad``."""

    def on_batch_end(self, state, batch: dict) -> None:
        """After each optimizer step; ``batch``: ``epoch`` and ``step`` (both from 1),
        ``steps`` (batches in the epoch) and the batch's ``loss``."""

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
    epochs; with ``restore_best_weights`` put back the weights of the best epoch.

    At the start of training it replays the history it is given, so a resumed run stops
    where the straight run would (at once, training no further epoch, when the run had
    already stopped at its last recorded epoch). (The weights of a best epoch before the resume are not
    in the checkpoint: ``restore_best_weights`` only restores epochs of the current run.)
    """

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

    def on_train_begin(self, state) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = self.best_weights = self.stopped_epoch = None
        self.wait = 0
        for record in state.history.records:  # the epochs before a resume
            self._observe(record)
        if state.history.records and self.wait >= self.patience:
            # The run being resumed had already stopped here: train no further epoch.
            state.stop = True
            self.stopped_epoch = state.history.records[-1].get("epoch")

    def _observe(self, record: dict) -> bool:
        """Count the epoch; whether it improved on the best so far."""
        value = _value(record, self.monitor)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, record.get("epoch"), 0
            return True
        self.wait += 1
        return False

    def on_epoch_end(self, state, record: dict) -> None:
        if self._observe(record):
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(state.model.state_dict())
        elif self.wait >= self.patience:
            state.stop = True
            self.stopped_epoch = record.get("epoch")

    def on_train_end(self, state) -> None:
        if (
            self.restore_best_weights
            and self.best_weights is not None
            and self.stopped_epoch is not None
        ):
            state.model.load_state_dict(self.best_weights)


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is not finite (nan or inf), as
    Keras's callback of that name does, or whose step left a weight or a buffer of the
    model non-finite (checked at the end of each epoch, before anything is saved).

    The epoch in progress is abandoned, so no checkpoint of it is written and the last
    one saved stays the last good one. ``stopped`` then holds the batch (``epoch``,
    ``step``, ``steps``, ``loss``) and ``what`` went wrong, and :attr:`message` says it
    with the usual remedies (printed, unless ``verbose=False``).
    """

    def __init__(self, verbose: bool = True) -> None:
        self.verbose = verbose
        self.stopped: dict | None = None
        self.lr = None

    def on_train_begin(self, state) -> None:
        self.stopped = None

    def on_batch_end(self, state, batch: dict) -> None:
        if not math.isfinite(batch["loss"]):
            what = f"the loss became {batch['loss']}"
        elif batch["step"] == batch["steps"] and not _finite(state.model):
            what = "a weight of the model became inf or nan"
        else:
            return
        self.stopped = {**batch, "what": what}
        self.lr = state.optimizer.param_groups[0].get("lr") if state.optimizer else None
        state.stop = True
        if self.verbose:
            print(self.message, flush=True)

    @property
    def message(self) -> str | None:
        """What happened and what usually helps, or None if training did not stop here."""
        s = self.stopped
        if s is None:
            return None
        lr = "" if self.lr is None else f" (this run used {self.lr:g})"
        return (
            f"{s['what']} at epoch {s['epoch']}, step {s['step']} of {s['steps']}; training "
            f"stopped and epoch {s['epoch']} was not recorded. Likely remedies: a smaller "
            f"learning rate{lr}, gradient clipping (clip_grad_norm), inputs scaled to about "
            "unit size."
        )


def _finite(model) -> bool:
    """Whether every floating value of the model's parameters and buffers is finite."""
    return all(
        bool(xp.isfinite(t._array).all())
        for t in model.state_dict().values()
        if t._array.dtype.kind == "f"
    )


class ModelCheckpoint(Callback):
    """Save a training checkpoint after each epoch (``save_best_only``: only when
    ``monitor`` improves on every epoch of the history, resumed ones included). ``path``
    may contain ``{epoch}``."""

    def __init__(
        self, path, monitor: str = "val_loss", mode: str = "auto", save_best_only: bool = False
    ) -> None:
        self.path, self.monitor, self.save_best_only = str(path), monitor, save_best_only
        self.mode = _mode(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_train_begin(self, state) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.save_best_only:
            for record in state.history.records:
                self._better(record)

    def _better(self, record: dict) -> bool:
        value = _value(record, self.monitor)
        better = value < self.best if self.mode == "min" else value > self.best
        if better:
            self.best = value
        return better

    def on_epoch_end(self, state, record: dict) -> None:
        if self.save_best_only and not self._better(record):
            return
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
