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
from chainrule.bench import jax_worker, pinning
from chainrule.bench.cases import CASES
from chainrule.compile import compile as compile_step

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


class _Local:
    """An implementation timed in this process: ``warm`` runs it untimed and returns the
    time of one step; ``block(n)`` runs two untimed steps then ``n`` timed ones and returns
    the time per step and the CPU time (all threads of the process) per wall second.
    (:class:`chainrule.bench.jax_worker.JaxWorker` does the same in its own process.)"""

    def __init__(self, fn) -> None:
        self.fn = fn

    def warm(self, seconds: float) -> float:
        fn = self.fn
        start = time.perf_counter()
        for _ in range(3):
            fn()
        while time.perf_counter() - start < seconds:
            fn()
        return _timed(fn)

    def block(self, n: int) -> tuple[float, float]:
        return jax_worker.timed_block(self.fn, n)


def _time_case(timers: dict, rounds: int) -> tuple[dict, dict]:
    """Time each implementation (a :class:`_Local` or the JAX worker) in ``rounds``
    rounds; return the time per step of each round, and the CPU time per wall second."""
    names = list(timers)
    inner = {}
    for name, timer in timers.items():  # warm up (caches, allocator, thread pools), size blocks
        one = timer.warm(WARMUP_S)
        inner[name] = max(3, min(200, int(BLOCK_S / max(one, 1e-7))))
    samples = {name: [] for name in timers}
    busy = {name: [] for name in timers}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            time.sleep(SETTLE_S)
            per_step, cpu = timers[name].block(inner[name])
            samples[name].append(per_step)
            busy[name].append(cpu)
    return samples, busy


def _ratio(samples: dict, other: str, mine: str = "chainrule") -> float:
    """How many times faster ``mine`` is than ``other``: the median over rounds of the
    ratio within each round (a round's blocks run back to back, so a slow spell of the
    machine that spans a round cancels out)."""
    return statistics.median(o / c for o, c in zip(samples[other], samples[mine]))


def _blas_info() -> list[dict]:
    return pinning.numpy_info()["blas"]


def _start_jax(threads, notes: list):
    """The JAX worker and what it reports, or (None, None) with a note saying why not."""
    if not jax_worker.available():
        notes.append(f"JAX: not installed ({jax_worker.INSTALL} brings it); column skipped")
        return None, None
    worker = jax_worker.JaxWorker(threads)
    try:
        return worker, worker.info()
    except RuntimeError as e:
        worker.close()
        notes.append(f"JAX: {e}; column skipped")
        return None, None


def run(
    quick: bool = False,
    names=None,
    use_torch: bool = True,
    as_json: bool = False,
    stream=None,
    threads: int | None = None,
    use_jax: bool = True,
) -> dict:
    """Run the benchmark, print a table (or JSON) and return the results.

    ``threads``: pin every library (NumPy's BLAS and OpenMP, PyTorch's pools, XLA) to this
    many threads and, where the OS allows, the process to as many CPUs; None leaves each
    library its own default (PyTorch gets as many threads as NumPy's BLAS). ``use_jax``:
    add the JAX column when JAX is installed (it runs in a worker process)."""
    stream = stream or sys.stdout
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
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
    allocator_kept = tune_allocator()  # as the chainrule commands run; all of them benefit
    rounds = 3 if quick else 9
    with pinning.limited(threads, torch) as pinned:
        notes = list(pinned["notes"])
        worker, jax_info = _start_jax(threads, notes) if use_jax else (None, None)
        try:
            rate = sgemm_rate()
            libraries = {
                "numpy": pinning.numpy_info(),
                "torch": pinning.torch_info(torch),
                "jax": jax_info,
            }
            results = []
            for case in cases:
                timers = {"chainrule": _Local(case.chainrule_step())}
                # The same step captured by cr.compile (recorded during the warm-up).
                timers["compiled"] = _Local(compile_step(case.chainrule_step(), fullgraph=True))
                timers["numpy"] = _Local(case.numpy_step())
                if torch is not None:
                    timers["torch"] = _Local(case.torch_step(torch))
                jax_note = None
                if worker is not None:
                    try:
                        jax_note = worker.build(case.name)
                    except RuntimeError as e:  # the worker failed: go on without it
                        notes.append(f"JAX: {e}; column left out from {case.name} on")
                        worker.close()
                        worker = None
                    else:
                        if jax_note is None:
                            timers["jax"] = worker
                try:
                    samples, busy = _time_case(timers, rounds)
                except RuntimeError as e:
                    if "jax" not in timers:
                        raise
                    notes.append(f"JAX: {e}; column left out from {case.name} on")
                    worker.close()
                    worker = None
                    del timers["jax"]
                    samples, busy = _time_case(timers, rounds)
                results.append(
                    _row(case, timers, samples, busy, rate, torch, jax_note, worker is not None)
                )
        finally:
            if worker is not None:
                worker.close()
    report = {
        "sgemm_gflops": rate,
        "threads": threads,
        "affinity": pinned["affinity"],
        "libraries": libraries,
        "blas": libraries["numpy"]["blas"],
        "torch": getattr(torch, "__version__", None),
        "torch_threads": libraries["torch"]["intra_op_threads"] if torch is not None else None,
        "jax": jax_info["version"] if jax_info else None,
        "numpy": np.__version__,
        "allocator_keeps_freed_memory": allocator_kept,
        "quick": quick,
        "notes": notes + _load_notes(results),
        "cases": results,
    }
    if as_json:
        print(json.dumps(report, indent=1), file=stream)
    else:
        print(format_table(report), file=stream)
    return report


