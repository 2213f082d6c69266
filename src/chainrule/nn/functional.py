"""The functional forms of chainrule's layers (``import chainrule.nn.functional as F``)."""

from __future__ import annotations

from chainrule.nn.activation import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from chainrule.nn.dropout import dropout
from chainrule.nn.norm import batch_norm, layer_norm
from chainrule.ops.conv import avg_pool2d, conv2d, fold, max_pool2d, unfold
from chainrule.ops.linalg import linear

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "dropout",
    "elu",
    "fold",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    "unfold",
]
