"""Op-table entries for the losses and penalties. Losses with a PyTorch twin are compared
with it; the others (hinge, squared hinge, exponential, perceptron, 0-1, the clip-then-log
cross-entropy, the penalties) with their docstring formula written again in NumPy."""

from __future__ import annotations

import numpy as np

from chainrule.testing.sampling import Const, Kink, Sample, away, functional, uniform

__all__ = ["LOSS_OPS"]

REDUCTIONS = ("mean", "sum", "none")


def _np_reduce(loss, reduction, divisor=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / float(loss.size if divisor is None else divisor)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis):
    return np.log(_softmax(x, axis))


# --------------------------------------------------------------------------- references
def _np_mse(x, y, reduction="mean"):
    return _np_reduce((x - y) ** 2, reduction)


def _np_l1(x, y, reduction="mean"):
    return _np_reduce(np.abs(x - y), reduction)


def _np_huber(x, y, reduction="mean", delta=1.0):
    d = np.abs(x - y)
    return _np_reduce(np.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta)), reduction)


def _np_smooth_l1(x, y, reduction="mean", beta=1.0):
    d = np.abs(x - y)
    if beta == 0:
        return _np_reduce(d, reduction)
    return _np_reduce(np.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta), reduction)


def _np_bce(x, y, weight=None, reduction="mean"):
    loss = -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100))
    return _np_reduce(loss * (1 if weight is None else weight), reduction)


def _np_bce_logits(x, y, weight=None, reduction="mean", pos_weight=None):
    p = 1 if pos_weight is None else pos_weight
    log_sig = -np.logaddexp(0, -x)  # log sigmoid(x)
    log_one_minus = -np.logaddexp(0, x)  # log(1 - sigmoid(x))
    loss = -(p * y * log_sig + (1 - y) * log_one_minus)
    return _np_reduce(loss * (1 if weight is None else weight), reduction)


def _np_nll(logp, t, weight=None, ignore_index=-100, reduction="mean"):
    c = logp.shape[1]
    w = np.ones(c, logp.dtype) if weight is None else weight
    moved = np.moveaxis(logp, 1, -1)  # (N, ..., C)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(moved, safe[..., None], axis=-1)[..., 0]
    coef = np.where(valid, w[safe], 0.0)
    return _np_reduce(-picked * coef, reduction, coef.sum())


def _np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x[None], (t[None] if t.ndim == 1 else np.reshape(t, (1,)))
    c = x.shape[1]
    logp = _log_softmax(x, 1)
    w = np.ones(c, x.dtype) if weight is None else weight
    wb = w.reshape((1, c) + (1,) * (x.ndim - 2))
    if t.dtype.kind == "f":
        t = t * (1 - label_smoothing) + label_smoothing / c
        loss = -(logp * t * wb).sum(1)
        out = _np_reduce(loss, reduction, loss.size)
    else:
        valid = t != ignore_index
        safe = np.where(valid, t, 0)
        nll = _np_nll(logp, t, weight, ignore_index, "none")
        smooth = -(logp * wb).sum(1) * valid
        denom = np.where(valid, w[safe], 0).sum()
        loss = nll * (1 - label_smoothing) + smooth * (label_smoothing / c)
        out = _np_reduce(loss, reduction, denom)
    return out[0] if unbatched and reduction == "none" else out


def _np_multi_margin(x, t, p=1, margin=1.0, weight=None, reduction="mean"):
    n, c = x.shape
    picked = x[np.arange(n), t][:, None]
    z = np.maximum(0, margin - picked + x) ** p
    z[np.arange(n), t] = 0
    if weight is not None:
        z = z * weight[t][:, None]
    return _np_reduce(z.sum(1) / c, reduction)


def _np_hinge(y, t, margin=1.0, reduction="mean"):
    return _np_reduce(np.maximum(0, margin - t * y), reduction)