LOADED = 0.8  # CPU seconds per wall second of a one-thread step below which it shared its CPU


def _load_notes(results: list) -> list[str]:
    """A warning when the timed steps got clearly less than a CPU to themselves: a step
    alone on its core uses about one CPU second per wall second (more where its kernels
    run on several threads), so a median well below that means other processes took
    turns on the CPUs, and the times (and, less so, the ratios) are inflated."""
    busy = [v for r in results for v in (r.get("cpu_per_wall") or {}).values()]
    if not busy or statistics.median(busy) >= LOADED:
        return []
    return [
        f"the timed steps got {statistics.median(busy):.2f} CPU seconds per wall second "
        "(median over cases and implementations): other processes shared the CPUs, so "
        "every time is inflated and the ratios are less reliable than on an idle machine"
    ]


def _row(case, timers, samples, busy, rate, torch, jax_note, jax_running) -> dict:
    times = {name: statistics.median(ts) for name, ts in samples.items()}
    memory = {
        name: measure_memory(name, timer.fn, torch)
        for name, timer in timers.items()
        if isinstance(timer, _Local)
    }
    if jax_running or jax_note:
        memory["jax"] = None  # see format_table's notes: not measurable
    mine = times["chainrule"]
    return {
        "case": case.name,
        "batch": case.batch,
        "ms": {k: v * 1e3 for k, v in times.items()},
        "samples_per_s": case.batch / mine,
        "x_torch": _ratio(samples, "torch") if "torch" in samples else None,
        "x_jax": _ratio(samples, "jax") if "jax" in samples else None,
        "x_numpy": _ratio(samples, "numpy"),
        "compiled_x_torch": _ratio(samples, "torch", "compiled") if "torch" in samples else None,
        "compiled_x_jax": _ratio(samples, "jax", "compiled") if "jax" in samples else None,
        "compiled_x_eager": _ratio(samples, "chainrule", "compiled"),
        "sgemm_share": case.flops() / mine / 1e9 / rate if case.flops() else None,
        "peak_mb": {k: (v / 2**20 if v is not None else None) for k, v in memory.items()},
        "cpu_per_wall": {k: statistics.median(v) for k, v in busy.items()},
        "jax_note": jax_note,
    }


