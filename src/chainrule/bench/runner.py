"""``chainrule bench``: time chainrule, hand-written NumPy and PyTorch on the same steps.

For each case the three implementations are built from the same weights and timed in one
process, interleaved by rounds (each round times a block of steps of each implementation,
in a rotated order) so that a drifting machine affects all three alike; each time is the
median over the rounds, each speed ratio the median of the ratios within rounds.

Between blocks the run pauses long enough for the previous library's worker threads to
stop spinning (OpenBLAS spins for about 0.1 s after a call, PyTorch's OpenMP threads
briefly too): without the pause, two thread pools fight for two cores and every figure
is distorted, PyTorch's by up to six times. Each block starts with two untimed steps.

The run first calls :func:`chainrule.tune_allocator`, as every ``chainrule`` command does,
so that no library (chainrule, NumPy or PyTorch, which all allocate through the C
allocator) pays page faults for memory it freed a step earlier.

Reported: ms per step, samples per second, the speed ratios to PyTorch and to NumPy
(above 1: chainrule is faster), the share of the machine's sgemm rate (measured in the
same run) that the step's matrix products reach, and the peak memory a step allocates.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import time
import tracemalloc

import numpy as np

from chainrule._allocator import tune_allocator
from chainrule.bench.cases import CASES

__all__ = ["measure_memory", "run", "sgemm_rate"]

IMPLS = ("chainrule", "numpy", "torch")


def sgemm_rate(n: int = 1024, repeats: int = 5) -> float:
    """float32 GFLOP/s of a 1024 x 1024 matrix product with NumPy's BLAS."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_memory(impl: str, step, torch=None) -> float | None:
    """Peak bytes allocated during one step, beyond what was allocated before it (memory
    freed during the step that was allocated before it is not subtracted, by either
    tool): with tracemalloc for chainrule and NumPy (NumPy reports its buffers to it),
    and for PyTorch from its profiler's timeline of every allocation and free."""
    if impl == "torch":
        if torch is None:
            return None
        return _torch_peak(step, torch)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        step()
        return float(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


def _torch_peak(step, torch) -> float:
    """The running total of PyTorch's CPU allocations during ``step``, less the frees of
    those allocations, at its highest: what tracemalloc measures for the other two. The
    profiler's trace has one instant event per allocation or free, with its time and
    address; per-op totals would misplace frees that happen inside an op (they are
    counted at the op's start). Frees of blocks allocated before the step (the previous
    step's gradients, say) are left out: the profiler reports them whenever it saw the
    allocation in an earlier profile, and counting them would understate the peak."""
    import json
    import tempfile
    from pathlib import Path

    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        with _quiet_stderr():
            prof.export_chrome_trace(str(path))
        events = json.loads(path.read_text())["traceEvents"]
    changes = [e for e in events if e.get("name") == "[memory]"]
    changes.sort(key=lambda e: (float(e["ts"]), e["args"].get("Ev Idx", 0)))  # time order
    live: dict = {}
    level = peak = 0
    for e in changes:
        size, addr = e["args"]["Bytes"], e["args"]["Addr"]
        if size > 0:
            live[addr] = live.get(addr, 0) + size
            level += size
        elif addr in live:
            level -= live.pop(addr)
        peak = max(peak, level)
    return float(peak)


class _quiet_stderr:
    """Silence file descriptor 2 (PyTorch's profiler prints from C++) for a moment."""

    def __enter__(self):
        import os

        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        import os

        os.dup2(self._saved, 2)
        os.close(self._saved)


SETTLE_S = 0.15  # longer than OpenBLAS's spin after a call
BLOCK_S = 0.1  # aim for blocks at least this long
WARMUP_S = 0.3  # untimed steps of each implementation before the first round


def _time_case(steps: dict, rounds: int) -> dict:
    names = list(steps)
    inner = {}
    for name, fn in steps.items():  # warm up (caches, allocator, thread pools), size blocks
        start = time.perf_counter()
        for _ in range(3):
            fn()
        while time.perf_counter() - start < WARMUP_S:
            fn()
        one = _timed(fn)
        inner[name] = max(3, min(200, int(BLOCK_S / max(one, 1e-7))))
    samples = {name: [] for name in steps}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = steps[name]
            time.sleep(SETTLE_S)
            fn()
            fn()
            start = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / inner[name])
    return samples


