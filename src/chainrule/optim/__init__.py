"""Optimizers with PyTorch's update rules, and learning-rate schedules."""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta, adadelta_update
from chainrule.optim.adagrad import Adagrad, adagrad_update
from chainrule.optim.adam import Adam, AdamW, adam_update
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.nadam import NAdam, nadam_update
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.rmsprop import RMSprop, rmsprop_update
from chainrule.optim.sgd import SGD, sgd_update

__all__ = [
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "NAdam",
    "Optimizer",
    "RMSprop",
    "adadelta_update",
    "adagrad_update",
    "adam_update",
    "lr_scheduler",
    "nadam_update",
    "rmsprop_update",
    "sgd_update",
]