def _f(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _peaks(r: dict) -> str:
    return "/".join(_f(r["peak_mb"].get(k), ".1f") for k in IMPLS)


def _share(r: dict) -> str:
    return _f(r["sgemm_share"] * 100 if r["sgemm_share"] is not None else None, ".0f")


# The bench table's columns: title, width, a case's cell, whether it is shown only with JAX.
# The first column is aligned left, the others right.
_COLUMNS = (
    ("case", 17, lambda r: r["case"], False),
    ("chainrule ms", 13, lambda r: f"{r['ms']['chainrule']:.3f}", False),
    ("compiled", 9, lambda r: _f(r["ms"].get("compiled"), ".3f"), False),
    ("numpy ms", 10, lambda r: f"{r['ms']['numpy']:.3f}", False),
    ("torch ms", 10, lambda r: _f(r["ms"].get("torch"), ".3f"), False),
    ("jax ms", 10, lambda r: "n/a" if r.get("jax_note") else _f(r["ms"].get("jax"), ".3f"), True),
    ("samples/s", 11, lambda r: f"{r['samples_per_s']:.0f}", False),
    ("x torch", 9, lambda r: _f(r["x_torch"], ".2f"), False),
    ("x jax", 8, lambda r: _f(r.get("x_jax"), ".2f"), True),
    ("x numpy", 9, lambda r: f"{r['x_numpy']:.2f}", False),
    ("sgemm %", 9, _share, False),
    ("peak MB (cr/np/pt)", 22, _peaks, False),
    ("compiled x torch", 17, lambda r: _f(r.get("compiled_x_torch"), ".2f"), False),
    ("x jax", 7, lambda r: _f(r.get("compiled_x_jax"), ".2f"), True),
)


def _cpus(cpus) -> str:
    return "CPUs " + ",".join(map(str, cpus)) if cpus else "CPUs: unknown"


def _n(count, what: str) -> str:
    return f"{_f(count, 'd')} {what}{'' if count == 1 else 's'}"


def _library_lines(report: dict) -> list[str]:
    libs = report.get("libraries") or {}
    affinity = _cpus(report.get("affinity"))
    blas = ", ".join(
        f"{b['internal_api']} {b['version']}"
        + (f" {b['architecture']}" if b.get("architecture") else "")
        + (f" ({b['threading_layer']})" if b.get("threading_layer") else "")
        + f", {_n(b['num_threads'], 'thread')}"
        for b in report["blas"]
        if b.get("user_api", "blas") == "blas"
    )
    lines = [f"  chainrule, numpy: NumPy {report['numpy']}; {blas or 'BLAS unknown'}; {affinity}"]
    t = libs.get("torch")
    if t:
        mkl = (
            f" (MKL {t['mkl_version']}, {_n(t.get('mkl_threads'), 'thread')})"
            if t.get("mkl_version")
            else ""
        )
        lines.append(
            f"  torch {t['version']}: {t['intra_op_threads']} intra-op, "
            f"{_n(t['interop_threads'], 'inter-op thread')}; BLAS {t.get('blas') or '?'}{mkl}; "
            f"OpenMP {_n(t.get('omp_threads'), 'thread')}; "
            f"{t.get('cpu_capability') or '?'} kernels; {affinity}"
        )
    elif report.get("torch") is None:
        lines.append("  torch: not installed or left out")
    j = libs.get("jax")
    if j:
        lines.append(
            f"  jax {j['version']} (jit, own process): XLA on {j['device']}, "
            f"{_n(j.get('xla_eigen_threads'), 'Eigen thread')} "
            f"(NPROC={j.get('nproc') or 'unset'}, XLA_FLAGS={j.get('xla_flags') or 'unset'}); "
            f"{_cpus(j.get('affinity'))}"
        )
    busy: dict = {}
    for r in report["cases"]:
        for k, v in (r.get("cpu_per_wall") or {}).items():
            busy.setdefault(k, []).append(v)
    if busy:
        lines.append(
            "  CPU time per wall second while timed (median over cases): "
            + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in busy.items())
        )
    return lines


def format_table(report: dict) -> str:
    lines = []
    threads = report.get("threads")
    lines.append(
        f"sgemm {report['sgemm_gflops']:.0f} GFLOP/s; "
        + (
            f"--threads {threads}: every library pinned to {threads} thread{'s' if threads != 1 else ''}"
            if threads
            else "threads: each library's default (--threads N pins them)"
        )
        + ("; freed memory kept (glibc)" if report.get("allocator_keeps_freed_memory") else "")
    )
    lines += _library_lines(report)
    with_jax = any("jax" in r["ms"] for r in report["cases"])
    columns = [c for c in _COLUMNS if with_jax or not c[3]]
    header = "".join(
        f"{title:{'<' if i == 0 else '>'}{width}}" for i, (title, width, _, _) in enumerate(columns)
    )
    lines += [header, "-" * len(header)]
    for r in report["cases"]:
        cells = [
            f"{cell(r):{'<' if i == 0 else '>'}{width}}"
            for i, (_, width, cell, _) in enumerate(columns)
        ]
        lines.append("".join(cells))
    lines.append(
        "x torch / x jax / x numpy: how many times faster chainrule is (above 1: faster); "
        "sgemm %: share of the sgemm rate the step's matrix products reach; compiled: the "
        "same step under cr.compile, and how many times faster it is than torch and jax"
    )
    if with_jax:
        lines.append(
            "jax: one jax.jit step per call, waited for (block_until_ready); its peak memory is "
            "not measured (XLA's CPU client reports no memory statistics, and its buffers "
            "are outside tracemalloc)"
        )
    for r in report["cases"]:
        if r.get("jax_note"):
            lines.append(f"jax, {r['case']}: not written in JAX ({r['jax_note']})")
    lines += [f"note: {n}" for n in report.get("notes", [])]
    return "\n".join(lines)
