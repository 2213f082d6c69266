"""Log losses (maximum likelihood): binary cross-entropy on probabilities or logits,
the negative log-likelihood, softmax cross-entropy on logits, and the clip-then-log form
on probabilities. The fused primitives are in ``ops/crossentropy.py``."""

from __future__ import annotations

import math

from chainrule import ops
from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.errors import LabelError, ShapeError
from chainrule.nn.loss._common import check_reduction, class_targets, matched, reduce, with_batch
from chainrule.ops.crossentropy import BinaryCrossEntropy, SoftmaxCrossEntropy
from chainrule.ops.promotion import float_input
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "cross_entropy",
    "nll_loss",
]


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    r"""Binary log loss on probabilities: :math:`l_n = -w_n[y_n\log x_n + (1 - y_n)\log(1 - x_n)]`.

    ``input`` holds probabilities in [0, 1] (after a sigmoid), ``target`` probabilities of the
    same shape (usually 0 or 1), ``weight`` rescales each element. ``mean`` divides by the
    number of elements (not by the weights). Gradient: :math:`w_n (x_n - y_n)/(x_n(1-x_n))`.
    Prefer :func:`binary_cross_entropy_with_logits`: the sigmoid fused in is exact where
    this form has to clamp.
    """
    x, t = matched("binary_cross_entropy", input, target, reduction)
    _check_probabilities(x._array, t._array)
    loss = BinaryCrossEntropy.apply(x, t)
    if weight is not None:
        loss = loss * float_input(weight)
    return reduce(loss, reduction)


@replayable  # a check of the values: a step captured by cr.compile repeats it
def _check_probabilities(x, t) -> None:
    for what, values in (("input", x), ("target", t)):
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
    x, t = matched("binary_cross_entropy_with_logits", input, target, reduction)
    soft = ops.softplus(-x, 1.0, math.inf)
    if pos_weight is not None:
        coef = (float_input(pos_weight) - 1) * t + 1
        loss = (1 - t) * x + coef * soft
    else:
        loss = (1 - t) * x + soft
    if weight is not None:
        loss = loss * float_input(weight)
    return reduce(loss, reduction)


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    r"""Negative log-likelihood of class-index targets, on log-probabilities:
    :math:`l_n = -w_{y_n}\, x_{n, y_n}` (0 where :math:`y_n` = ``ignore_index``, whatever
    :math:`x_n` holds, even :math:`-\infty` or nan).

    ``input`` (N, C) or (N, C, d1, ...), ``target`` (N,) or (N, d1, ...) integers in [0, C).
    ``mean`` divides by :math:`\sum_n w_{y_n}` over the non-ignored targets (N when unweighted);
    if every target is ignored the mean is 0/0 = nan, as in PyTorch. Gradient:
    :math:`-w_{y_n}` at the target class, 0 elsewhere, divided as the mean is.
    """
    check_reduction("nll_loss", reduction)
    x = float_input(input)
    x, target, unbatched = with_batch(x, target, "nll_loss")
    w = None if weight is None else float_input(weight)._array
    safe, coef, invalid, total, _ = _nll_terms(
        tuple(x.shape), target, ignore_index, w, x._array.dtype
    )
    picked = ops.gather(x, 1, safe).squeeze(1)
    loss = -picked * _make(coef, None, False)
    if invalid is not None:  # set, not multiplied: an ignored row's log-probability may be -inf
        loss = ops.masked_fill(loss, _make(invalid, None, False), 0.0)
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    # The total weight as a 0-d array of the loss's dtype: the same division as by the
    # Python number, and a replay recomputes it from each call's targets.
    return reduce(loss, reduction, _make(total, None, False))


@replayable
def _nll_terms(shape: tuple, target, ignore_index: int, weight, dtype) -> tuple:
    """For ``nll_loss``: the checked targets (ignored ones replaced by class 0), shaped
    (N, 1, d1, ...); each sample's weight; where the ignored samples are (None when there
    are none: a guard, so that a captured step records again when that changes); the
    total weight (0-d)."""
    t, _ = class_targets.replayable("nll_loss", shape, target, ignore_index)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)
    w = xp.ones(shape[1], dtype) if weight is None else weight
    coef = xp.where(valid, w[safe], 0).astype(dtype)
    every = bool(valid.all())
    return xp.expand_dims(safe, 1), coef, None if every else ~valid, xp.asarray(coef.sum()), every


