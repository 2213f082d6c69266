"""Training: ``fit``, ``evaluate``, ``History``, callbacks and checkpoints."""

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

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "JSONLogger",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "TrainState",
    "accuracy",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]
