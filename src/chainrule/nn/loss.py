r"""Losses: how the sheet measures error, as functionals and modules.

Every loss takes ``reduction``: ``"none"`` returns the unreduced losses :math:`l_n`,
``"sum"`` returns :math:`\sum_n l_n`, and ``"mean"`` (the default) divides that sum by
the number stated in each docstring: the number of elements, the number of samples, or,
for weighted class-index losses, the total weight of the non-ignored targets, as in
PyTorch. Input and target shapes must agree exactly: where PyTorch only warns and
broadcasts ((N, 1) against (N,)), chainrule raises.

The six families of the sheet: 0-1 (``zero_one_loss``, a metric), absolute (``l1_loss``),
squared (``mse_loss``), log (``cross_entropy``, ``nll_loss``, ``binary_cross_entropy*``,
``categorical_cross_entropy``), exponential (``exponential_loss``) and hinge
(``hinge_loss``, ``squared_hinge_loss``, ``multi_margin_loss``, ``perceptron_loss``).
The structural-risk penalties (``l1_penalty``, ``l2_penalty``, ``l0_count``) are here too.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import dtypes as _dt
from chainrule import ops
from chainrule._backend import to_numpy, xp
from chainrule.errors import LabelError, ShapeError
from chainrule.nn.module import Module
from chainrule.ops.op import Op
from chainrule.tensor import Tensor, as_tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "ExponentialLoss",
    "HingeLoss",
    "HuberLoss",
    "L1Loss",
    "MSELoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PerceptronLoss",
    "SmoothL1Loss",
    "SquaredHingeLoss",
    "ZeroOneLoss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "cross_entropy",
    "exponential_loss",
    "hinge_loss",
    "huber_loss",
    "l0_count",
    "l1_loss",
    "l1_penalty",
    "l2_penalty",
    "mse_loss",
    "multi_margin_loss",
    "nll_loss",
    "perceptron_loss",
    "smooth_l1_loss",
    "squared_hinge_loss",
    "zero_one_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- helpers
def _check_reduction(name: str, reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _reduce(loss: Tensor, reduction: str, divisor=None):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / (loss._array.size if divisor is None else divisor)


def _float(x, name: str) -> Tensor:
    x = as_tensor(x)
    if x._array.dtype.kind != "f":
        x = x.to(_dt.get_default_dtype())
    return x


def _pair(name: str, input, target, reduction: str) -> tuple[Tensor, Tensor]:
    """Input and target as floating tensors of one shape and dtype."""
    _check_reduction(name, reduction)
    x = _float(input, name)
    t = as_tensor(target)
    if tuple(t.shape) != tuple(x.shape):
        raise ShapeError(
            f"{name}: input shape {tuple(x.shape)} and target shape {tuple(t.shape)} differ; "
            "they must be equal (no broadcasting between a prediction and its target)"
        )
    if t._array.dtype != x._array.dtype:
        t = t.to(x._array.dtype)
    return x, t


def _plus_minus_one(name: str, input, target, reduction: str) -> tuple[Tensor, Tensor]:
    x, t = _pair(name, input, target, reduction)
    values = to_numpy(t._array)
    bad = ~np.isin(values, (-1.0, 1.0))
    if bad.any():
        found = np.unique(values[bad])[:5].tolist()
        raise LabelError(
            f"{name}: targets must be -1 or +1, got {found} ({int(bad.sum())} of {values.size} targets)"
        )
    return x, t


class _Metric(Tensor):
    """A tensor that is a count or a rate, not a differentiable loss: ``backward`` raises
    with a message that names what to differentiate instead."""

    __slots__ = ("reason",)

    def backward(self, *args, **kwargs):
        raise RuntimeError(self.reason)


def _metric(arr, reason: str) -> _Metric:
    t = _Metric.__new__(_Metric)
    t._init_leaf(xp.asarray(arr), False)
    t.reason = reason
    return t


# --------------------------------------------------------------------------- regression
def mse_loss(input, target, reduction: str = "mean"):
    r"""Squared loss: :math:`l_n = (x_n - y_n)^2`; ``mean`` divides by the number of elements.

    Gradient: :math:`\partial l_n/\partial x_n = 2(x_n - y_n)`. Its minimiser over a set of
    targets is their mean (least squares; the Gaussian-noise choice).
    """
    x, t = _pair("mse_loss", input, target, reduction)
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction: str = "mean"):
    r"""Absolute loss: :math:`l_n = |x_n - y_n|`; ``mean`` divides by the number of elements.

    Gradient: :math:`\mathrm{sign}(x_n - y_n)`, 0 where :math:`x_n = y_n` (PyTorch's
    convention). Its minimiser is the median (the Laplace-noise choice): robust to outliers.
    """
    x, t = _pair("l1_loss", input, target, reduction)
    return _reduce((x - t).abs(), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    r"""Huber loss: :math:`l_n = \tfrac12 d_n^2` if :math:`|d_n| < \delta`, else
    :math:`\delta(|d_n| - \tfrac12\delta)`, with :math:`d = x - y`; ``mean`` divides by the
    number of elements.

    Gradient: :math:`d_n` inside, :math:`\delta\,\mathrm{sign}(d_n)` outside (the two agree
    at :math:`|d| = \delta`): squared near the target, absolute (bounded gradient) far away.
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _pair("huber_loss", input, target, reduction)
    d = x - t
    a = d.abs()
    return _reduce(ops.where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    r"""Smooth L1: :math:`l_n = \tfrac12 d_n^2/\beta` if :math:`|d_n| < \beta`, else
    :math:`|d_n| - \tfrac12\beta`; Huber loss divided by :math:`\beta`, and plain L1 at
    :math:`\beta = 0`. ``mean`` divides by the number of elements.

    Gradient: :math:`d_n/\beta` inside, :math:`\mathrm{sign}(d_n)` outside.
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, t = _pair("smooth_l1_loss", input, target, reduction)
    d = x - t
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(ops.where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


# --------------------------------------------------------------------------- binary log loss
# PyTorch's epsilon is the float32 number nearest 1e-12, in every dtype.
_BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Op):
    r"""Forward: :math:`l = -[y \log x + (1 - y)\log(1 - x)]`, each log clamped at -100
    (PyTorch's guard: :math:`\log 0` would be -inf).

    Backward: :math:`\bar x = \bar l\,(x - y)/\max(x(1 - x), 10^{-12})`, PyTorch's formula,
    which stays finite at :math:`x \in \{0, 1\}`. The target gets no gradient.
    """

    def forward(self, x, y):
        self.save(x, y)
        return -(y * xp.maximum(xp.log(x), -100) + (1 - y) * xp.maximum(xp.log1p(-x), -100))

    def backward(self, lib, g, x, y):
        return g * (x - y) / lib.maximum(x * (1 - x), _BCE_EPS), None


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    r"""Binary log loss on probabilities: :math:`l_n = -w_n[y_n\log x_n + (1 - y_n)\log(1 - x_n)]`.

    ``input`` holds probabilities in [0, 1] (after a sigmoid), ``target`` probabilities of the
    same shape (usually 0 or 1), ``weight`` rescales each element. ``mean`` divides by the
    number of elements (not by the weights). Gradient: :math:`w_n (x_n - y_n)/(x_n(1-x_n))`.
    Prefer :func:`binary_cross_entropy_with_logits`: the sigmoid fused in is exact where
    this form has to clamp.
    """
    x, t = _pair("binary_cross_entropy", input, target, reduction)
    for what, v in (("input", x), ("target", t)):
        values = v._array
        if values.size and (values.min() < 0 or values.max() > 1 or xp.isnan(values).any()):
            raise ValueError(
                f"binary_cross_entropy: every {what} value must be a probability in [0, 1], "
                f"got values from {float(values.min())} to {float(values.max())}"
                + (
                    "; pass logits to binary_cross_entropy_with_logits instead"
                    if what == "input"
                    else ""
                )
            )
    loss = BinaryCrossEntropy.apply(x, t)
    if weight is not None:
        loss = loss * _float(weight, "binary_cross_entropy")
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, reduction: str = "mean", pos_weight=None
):
    r"""Binary log loss on logits :math:`x` (before the sigmoid), with
    :math:`\log\sigma(x) = -\mathrm{softplus}(-x)` and :math:`\log(1-\sigma(x)) = -x -
    \mathrm{softplus}(-x)`:

    .. math:: l_n = w_n\,[(1 - y_n)\,x_n + (1 + (p - 1)\,y_n)\,\mathrm{softplus}(-x_n)]

    ``pos_weight`` :math:`p` (broadcast along the last, class, dimension) weighs the
    positive term; ``mean`` divides by the number of elements. Gradient:
    :math:`w_n[(1 + (p-1)y_n)\,\sigma(x_n) - p\,y_n]`, i.e. :math:`\sigma(x) - y` for
    :math:`p = 1`. Numerics: softplus is computed as :math:`\log(1 + e^{-|x|}) +
    \max(-x, 0)`, so logits of any size give finite losses and gradients.
    """
    x, t = _pair("binary_cross_entropy_with_logits", input, target, reduction)
    soft = ops.softplus(-x, 1.0, math.inf)
    if pos_weight is not None:
        coef = (_float(pos_weight, "binary_cross_entropy_with_logits") - 1) * t + 1
        loss = (1 - t) * x + coef * soft
    else:
        loss = (1 - t) * x + soft
    if weight is not None:
        loss = loss * _float(weight, "binary_cross_entropy_with_logits")
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- multi-class log loss
def _class_targets(name: str, x: Tensor, target, ignore_index: int | None) -> tuple:
    """Validated class-index targets as an int64 array of shape (N, d1, ...); labels equal
    to ``ignore_index`` (None: no label is ignored) are exempt from the range check. Also
    returns whether every label is a class (so that none is ignored)."""
    t = target._array if isinstance(target, Tensor) else xp.asarray(target)
    expected = (x.shape[0], *x.shape[2:])
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: class-index targets must be integers, got dtype {t.dtype}; for class "
            f"probabilities pass a floating target of the input's shape {tuple(x.shape)}"
        )
    if tuple(t.shape) != expected:
        raise ShapeError(
            f"{name}: input of shape {tuple(x.shape)} needs class-index targets of shape "
            f"{expected}, got {tuple(t.shape)}"
        )
    c = x.shape[1]
    t = t.astype(_dt.int64, copy=False)
    if _in_range(t, c):
        return t, True
    bad = (t < 0) | (t >= c)
    if ignore_index is not None:
        bad &= t != ignore_index
    if bad.any():
        found = sorted(set(to_numpy(t[bad]).tolist()))[:5]
        ignored = (
            ""
            if ignore_index is None or 0 <= ignore_index < c
            else f", or ignore_index={ignore_index}"
        )
        raise LabelError(
            f"{name}: target contains class {found[0] if len(found) == 1 else found}, but the input "
            f"has {c} classes (valid labels are 0..{c - 1}{ignored})"
        )
    return t, False


def _in_range(t, c: int) -> bool:
    """Whether every int64 label lies in [0, c): one comparison, since a negative label
    read as unsigned is larger than any class count."""
    return t.size == 0 or int(xp.maximum.reduce(t.view(xp.uint64), axis=None)) < c


def _batched(x: Tensor, target, name: str):
    """Accept an unbatched (C,) input with a scalar target by adding the batch dimension."""
    if x.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if x.ndim == 1:
        t = target._array if isinstance(target, Tensor) else xp.asarray(target)
        if t.ndim == 0:
            return x.unsqueeze(0), xp.reshape(t, (1,)), True
        if t.dtype.kind == "f" and t.ndim == 1:
            return x.unsqueeze(0), xp.reshape(t, (1, -1)), True
    return x, target, False


class SoftmaxCrossEntropy(Op):
    r"""Forward: :math:`l_n = -c_n \log\mathrm{softmax}(x_n)_{y_n}` with the class axis 1 and
    :math:`c_n = w_{y_n}` (0 for ignored targets; ``coef`` None when every :math:`c_n` is
    1), reduced by ``none``/``sum``/``mean`` (the mean divides by :math:`\sum_n c_n`).

    Backward: :math:`\bar x_n = \bar l_n\, c_n\,(\mathrm{softmax}(x_n) - \mathrm{onehot}(y_n))`
    (for ``mean``, :math:`\bar l_n = \bar l / \sum c`): the sheet's :math:`a - y`. One
    primitive instead of log_softmax, a gather and a weighted mean. The forward keeps the
    softmax it computes along the way for an ordinary backward; a differentiable one
    (``create_graph``) recomputes it from the logits, so that it has a graph.
    """

    def forward(self, x, onehot, coef, reduction):
        self.reduction = reduction
        s = x - xp.maximum.reduce(x, axis=1, keepdims=True)
        e = xp.exp(s)
        total = xp.add.reduce(e, axis=1, keepdims=True)
        loss = xp.log(total)
        loss -= xp.add.reduce(s * onehot, axis=1, keepdims=True)
        loss = loss[:, 0]
        e /= total  # the softmax
        self.save(x, onehot, coef, e)
        if coef is not None:
            loss *= coef
        self.count = loss.size if coef is None else xp.add.reduce(coef, axis=None)
        if reduction == "none":
            return loss
        total = xp.add.reduce(loss, axis=None)
        return total if reduction == "sum" else total / self.count

    def backward(self, lib, g, x, onehot, coef, softmax):
        p = lib.softmax(x, 1) if lib.differentiable else softmax
        if self.reduction == "mean":
            g = g / self.count
        if coef is not None:
            g = coef * g
        elif self.reduction != "none":  # one scale for every sample
            return (p - onehot) * g, None, None, None
        shape = (g.shape[0], 1, *g.shape[1:])  # per sample, with room for the class axis
        return (p - onehot) * lib.reshape(g, shape), None, None, None


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    r"""Negative log-likelihood of class-index targets, on log-probabilities:
    :math:`l_n = -w_{y_n}\, x_{n, y_n}` (0 where :math:`y_n` = ``ignore_index``).

    ``input`` (N, C) or (N, C, d1, ...), ``target`` (N,) or (N, d1, ...) integers in [0, C).
    ``mean`` divides by :math:`\sum_n w_{y_n}` over the non-ignored targets (N when unweighted);
    if every target is ignored the mean is 0/0 = nan, as in PyTorch. Gradient:
    :math:`-w_{y_n}` at the target class, 0 elsewhere, divided as the mean is.
    """
    _check_reduction("nll_loss", reduction)
    x = _float(input, "nll_loss")
    x, target, unbatched = _batched(x, target, "nll_loss")
    t, _ = _class_targets("nll_loss", x, target, ignore_index)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)
    picked = ops.gather(x, 1, xp.expand_dims(safe, 1)).squeeze(1)
    w = xp.ones(x.shape[1], x._array.dtype) if weight is None else _float(weight, "nll_loss")._array
    coef = xp.where(valid, w[safe], 0).astype(x._array.dtype)
    loss = -picked * coef
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    return _reduce(loss, reduction, float(coef.sum()))


def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    r"""Softmax cross-entropy on logits, fused: :math:`l_n = -\sum_c w_c\, t_{n,c}\,
    \log\mathrm{softmax}(x_n)_c`, computed through ``log_softmax`` so no probability is
    ever rounded to 0 before its log.

    Targets: class indices (N,) / (N, d1, ...) (then :math:`t` is one-hot, and this is
    :func:`nll_loss` of ``log_softmax``), or class probabilities of the input's shape.
    ``label_smoothing`` :math:`\varepsilon` mixes the target with the uniform distribution,
    :math:`(1 - \varepsilon)t + \varepsilon/C`. ``mean`` divides by the total weight of the
    non-ignored targets (class indices) or by the number of samples (probabilities).

    Gradient (unweighted, ``mean`` over N samples): :math:`(\mathrm{softmax}(x_n) - t_n)/N`,
    the sheet's :math:`a - y`.
    """
    _check_reduction("cross_entropy", reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _float(input, "cross_entropy")
    x, target, unbatched = _batched(x, target, "cross_entropy")
    c = x.shape[1]
    wshape = (1, c) + (1,) * (x.ndim - 2)
    w = None if weight is None else _float(weight, "cross_entropy")
    if w is not None and tuple(w.shape) != (c,):
        raise ShapeError(f"cross_entropy: weight must have shape ({c},), got {tuple(w.shape)}")
    t_data = target._array if isinstance(target, Tensor) else xp.asarray(target)
    probabilities = t_data.dtype.kind == "f" and t_data.ndim == x.ndim
    if probabilities:
        if ignore_index != -100:
            raise ValueError("cross_entropy: ignore_index is not supported for probability targets")
        t = target if isinstance(target, Tensor) and not unbatched else as_tensor(t_data)
        if tuple(t.shape) != tuple(x.shape):
            raise ShapeError(
                f"cross_entropy: probability targets must have the input's shape {tuple(x.shape)}, "
                f"got {tuple(t.shape)}"
            )
        t = t.to(x._array.dtype)
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / c
        logp = ops.log_softmax(x, 1)
        terms = logp * t if w is None else logp * t * w.reshape(wshape)
        loss = -terms.sum(1)
        if reduction == "none":
            return loss.squeeze(0) if unbatched else loss
        return _reduce(loss, reduction, x._array.size // c)

    if not label_smoothing:
        t, all_classes = _class_targets("cross_entropy", x, t_data, ignore_index)
        classes = xp.arange(c).reshape(wshape)
        onehot = (t[:, None] == classes).astype(x._array.dtype)  # all 0 for ignored
        in_classes = ignore_index is not None and 0 <= ignore_index < c
        if w is None and not in_classes and all_classes:
            coef = None  # every sample counts, with weight 1
        else:
            valid = t != ignore_index
            w_t = (
                1
                if w is None
                else w._array.astype(x._array.dtype, copy=False)[xp.where(valid, t, 0)]
            )
            coef = xp.where(valid, w_t, 0).astype(x._array.dtype, copy=False)
        loss = SoftmaxCrossEntropy.apply(x, onehot, coef, reduction)
        return loss.squeeze(0) if unbatched and reduction == "none" else loss
    logp = ops.log_softmax(x, 1)
    loss = nll_loss(logp, t_data, weight, ignore_index, reduction)
    if label_smoothing:
        # PyTorch's smoothing term: the (weighted) mean of -log p over the classes,
        # normalised exactly as the nll term is.
        t, _ = _class_targets("cross_entropy", x, t_data, ignore_index)
        valid = t != ignore_index
        smooth = -(logp if w is None else logp * w.reshape(wshape)).sum(1) * valid.astype(
            x._array.dtype
        )
        if reduction == "sum":
            smooth = smooth.sum()
        elif reduction == "mean":
            denom = float(valid.sum()) if w is None else float(w._array[t[valid]].sum())
            smooth = smooth.sum() / denom
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / c)
    return loss.squeeze(0) if unbatched and reduction == "none" else loss


def categorical_cross_entropy(probs, target, eps: float = 1e-10, reduction: str = "mean"):
    r"""Cross-entropy on probabilities, the sheet's clip-then-log form (Keras's
    ``categorical_crossentropy`` with ``from_logits=False``):

    .. math:: l_n = -\sum_c t_{n,c} \log(\mathrm{clip}(p_{n,c}, \epsilon, 1))

    ``probs`` (N, C) after a softmax, classes along the last dimension; ``target`` one-hot or
    probabilities of the same shape, or class indices (N,). ``mean`` divides by the number
    of samples N. (The sheet's TensorFlow line ``reduce_mean(y * log(...))`` averages over
    all N*C entries instead, which scales the loss and its gradient by 1/C.)

    Gradient: :math:`-t_{n,c}/p_{n,c}` where :math:`p > \epsilon`, and 0 where the clip is
    active. That is why the fused form :func:`cross_entropy` on logits is preferred: here a
    confidently wrong prediction (:math:`p < \epsilon`) gets no gradient at all, the loss
    saturates at :math:`-\log\epsilon \approx 23`, and probabilities that rounded to 0 in
    float32 have already lost the information that log-softmax keeps.
    """
    _check_reduction("categorical_cross_entropy", reduction)
    p = _float(probs, "categorical_cross_entropy")
    t_data = target._array if isinstance(target, Tensor) else xp.asarray(target)
    if t_data.dtype.kind in "iu":
        c = p.shape[-1]
        if tuple(t_data.shape) != tuple(p.shape[:-1]):
            raise ShapeError(
                f"categorical_cross_entropy: probs of shape {tuple(p.shape)} need class indices of "
                f"shape {tuple(p.shape[:-1])}, got {tuple(t_data.shape)}"
            )
        bad = (t_data < 0) | (t_data >= c)
        if bad.any():
            raise LabelError(
                f"categorical_cross_entropy: target contains class {int(t_data[bad].flat[0])}, but "
                f"probs have {c} classes (valid labels are 0..{c - 1})"
            )
        t = as_tensor(xp.eye(c, dtype=p._array.dtype)[t_data])
    else:
        p, t = _pair("categorical_cross_entropy", p, target, reduction)
    loss = -(t * ops.clamp(p, eps, 1.0).log()).sum(-1)
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- margins
def multi_margin_loss(
    input, target, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"
):
    r"""Multi-class hinge loss (PyTorch's): for sample n with class :math:`y`,

    .. math:: l_n = \frac{1}{C}\sum_{i \ne y} w_y \max(0, \mathrm{margin} - x_{n,y} + x_{n,i})^p

    with ``p`` 1 or 2; ``mean`` divides by N. Gradient: for each active term
    (:math:`\mathrm{margin} - x_y + x_i > 0`, strictly: 0 at the hinge),
    :math:`+p\,w_y z^{p-1}/C` for :math:`x_i` and the same with a minus sign for :math:`x_y`.
    """
    _check_reduction("multi_margin_loss", reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    x = _float(input, "multi_margin_loss")
    x, target, unbatched = _batched(x, target, "multi_margin_loss")
    if x.ndim != 2:
        raise ShapeError(f"multi_margin_loss: expected input (N, C) or (C,), got {tuple(x.shape)}")
    t, _ = _class_targets("multi_margin_loss", x, target, None)
    n, c = x.shape
    picked = ops.gather(x, 1, t[:, None])
    z = (x - picked + margin).relu()
    if p == 2:
        z = z * z
    others = xp.ones((n, c), x._array.dtype)
    others[xp.arange(n), t] = 0
    if weight is not None:
        others = others * _float(weight, "multi_margin_loss")._array[t][:, None]
    loss = (z * others).sum(1) / c
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    return _reduce(loss, reduction)


def hinge_loss(input, target, margin: float = 1.0, reduction: str = "mean"):
    r"""Hinge loss (the SVM's): targets :math:`t \in \{-1, +1\}`, scores :math:`y`;
    :math:`l_n = \max(0, \mathrm{margin} - t_n y_n)`; ``mean`` divides by the number of
    elements. No reward for being more than the margin right.

    Gradient: :math:`-t_n` where :math:`t_n y_n < \mathrm{margin}`, else 0 (0 at the hinge
    itself, the ReLU convention).
    """
    y, t = _plus_minus_one("hinge_loss", input, target, reduction)
    return _reduce((margin - t * y).relu(), reduction)


def squared_hinge_loss(input, target, margin: float = 1.0, reduction: str = "mean"):
    r"""Squared hinge loss: :math:`l_n = \max(0, \mathrm{margin} - t_n y_n)^2`, targets
    in {-1, +1}; ``mean`` divides by the number of elements. Gradient:
    :math:`-2 t_n \max(0, \mathrm{margin} - t_n y_n)`, continuous (0 at the hinge)."""
    y, t = _plus_minus_one("squared_hinge_loss", input, target, reduction)
    h = (margin - t * y).relu()
    return _reduce(h * h, reduction)


def perceptron_loss(input, target, reduction: str = "mean"):
    r"""Perceptron criterion: :math:`l_n = \max(0, -t_n y_n)`, targets in {-1, +1};
    ``mean`` divides by the number of elements.

    Gradient: :math:`-t_n` where :math:`t_n y_n \le 0`, else 0. Convention at the kink: a
    score of exactly 0 counts as a mistake (as in :func:`zero_one_loss` and the classic
    perceptron rule), so a perceptron started at zero weights still learns.
    """
    y, t = _plus_minus_one("perceptron_loss", input, target, reduction)
    m = t * y
    return _reduce(ops.where(m <= 0, -m, 0.0), reduction)


def exponential_loss(input, target, reduction: str = "mean"):
    r"""Exponential loss (AdaBoost's): :math:`l_n = e^{-t_n y_n}`, targets in {-1, +1};
    ``mean`` divides by the number of elements. Gradient: :math:`-t_n e^{-t_n y_n}`.

    Numerics: ``sum`` and ``mean`` are computed as :math:`\exp(\mathrm{logsumexp}(-t y) -
    \log N)`, so they overflow only when the result itself exceeds the largest float, not
    when an intermediate sum does; a very wrong score weighs exponentially, which is why
    this loss is sensitive to outliers and label noise.
    """
    y, t = _plus_minus_one("exponential_loss", input, target, reduction)
    z = -(t * y)
    if reduction == "none":
        return z.exp()
    lse = z.logsumexp()
    return (lse - math.log(z._array.size)).exp() if reduction == "mean" else lse.exp()


def zero_one_loss(input, target, tolerance: float | None = None, reduction: str = "mean"):
    r"""0-1 loss, the error count: 1 where the prediction is wrong, 0 where right.

    * scores (N, C) with class indices (N,): wrong where :math:`\arg\max_c y_{n,c} \ne t_n`;
    * scores (N,) with targets in {-1, +1}: wrong where :math:`\mathrm{sign}(y_n) \ne t_n`,
      and a score of 0 counts as wrong;
    * with ``tolerance`` :math:`T` (regression): wrong where :math:`|y_n - t_n| \ge T`.

    ``mean`` is the error rate, ``sum`` the number of errors. Its gradient is 0 almost
    everywhere, so it is a metric, not a training objective: the result never requires
    grad, and ``backward()`` on it raises, pointing to a differentiable surrogate.
    """
    _check_reduction("zero_one_loss", reduction)
    y = as_tensor(input)
    if tolerance is not None:
        y, t = _pair("zero_one_loss", y, target, reduction)
        wrong = xp.abs(y._array - t._array) >= tolerance
        surrogate = "mse_loss, l1_loss or huber_loss"
    elif y.ndim == 2:
        t, _ = _class_targets("zero_one_loss", y, target, None)
        wrong = xp.argmax(y._array, axis=1) != t
        surrogate = "cross_entropy (log loss) or multi_margin_loss (hinge)"
    else:
        y, t = _plus_minus_one("zero_one_loss", y, target, reduction)
        wrong = y._array * t._array <= 0
        surrogate = "hinge_loss, binary_cross_entropy_with_logits (log loss) or perceptron_loss"
    errors = wrong.astype(_dt.get_default_dtype())
    value = errors if reduction == "none" else errors.sum() if reduction == "sum" else errors.mean()
    return _metric(
        value,
        "zero_one_loss is not differentiable (its gradient is 0 almost everywhere); train on a "
        f"differentiable surrogate such as {surrogate}, and use zero_one_loss to measure",
    )


# --------------------------------------------------------------------------- penalties
def _params(params) -> list:
    return [params] if isinstance(params, Tensor) else list(params)


def l1_penalty(params):
    r"""Lasso penalty :math:`\sum_i |w_i|` over every tensor in ``params``. Gradient
    :math:`\mathrm{sign}(w_i)` (0 at 0): a constant pull toward 0, which makes weights exactly 0."""
    total = None
    for p in _params(params):
        term = p.abs().sum()
        total = term if total is None else total + term
    return total if total is not None else as_tensor(0.0)


def l2_penalty(params):
    r"""Ridge penalty :math:`\tfrac12\sum_i w_i^2`. Gradient :math:`w_i`: a pull
    proportional to the weight (weight decay), which shrinks weights but rarely zeroes them."""
    total = None
    for p in _params(params):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total * 0.5 if total is not None else as_tensor(0.0)


def l0_count(params, tol: float = 0.0):
    r"""The L0 "norm": the number of weights with :math:`|w_i| > \mathrm{tol}`. A count, not
    differentiable (the result never requires grad); :func:`l1_penalty` is its convex surrogate."""
    count = sum(int((xp.abs(p._array) > tol).sum()) for p in _params(params))
    return _metric(
        xp.asarray(count, dtype=_dt.int64),
        "l0_count is a count and has no gradient; use l1_penalty, its convex surrogate",
    )


# --------------------------------------------------------------------------- modules
class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(type(self).__name__, reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`."""

    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Module form of :func:`l1_loss`."""

    def forward(self, input, target):
        return l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Module form of :func:`huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """Module form of :func:`smooth_l1_loss`."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class BCELoss(_Loss):
    """Module form of :func:`binary_cross_entropy`."""

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits`."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """Module form of :func:`cross_entropy` (logits in, class indices or probabilities)."""

    def __init__(
        self,
        weight=None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):
        return cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_Loss):
    """Module form of :func:`nll_loss` (log-probabilities in)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MultiMarginLoss(_Loss):
    """Module form of :func:`multi_margin_loss`."""

    def __init__(
        self, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.p, self.margin, self.weight = p, margin, weight

    def forward(self, input, target):
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


class HingeLoss(_Loss):
    """Module form of :func:`hinge_loss` (targets in {-1, +1})."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return hinge_loss(input, target, self.margin, self.reduction)


class SquaredHingeLoss(_Loss):
    """Module form of :func:`squared_hinge_loss`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return squared_hinge_loss(input, target, self.margin, self.reduction)


class ExponentialLoss(_Loss):
    """Module form of :func:`exponential_loss`."""

    def forward(self, input, target):
        return exponential_loss(input, target, self.reduction)


class PerceptronLoss(_Loss):
    """Module form of :func:`perceptron_loss`."""

    def forward(self, input, target):
        return perceptron_loss(input, target, self.reduction)


class ZeroOneLoss(_Loss):
    """Module form of :func:`zero_one_loss` (a metric: never differentiable)."""

    def __init__(self, tolerance: float | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.tolerance = tolerance

    def forward(self, input, target):
        return zero_one_loss(input, target, self.tolerance, self.reduction)
