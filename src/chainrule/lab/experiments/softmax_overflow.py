"""The naive softmax exp(z)/Σexp(z) overflows in float32 once the largest logit passes
ln(FLT_MAX) ≈ 88.72; subtracting the maximum first gives the same probabilities and never
overflows.

docs/fundamentals.md §3, "Softmax without overflow", has the derivation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule.lab import plotting
from chainrule.lab.base import Config as _Config
from chainrule.lab.base import Result, at_most, between, holds

__all__ = ["DERIVATION", "NAME", "SECTION", "SMOKE", "Config", "check", "plot", "run"]

NAME = "softmax-overflow"
SECTION = 3
DERIVATION = """
softmax(z)_i = exp(z_i) / Σ_k exp(z_k). Multiplying numerator and denominator by exp(−m)
shows softmax(z − m) = softmax(z) for any constant m. With m = max_k z_k every exponent is
at most 0, so nothing overflows, and the largest term is exactly exp(0) = 1, so the sum is
at least 1 and never underflows to 0. In float32 the largest finite number is
FLT_MAX ≈ 3.40e38, so exp(z) overflows to inf for z > ln(FLT_MAX) ≈ 88.72, and inf/inf is
nan; at the other end exp(z) rounds to 0 below about −103.97 and 0/0 is nan as well, and
before that, below ln(FLT_MIN) ≈ −87.34, the exponentials are subnormal floats with fewer
significant bits, so the naive probabilities are already wrong while still finite.
"""


@dataclass(frozen=True)
class Config(_Config):
    """``shift_step``: spacing of the shifts c added to every logit; ``max_shift``: the
    shifts run over [−max_shift, max_shift]; ``dtype``: the precision of the naive and
    stable forms."""

    shift_step: float = 0.0625
    max_shift: float = 120.0
    dtype: str = "float32"


SMOKE = {"shift_step": 0.25}

# Base logits whose maximum is 0 and whose values are multiples of 1/16, so that z0 + c is
# exact in float32 for every shift c on the grid: the stable form then sees the very same
# z - max(z) at every shift, and any difference would be the method's, not the input's.
_Z0 = np.array([0.0, -0.5, -1.25, -2.0, -3.0625, -4.5])


def run(config: Config) -> Result:
    shifts = np.arange(
        -config.max_shift, config.max_shift + config.shift_step / 2, config.shift_step
    )
    z = cr.tensor(_Z0[None, :] + shifts[:, None], dtype=config.dtype)  # (shifts, classes)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        e = cr.exp(z)
        denominators = e.sum(dim=1, keepdim=True)
        naive = (e / denominators).numpy().astype(np.float64)
    stable = cr.softmax(z, dim=1).numpy().astype(np.float64)
    e0 = np.exp(_Z0)
    reference = e0 / e0.sum()  # float64; the same for every shift

    # The naive form breaks where the denominator overflows (then every p is 0 or nan)
    # or an output is not finite (inf/inf, 0/0).
    denominator = denominators.numpy().astype(np.float64)[:, 0]
    naive_ok = np.isfinite(naive).all(axis=1) & np.isfinite(denominator)
    above = (shifts > 0) & ~naive_ok
    below = (shifts < 0) & ~naive_ok
    # Where every exp(z_k) is a normal float, the two forms must agree to rounding; below
    # that the naive form's exponentials are subnormal and lose digits before they reach 0.
    exps = e.numpy()
    normal = naive_ok & (exps >= np.finfo(config.dtype).tiny).all(axis=1)
    with np.errstate(divide="ignore"):
        log10_sum = np.log10(denominator)
    err_naive = np.where(naive_ok, np.abs(naive - reference).max(axis=1), np.nan)
    err_stable = np.abs(stable - reference).max(axis=1)
    at_zero = stable[np.argmin(np.abs(shifts))]
    dtype_max = float(np.finfo(config.dtype).max)
    exp_inf = (shifts > 0) & ~np.isfinite(exps).all(axis=1)
    metrics = {
        "dtype": config.dtype,
        "shift_step": config.shift_step,
        "ln_dtype_max": float(np.log(dtype_max)),
        # The sum overflows once c + ln Σ exp(z0_k) passes ln(max): a little before the
        # largest exponential itself does (at c = ln(max), z0's maximum being 0).
        "predicted_sum_overflow": float(np.log(dtype_max) - np.log(e0.sum())),
        "first_overflow_shift": float(shifts[above][0]) if above.any() else None,
        "first_exp_overflow_shift": float(shifts[exp_inf][0]) if exp_inf.any() else None,
        "last_underflow_shift": float(shifts[below][-1]) if below.any() else None,
        "naive_broken_rows": int((~naive_ok).sum()),
        "stable_nonfinite_rows": int((~np.isfinite(stable).all(axis=1)).sum()),
        "stable_max_error": float(err_stable.max()),
        "naive_max_error_where_finite": float(np.nanmax(err_naive)),
        "naive_vs_stable_where_normal": float(np.abs(naive - stable)[normal].max()),
        "naive_subnormal_rows": int((naive_ok & ~normal).sum()),
        "stable_shift_invariance": float(np.abs(stable - at_zero).max()),
        "rows": len(shifts),
    }
    traces = {
        "shifts": shifts,
        "log10_sum": log10_sum,
        "err_naive": err_naive,
        "err_stable": err_stable,
    }
    return Result(metrics, traces)


def check(result: Result) -> list:
    m = result.metrics
    overflow = m["first_overflow_shift"]
    eps = float(np.finfo(m["dtype"]).eps)
    return [
        holds(
            "the naive form overflows within the shifts tried",
            overflow is not None,
            overflow if overflow is not None else "never",
            "a shift where exp overflows",
        ),
        # Predicted at c* = ln(max) - ln Σ exp(z0_k); the grid's spacing bounds how far
        # past c* the first overflowing shift can be.
        between(
            "first shift where the naive form's sum overflows, minus the predicted c*",
            overflow - m["predicted_sum_overflow"] if overflow is not None else np.nan,
            0.0,
            m["shift_step"],
        ),
        between(
            "first shift where exp(max z) itself overflows (float32: ln max = 88.72)",
            m["first_exp_overflow_shift"] if m["first_exp_overflow_shift"] is not None else np.nan,
            m["ln_dtype_max"],
            m["ln_dtype_max"] + m["shift_step"],
        ),
        at_most("rows where the max-subtracted form is not finite", m["stable_nonfinite_rows"], 0),
        # Float32 rounding of six exponentials and one division: a few ulps of 1.
        at_most("max |stable - float64 reference| over all shifts", m["stable_max_error"], 8 * eps),
        at_most(
            "max |naive - stable| where every exp(z_k) is a normal float",
            m["naive_vs_stable_where_normal"],
            8 * eps,
        ),
        at_most(
            "max change of the stable result over all shifts (exact inputs)",
            m["stable_shift_invariance"],
            0.0,
        ),
    ]


def plot(result: Result, out_dir) -> list:
    t, m = result.traces, result.metrics
    fig, (ax1, ax2) = plotting.figure(2, width=4.6)
    ax1.plot(t["shifts"], t["log10_sum"], label="Σ exp(z_k), naive")
    info = np.finfo(m["dtype"])
    ax1.axhline(np.log10(info.max), color="k", ls=":", label=f"{m['dtype']} max")
    ax1.axhline(np.log10(info.tiny), color="k", ls="-.", label=f"smallest normal {m['dtype']}")
    ax1.axvline(
        m["ln_dtype_max"], color="#D55E00", ls="--", label=f"ln max = {m['ln_dtype_max']:.2f}"
    )
    ax1.set_xlabel("shift c added to every logit (max logit = c)")
    ax1.set_ylabel("log10 of the denominator")
    ax1.set_title("the denominator leaves the float range")
    ax1.legend()
    floor = 1e-17  # an error of exactly 0 is drawn at this floor on the log axis
    ax2.semilogy(t["shifts"], np.maximum(t["err_naive"], floor), label="naive exp(z)/Σexp(z)")
    ax2.semilogy(
        t["shifts"], np.maximum(t["err_stable"], floor), ls="--", label="softmax(z − max z)"
    )
    bad = ~np.isfinite(t["err_naive"])
    ax2.plot(t["shifts"][bad], np.full(bad.sum(), 1.0), "x", ms=3, label="naive: inf, nan or all 0")
    ax2.set_xlabel("shift c added to every logit")
    ax2.set_ylabel("max |p − p_float64| (floor 1e-17)")
    ax2.set_title("error against the exact probabilities")
    ax2.legend(loc="center left")
    return [plotting.save(fig, out_dir, "softmax-overflow")]
