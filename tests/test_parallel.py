"""Executors: every task's result comes back, errors are reported, not fatal; one BLAS
thread per task; a dead worker's task is retried; an unreachable scheduler fails fast."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import pytest
from threadpoolctl import threadpool_info

from chainrule import parallel
from chainrule.io import _running as _alive  # whether a process still runs
from chainrule.parallel import DaskExecutor, LocalExecutor, make_executor


def square_or_fail(x):
    if x == 3:
        raise ValueError("three is not welcome")
    return x * x


def blas_threads(_):
    return sorted({lib["num_threads"] for lib in threadpool_info()})


def die_on(x, marker):
    """Kill the worker process the first time ``x == 2`` (the marker file says it died)."""
    if x == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return x


def die_always(x):
    if x == 1:
        os._exit(1)
    return x


_INIT_RUNS = [0]


def count_initializer():
    _INIT_RUNS[0] += 1


def initializer_runs(_):
    return os.getpid(), _INIT_RUNS[0]


def test_the_initializer_runs_once_in_each_worker_process():
    with LocalExecutor(2, initializer=count_initializer) as ex:
        done = list(ex.map_unordered(initializer_runs, [(i,) for i in range(8)]))
    assert all(d.ok for d in done)
    assert {runs for _, runs in (d.value for d in done)} == {1}
    assert os.getpid() not in {pid for pid, _ in (d.value for d in done)}


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_executor_returns_every_result_and_reports_the_error(jobs):
    with LocalExecutor(jobs) as ex:
        done = list(ex.map_unordered(square_or_fail, [(i,) for i in range(6)]))
    assert sorted(d.index for d in done) == list(range(6))
    by_index = {d.index: d for d in done}
    for i in (0, 1, 2, 4, 5):
        assert by_index[i].ok and by_index[i].value == i * i
    failed = by_index[3]
    assert not failed.ok and failed.value is None
    assert failed.error == "ValueError: three is not welcome"
    assert "square_or_fail" in failed.traceback and "raise ValueError" in failed.traceback


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_task_runs_with_one_blas_thread(jobs):
    with LocalExecutor(jobs) as ex:
        done = list(ex.map_unordered(blas_threads, [(i,) for i in range(2)]))
    assert all(d.ok and d.value in ([1], []) for d in done), [d.value for d in done]


def test_a_task_whose_worker_dies_is_retried_elsewhere(tmp_path):
    marker = str(tmp_path / "died")
    with LocalExecutor(2) as ex:
        done = list(ex.map_unordered(die_on, [(i, marker) for i in range(5)]))
    assert os.path.exists(marker)  # the worker really died once
    assert sorted(d.value for d in done) == list(range(5))
    assert {d.index: d.attempts for d in done}[2] == 2


def test_a_task_that_always_kills_its_worker_is_reported_and_the_others_finish():
    with LocalExecutor(2, max_attempts=2) as ex:
        done = {d.index: d for d in ex.map_unordered(die_always, [(i,) for i in range(4)])}
    assert [done[i].value for i in (0, 2, 3)] == [0, 2, 3]
    assert not done[1].ok and done[1].error.startswith("WorkerDied") and done[1].attempts == 2


def die_or_wait(x, folder):
    """Task 0 kills its worker once, after task 1 has started; task 1 counts its starts
    and waits until task 0's second attempt is under way; the others return at once."""
    folder = pathlib.Path(folder)
    if x == 1:
        with open(folder / "starts-1", "a") as f:
            f.write("x")
        _wait_for(folder / "again-0")
    if x == 0:
        if (folder / "died-0").exists():
            (folder / "again-0").touch()
        else:
            _wait_for(folder / "starts-1")
            (folder / "died-0").touch()
            os._exit(1)
    return x, os.getpid()


def _wait_for(path, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)


def test_a_dead_worker_costs_only_its_own_task_an_attempt(tmp_path):
    with LocalExecutor(2) as ex:
        done = {
            d.index: d for d in ex.map_unordered(die_or_wait, [(i, tmp_path) for i in range(6)])
        }
    assert (tmp_path / "died-0").exists() and (tmp_path / "again-0").exists()
    assert sorted(d.value[0] for d in done.values()) == list(range(6))
    # Task 1 ran on the other worker all along: started once, not restarted.
    assert (tmp_path / "starts-1").read_text() == "x"
    assert {i: d.attempts for i, d in done.items()} == {0: 2, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1}


