"""Training: ``fit``, ``evaluate``, ``History``, callbacks, checkpoints and sweeps."""

from chainrule.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    ModelCheckpoint,
    TerminateOnNaN,
)
from chainrule.train.checkpoint import load_checkpoint, save_checkpoint
from chainrule.train.history import History
from chainrule.train.loop import TrainState, accuracy, evaluate, fit
from chainrule.train.sweep_table import SweepTable
from chainrule.train.sweeps import sweep

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "JSONLogger",
    "ModelCheckpoint",
    "SweepTable",
    "TerminateOnNaN",
    "TrainState",
    "accuracy",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
    "sweep",
]
