"""The functional forms of chainrule's layers (``import chainrule.nn.functional as F``)."""

from __future__ import annotations

from chainrule.nn.activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    mish,
    prelu,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from chainrule.nn.conv import avg_pool1d, conv1d, conv_transpose2d, max_pool1d
from chainrule.nn.distance import cosine_similarity, normalize
from chainrule.nn.divergence import kl_div
from chainrule.nn.dropout import dropout, dropout2d
from chainrule.nn.embedding import embedding, one_hot
from chainrule.nn.group_norm import group_norm, instance_norm
from chainrule.nn.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    categorical_cross_entropy,
    cross_entropy,
    exponential_loss,
    hinge_loss,
    huber_loss,
    l0_count,
    l1_loss,
    l1_penalty,
    l2_penalty,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    perceptron_loss,
    smooth_l1_loss,
    squared_hinge_loss,
    zero_one_loss,
)
from chainrule.nn.norm import batch_norm, layer_norm
from chainrule.nn.pooling import adaptive_avg_pool2d, adaptive_max_pool2d
from chainrule.nn.resample import interpolate
from chainrule.ops.conv import avg_pool2d, conv2d, fold, max_pool2d, unfold
from chainrule.ops.linalg import linear
from chainrule.ops.padding import pad

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "elu",
    "embedding",
    "exponential_loss",
    "fold",
    "gelu",
    "group_norm",
    "hardtanh",
    "hinge_loss",
    "huber_loss",
    "instance_norm",
    "interpolate",
    "kl_div",
    "l0_count",
    "l1_loss",
    "l1_penalty",
    "l2_penalty",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "mish",
    "mse_loss",
    "multi_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "perceptron_loss",
    "prelu",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "squared_hinge_loss",
    "tanh",
    "unfold",
    "zero_one_loss",
]