def _ratio(samples: dict, other: str) -> float:
    """How many times faster chainrule is than ``other``: the median over rounds of the
    ratio within each round (a round's blocks run back to back, so a slow spell of the
    machine that spans a round cancels out)."""
    return statistics.median(o / c for o, c in zip(samples[other], samples["chainrule"]))


def _blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "prefix")}
        for lib in threadpool_info()
    ]


def run(
    quick: bool = False, names=None, use_torch: bool = True, as_json: bool = False, stream=None
) -> dict:
    """Run the benchmark, print a table (or JSON) and return the results."""
    stream = stream or sys.stdout
    torch = None
    if use_torch:
        try:
            torch = importlib.import_module("torch")
        except ImportError:
            torch = None
    cases = [c for c in CASES if (not names or c.name in names) and (c.quick or not quick or names)]
    if names:
        unknown = set(names) - {c.name for c in CASES}
        if unknown:
            raise ValueError(
                f"unknown case(s): {', '.join(sorted(unknown))}; known: "
                f"{', '.join(c.name for c in CASES)}"
            )
    allocator_kept = tune_allocator()  # as the chainrule commands run; all three benefit
    threads = next((lib["num_threads"] for lib in _blas_info() if lib["internal_api"]), None)
    if torch is not None and threads:
        torch.set_num_threads(int(threads))
    rate = sgemm_rate()
    rounds = 3 if quick else 9
    results = []
    for case in cases:
        steps = {"chainrule": case.chainrule_step(), "numpy": case.numpy_step()}
        if torch is not None:
            steps["torch"] = case.torch_step(torch)
        samples = _time_case(steps, rounds)
        times = {name: statistics.median(ts) for name, ts in samples.items()}
        memory = {name: measure_memory(name, fn, torch) for name, fn in steps.items()}
        mine = times["chainrule"]
        row = {
            "case": case.name,
            "batch": case.batch,
            "ms": {k: v * 1e3 for k, v in times.items()},
            "samples_per_s": case.batch / mine,
            "x_torch": _ratio(samples, "torch") if "torch" in samples else None,
            "x_numpy": _ratio(samples, "numpy"),
            "sgemm_share": case.flops() / mine / 1e9 / rate if case.flops() else None,
            "peak_mb": {k: (v / 2**20 if v is not None else None) for k, v in memory.items()},
        }
        results.append(row)
    report = {
        "sgemm_gflops": rate,
        "blas": _blas_info(),
        "torch": getattr(torch, "__version__", None),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "numpy": np.__version__,
        "allocator_keeps_freed_memory": allocator_kept,
        "quick": quick,
        "cases": results,
    }
    if as_json:
        print(json.dumps(report, indent=1), file=stream)
    else:
        print(format_table(report), file=stream)
    return report


def _f(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(report: dict) -> str:
    lines = []
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)" for b in report["blas"]
    )
    lines.append(
        f"sgemm {report['sgemm_gflops']:.0f} GFLOP/s; BLAS: {blas or 'unknown'}; "
        f"NumPy {report['numpy']}; PyTorch {report['torch'] or 'not installed'}"
        + (f" ({report['torch_threads']} threads)" if report["torch_threads"] else "")
        + ("; freed memory kept (glibc)" if report.get("allocator_keeps_freed_memory") else "")
    )
    header = (
        f"{'case':<17}{'chainrule ms':>13}{'numpy ms':>10}{'torch ms':>10}{'samples/s':>11}"
        f"{'x torch':>9}{'x numpy':>9}{'sgemm %':>9}{'peak MB (cr/np/pt)':>22}"
    )
    lines += [header, "-" * len(header)]
    for r in report["cases"]:
        ms, mem = r["ms"], r["peak_mb"]
        peaks = "/".join(_f(mem.get(k), ".1f") for k in IMPLS)
        share = r["sgemm_share"] * 100 if r["sgemm_share"] is not None else None
        lines.append(
            f"{r['case']:<17}{ms['chainrule']:>13.3f}{ms['numpy']:>10.3f}{_f(ms.get('torch'), '.3f'):>10}"
            f"{r['samples_per_s']:>11.0f}{_f(r['x_torch'], '.2f'):>9}{r['x_numpy']:>9.2f}"
            f"{_f(share, '.0f'):>9}{peaks:>22}"
        )
    lines.append(
        "x torch / x numpy: how many times faster chainrule is (above 1: faster); "
        "sgemm %: share of the sgemm rate the step's matrix products reach"
    )
    return "\n".join(lines)
