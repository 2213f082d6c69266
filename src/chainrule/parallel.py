"""Run many independent tasks at once, on this machine or on a Dask cluster.

One small interface, :class:`Executor`, with two implementations:

* :class:`LocalExecutor`, the default: ``jobs`` worker processes on this machine (or the
  calling process itself when ``jobs == 1``);
* :class:`DaskExecutor`: the workers of a Dask distributed cluster, reached through its
  scheduler's address (``tcp://host:8786``), or a ``LocalCluster`` started on this machine
  for ``"local"``. Dask is the optional extra ``pip install 'chainrule[distributed]'``.

Both take a function and a list of argument tuples and yield a :class:`TaskResult` per task,
in the order the tasks finish. A task that raises is reported (its error and traceback),
never fatal to the others. Every task runs with its BLAS limited to one thread: N workers
then share N cores instead of each starting a thread per core, and a task's floating-point
results do not depend on how many cores the machine has. The lab (``chainrule lab all``)
and the sweep use the same executors::

    with make_executor(jobs=2) as ex:
        for done in ex.map_unordered(train_one, [(config, seed) for seed in range(4)]):
            print(done.index, done.value if done.ok else done.error)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import connection
from typing import Any

from threadpoolctl import threadpool_limits

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "TaskResult",
    "call",
    "make_executor",
]

INSTALL_HINT = "pip install 'chainrule[distributed]'"


@dataclass
class TaskResult:
    """What became of one task: its value, or the error it raised.

    Attributes
    ----------
    index : int
        Position of the task in the list given to :meth:`Executor.map_unordered`.
    value : object
        What the function returned (None when it raised).
    error : str or None
        ``"ExceptionType: message"`` when the task raised or its worker died.
    traceback : str or None
        The formatted traceback of that error, as the worker saw it.
    seconds : float
        Wall time of the call itself, in the worker.
    attempts : int
        How many times the task was started (more than 1 after a worker died).
    """

    index: int
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """Whether the task returned normally."""
        return self.error is None


# The initializers that have run in this process (each runs once per worker process).
_initialized: set = set()


def call(
    fn: Callable, args: tuple, index: int = 0, initializer: Callable | None = None
) -> TaskResult:
    """Run ``fn(*args)`` with one BLAS thread and capture what happens.

    This is what runs inside a worker; it never raises for an exception of ``fn`` (only
    ``KeyboardInterrupt`` and ``SystemExit`` go through). ``initializer()``, when given,
    runs first, once per process (a failure in it is the task's error).
    """
    start = time.perf_counter()
    try:
        _initialize(initializer)
        with threadpool_limits(limits=1):
            value = fn(*args)
    except Exception as err:
        return TaskResult(
            index,
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - start,
        )
    return TaskResult(index, value, seconds=time.perf_counter() - start)


def _initialize(initializer: Callable | None) -> None:
    """Run ``initializer`` unless it already ran in this process."""
    if initializer is None:
        return
    key = f"{initializer.__module__}.{initializer.__qualname__}"
    if key not in _initialized:
        initializer()
        _initialized.add(key)


class Executor:
    """Runs ``fn(*args)`` for many argument tuples; the base of every executor.

    Use it as a context manager (or call :meth:`close`) so that worker processes and
    cluster connections are released.
    """

    #: How many tasks run at the same time.
    workers: int = 1
    #: A module-level function each worker process runs once before its first task
    #: (process-wide settings such as ``chainrule.tune_allocator``), or None.
    initializer: Callable | None = None

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[TaskResult]:
        """Yield one :class:`TaskResult` per argument tuple, as each task finishes.

        Parameters
        ----------
        fn : callable
            A module-level function (it is pickled by reference to reach the workers).
        tasks : sequence of tuple
            The arguments of each call; they must be picklable.
        """
        raise NotImplementedError

    def describe(self) -> str:
        """One line saying where the tasks run."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(Executor):
    """A pool of ``jobs`` worker processes on this machine (the calling process when 1).

    Parameters
    ----------
    jobs : int
        Number of worker processes.
    initializer : callable, optional
        Run once in each worker process before its first task.
    max_attempts : int
        How many times a task is started before it is reported failed, when the worker
        process running it dies (killed, out of memory). An exception raised by the task
        itself is reported at once, never retried. Each worker runs one task at a time
        and the pool knows which, so a dead worker costs only its own task an attempt:
        the other workers' tasks carry on, and the dead one is replaced.
    preload : sequence of str
        Modules to import once, in the server process the workers are forked from, so
        that each worker starts with them instead of importing them itself (say
        ``chainrule.train.run`` and ``matplotlib.pyplot``: a second of CPU per worker).
        It only takes effect when this is the program's first pool of workers.

    The workers start when the executor is entered (``with LocalExecutor(2) as ex``), or
    at the first :meth:`map_unordered`; each runs ``initializer`` as soon as it starts,
    so their start-up overlaps with whatever the caller does before sending tasks.

    The workers ignore Ctrl-C (SIGINT): the calling process gets it, and stops every
    worker before the ``KeyboardInterrupt`` goes on, so an interrupt never leaves a
    worker running nor prints a traceback per worker.
    """

    def __init__(
        self,
        jobs: int = 1,
        *,
        initializer: Callable | None = None,
        max_attempts: int = 3,
        preload: Sequence[str] = (),
    ) -> None:
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        self.workers = jobs
        self.initializer = initializer
        self.max_attempts = max_attempts
        self.preload = list(preload)
        self._pool: list[_Worker] = []

    def start(self) -> None:
        """Start the worker processes now (nothing to start for one job)."""
        while self.workers > 1 and len(self._pool) < self.workers:
            self._pool.append(_Worker(self.initializer, self.preload))

    def __enter__(self) -> LocalExecutor:
        self.start()
        return self

    def describe(self) -> str:
        if self.workers == 1:
            return "one process"
        return f"{self.workers} local worker processes"

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[TaskResult]:
        tasks = [tuple(args) for args in tasks]
        if self.workers == 1:
            for i, args in enumerate(tasks):
                yield call(fn, args, i, self.initializer)
            return
        attempts = [0] * len(tasks)
        queue = deque(range(len(tasks)))
        busy: dict[_Worker, int] = {}
        try:
            while queue or busy:
                while queue and len(busy) < self.workers:
                    worker = self._idle_worker(busy)
                    i = queue.popleft()
                    attempts[i] += 1
                    try:
                        worker.send((fn, tasks[i], i, self.initializer))
                    except Exception as err:  # fn or its arguments cannot be pickled
                        yield TaskResult(i, error=f"{type(err).__name__}: {err}", attempts=1)
                        continue
                    busy[worker] = i
                if not busy:
                    continue
                connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for worker, i in list(busy.items()):
                    result = worker.receive()
                    if result is _RUNNING:
                        continue
                    del busy[worker]
                    if result is not _DIED:
                        result.attempts = attempts[i]
                        yield result
                        continue
                    self._pool.remove(worker)
                    worker.stop()
                    if attempts[i] < self.max_attempts:
                        queue.appendleft(i)  # first in line for the fresh worker
                    else:
                        yield TaskResult(
                            i,
                            error=f"WorkerDied: the worker process running this task died "
                            f"{attempts[i]} times",
                            attempts=attempts[i],
                        )
        except BaseException:
            # Interrupted, or the caller stopped reading: the running tasks are abandoned.
            self._stop_all()
            raise

    def _idle_worker(self, busy: dict) -> _Worker:
        for worker in self._pool:
            if worker not in busy:
                return worker
        worker = _Worker(self.initializer, self.preload)
        self._pool.append(worker)
        return worker

    def _stop_all(self) -> None:
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.stop()

    def close(self) -> None:
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.close()


# What a worker's receive gives besides a TaskResult: nothing yet, or the process is gone.
_RUNNING, _DIED = object(), object()


def _context(preload: Sequence[str] = ()):
    # forkserver: workers start from a clean, single-threaded server process rather than
    # a fork of this one, which may hold threads (a progress bar, a Dask client).
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context(None)
    context = multiprocessing.get_context("forkserver")
    if preload:
        # Before the server starts (later it is ignored); __main__ is the default's entry.
        context.set_forkserver_preload(["__main__", *preload])
    return context


class _Worker:
    """One worker process of a :class:`LocalExecutor` and the pipe it takes tasks from."""

    def __init__(self, initializer: Callable | None = None, preload: Sequence[str] = ()) -> None:
        context = _context(preload)
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, initializer), daemon=True)
        self.process.start()
        child.close()

    def send(self, task: tuple) -> None:
        self.conn.send(task)

    def receive(self):
        """The finished task's result, ``_RUNNING`` or ``_DIED``."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            return _DIED
        return _RUNNING if self.process.is_alive() else _DIED

    def stop(self) -> None:
        """End the process now, whatever it is doing."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.conn.close()

    def close(self) -> None:
        """Ask an idle process to finish, then make sure it has."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(5)
        self.stop()


def _serve(conn, initializer: Callable | None = None) -> None:
    """A worker's loop: take a task, run it with :func:`call`, send the result back."""
    # The parent decides what an interrupt stops (see LocalExecutor).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # At once, while the caller is still preparing the tasks; should it fail, the first
    # task's call runs it again and reports the error as that task's.
    with contextlib.suppress(Exception):
        _initialize(initializer)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        fn, args, index, initializer = task
        result = call(fn, args, index, initializer)
        try:
            conn.send(result)
        except Exception as err:  # the value cannot be pickled
            conn.send(
                TaskResult(
                    index,
                    error=f"{type(err).__name__}: the task's result cannot be sent back: {err}",
                    seconds=result.seconds,
                )
            )