def pid_then_sleep(x, folder):
    (pathlib.Path(folder) / f"pid-{x}").write_text(str(os.getpid()))
    if x > 0:
        time.sleep(60)
    return x


def test_a_caller_that_stops_reading_stops_the_running_workers(tmp_path):
    ex = LocalExecutor(2)
    results = ex.map_unordered(pid_then_sleep, [(i, tmp_path) for i in range(3)])
    assert next(results).value == 0
    _wait_for(tmp_path / "pid-1")
    sleeper = int((tmp_path / "pid-1").read_text())
    assert _alive(sleeper)
    start = time.perf_counter()
    results.close()  # what an interrupt or a `break` out of the loop does
    assert time.perf_counter() - start < 10
    assert not _alive(sleeper)
    ex.close()


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_jobs_must_be_a_positive_integer(jobs):
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        LocalExecutor(jobs)


def test_make_executor_picks_the_local_pool_without_a_scheduler():
    with make_executor(jobs=3) as ex:
        assert isinstance(ex, LocalExecutor) and ex.workers == 3
        assert ex.describe() == "3 local worker processes"


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds():
    start = time.perf_counter()
    with pytest.raises(
        ConnectionError, match=r"could not reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"
    ):
        DaskExecutor("tcp://127.0.0.1:9", timeout=2.0)
    assert time.perf_counter() - start < 10


def test_without_dask_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[distributed\]'"):
        DaskExecutor("local")


@pytest.mark.filterwarnings("ignore")  # Dask's own start-up warnings (ports, resources)
def test_a_local_dask_cluster_returns_results_and_errors():
    with DaskExecutor("local", jobs=2) as ex:
        assert ex.workers == 2 and "local Dask cluster" in ex.describe()
        done = {d.index: d for d in ex.map_unordered(square_or_fail, [(i,) for i in range(5)])}
        threads = list(ex.map_unordered(blas_threads, [(0,)]))
    assert [done[i].value for i in (0, 1, 2, 4)] == [0, 1, 4, 16]
    assert done[3].error == "ValueError: three is not welcome" and "Traceback" in done[3].traceback
    assert threads[0].value in ([1], [])


def test_the_module_documents_its_interface():
    for name in ("Executor", "LocalExecutor", "DaskExecutor", "TaskResult", "make_executor"):
        assert getattr(parallel, name).__doc__


def announce_worker():
    """Initializer: leave a file named after this worker's process id."""
    pathlib.Path(os.environ["CHAINRULE_TEST_ANNOUNCE"], str(os.getpid())).touch()


def _fresh(script: str, **env) -> str:
    """Run ``script`` in a fresh interpreter (whose workers fork from a server that starts
    with its first pool) that imports this file as ``test_parallel``; its output."""
    head = f"import sys; sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})\n"
    done = subprocess.run(
        [sys.executable, "-c", head + script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


START_SCRIPT = """
import os, time
from chainrule.parallel import LocalExecutor
from test_parallel import announce_worker
folder = os.environ["CHAINRULE_TEST_ANNOUNCE"]
with LocalExecutor(2, initializer=announce_worker) as ex:
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    before = sorted(os.listdir(folder))  # no task sent yet
    ran = {str(d.value) for d in ex.map_unordered(os.getpid, [()] * 4)}
print(len(before), ran <= set(before), len(os.listdir(folder)))
"""


def test_entering_starts_the_workers_and_their_initializers_at_once(tmp_path):
    # Two workers announced themselves before any task, ran every task, and the
    # initializer ran once in each.
    assert _fresh(START_SCRIPT, CHAINRULE_TEST_ANNOUNCE=str(tmp_path)) == "2 True 2"


PRELOAD_SCRIPT = """
from chainrule.parallel import LocalExecutor
probe = "'wave' in __import__('sys').modules"
with LocalExecutor(2, preload={preload!r}) as ex:
    print(sorted(d.value for d in ex.map_unordered(eval, [(probe,)] * 2)))
"""


@pytest.mark.parametrize(
    ("preload", "expected"), [([], "[False, False]"), (["wave"], "[True, True]")]
)
def test_preloaded_modules_are_in_every_worker_before_any_task(preload, expected):
    assert _fresh(PRELOAD_SCRIPT.format(preload=preload)) == expected