@replayable
def sample_weights(t, ignore_index: int | None, class_weight, dtype) -> tuple:
    """For class-index targets ``t``: the targets with ignored ones replaced by class 0
    (their loss is set to 0 anyway), each sample's weight (its class's weight, or 1; 0
    if ignored) and which samples count."""
    valid = t != ignore_index
    t = xp.where(valid, t, 0)
    w_t = 1 if class_weight is None else class_weight[t]
    return t, xp.where(valid, w_t, 0).astype(dtype, copy=False), valid


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
    the :math:`a - y` of docs/fundamentals.md §3.

    Masked classes (logits of :math:`-\infty`) have probability 0, as in PyTorch: with class
    indices the target's log-probability is picked, not summed against a one-hot, and an
    ignored sample's loss is set to 0, so neither turns into 0·(−∞) = nan; a target on a
    masked class costs :math:`+\infty`. With probability targets (and with label smoothing,
    whose uniform part covers every class) the formula sums over all classes, and a masked
    class gives nan (0 target) or :math:`+\infty`, exactly as PyTorch computes it; the
    gradients stay finite.
    """
    check_reduction("cross_entropy", reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = float_input(input)
    x, target, unbatched = with_batch(x, target, "cross_entropy")
    c = x.shape[1]
    wshape = (1, c) + (1,) * (x.ndim - 2)
    w = None if weight is None else float_input(weight)
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
        return reduce(loss, reduction, x._array.size // c)

    t, all_classes = class_targets("cross_entropy", tuple(x.shape), t_data, ignore_index)
    in_classes = ignore_index is not None and 0 <= ignore_index < c
    class_weight = None if w is None else w._array.astype(x._array.dtype, copy=False)
    if w is None and not in_classes and all_classes:
        coef = valid = None  # every sample counts, with weight 1
    else:
        t, coef, valid = sample_weights(t, ignore_index, class_weight, x._array.dtype)
    loss = SoftmaxCrossEntropy.apply(
        x, t, coef, valid, reduction, float(label_smoothing), class_weight
    )
    return loss.squeeze(0) if unbatched and reduction == "none" else loss


def categorical_cross_entropy(probs, target, eps: float = 1e-10, reduction: str = "mean"):
    r"""Cross-entropy on probabilities, the clip-then-log form of
    docs/fundamentals.md §3 (Keras's ``categorical_crossentropy`` with
    ``from_logits=False``):

    .. math:: l_n = -\sum_c t_{n,c} \log(\mathrm{clip}(p_{n,c}, \epsilon, 1))

    ``probs`` (N, C) after a softmax, classes along the last dimension; ``target`` one-hot or
    probabilities of the same shape, or class indices (N,). ``mean`` divides by the number
    of samples N. (TensorFlow's line ``reduce_mean(y * log(...))``, quoted there,
    averages over all N*C entries instead, which scales the loss and its gradient by 1/C.)

    Gradient: :math:`-t_{n,c}/p_{n,c}` where :math:`p > \epsilon`, and 0 where the clip is
    active. That is why the fused form :func:`cross_entropy` on logits is preferred: here a
    confidently wrong prediction (:math:`p < \epsilon`) gets no gradient at all, the loss
    saturates at :math:`-\log\epsilon \approx 23`, and probabilities that rounded to 0 in
    float32 have already lost the information that log-softmax keeps.
    """
    check_reduction("categorical_cross_entropy", reduction)
    p = float_input(probs)
    t_data = target._array if isinstance(target, Tensor) else xp.asarray(target)
    if t_data.dtype.kind in "iu":
        c = p.shape[-1]
        if tuple(t_data.shape) != tuple(p.shape[:-1]):
            raise ShapeError(
                f"categorical_cross_entropy: probs of shape {tuple(p.shape)} need class indices of "
                f"shape {tuple(p.shape[:-1])}, got {tuple(t_data.shape)}"
            )
        t = as_tensor(_one_hot_rows(t_data, c, p._array.dtype))
    else:
        p, t = matched("categorical_cross_entropy", p, target, reduction)
    loss = -(t * ops.clamp(p, eps, 1.0).log()).sum(-1)
    return reduce(loss, reduction)


@replayable  # a check of the labels and a table from them: cr.compile repeats it
def _one_hot_rows(t_data, c: int, dtype):
    """Class indices as one-hot rows of ``dtype``, after checking they lie in [0, c)."""
    bad = (t_data < 0) | (t_data >= c)
    if bad.any():
        raise LabelError(
            f"categorical_cross_entropy: target contains class {int(t_data[bad].flat[0])}, but "
            f"probs have {c} classes (valid labels are 0..{c - 1})"
        )
    return xp.eye(c, dtype=dtype)[t_data]
