"""Building blocks named by strings: models, losses, optimizers, schedules and penalties,
as ``chainrule train`` (and the lab) choose them from the command line."""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from chainrule import data as _data
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "OPTIMIZERS",
    "OPTIMIZER_BUFFERS",
    "SCHEDULES",
    "LossSpec",
    "build_model",
    "build_optimizer",
    "build_penalty",
    "build_schedule",
    "load_data",
    "loss_spec",
]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
}
INITS = {
    "default": None,
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "orthogonal": nn.init.orthogonal_,
    "zeros": nn.init.zeros_,
    "constant": lambda w: nn.init.constant_(w, 0.1),
}


def build_model(
    input_shape: tuple,
    outputs: int,
    model: str = "mlp",
    hidden=(128, 64),
    activation: str = "relu",
    dropout: float = 0.0,
    batchnorm: bool = False,
    init: str = "default",
    memory: int | None = None,
    copies: int = 1,
):
    """An MLP (Linear [BatchNorm] activation [Dropout] per hidden width, then Linear) or a
    small CNN (Conv 3x3 [BatchNorm] activation MaxPool 2 per width, then Linear).

    ``memory``: the bytes available. The network's size is worked out from its shapes
    first, and one whose parameters and buffers, ``copies`` times over (training keeps the
    weights, their gradients and the optimizer's buffers), would not fit raises a
    MemoryError that says how much it needs, before anything is allocated.
    """
    act = ACTIVATIONS[activation]
    layers = []  # factories: nothing is allocated until the size is known to fit
    values = 0  # parameters and buffers
    if model == "mlp":
        if len(input_shape) > 1:
            layers.append(nn.Flatten)
        width = math.prod(input_shape)
        for h in hidden:
            layers.append(partial(nn.Linear, width, h))
            values += width * h + h
            if batchnorm:
                layers.append(partial(nn.BatchNorm1d, h))
                values += 4 * h  # weight, bias, running mean and variance
            layers.append(act)
            if dropout:
                layers.append(partial(nn.Dropout, dropout))
            width = h
        layers.append(partial(nn.Linear, width, outputs))
        values += width * outputs + outputs
    elif model == "cnn":
        if len(input_shape) != 3:
            raise ValueError(
                f"a cnn needs image input (C, H, W), but this data has shape {input_shape}"
            )
        channels, h, w = input_shape
        for width in hidden:
            if min(h, w) < 2:
                raise ValueError(
                    f"the images ({input_shape[1]}x{input_shape[2]}) are too small for "
                    f"{len(hidden)} conv blocks; pass fewer --hidden widths"
                )
            layers.append(partial(nn.Conv2d, channels, width, 3, padding=1))
            values += channels * width * 9 + width
            if batchnorm:
                layers.append(partial(nn.BatchNorm2d, width))
                values += 4 * width
            layers += [act, partial(nn.MaxPool2d, 2)]
            if dropout:
                layers.append(partial(nn.Dropout, dropout))
            channels, h, w = width, h // 2, w // 2
        layers += [nn.Flatten, partial(nn.Linear, channels * h * w, outputs)]
        values += channels * h * w * outputs + outputs
    else:
        raise ValueError(f"unknown model {model!r}; known: mlp, cnn")
    needed = values * 4 * copies  # float32
    if memory is not None and needed > memory:
        raise MemoryError(
            f"this network holds {values:,} parameters and buffers; training it takes at least "
            f"{needed / 2**30:.1f} GiB ({copies} float32 copies: weights, gradients and the "
            f"optimizer's buffers), but {memory / 2**30:.1f} GiB of memory is available; "
            "choose smaller widths"
        )
    net = nn.Sequential(*(make() for make in layers))
    fill = INITS[init]
    if fill is not None:
        for m in net.modules():
            if isinstance(m, nn.Linear | nn.Conv2d):
                fill(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    return net


class LossSpec:
    """A loss with what the model and the targets must look like for it."""

    def __init__(self, fn, outputs: int, targets, metric=None) -> None:
        self.fn, self.outputs, self.targets, self.metric = fn, outputs, targets, metric


def _binary_only(name, num_classes):
    if num_classes != 2:
        raise ValueError(f"the {name} loss is for two classes, but this data has {num_classes}")


def _plus_minus(y):
    return (y.astype(np.float32) * 2 - 1)[:, None]


def _binary_accuracy(out, y):
    return float(((out._array > 0) == (y._array > 0.5)).mean())


LOSSES = [
    "cross_entropy",
    "multi_margin",
    "mse",
    "l1",
    "huber",
    "smooth_l1",
    "bce",
    "hinge",
    "squared_hinge",
    "exponential",
    "perceptron",
]


def loss_spec(name: str, task: str, num_classes: int | None, target_dim: int = 1) -> LossSpec:
    """The loss ``name`` for a data set: how many outputs the model needs, how targets
    must be transformed (class indices, ±1, 0/1), and an accuracy when one applies."""
    classification = task == "classification"
    if name in ("cross_entropy", "multi_margin"):
        if not classification:
            raise ValueError(f"the {name} loss needs class labels; this data set is a regression")
        fn = F.cross_entropy if name == "cross_entropy" else F.multi_margin_loss
        return LossSpec(fn, num_classes, None)
    if name in ("mse", "l1", "huber", "smooth_l1"):
        if classification:
            raise ValueError(
                f"the {name} loss is for regression; for classes use cross_entropy "
                "(log loss), multi_margin, or for two classes hinge/bce/exponential"
            )
        fn = {
            "mse": F.mse_loss,
            "l1": F.l1_loss,
            "huber": F.huber_loss,
            "smooth_l1": F.smooth_l1_loss,
        }[name]
        return LossSpec(fn, target_dim, None)
    if name == "bce":
        _binary_only(name, num_classes)
        return LossSpec(
            F.binary_cross_entropy_with_logits,
            1,
            lambda y: y.astype(np.float32)[:, None],
            {"accuracy": _binary_accuracy},
        )
    if name in ("hinge", "squared_hinge", "exponential", "perceptron"):
        _binary_only(name, num_classes)
        fn = {
            "hinge": F.hinge_loss,
            "squared_hinge": F.squared_hinge_loss,
            "exponential": F.exponential_loss,
            "perceptron": F.perceptron_loss,
        }[name]
        return LossSpec(fn, 1, _plus_minus)
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")


def load_data(options) -> tuple:
    """The data set and its loss as ``chainrule train`` and ``chainrule diagnose`` make them
    from their options (``data``, ``model``, ``seed``, ``data_root``, ``download``,
    ``loss``): images flattened for an MLP, the bundled sets split by the seed, MNIST read
    from ``data_root`` (downloaded with ``download``). Returns the splits and their
    :class:`LossSpec`."""
    flatten = options.model == "mlp"
    if options.data in ("mnist", "fashion-mnist"):
        root, download = options.data_root, options.download
        splits = _data.load(options.data, flatten=flatten, root=root, download=download)
    else:
        splits = _data.load(options.data, flatten=flatten, seed=options.seed)
    target_dim = int(np.prod(splits.train.tensors[1].shape[1:])) or 1
    return splits, loss_spec(options.loss, splits.task, splits.num_classes, target_dim)


OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "adadelta"]
# The arrays of a parameter's size each optimizer keeps (with build_optimizer's options).
OPTIMIZER_BUFFERS = dict(zip(OPTIMIZERS, [0, 1, 1, 1, 1, 2, 2, 2]))


