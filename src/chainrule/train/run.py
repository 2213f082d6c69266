"""A whole training run from a configuration: data, model, loss, optimizer, schedule,
penalties, training with a checkpoint after every epoch, the final test, and the files
under the output directory (``checkpoint.chainrule``, ``history.csv``, ``history.json``,
``curves.png``). ``chainrule demo`` and ``chainrule train`` are thin layers over it."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from chainrule import data as _data
from chainrule import random as _random
from chainrule.data.dataset import TensorDataset
from chainrule.train import recipes
from chainrule.train.callbacks import CSVLogger, EarlyStopping, JSONLogger, ModelCheckpoint
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
)


def _targets(split: TensorDataset, transform) -> TensorDataset:
    if transform is None:
        return split
    x, y = split.tensors
    return TensorDataset(x, transform(np.asarray(y._array)))


def run(config: Config, out_dir, resume=None, verbose: int = 1) -> dict:
    """Train as ``config`` says, writing into ``out_dir``; continue from the checkpoint
    ``resume`` if given. Returns the history, the test metrics and the files written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the output path {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    _random.manual_seed(config.seed)
    options = {"flatten": config.model == "mlp", "seed": config.seed}
    if config.data in ("mnist", "fashion-mnist"):
        options = {
            "flatten": config.model == "mlp",
            "root": config.data_root,
            "download": config.download,
        }
    splits = _data.load(config.data, **options)
    spec = recipes.loss_spec(
        config.loss,
        splits.task,
        splits.num_classes,
        int(np.prod(splits.train.tensors[1].shape[1:])) or 1,
    )
    train, test = _targets(splits.train, spec.targets), _targets(splits.test, spec.targets)
    model = recipes.build_model(
        splits.input_shape,
        spec.outputs,
        config.model,
        config.hidden,
        config.activation,
        config.dropout,
        config.batchnorm,
        config.init,
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

    checkpoint = out / "checkpoint.chainrule"
    callbacks = [
        ModelCheckpoint(checkpoint),
        CSVLogger(out / "history.csv"),
        JSONLogger(out / "history.json"),
    ]
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
        val_data=test,
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
    result = evaluate(model, spec.fn, test, metrics=metrics)
    curves = None
    if len(history):
        curves = history.plot(
            out / "curves.png", title=f"{config.data}: {config.model}, {config.optimizer}"
        )
    flow_plot = None
    if monitor is not None and history.steps:
        flow_plot = monitor.plot(out / "gradient_flow.png")
    return {
        "history": history,
        "test": result,
        "model": model,
        "checkpoint": checkpoint,
        "curves": curves,
        "flow_plot": flow_plot,
        "out": out,
        "splits": splits,
    }


def _warn(message: str) -> None:
    """A FlowMonitor warning on the terminal, above the progress bar."""
    from tqdm import tqdm

    tqdm.write(f"chainrule: warning: {message}", file=sys.stderr)


def _plain(value):
    """A config value as stored in a checkpoint (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value
