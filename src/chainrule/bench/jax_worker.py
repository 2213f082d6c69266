"""The JAX column of ``chainrule bench``, run in a process of its own.

XLA reads its thread settings (``NPROC``, ``XLA_FLAGS``) once, when JAX starts its CPU
client, and JAX offers no way to change them afterwards; in a process of its own, started
with the environment :func:`chainrule.bench.pinning.child_environment` gives it, JAX
always gets the settings of the run, whatever else was imported before. It also keeps
JAX and its thread pool out of the process that times chainrule, NumPy and PyTorch (that
process never imports JAX).

The bench drives the worker round by round, as it times the other implementations in its
own process: it asks for a block of steps, the worker times the block itself (the pipe's
round trip is outside the timed region) and answers with the time per step and the CPU
time per wall second. Messages are JSON lines on the worker's stdin and stdout.

Run as ``python -m chainrule.bench.jax_worker``; a line ``{"op": "quit"}`` or the end of
its input ends it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

__all__ = ["JaxWorker", "available", "timed_block"]

INSTALL = "pip install 'chainrule[bench]'"


def available() -> bool:
    """Whether JAX is installed (without importing it)."""
    return importlib.util.find_spec("jax") is not None


class JaxWorker:
    """The bench's end of a worker process. Start it inside the thread limits of the run
    (it inherits the CPU affinity); ``build`` a case, then ``warm`` and ``block`` time it
    like the in-process implementations."""

    def __init__(self, threads: int | None) -> None:
        from chainrule.bench.pinning import child_environment

        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "chainrule.bench.jax_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=child_environment(threads),
            text=True,
        )

    def request(self, **message) -> dict:
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise RuntimeError(f"the JAX worker stopped: {self._stderr_tail()}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"JAX worker: {reply['error']}")
        return reply

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        return lines[-1] if lines else f"exit status {self._proc.poll()}"

    def info(self) -> dict:
        return self.request(op="info")["info"]

    def build(self, case_name: str) -> str | None:
        """Build (and compile) the case; a sentence instead where JAX cannot compute it
        as the other implementations do."""
        return self.request(op="build", case=case_name).get("unfaithful")

    def warm(self, seconds: float) -> float:
        return self.request(op="warm", seconds=seconds)["one"]

    def block(self, n: int) -> tuple[float, float]:
        reply = self.request(op="block", n=n)
        return reply["per_step"], reply["cpu_per_wall"]

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._proc.stdout.close()
        self._stderr.close()


# --------------------------------------------------------------------- the worker's side
def _threads_by_name() -> dict:
    """How many threads of this process have each name (Linux; empty elsewhere)."""
    names: dict = {}
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            names[name] = names.get(name, 0) + 1
    except OSError:
        return {}
    return names


def _info() -> dict:
    import jax
    import jax.numpy as jnp
    import jaxlib

    from chainrule.bench.pinning import affinity, numpy_info

    a = jnp.ones((64, 64), jnp.float32)
    jax.jit(lambda a: a @ a)(a).block_until_ready()  # the CPU client and its pools exist now
    device = jax.devices()[0]
    threads = _threads_by_name()
    eigen = sum(n for name, n in threads.items() if "Eigen" in name) if threads else None
    return {
        "version": jax.__version__,
        "jaxlib": getattr(jaxlib, "__version__", None),
        "backend": jax.default_backend(),
        "device": device.platform
        + (f" ({device.device_kind})" if device.device_kind != device.platform else ""),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "nproc": os.environ.get("NPROC"),
        "xla_eigen_threads": eigen,
        "memory_stats": device.memory_stats() is not None,
        "affinity": affinity(),
        "numpy": numpy_info(),
    }


def timed_block(run, n: int) -> tuple[float, float]:
    """Time ``n`` calls of ``run`` after two untimed ones: the seconds per call and the CPU
    seconds per wall second. The bench's own process times its columns with it too."""
    run()
    run()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / n, cpu / wall


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the protocol
    threads = int(os.environ.get("CHAINRULE_BENCH_THREADS") or 0) or None
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
    from chainrule.bench import jax_steps
    from chainrule.bench.cases import CASES

    cases = {c.name: c for c in CASES}
    current = None
    for line in sys.stdin:
        message = json.loads(line)
        op = message.get("op")
        try:
            if op == "quit":
                break
            if op == "info":
                reply = {"info": _info()}
            elif op == "build":
                current = None
                try:
                    current = jax_steps.build(cases[message["case"]])
                except jax_steps.Unfaithful as e:
                    reply = {"unfaithful": str(e)}
                else:
                    for _ in range(3):  # compiles
                        current.run()
                    reply = {"ok": True}
            elif op == "warm":
                start = time.perf_counter()
                while time.perf_counter() - start < message["seconds"]:
                    current.run()
                start = time.perf_counter()
                current.run()
                reply = {"one": time.perf_counter() - start}
            elif op == "block":
                per_step, busy = timed_block(current.run, message["n"])
                reply = {"per_step": per_step, "cpu_per_wall": busy}
            else:
                reply = {"error": f"unknown request {op!r}"}
        except Exception as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        protocol.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