def build_optimizer(
    name: str,
    params,
    lr: float | None = None,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    betas=(0.9, 0.999),
    eps: float | None = None,
    alpha: float = 0.99,
    rho: float = 0.9,
    amsgrad: bool = False,
):
    """An optimizer by name; ``lr=None`` takes a sensible default for it."""
    params = list(params)
    eps_kw = {} if eps is None else {"eps": eps}
    if name in ("sgd", "momentum", "nesterov"):
        mom = 0.0 if name == "sgd" else momentum
        return optim.SGD(
            params,
            lr=lr or 0.1,
            momentum=mom,
            weight_decay=weight_decay,
            nesterov=name == "nesterov",
        )
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr or 0.05, weight_decay=weight_decay, **eps_kw)
    if name == "rmsprop":
        return optim.RMSprop(
            params, lr=lr or 1e-3, alpha=alpha, weight_decay=weight_decay, **eps_kw
        )
    if name in ("adam", "adamw"):
        cls = optim.Adam if name == "adam" else optim.AdamW
        return cls(
            params, lr=lr or 1e-3, betas=betas, weight_decay=weight_decay, amsgrad=amsgrad, **eps_kw
        )
    if name == "adadelta":
        return optim.Adadelta(params, lr=lr or 1.0, rho=rho, weight_decay=weight_decay, **eps_kw)
    raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")


SCHEDULES = ["none", "step", "exponential", "cosine", "linear"]


def build_schedule(
    name: str, optimizer, epochs: int, step_size: int = 10, gamma: float = 0.5, warmup: int = 5
):
    """A learning-rate schedule by name (``none`` gives None); ``cosine`` decays to 0 over
    ``epochs``; ``linear`` is a warm-up from a tenth of the rate over ``warmup`` epochs."""
    sched = optim.lr_scheduler
    if name == "none":
        return None
    if name == "step":
        return sched.StepLR(optimizer, step_size=step_size, gamma=gamma)
    if name == "exponential":
        return sched.ExponentialLR(optimizer, gamma=gamma)
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if name == "linear":
        return sched.LinearLR(optimizer, start_factor=0.1, total_iters=warmup)
    raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")


def build_penalty(l1: float = 0.0, l2: float = 0.0):
    """``model -> l1 * sum|w| + l2 * sum w^2 / 2`` over the weights (not the biases), or None."""
    if not l1 and not l2:
        return None

    def penalty(model) -> Tensor:
        weights = [
            p for name, p in model.named_parameters() if name.endswith("weight") and p.ndim > 1
        ]
        total = None
        if l1:
            total = F.l1_penalty(weights) * l1
        if l2:
            term = F.l2_penalty(weights) * l2
            total = term if total is None else total + term
        return total

    return penalty
