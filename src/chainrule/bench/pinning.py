"""Thread counts and CPU affinity for ``chainrule bench --threads N``, and what each library
actually runs with.

``limited(n, torch)`` pins, for the duration of a run, every library in this process to
``n`` threads: the BLAS and OpenMP pools NumPy (and PyTorch's OpenMP) load, through
threadpoolctl; PyTorch's intra-op pool (``torch.set_num_threads``, which also sets MKL's)
and, where PyTorch still allows it, its inter-op pool; and, where the OS allows
(``os.sched_setaffinity``, Linux), every thread of the process to the first ``n`` CPUs it
may run on. Threads started later inherit the affinity, and so does a child process:
the JAX worker is started inside the pinned region, with :func:`child_environment`.

XLA cannot be told its thread count once JAX is imported, and JAX offers no option for
it: its CPU client sizes its Eigen pool from the environment variable ``NPROC`` or else
from the CPUs the process may run on, and ``--xla_cpu_multi_thread_eigen=false`` keeps
its matrix products and convolutions on one thread. So JAX runs in its own process,
started with that environment (``jax_worker.py``). (``intra_op_parallelism_threads=1``,
often quoted after that flag, does nothing in jaxlib 0.10: after a ``--`` flag XLA accepts
it and its Eigen pool keeps one thread per CPU; on its own XLA takes it for the name of a
file of flags and stops, and as ``--intra_op_parallelism_threads`` for an unknown flag.)
"""

from __future__ import annotations

import contextlib
import os
import re

__all__ = ["affinity", "child_environment", "limited", "numpy_info", "torch_info"]


def affinity() -> list[int] | None:
    """The CPUs this process may run on, or None where the OS does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _set_affinity(cpus) -> bool:
    """Pin every thread of this process (and so the threads and processes it starts
    later) to ``cpus``; False where the OS does not allow it."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        tasks = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tasks = [0]
    done = False
    for tid in tasks:
        try:
            os.sched_setaffinity(tid, cpus)
            done = True
        except ProcessLookupError:  # the thread ended meanwhile
            continue
        except OSError:
            return False
    os.sched_setaffinity(0, cpus)
    return done


def child_environment(threads: int | None) -> dict:
    """The environment for a worker process (the JAX column) that should use ``threads``
    threads: the OpenMP and BLAS variables, and XLA's ``NPROC`` and flags. None: this
    process's environment, unchanged (each library picks its own thread count)."""
    env = dict(os.environ)
    env.setdefault("JAX_PLATFORMS", "cpu")  # the bench is about the CPU; no accelerator probing
    if threads is None:
        return env
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NPROC"):
        env[name] = str(threads)
    if threads == 1:
        flags = env.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    env["CHAINRULE_BENCH_THREADS"] = str(threads)
    return env


@contextlib.contextmanager
def limited(threads: int | None, torch=None):
    """Pin this process's libraries to ``threads`` threads (and, where the OS allows, to
    as many CPUs) until the block ends; yield what was done, as a dict: ``threads``, the
    ``affinity`` in force, and ``notes`` (what could not be done). ``threads=None`` changes
    nothing, except that PyTorch gets as many threads as NumPy's BLAS, as before."""
    notes: list[str] = []
    if threads is None:
        blas = next((b["num_threads"] for b in numpy_info()["blas"] if b["internal_api"]), None)
        if torch is not None and blas:
            torch.set_num_threads(int(blas))
        yield {"threads": None, "affinity": affinity(), "notes": notes}
        return
    from threadpoolctl import threadpool_limits

    saved_affinity = affinity()
    saved_torch = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
            if torch.get_num_interop_threads() != threads:
                try:
                    torch.set_num_interop_threads(threads)
                except RuntimeError:  # only once, before any inter-op work
                    notes.append(
                        "PyTorch's inter-op pool was already started; its size is unchanged "
                        "(the bench's steps run no inter-op work)"
                    )
        pinned = None
        if saved_affinity is None:
            notes.append("CPU affinity: not available on this OS; threads are not pinned to cores")
        else:
            cpus = saved_affinity[:threads]
            if len(cpus) < threads:
                notes.append(f"only {len(cpus)} CPU(s) available for {threads} threads")
            if _set_affinity(cpus):
                pinned = cpus
            else:
                notes.append("CPU affinity: the OS refused; threads are not pinned to cores")
        try:
            yield {"threads": threads, "affinity": pinned or affinity(), "notes": notes}
        finally:
            if torch is not None:
                torch.set_num_threads(saved_torch)
            if pinned is not None:
                _set_affinity(saved_affinity)


def numpy_info() -> dict:
    """NumPy's version and the BLAS and OpenMP libraries loaded in this process, as
    threadpoolctl reports them (kernel architecture, threading layer, thread count)."""
    import numpy as np

    try:
        from threadpoolctl import threadpool_info

        libs = threadpool_info()
    except ImportError:  # pragma: no cover - a dependency
        libs = []
    keys = ("user_api", "internal_api", "version", "architecture", "threading_layer")
    blas = [
        {**{k: lib.get(k) for k in keys}, "num_threads": lib.get("num_threads"), **_where(lib)}
        for lib in libs
    ]
    return {"version": np.__version__, "blas": blas}


def _where(lib: dict) -> dict:
    return {"prefix": lib.get("prefix"), "filepath": lib.get("filepath")}


def torch_info(torch) -> dict | None:
    """PyTorch's version, thread pools, BLAS and vector ISA, as it reports them."""
    if torch is None:
        return None
    info = {
        "version": torch.__version__,
        "intra_op_threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }
    with contextlib.suppress(Exception):
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    with contextlib.suppress(Exception):
        config, parallel = torch.__config__.show(), torch.__config__.parallel_info()
        blas = re.search(r"BLAS_INFO=(\w+)", config)
        info["blas"] = blas.group(1) if blas else None
        mkl = re.search(r"Math Kernel Library Version ([\w.]+)", config)
        info["mkl_version"] = mkl.group(1) if mkl else None
        for key, pattern in (
            ("omp_threads", r"omp_get_max_threads\(\) : (\d+)"),
            ("mkl_threads", r"mkl_get_max_threads\(\) : (\d+)"),
        ):
            found = re.search(pattern, parallel)
            info[key] = int(found.group(1)) if found else None
    return info
