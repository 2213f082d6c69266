"""A whole training run from a configuration: data, model, loss, optimizer, schedule,
penalties, training with a checkpoint after every epoch, the final test, and the files
under the output directory (``checkpoint.chainrule``, ``history.csv``, ``history.json``,
``results.json``, ``curves.png``). ``chainrule demo`` and ``chainrule train`` are thin
layers over it.

Honest figures: a validation split is held out of the training data (``val_split`` of it,
stratified by class for classification, drawn from ``seed``); the per-epoch ``val_*``
figures, early stopping and anything else that chooses use it alone. The test split is
evaluated once, after training, and nothing is chosen on it, so its figures estimate how
the model does on data it has never been selected for.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from chainrule import generator as _random
from chainrule.data.dataset import TensorDataset, validation_split
from chainrule.errors import TrainingDiverged
from chainrule.io import FormatError, atomic_write_bytes
from chainrule.train import recipes
from chainrule.train.callbacks import (
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    ModelCheckpoint,
    TerminateOnNaN,
)
from chainrule.train.checkpoint import read, restore
from chainrule.train.loop import accuracy, evaluate, fit

__all__ = ["ARCHITECTURE", "Config", "run"]


@dataclasses.dataclass
class Config:
    data: str = "digits"
    model: str = "mlp"
    hidden: tuple = (128, 64)
    activation: str = "relu"
    init: str = "default"
    dropout: float = 0.0
    batchnorm: bool = False
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    betas: tuple = (0.9, 0.999)
    eps: float | None = None
    schedule: str = "none"
    step_size: int = 10
    gamma: float = 0.5
    warmup: int = 5
    t_max: int | None = None
    l1: float = 0.0
    l2: float = 0.0
    clip_grad_norm: float | None = None
    epochs: int = 20
    batch_size: int = 32
    seed: int = 0
    patience: int | None = None
    val_split: float = 0.1
    data_root: str | None = None
    download: bool = False
    diagnose: bool = False
    diagnose_every: int = 25


# What a checkpoint must agree on with the options used to resume it.
ARCHITECTURE = (
    "data",
    "model",
    "hidden",
    "activation",
    "batchnorm",
    "dropout",
    "loss",
    "optimizer",
    "schedule",
    "val_split",
)


def _targets(split: TensorDataset, transform) -> TensorDataset:
    if transform is None:
        return split
    x, y = split.tensors
    return TensorDataset(x, transform(np.asarray(y._array)))


def run(config: Config, out_dir, resume=None, verbose: int = 1) -> dict:
    """Train as ``config`` says, writing into ``out_dir``; continue from the checkpoint
    ``resume`` if given. Returns the history, the final validation and test metrics
    (``"validation"`` is None without a validation split) and the files written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the output path {str(out)!r} exists and is not a directory")
    if config.patience and not config.val_split:
        raise ValueError("--patience stops on the validation loss; it needs a --val-split above 0")
    _random.manual_seed(config.seed)
    splits, spec = recipes.load_data(config)
    train, val = splits.train, None
    if config.val_split:
        train, val = validation_split(
            train,
            config.val_split,
            seed=config.seed,
            stratify=splits.task == "classification",
        )
        val = _targets(val, spec.targets)
    train, test = _targets(train, spec.targets), _targets(splits.test, spec.targets)
    model = recipes.build_model(
        splits.input_shape,
        spec.outputs,
        config.model,
        config.hidden,
        config.activation,
        config.dropout,
        config.batchnorm,
        config.init,
        memory=_available_memory(),
        copies=2 + recipes.OPTIMIZER_BUFFERS.get(config.optimizer, 2),
    )
    optimizer = recipes.build_optimizer(
        config.optimizer,
        model.parameters(),
        config.lr,
        config.momentum,
        config.weight_decay,
        config.betas,
        config.eps,
    )
    scheduler = recipes.build_schedule(
        config.schedule,
        optimizer,
        config.t_max or config.epochs,
        config.step_size,
        config.gamma,
        config.warmup,
    )
    penalty = recipes.build_penalty(config.l1, config.l2)
    metrics = spec.metric or {"accuracy": accuracy}

    history, start = None, 0
    if resume is not None:
        saved_state = read(resume)
        saved = saved_state["extra"].get("config", {})
        if not isinstance(saved, dict):
            raise FormatError(f"the checkpoint {str(resume)!r} has a malformed 'config' entry")
        differs = [
            k for k in ARCHITECTURE if k in saved and _plain(saved[k]) != _plain(getattr(config, k))
        ]
        if differs:
            was = " ".join(f"--{k.replace('_', '-')} {_plain(saved[k])}" for k in differs)
            raise ValueError(
                f"the checkpoint was trained with {was}; pass the same options to resume it"
            )
        state = restore(saved_state, model, optimizer, scheduler, resume)
        history, start = state["history"], state["epoch"]

    out.mkdir(parents=True, exist_ok=True)  # only now: a refused run leaves nothing behind
    checkpoint = out / "checkpoint.chainrule"
    diverged, saver = TerminateOnNaN(verbose=False), ModelCheckpoint(checkpoint)
    callbacks = [diverged, saver, CSVLogger(out / "history.csv"), JSONLogger(out / "history.json")]
    if config.patience:
        callbacks.append(EarlyStopping("val_loss", patience=config.patience))
    monitor = None
    if config.diagnose:
        from chainrule.diagnostics import FlowMonitor

        monitor = FlowMonitor(spec.fn, every=config.diagnose_every, warn=_warn)
        callbacks.append(monitor)
    history = fit(
        model,
        spec.fn,
        optimizer,
        train,
        config.epochs,
        val_data=val,
        callbacks=callbacks,
        scheduler=scheduler,
        clip_grad_norm=config.clip_grad_norm,
        penalty=penalty,
        batch_size=config.batch_size,
        seed=config.seed,
        metrics=metrics,
        verbose=verbose,
        history=history,
        start_epoch=start,
        extra={"config": {k: _plain(v) for k, v in dataclasses.asdict(config).items()}},
    )
    if diverged.stopped:
        raise TrainingDiverged(_diverged(diverged, saver, resume, config))
    validation = evaluate(model, spec.fn, val, metrics=metrics) if val is not None else None
    tested = evaluate(model, spec.fn, test, metrics=metrics)  # the one look at the test split
    results = {
        "epochs": len(history),
        "samples": {"train": len(train), "validation": len(val) if val else 0, "test": len(test)},
        "validation": validation,
        "test": tested,
    }
    atomic_write_bytes(out / "results.json", json.dumps(results, indent=1).encode())
    curves = None
    if len(history):
        curves = history.plot(
            out / "curves.png",
            title=f"{config.data}: {config.model}, {config.optimizer}",
            test=tested,
        )
    flow_plot = None
    if monitor is not None and history.steps:
        flow_plot = monitor.plot(out / "gradient_flow.png")
    return {
        "history": history,
        "validation": validation,
        "test": tested,
        "model": model,
        "checkpoint": checkpoint,
        "curves": curves,
        "flow_plot": flow_plot,
        "out": out,
        "splits": splits,
    }