def _np_squared_hinge(y, t, margin=1.0, reduction="mean"):
    return _np_reduce(np.maximum(0, margin - t * y) ** 2, reduction)


def _np_exponential(y, t, reduction="mean"):
    return _np_reduce(np.exp(-t * y), reduction)


def _np_perceptron(y, t, reduction="mean"):
    return _np_reduce(np.maximum(0, -t * y), reduction)


def _np_categorical(p, t, eps=1e-10, reduction="mean"):
    if t.dtype.kind in "iu":
        t = np.eye(p.shape[-1], dtype=p.dtype)[t]
    return _np_reduce(-(t * np.log(np.clip(p, eps, 1.0))).sum(-1), reduction)


def _np_zero_one(y, t, tolerance=None, reduction="mean"):
    if tolerance is not None:
        wrong = np.abs(y - t) >= tolerance
    elif y.ndim == 2:
        wrong = y.argmax(1) != t
    else:
        wrong = np.sign(y) != t
    return _np_reduce(wrong.astype(np.float32), reduction)


# --------------------------------------------------------------------------- samples
def _regression(extra=()):
    def make(rng):
        out = [
            Sample((uniform(rng, (3, 4)), uniform(rng, (3, 4))), {"reduction": r}, desc=r)
            for r in REDUCTIONS
        ]
        out.append(Sample((uniform(rng, ()), uniform(rng, ())), desc="0-d"))
        for kwargs in extra:
            out.append(
                Sample(
                    (uniform(rng, (3, 4), -3, 3), uniform(rng, (3, 4))), kwargs, desc=str(kwargs)
                )
            )
        return out

    return make


