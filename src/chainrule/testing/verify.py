"""``chainrule verify``: run every check of the op table and print one row per op.

For each op: the forward against its NumPy reference (float64 and float32), float64
gradcheck with a random upstream gradient and the full Jacobian, second derivatives
(the same rule run with ``create_graph=True``), the exact values at kinks, and, when
PyTorch is installed, forward, backward and dtypes against PyTorch. PyTorch is imported
here, lazily and only for this comparison; nothing else in chainrule uses it.
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from chainrule.testing import checks
from chainrule.testing.opinfo import OP_DB
from chainrule.testing.sampling import OpInfo

__all__ = ["OpReport", "run", "verify_op"]


@dataclass
class OpReport:
    name: str
    samples: int = 0
    checks: int = 0
    gradcheck: str = "-"
    second: str = "-"
    kinks: str = "-"
    torch_fwd: float | None = None
    torch_bwd: float | None = None
    failures: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def _attempt(report: OpReport, fn, *args):
    report.checks += 1
    try:
        return fn(*args), True
    except checks.CheckFailure as err:
        report.failures.append(str(err))
        return None, False
    except Exception as err:  # an op that crashes is a disagreement too, with its reason
        report.failures.append(f"{report.name}: {type(err).__name__}: {err}")
        return None, False


def verify_op(info: OpInfo, torch=None) -> OpReport:
    """Every check for one op; failures are collected, never raised."""
    start = time.perf_counter()
    report = OpReport(info.name)
    samples = checks.samples_of(info)
    report.samples = len(samples)
    grad_ok = second_ok = True
    fwd_errors, bwd_errors = [], []
    for sample in samples:
        _attempt(report, checks.check_forward, info, sample)
        _attempt(report, checks.check_float32, info, sample)
        if info.method and hasattr(sample.args[0], "shape"):
            _attempt(report, checks.check_method, info, sample)
        if info.differentiable and sample.gradcheck:
            grad_ok &= _attempt(report, checks.check_gradcheck, info, sample)[1]
            if info.gradgrad:
                second_ok &= _attempt(report, checks.check_gradgradcheck, info, sample)[1]
        if torch is not None and info.torch is not None and sample.torch:
            errs, ok = _attempt(report, checks.check_torch, info, sample, torch)
            if ok:
                fwd_errors.append(errs[0])
                bwd_errors.append(errs[1])
    if info.differentiable:
        report.gradcheck = "ok" if grad_ok else "FAIL"
        report.second = ("ok" if second_ok else "FAIL") if info.gradgrad else "-"
    if info.kinks:
        kinks_ok = all([_attempt(report, checks.check_kink, info, k, torch)[1] for k in info.kinks])
        report.kinks = f"{len(info.kinks)} ok" if kinks_ok else "FAIL"
    if fwd_errors:
        report.torch_fwd = max(fwd_errors)
        report.torch_bwd = max(bwd_errors) if info.differentiable else None
    report.seconds = time.perf_counter() - start
    return report


def _fmt_err(value) -> str:
    return "-" if value is None else f"{value:.1e}"


def run(names=None, use_torch: bool = True, stream=None) -> int:
    """Verify the named ops (all by default); print the table; return the exit status."""
    stream = stream or sys.stdout
    infos = OP_DB
    if names:
        known = {i.name: i for i in OP_DB}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown op(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        infos = [known[n] for n in names]
    torch = None
    note = ""
    if use_torch:
        try:
            torch = importlib.import_module("torch")
        except ImportError:
            note = (
                "PyTorch is not installed, so the parity columns are empty "
                "(pip install torch==2.13.0)"
            )
    else:
        note = "PyTorch comparison switched off (--no-torch)"

    reports = []
    for info in tqdm(infos, desc="verify", unit="op", file=sys.stderr, disable=None, leave=False):
        reports.append(verify_op(info, torch))

    header = (
        f"{'op':<13}{'samples':>8}  {'gradcheck':<10}{'2nd order':<10}{'kinks':<8}"
        f"{'torch fwd':>10}{'torch bwd':>10}  status"
    )
    print(header, file=stream)
    print("-" * len(header), file=stream)
    for r in reports:
        print(
            f"{r.name:<13}{r.samples:>8}  {r.gradcheck:<10}{r.second:<10}{r.kinks:<8}"
            f"{_fmt_err(r.torch_fwd):>10}{_fmt_err(r.torch_bwd):>10}  {'ok' if r.ok else 'FAIL'}",
            file=stream,
        )
    failed = [r for r in reports if not r.ok]
    for r in failed:
        for message in r.failures[:3]:
            print(f"\n{message}", file=stream)
    total = sum(r.checks for r in reports)
    seconds = sum(r.seconds for r in reports)
    against = f" and PyTorch {torch.__version__}" if torch is not None else ""
    if failed:
        print(
            f"\nverify: {len(failed)} of {len(reports)} ops disagree "
            f"({', '.join(r.name for r in failed)}); {total} checks in {seconds:.1f}s",
            file=stream,
        )
    else:
        print(
            f"\nverify: all {len(reports)} ops agree with NumPy, finite differences{against} "
            f"({total} checks in {seconds:.1f}s; errors are relative, float64)",
            file=stream,
        )
    if note:
        print(f"note: {note}", file=stream)
    return 1 if failed else 0
