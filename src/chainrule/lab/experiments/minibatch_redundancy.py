"""When the data set is two identical halves, one pass of two half-batch steps does the work
of two full-batch passes: the full batch's gradient equals each half's, so after k passes
the half-batch run is exactly where the full-batch run is after 2k passes. Redundant data
is why mini-batches converge faster per pass over the data.

docs/fundamentals.md §4, "Why mini-batches", has the argument for vanilla mini-batch SGD
and its thought experiment (a data set made of two identical halves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_most, between
from chainrule.lab.experiments._common import digits

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "minibatch-redundancy"
SECTION = 4
DERIVATION = """
Let D = [H; H], two copies of the N samples H. The full-batch gradient is the mean over 2N
per-sample gradients, each appearing twice: g_D(w) = g_H(w). A pass of full-batch gradient
descent is one step w ← w − η g_H(w). A pass of half-batch descent visits H twice:
w ← w − η g_H(w), then w ← w − η g_H(w) again from the new point: two steps. So k passes
of half-batches equal 2k passes of the full batch, and the loss curve against passes is
compressed by a factor 2 (by B/N for B-sized batches of data made of N/B copies). With
data that is not redundant the half-batch steps use different gradients and the equality
is lost, though with real data, which is partly redundant, the gain per pass remains.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``half``: samples per half; ``redundant``: whether the second half repeats the
    first (the premise) or holds different samples; ``passes``, ``lr``: gradient descent
    on a softmax regression of the digits."""

    half: int = 600
    redundant: bool = True
    passes: int = 80
    lr: float = 1.0
    tolerance_loss: float = 0.5


SMOKE = {"half": 300, "passes": 24, "tolerance_loss": 0.8}


def _descend(x, y, halves: int, config: Config, init: dict) -> np.ndarray:
    """Mean loss over the whole data after each pass, taking ``halves`` steps per pass."""
    model = nn.Linear(64, 10)
    model.load_state_dict(init)
    opt = optim.SGD(model.parameters(), lr=config.lr)
    xs, ys = np.array_split(x, halves), np.array_split(y, halves)
    losses = []
    for _ in range(config.passes):
        for xb, yb in zip(xs, ys):
            opt.zero_grad()
            cr.nn.functional.cross_entropy(model(cr.tensor(xb)), cr.tensor(yb)).backward()
            opt.step()
        with cr.no_grad():
            losses.append(cr.nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).item())
    return np.array(losses)


def _first(curve: np.ndarray, tol: float) -> int | None:
    hit = np.nonzero(curve <= tol)[0]
    return int(hit[0]) + 1 if hit.size else None


def run(config: Config) -> Result:
    cr.set_default_dtype(cr.float64)  # the equality holds to rounding; keep rounding small
    data = digits(config.seed, n_train=2 * config.half)
    h1x, h1y = data.x_train[: config.half], data.y_train[: config.half]
    if config.redundant:
        h2x, h2y = h1x, h1y
    else:
        h2x, h2y = data.x_train[config.half :], data.y_train[config.half :]
    x, y = np.concatenate([h1x, h2x]), np.concatenate([h1y, h2y])
    init = nn.Linear(64, 10).state_dict()
    full = _descend(x, y, 1, config, init)
    half = _descend(x, y, 2, config, init)
    k = config.passes // 2
    # half after pass j (j = 1..k) against full after pass 2j
    matched = np.abs(half[:k] - full[1 : 2 * k : 2]) / full[1 : 2 * k : 2]
    p_full, p_half = _first(full, config.tolerance_loss), _first(half, config.tolerance_loss)
    metrics = {
        "max_relative_gap_half_k_vs_full_2k": float(matched.max()),
        "passes_to_tolerance_full": p_full,
        "passes_to_tolerance_half": p_half,
        "pass_ratio": (p_full / p_half) if p_full and p_half else None,
        "final_loss_full": float(full[-1]),
        "final_loss_half": float(half[-1]),
    }
    return Result(metrics, {"full": full, "half": half, "tolerance": config.tolerance_loss})


def check(result: Result) -> list:
    m = result.metrics
    ratio = m["pass_ratio"]
    return [
        # float64: the two runs differ only in how the mean of the gradient is summed.
        at_most(
            "max |loss(half, pass k) - loss(full, pass 2k)| / loss",
            m["max_relative_gap_half_k_vs_full_2k"],
            1e-10,
        ),
        # Passes are whole numbers: when the full batch needs p passes, the half batch
        # needs ceil(p/2), so the ratio is 2 or (2·ceil(p/2) - 1)/ceil(p/2).
        between("passes to the tolerance, full / half", ratio if ratio else np.nan, 1.8, 2.0),
    ]


def plot(result: Result, out_dir) -> list:
    t = result.traces
    passes = np.arange(1, len(t["full"]) + 1)
    fig, (ax,) = plotting.figure(1, width=5.5, height=3.6)
    ax.semilogy(passes, t["full"], label="full batch: 1 step per pass")
    ax.semilogy(passes, t["half"], label="two half batches: 2 steps per pass")
    ax.semilogy(passes / 2, t["full"], ls=":", color="k", label="full batch against passes / 2")
    ax.axhline(t["tolerance"], color="#D55E00", lw=0.8, ls="--", label="tolerance")
    ax.set_xlabel("passes over the data")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title("data made of two identical halves")
    ax.legend()
    return [plotting.save(fig, out_dir, "minibatch-redundancy")]
