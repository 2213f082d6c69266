"""Random tensors beyond ``randn``/``rand``/``randint``: PyTorch's ``*_like`` draws,
``randperm``, ``multinomial``, ``normal`` and ``bernoulli``.

Every function takes ``generator=`` (a :class:`chainrule.Generator`); without one it draws
from the library's generator, so ``cr.manual_seed`` reproduces it. The numbers follow the
same distributions as PyTorch's, not the same streams (see ``chainrule/random.py``).

``normal`` and ``bernoulli`` with tensor parameters are recorded in the graph as PyTorch
records them, with a gradient of zero for the parameters: a draw is not differentiated
through its distribution's parameters. To learn a mean and a standard deviation through
a sample, write the sample as ``mean + std * cr.randn_like(std)`` (the
reparameterisation trick), whose gradients are 1 and the noise.
"""

from __future__ import annotations

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.autograd.function import Function
from chainrule.devices import check_device
from chainrule.random import rng
from chainrule.tensor import Tensor, _float_draw, _make, as_tensor, zeros_like

__all__ = [
    "bernoulli",
    "multinomial",
    "normal",
    "rand_like",
    "randint_like",
    "randn_like",
    "randperm",
]


def _like(where: str, input, dtype, device, requires_grad: bool, draw) -> Tensor:
    check_device(where, device)
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: input must be a tensor, got {type(input).__name__}")
    dt = input._array.dtype if dtype is None else _dt.to_dtype(dtype)
    arr = xp.asarray(draw(input._array.shape, dt))
    t = _make(arr, None, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


# randn_like and rand_like mirror PyTorch's signatures, alike on purpose.
@replayable
def randn_like(
    input, *, generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Standard normal draws of ``input``'s shape and (unless ``dtype``) dtype."""
    return _float_like(
        "randn_like", "standard_normal", input, generator, dtype, device, requires_grad
    )


@replayable
def rand_like(
    input, *, generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """U[0, 1) draws of ``input``'s shape and (unless ``dtype``) dtype."""
    return _float_like("rand_like", "random", input, generator, dtype, device, requires_grad)


def _float_like(where: str, method: str, input, generator, dtype, device, requires_grad: bool):
    """Floating draws of ``input``'s shape from the generator's ``method``."""

    def draw(shape, dt):
        _float_draw(where, dt)
        return getattr(rng(generator), method)(shape).astype(dt)

    return _like(where, input, dtype, device, requires_grad, draw)


@replayable
def randint_like(
    input,
    low: int = 0,
    high: int | None = None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers from [low, high) in ``input``'s shape and dtype; ``randint_like(x, high)``
    draws from [0, high), as in PyTorch."""
    if high is None:
        low, high = 0, low
    if low >= high:
        raise ValueError(f"randint_like: low must be less than high, got low={low} >= high={high}")

    def draw(shape, dt):
        return rng(generator).integers(low, high, shape).astype(dt)

    return _like("randint_like", input, dtype, device, requires_grad, draw)


@replayable
def randperm(
    n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` says otherwise)."""
    check_device("randperm", device)
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"randperm: n must be an integer, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    dt = _dt.int64 if dtype is None else _dt.to_dtype(dtype)
    t = _make(xp.asarray(rng(generator).permutation(int(n)).astype(dt)), None, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


@replayable
def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    r"""Category indices drawn with the weights in each row of ``input``.

    ``input`` is 1-d (one distribution) or 2-d (one per row) of non-negative weights, not
    necessarily summing to 1 (each row is divided by its sum). The result is int64 of shape
    ``(num_samples,)`` or ``(rows, num_samples)``.

    - With ``replacement``: each draw is independent; index ``i`` comes with probability
      :math:`w_i / \sum_j w_j` (by inverting the cumulative sum of the weights).
    - Without: the indices in a row are distinct, drawn one after another from what is
      left, each in proportion to its weight. This is done at once by giving each index
      the key :math:`w_i / E_i`, with :math:`E_i` independent Exp(1) draws, and taking the
      ``num_samples`` largest keys in decreasing order (the distribution of that order is
      exactly that of the one-by-one draws). Indices of weight 0 come last, so
      ``num_samples`` may reach the number of categories, as in PyTorch.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: input must be a tensor, got {type(input).__name__}")
    w = input._array
    if w.dtype.kind != "f":
        raise TypeError(f"multinomial: the weights must be a floating tensor, got {input.dtype}")
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial: the weights must be 1-d or 2-d, got shape {tuple(w.shape)}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(f"multinomial: num_samples must be an integer, got {num_samples!r}")
    if num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    n = w.shape[-1]
    if not replacement and num_samples > n:
        raise ValueError(
            f"multinomial: cannot draw {num_samples} distinct categories out of {n} without "
            "replacement (pass replacement=True)"
        )
    rows = np.asarray(w, dtype=np.float64).reshape(-1, n)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise ValueError("multinomial: the weights must be finite and non-negative")
    totals = rows.sum(axis=1)
    if (totals <= 0).any():
        raise ValueError(
            f"multinomial: row {int(np.argmax(totals <= 0))} of the weights sums to 0: "
            "there is nothing to draw from"
        )
    g = rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1) / totals[:, None]  # (the last entry is exactly 1)
        u = g.random((rows.shape[0], num_samples))
        idx = np.stack([np.searchsorted(c, ui, side="right") for c, ui in zip(cdf, u)])
    else:
        with np.errstate(divide="ignore"):
            keys = rows / g.standard_exponential(rows.shape)
        idx = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    idx = idx.astype(np.int64).reshape((*w.shape[:-1], num_samples))
    return _make(xp.asarray(idx), None, False)


class Normal(Function):
    """A normal draw in the graph: zero gradient for the mean and the std, as PyTorch."""

    @staticmethod
    def forward(ctx, sample, mean, std):
        ctx.save_for_backward(mean, std)
        return sample

    @staticmethod
    def backward(ctx, grad):
        mean, std = ctx.saved_tensors
        return None, _zero_grad(mean), _zero_grad(std)


class Bernoulli(Function):
    """A Bernoulli draw in the graph: zero gradient for the probabilities, as PyTorch."""

    @staticmethod
    def forward(ctx, sample, p):
        ctx.save_for_backward(p)
        return sample

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        return None, _zero_grad(p)


def _zero_grad(t):
    return None if t is None else zeros_like(t)


@replayable
def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Draws from N(mean, std²), in PyTorch's four forms:

    - ``normal(mean_tensor, std_tensor)``: one draw per element of the broadcast shape;
    - ``normal(mean_tensor, std=1.0)`` and ``normal(mean, std_tensor)``: the tensor's shape;
    - ``normal(mean, std, size)``: numbers and a size (default dtype, or ``dtype``).

    The dtype is the tensors' (promoted) dtype, which must be floating; ``std`` must be
    non-negative. With tensors that require grad the result does too, with a zero
    gradient (see the module's note on reparameterisation).
    """
    check_device("normal", device)
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not (tm or ts):
        if size is None:
            raise TypeError(
                "normal(mean, std) with two numbers needs a size: normal(mean, std, size)"
            )
        dt = _dt.or_default(dtype)
        _float_draw("normal", dt)
        if std < 0:
            raise ValueError(f"normal: std must be >= 0, got {std}")
        shape = tuple(size) if isinstance(size, tuple | list) else (size,)
        arr = rng(generator).normal(mean, std, shape).astype(dt)
        return _make(xp.asarray(arr), None, False)
    if size is not None:
        raise TypeError("normal: size can only be given when mean and std are both numbers")
    m = mean if tm else None
    s = std if ts else None
    dt = _dt.result_type(*(x._array for x in (m, s) if x is not None))
    _float_draw("normal", dt)
    mv = m._array if m is not None else mean
    sv = s._array if s is not None else std
    if (np.asarray(sv) < 0).any():
        raise ValueError("normal: every std must be >= 0")
    try:
        shape = np.broadcast_shapes(np.shape(mv), np.shape(sv))
    except ValueError:
        raise ValueError(
            f"normal: the mean's shape {tuple(np.shape(mv))} and the std's shape "
            f"{tuple(np.shape(sv))} do not broadcast"
        ) from None
    z = rng(generator).standard_normal(shape)
    sample = _make(xp.asarray((mv + sv * z).astype(dt)), None, False)
    return Normal.apply(sample, m, s)  # (returns the sample itself when nothing needs grad)


@replayable
def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 where a U[0, 1) draw falls below the probability, else 0, in ``input``'s shape
    and dtype: the probabilities are ``input`` itself, or the number ``p``. Each must lie
    in [0, 1]. With probabilities that require grad the result does too, with a zero
    gradient (see the module's note)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli: input must be a tensor, got {type(input).__name__}")
    sample = bernoulli_fill("bernoulli", input, input if p is None else p, generator)
    if p is None and input.requires_grad:
        return Bernoulli.apply(sample, input)
    return sample


def bernoulli_fill(where: str, like: Tensor, p, generator) -> Tensor:
    """0/1 draws in ``like``'s shape and dtype with probabilities ``p``."""
    _float_draw(where, like._array.dtype)
    probs = as_tensor(p)._array if isinstance(p, Tensor) else np.asarray(p, dtype=np.float64)
    if not ((probs >= 0) & (probs <= 1)).all():
        raise ValueError(f"{where}: probabilities must lie in [0, 1]")
    u = rng(generator).random(like._array.shape)
    return _make(xp.asarray((u < probs).astype(like._array.dtype)), None, False)
