"""Op-table entries for the other layers tutorials reach for: embeddings and one-hot
codes, group and instance norm, PReLU, Hardtanh, ReLU6, Mish, normalize, cosine
similarity and the KL divergence. ``nn_opinfo.NN_OPS`` includes them.

The references are written from the definitions (PyTorch's documentation), with NumPy.
"""

from __future__ import annotations

import numpy as np

from chainrule.testing.sampling import Const, Kink, Sample, away, functional, uniform

__all__ = ["LAYER_OPS"]


# --------------------------------------------------------------------------- embeddings
def _embedding_samples(rng):
    w = uniform(rng, (6, 3))
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    return [
        Sample((idx, w), desc="repeated indices"),
        Sample((np.array(4), w), desc="0-d index"),
        Sample((idx, w), {"padding_idx": 2}, desc="padding_idx", gradcheck=False),
        Sample(
            (idx, w),
            {"padding_idx": -1, "scale_grad_by_freq": True},
            desc="scale_grad_by_freq",
            gradcheck=False,
        ),
    ]


def _np_embedding(idx, w, padding_idx=None, scale_grad_by_freq=False):
    return w[idx]


_EMBEDDING_KINK = Kink(
    (np.array([1, 0, 1]), np.array([[1.0, 2.0], [3.0, 4.0]])),
    (np.array([[1.0, 1.0], [0.0, 0.0]]),),
    kwargs={"padding_idx": 1},
    desc="padding_idx: that row gets no gradient",
)


def _np_one_hot(x, num_classes=-1):
    n = x.max() + 1 if num_classes == -1 else num_classes
    return (x[..., None] == np.arange(n)).astype(np.int64)


def _one_hot_samples(rng):
    return [
        Sample((np.array([0, 3, 1, 1]),), desc="classes inferred"),
        Sample((np.array([[0, 2], [1, 1]]),), {"num_classes": 5}, desc="num_classes=5, 2-D"),
    ]


# --------------------------------------------------------------------------- normalisation
def _np_group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, num_groups, -1)
    y = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def _np_instance_norm(x, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def _group_norm_samples(rng):
    x = lambda *s: uniform(rng, s)  # noqa: E731
    return [
        Sample((x(2, 6, 3), 3, x(6), x(6)), desc="3 groups of 2 channels"),
        Sample((x(2, 4, 2, 2), 1, x(4), None), desc="one group (layer norm over C, H, W), no bias"),
        Sample((x(2, 3, 4), 3), desc="one channel per group (instance norm), no affine"),
    ]


def _instance_norm_samples(rng):
    x = lambda *s: uniform(rng, s)  # noqa: E731
    return [
        Sample((x(2, 3, 2, 3),), {"weight": x(3), "bias": x(3)}, desc="2-D, affine"),
        Sample((x(2, 2, 5),), desc="1-D, no affine"),
    ]


# --------------------------------------------------------------------------- activations, vectors
def _np_prelu(x, w):
    w = w.reshape((-1,) + (1,) * (x.ndim - 2)) if w.size > 1 else w.reshape(())
    return np.where(x > 0, x, w * x)


def _prelu_samples(rng):
    x = lambda *s: away(rng, s, (0.0,), low=-3, high=3)  # noqa: E731
    return [
        Sample((x(2, 3, 4), uniform(rng, (1,), 0.0, 0.5)), desc="one slope"),
        Sample((x(2, 3, 2), uniform(rng, (3,), 0.0, 0.5)), desc="a slope per channel"),
        Sample((x(5), uniform(rng, (1,), 0.0, 0.5)), desc="1-D input"),
    ]


_PRELU_KINK = Kink(
    (np.array([-1.0, 0.0, 2.0]), np.array([0.25])),
    (np.array([0.25, 0.25, 1.0]), np.array([-1.0])),
    desc="x = 0: slope a for x, 0 for a",
)


def _hardtanh_samples(rng):
    return [
        Sample((away(rng, (3, 4), (-1.0, 1.0), low=-3, high=3),), desc="default"),
        Sample((away(rng, (2, 5), (-0.5, 2.0), low=-3, high=3), -0.5, 2.0), desc="[-0.5, 2]"),
    ]


def _np_hardtanh(x, min_val=-1.0, max_val=1.0):
    return np.clip(x, min_val, max_val)


# At a bound the gradient is that of the flat side, as in PyTorch.
_HARDTANH_KINK = Kink(
    (np.array([-2.0, -1.0, 0.0, 1.0, 2.0]),),
    (np.array([0.0, 0.0, 1.0, 0.0, 0.0]),),
    desc="at the bounds the gradient is 0",
)
_RELU6_KINK = Kink(
    (np.array([-1.0, 0.0, 3.0, 6.0, 7.0]),),
    (np.array([0.0, 0.0, 1.0, 0.0, 0.0]),),
    desc="x = 0 and x = 6",
)


def _np_softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def _np_normalize(x, p=2.0, dim=1, eps=1e-12):
    norm = (np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1 / p)
    return x / np.maximum(norm, eps)


def _normalize_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)),), desc="rows"),
        Sample((uniform(rng, (2, 3, 4)),), {"p": 1.0, "dim": -1}, desc="p=1, last dim"),
        Sample((uniform(rng, (4, 3)).T,), {"dim": 0}, desc="non-contiguous, dim 0"),
    ]