def _diverged(stop: TerminateOnNaN, saver: ModelCheckpoint, resume, config: Config) -> str:
    """What happened, what was kept, and the options that usually help."""
    where = stop.stopped
    if saver.saved:
        kept = f"the last good checkpoint, after epoch {where['epoch'] - 1}, is {saver.saved[-1]}"
    elif resume is not None:
        kept = f"the checkpoint it resumed from, {resume}, is unchanged"
    else:
        kept = "no epoch finished, so no checkpoint was written"
    lr = "" if stop.lr is None else f" than {stop.lr:g}"
    clip = (
        f"a tighter --clip-grad-norm than {config.clip_grad_norm:g}"
        if config.clip_grad_norm
        else "--clip-grad-norm 1.0"
    )
    return (
        f"{where['what']} at epoch {where['epoch']}, step {where['step']} of "
        f"{where['steps']}; training stopped there and {kept}. Likely remedies: a smaller "
        f"--lr{lr}, {clip} (gradient clipping), or a warm-up (--schedule linear)"
    )


def _available_memory() -> int | None:
    """The bytes of memory this machine can still give (Linux's MemAvailable), or None
    where that is not known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _warn(message: str) -> None:
    """A FlowMonitor warning on the terminal, above the progress bar."""
    from tqdm import tqdm

    tqdm.write(f"chainrule: warning: {message}", file=sys.stderr)


def _plain(value):
    """A config value as stored in a checkpoint (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value