class DaskExecutor(Executor):
    """The workers of a Dask distributed cluster.

    Parameters
    ----------
    address : str
        The scheduler's address, ``tcp://host:port`` (``dask scheduler`` prints it), or
        ``"local"`` to start a ``LocalCluster`` of ``jobs`` single-threaded worker
        processes on this machine.
    jobs : int
        Number of workers of a local cluster (ignored for a remote scheduler).
    timeout : float
        Seconds to wait for the scheduler before giving up with a ``ConnectionError``.
    initializer : callable, optional
        Run once in each worker process before its first task.

    A worker that dies mid-task has its task rerun elsewhere by Dask (up to its
    ``allowed-failures`` setting); after that the task is reported failed.
    """

    def __init__(
        self,
        address: str,
        *,
        jobs: int = 2,
        timeout: float = 5.0,
        initializer: Callable | None = None,
    ) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ImportError(
                f"--scheduler needs Dask distributed, which is not installed: {INSTALL_HINT}"
            ) from None
        self._cluster = None
        self.address = address
        self.initializer = initializer
        if address == "local":
            self._cluster = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self._client = Client(self._cluster, timeout=timeout)
        else:
            try:
                self._client = Client(address, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as err:
                raise ConnectionError(
                    f"could not reach the Dask scheduler at {address!r} within {timeout:g} s "
                    f"({type(err).__name__}: {err}); start one with `dask scheduler` and "
                    "workers with `dask worker ADDRESS`, or pass --scheduler local"
                ) from None
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def describe(self) -> str:
        where = "a local Dask cluster" if self._cluster else f"Dask scheduler {self.address}"
        return f"{where} ({self.workers} workers)"

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[TaskResult]:
        from dask.distributed import as_completed

        futures = {
            self._client.submit(call, fn, tuple(args), i, self.initializer, pure=False): i
            for i, args in enumerate(tasks)
        }
        try:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # the worker died too often (KilledWorker) or similar
                    result = TaskResult(i, error=f"{type(err).__name__}: {err}")
                # Forget the finished task, so that a worker dying later does not make
                # Dask recompute what is already here.
                future.release()
                yield result
        except BaseException:
            self._client.cancel(list(futures))
            raise

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    jobs: int = 1,
    scheduler: str | None = None,
    initializer: Callable | None = None,
    preload: Sequence[str] = (),
) -> Executor:
    """The executor the command-line options ``--jobs`` and ``--scheduler`` ask for.

    ``scheduler=None`` gives a :class:`LocalExecutor` of ``jobs`` processes; an address
    (or ``"local"``) gives a :class:`DaskExecutor`. ``initializer`` runs once in each
    worker process; ``preload`` names modules local workers start with (see
    :class:`LocalExecutor`).
    """
    if scheduler:
        return DaskExecutor(scheduler, jobs=jobs, initializer=initializer)
    return LocalExecutor(jobs, initializer=initializer, preload=preload)
