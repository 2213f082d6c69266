"""Neural-network building blocks: ``Module``, layers, activations, normalisation,
dropout, initialisers (``nn.init``) and gradient clipping (``nn.utils``)."""

from chainrule.nn import functional, init, utils
from chainrule.nn.activation import (
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from chainrule.nn.containers import ModuleDict, ParameterDict, ParameterList
from chainrule.nn.conv import AvgPool1d, Conv1d, ConvTranspose2d, MaxPool1d
from chainrule.nn.distance import CosineSimilarity
from chainrule.nn.divergence import KLDivLoss
from chainrule.nn.dropout import Dropout, Dropout2d
from chainrule.nn.embedding import Embedding
from chainrule.nn.group_norm import GroupNorm, InstanceNorm1d, InstanceNorm2d
from chainrule.nn.layers import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    Unflatten,
)
from chainrule.nn.loss import modules as _loss_modules
from chainrule.nn.loss.modules import *  # noqa: F403
from chainrule.nn.module import Module, ModuleList, Parameter, Sequential
from chainrule.nn.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d
from chainrule.nn.resample import Upsample
from chainrule.nn.rnn import GRU, LSTM, RNN, RNNBase
from chainrule.nn.rnn_cells import GRUCell, LSTMCell, RNNCell, RNNCellBase

__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "CosineSimilarity",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GroupNorm",
    "Hardtanh",
    "Identity",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "KLDivLoss",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool1d",
    "MaxPool2d",
    "Mish",
    "Module",
    "ModuleDict",
    "ModuleList",
    "PReLU",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "ReLU6",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
    "Upsample",
    "functional",
    "init",
    "utils",
]
__all__ += _loss_modules.__all__  # the loss modules, as nn.loss lists them