def _np_cosine(x1, x2, dim=1, eps=1e-8):
    x1, x2 = np.broadcast_arrays(x1, x2)
    n1 = np.maximum(np.sqrt((x1 * x1).sum(dim, keepdims=True)), eps)
    n2 = np.maximum(np.sqrt((x2 * x2).sum(dim, keepdims=True)), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _cosine_samples(rng):
    return [
        Sample((uniform(rng, (3, 4)), uniform(rng, (3, 4))), desc="rows"),
        Sample((uniform(rng, (3, 1, 4)), uniform(rng, (2, 4))), {"dim": -1}, desc="broadcast"),
        Sample((uniform(rng, (2, 3)), uniform(rng, (2, 3))), {"dim": 0}, desc="dim 0"),
    ]


def _np_kl_div(x, t, reduction="mean", log_target=False):
    if log_target:
        pointwise = np.exp(t) * (t - x)
    else:
        pointwise = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0) - t * x
    if reduction == "none":
        return pointwise
    if reduction == "batchmean":
        return np.asarray(pointwise.sum() / x.shape[0], dtype=x.dtype)
    return np.asarray(pointwise.sum() if reduction == "sum" else pointwise.mean(), dtype=x.dtype)


def _kl_samples(rng):
    def dist(n, c):
        p = rng.uniform(0.1, 1.0, (n, c))
        return p / p.sum(1, keepdims=True)

    return [
        Sample((np.log(dist(3, 4)), dist(3, 4)), {"reduction": "batchmean"}, desc="batchmean"),
        Sample((np.log(dist(2, 3)), dist(2, 3)), {"reduction": "sum"}, desc="sum"),
        Sample((np.log(dist(2, 3)), dist(2, 3)), {"reduction": "none"}, desc="none"),
        Sample(
            (np.log(dist(3, 2)), np.log(dist(3, 2))),
            {"reduction": "batchmean", "log_target": True},
            desc="log_target",
        ),
        Sample(
            (np.log(dist(2, 3)), Const(dist(2, 3))),
            {"reduction": "batchmean"},
            desc="constant target",
        ),
    ]


LAYER_OPS = [
    functional("embedding", _np_embedding, _embedding_samples, _EMBEDDING_KINK),
    functional("one_hot", _np_one_hot, _one_hot_samples, differentiable=False),
    functional("group_norm", _np_group_norm, _group_norm_samples),
    functional("instance_norm", _np_instance_norm, _instance_norm_samples),
    functional("prelu", _np_prelu, _prelu_samples, _PRELU_KINK),
    functional("hardtanh", _np_hardtanh, _hardtanh_samples, _HARDTANH_KINK),
    functional(
        "relu6",
        lambda x: np.clip(x, 0.0, 6.0),
        lambda rng: [Sample((away(rng, (3, 4), (0.0, 6.0), low=-3, high=9),))],
        _RELU6_KINK,
    ),
    functional(
        "mish",
        lambda x: x * np.tanh(_np_softplus(x)),
        lambda rng: [
            Sample((uniform(rng, (3, 4), -4, 4),)),
            Sample((np.array([-30.0, 25.0]),), desc="tails"),
        ],
    ),
    functional("normalize", _np_normalize, _normalize_samples),
    functional("cosine_similarity", _np_cosine, _cosine_samples),
    functional("kl_div", _np_kl_div, _kl_samples),
]