def _probs(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


def _bce_samples(rng):
    out = [
        Sample((_probs(rng, (3, 4)), Const(rng.uniform(0, 1, (3, 4)))), {"reduction": r}, desc=r)
        for r in REDUCTIONS
    ]
    out.append(
        Sample(
            (
                _probs(rng, (3, 4)),
                Const((rng.random((3, 4)) > 0.5).astype(float)),
                Const(uniform(rng, (3, 4), 0.5, 2)),
            ),
            desc="weight, hard targets",
        )
    )
    return out


def _bce_logits_samples(rng):
    y = lambda: Const((rng.random((3, 4)) > 0.5).astype(float))  # noqa: E731
    out = [Sample((uniform(rng, (3, 4), -4, 4), y()), {"reduction": r}, desc=r) for r in REDUCTIONS]
    out += [
        Sample(
            (uniform(rng, (3, 4), -4, 4), y(), Const(uniform(rng, (3, 4), 0.5, 2))), desc="weight"
        ),
        Sample(
            (uniform(rng, (3, 4), -4, 4), y()),
            {"pos_weight": Const(uniform(rng, (4,), 0.5, 3))},
            desc="pos_weight",
        ),
        Sample(
            (np.array([-40.0, -25.0, 25.0, 40.0]), Const(np.array([1.0, 0.0, 1.0, 0.0]))),
            desc="large logits",
        ),
    ]
    return out


def _ce_samples(rng):
    x = lambda *s: uniform(rng, s, -3, 3)  # noqa: E731
    t = np.array([0, 3, 4, 1])
    soft = Const(_softmax(rng.standard_normal((4, 5)), 1))
    w = Const(uniform(rng, (5,), 0.5, 2))
    out = [Sample((x(4, 5), t), {"reduction": r}, desc=r) for r in REDUCTIONS]
    out += [
        Sample((x(4, 5), t), {"weight": w}, desc="weight"),
        Sample(
            (x(4, 5), np.array([0, -100, 4, -100])),
            {"weight": w},
            desc="ignore_index -100 with weight",
        ),
        Sample(
            (x(4, 5), np.array([0, 2, 4, 2])),
            {"ignore_index": 2, "reduction": "sum"},
            desc="ignore_index 2",
        ),
        *[
            Sample(
                (x(4, 5), np.array([0, 3, -100, 1])),
                {"label_smoothing": 0.1, "weight": w, "reduction": r},
                desc=f"label smoothing, weight, ignore, {r}",
            )
            for r in REDUCTIONS
        ],
        *[
            Sample((x(4, 5), soft), {"reduction": r}, desc=f"probability targets, {r}")
            for r in REDUCTIONS
        ],
        Sample(
            (x(4, 5), soft),
            {"label_smoothing": 0.2, "weight": w},
            desc="probabilities, smoothing, weight",
        ),
        Sample((x(2, 3, 4), np.array([[0, 1, 2, 0], [2, 2, 1, 0]])), desc="(N, C, d) input"),
        Sample((x(5), np.array(3)), desc="unbatched"),
    ]
    return out


def _nll_samples(rng):
    logp = lambda *s: _log_softmax(rng.standard_normal(s), 1)  # noqa: E731
    w = Const(uniform(rng, (5,), 0.5, 2))
    t = np.array([0, 3, -100, 1])
    out = [
        Sample((logp(4, 5), t), {"reduction": r, "weight": w}, desc=f"weight, ignored, {r}")
        for r in REDUCTIONS
    ]
    out.append(
        Sample((logp(2, 3, 4), np.array([[0, 1, 2, 0], [2, 2, 1, 0]])), desc="(N, C, d) input")
    )
    return out


def _margin_samples(rng):
    t = np.array([0, 3, 4, 1])
    out = [Sample((uniform(rng, (4, 5)), t), {"reduction": r}, desc=r) for r in REDUCTIONS]
    out.append(
        Sample(
            (uniform(rng, (4, 5)), t),
            {"p": 2, "margin": 0.5, "weight": Const(uniform(rng, (5,), 0.5, 2))},
            desc="p=2, margin, weight",
        )
    )
    return out


def _plus_minus(kinks=(1.0, -1.0), extra=()):
    def make(rng):
        t = np.where(rng.random((3, 4)) > 0.5, 1.0, -1.0)
        y = away(rng, (3, 4), kinks, low=-2, high=2)
        out = [Sample((y, Const(t)), {"reduction": r}, desc=r) for r in REDUCTIONS]
        for kwargs in extra:
            out.append(Sample((away(rng, (3, 4), (0.5, -0.5)), Const(t)), kwargs, desc=str(kwargs)))
        return out

    return make


def _categorical_samples(rng):
    p = _softmax(rng.standard_normal((4, 5)), 1)
    out = [
        Sample((p, Const(np.eye(5)[[0, 3, 4, 1]])), {"reduction": r}, desc=f"one-hot, {r}")
        for r in REDUCTIONS
    ]
    out.append(Sample((p, np.array([0, 3, 4, 1])), desc="class indices"))
    clipped = p.copy()
    clipped[0, 0] = 1e-4
    out.append(Sample((clipped, np.array([0, 3, 4, 1])), {"eps": 1e-3}, desc="clip active"))
    return out


def _penalty_samples(rng):
    return [Sample(([away(rng, (3, 4), (0.0,)), away(rng, (5,), (0.0,))],), desc="two tensors")]


def _zero_one_samples(rng):
    scores = uniform(rng, (6, 4))
    return [
        *[
            Sample((scores, rng.integers(0, 4, 6)), {"reduction": r}, desc=f"classes, {r}")
            for r in REDUCTIONS
        ],
        Sample(
            (np.array([0.5, -1.0, 0.0, 2.0]), Const(np.array([1.0, 1.0, -1.0, -1.0]))),
            desc="signs, 0 is wrong",
        ),
        Sample(
            (np.array([1.0, 2.0, 3.0]), Const(np.array([1.2, 2.5, 3.0]))),
            {"tolerance": 0.5},
            desc="regression tolerance",
        ),
    ]


def _kink_pm(y, t, grads, desc):
    return Kink((np.array(y), Const(np.array(t))), (np.array(grads),), desc=desc)


LOSS_OPS = [
    functional("mse_loss", _np_mse, _regression()),
    functional(
        "l1_loss",
        _np_l1,
        _regression(),
        Kink(
            (np.array([1.0, 2.0]), np.array([1.0, 0.0])),
            (np.array([0.0, 0.5]), np.array([0.0, -0.5])),
            desc="a tie gets gradient 0",
        ),
    ),
    functional(
        "huber_loss",
        _np_huber,
        _regression([{"delta": 0.5}]),
        Kink(
            (np.array([0.5, -0.5]), np.array([0.0, 0.0])),
            (np.array([0.25, -0.25]), np.array([-0.25, 0.25])),
            {"delta": 0.5},
            desc="|d| = delta",
        ),
    ),
    functional("smooth_l1_loss", _np_smooth_l1, _regression([{"beta": 0.5}, {"beta": 0.0}])),
    functional(
        "binary_cross_entropy",
        _np_bce,
        _bce_samples,
        Kink(
            (np.array([0.0, 1.0]), Const(np.array([1.0, 0.0]))),
            (np.array([-0.5, 0.5]) / float(np.float32(1e-12)),),
            desc="saturated probabilities: the log clamps at -100, the gradient at 1e12",
        ),
    ),
    functional(
        "binary_cross_entropy_with_logits",
        _np_bce_logits,
        _bce_logits_samples,
        Kink(
            (np.array([0.0, 0.0]), Const(np.array([1.0, 0.0]))),
            (np.array([-0.25, 0.25]),),
            desc="logit 0: sigmoid(0) - y",
        ),
    ),
    functional("cross_entropy", _np_cross_entropy, _ce_samples),
    functional("nll_loss", _np_nll, _nll_samples),
    functional(
        "multi_margin_loss",
        _np_multi_margin,
        _margin_samples,
        Kink(
            (np.array([[1.0, 1.5, 2.0]]), np.array([2])),
            (np.array([[0.0, 1 / 3, -1 / 3]]),),
            desc="a term exactly at the hinge contributes nothing",
        ),
    ),
    # Without a PyTorch twin: checked against the docstring formula in NumPy.
    functional(
        "hinge_loss",
        _np_hinge,
        _plus_minus(extra=[{"margin": 0.5}]),
        _kink_pm([1.0, 0.5], [1.0, -1.0], [0.0, 0.5], "at the margin: gradient 0"),
        torch=False,
    ),
    functional(
        "squared_hinge_loss", _np_squared_hinge, _plus_minus(extra=[{"margin": 0.5}]), torch=False
    ),
    functional("exponential_loss", _np_exponential, _plus_minus(kinks=()), torch=False),
    functional(
        "perceptron_loss",
        _np_perceptron,
        _plus_minus(kinks=(0.0,)),
        _kink_pm([0.0, 0.0], [1.0, -1.0], [-0.5, 0.5], "a score of 0 counts as a mistake"),
        torch=False,
    ),
    functional("categorical_cross_entropy", _np_categorical, _categorical_samples, torch=False),
    functional(
        "l1_penalty", lambda ps: sum(np.abs(p).sum() for p in ps), _penalty_samples, torch=False
    ),
    functional(
        "l2_penalty",
        lambda ps: 0.5 * sum((p**2).sum() for p in ps),
        _penalty_samples,
        torch=False,
    ),
    functional("zero_one_loss", _np_zero_one, _zero_one_samples, torch=False, differentiable=False),
    functional(
        "l0_count",
        lambda ps, tol=0.0: np.int64(sum((np.abs(p) > tol).sum() for p in ps)),
        lambda rng: [
            Sample(([np.array([0.0, 1e-3, -2.0]), np.array([[0.0, 5.0]])],), desc="tol 0"),
            Sample(([np.array([0.0, 1e-3, -2.0])],), {"tol": 0.01}, desc="tol 0.01"),
        ],
        torch=False,
        differentiable=False,
    ),
]
