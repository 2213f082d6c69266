"""What every lab experiment is made of: a config, a result and the checks on it.

An experiment module (see :mod:`chainrule.lab.experiments`) defines

* ``NAME``, ``SECTION`` (its section number in docs/fundamentals.md) and ``DERIVATION`` (a few lines
  for the report); its docstring's first paragraph is the claim;
* ``Config``, a frozen dataclass derived from :class:`Config`, with the full run's
  sizes as defaults, and ``SMOKE``, the fields that a smoke run (seconds) overrides;
* ``run(config) -> Result``: the measurement, with ``metrics`` (numbers, JSON-ready)
  and ``traces`` (arrays for the figures);
* ``check(result) -> list[Check]``: the claim judged from the numbers, each bound
  written where the check is made;
* ``plot(result, out_dir) -> list[Path]``: the figures, as PNG files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Check",
    "Config",
    "Result",
    "at_least",
    "at_most",
    "between",
    "holds",
    "near",
    "plain",
]


@dataclass(frozen=True)
class Config:
    """Settings every experiment has; an experiment's own ``Config`` adds its sizes.

    Attributes
    ----------
    seed : int
        Seeds chainrule's generator and every ``np.random.default_rng`` the experiment
        makes, so that the same seed gives the same metrics, bit for bit.
    smoke : bool
        Whether this is a smoke run (the sizes in the module's ``SMOKE``).
    """

    seed: int = 0
    smoke: bool = False


def _fmt(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        value = float(value)
        if value == 0 or not math.isfinite(value):
            return str(value)
        if 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


@dataclass
class Check:
    """One measured number held against the bound that the claim sets.

    Attributes
    ----------
    what : str
        What is measured, in words ("max |autograd - formula| over the Jacobian").
    measured : str
        The measured value, formatted.
    bound : str
        The bound, formatted with its relation ("<= 1e-12").
    passed : bool
        Whether the measured value is within the bound.
    """

    what: str
    measured: str
    bound: str
    passed: bool

    def __str__(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"[{verdict}] {self.what}: {self.measured} (needs {self.bound})"

    def to_dict(self) -> dict:
        return {
            "what": self.what,
            "measured": self.measured,
            "bound": self.bound,
            "passed": bool(self.passed),
        }


def _number(value):
    """An int stays an int (for display); anything else becomes a float."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    return float(value)


def at_most(what: str, value, bound) -> Check:
    """``value <= bound`` (nan fails)."""
    value = _number(value)
    return Check(what, _fmt(value), f"<= {_fmt(bound)}", bool(value <= bound))


def at_least(what: str, value, bound) -> Check:
    """``value >= bound`` (nan fails)."""
    value = _number(value)
    return Check(what, _fmt(value), f">= {_fmt(bound)}", bool(value >= bound))


def between(what: str, value, low, high) -> Check:
    """``low <= value <= high`` (nan fails)."""
    value = _number(value)
    return Check(what, _fmt(value), f"in [{_fmt(low)}, {_fmt(high)}]", bool(low <= value <= high))


def near(what: str, value, target, tol) -> Check:
    """``|value - target| <= tol`` (nan fails)."""
    value = float(value)
    shown = f"{_fmt(value)} (off by {_fmt(value - target)})"
    return Check(what, shown, f"{_fmt(target)} ± {_fmt(tol)}", bool(abs(value - target) <= tol))


def holds(what: str, condition, measured, expected: str) -> Check:
    """A condition that is not a single comparison; ``measured`` shows what was seen."""
    return Check(what, _fmt(measured), expected, bool(condition))


def plain(value):
    """``value`` as JSON-ready Python: arrays to lists, NumPy scalars to numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


@dataclass
class Result:
    """An experiment's measurements, its checks and, once run, who it is and how it went.

    ``run`` fills ``metrics`` and ``traces``; the runner fills the rest.

    Attributes
    ----------
    metrics : dict
        The measured numbers (plain floats, ints, bools, short lists): what the checks
        judge, what ``--json`` prints, and what two runs with one seed must agree on.
    traces : dict
        Arrays for the figures (curves, paths, histograms); not printed.
    checks : list of Check
        The verdicts of ``check(result)``.
    figures : dict
        File name -> PNG bytes, as ``plot`` wrote them.
    error, traceback : str or None
        Set when ``run``, ``check`` or ``plot`` raised; the experiment then failed.
    """

    metrics: dict = field(default_factory=dict)
    traces: dict = field(default_factory=dict)
    name: str = ""
    claim: str = ""
    section: int = 0
    seed: int = 0
    smoke: bool = False
    checks: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None

    @property
    def passed(self) -> bool:
        """Ran without error and every check passed (no checks is not a pass)."""
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    def summary(self) -> dict:
        """The JSON object ``chainrule lab run --json`` prints, and a bit more."""
        return {
            "name": self.name,
            "claim": self.claim,
            "section": self.section,
            "passed": self.passed,
            "metrics": _json_safe(plain(self.metrics)),
            "figures": sorted(self.figures),
            "checks": [c.to_dict() for c in self.checks],
            "seed": self.seed,
            "smoke": self.smoke,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "traceback": self.traceback,
        }


def _json_safe(value):
    # JSON has no nan or infinity: write them as the strings Python prints.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
