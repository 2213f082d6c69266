"""Run experiments: one in this process, or all of them through an executor.

:func:`run_experiment` is the unit of work. It seeds chainrule's generator, runs the
experiment with one BLAS thread (so its numbers do not depend on the machine's core
count), checks the claim, draws the figures into memory, and never raises: an error in
``run``, ``check`` or ``plot`` is recorded in the result with its traceback. It is a
module-level function of plain arguments, so any executor can ship it to a worker.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from chainrule import dtypes
from chainrule.autograd.grad_mode import STATE
from chainrule.generator import manual_seed
from chainrule.lab import registry
from chainrule.lab.base import Result
from chainrule.parallel import Executor, LocalExecutor

__all__ = ["run_all", "run_experiment", "write_figures"]


def run_experiment(
    name: str,
    seed: int = 0,
    smoke: bool = False,
    figures: bool = True,
    traces: bool = True,
    overrides: dict | None = None,
) -> Result:
    """Run, check and (with ``figures``) plot the experiment ``name``.

    Parameters
    ----------
    name : str
        A registry name (``chainrule lab list``); an unknown one raises ``ValueError``.
    seed : int
        The seed: the same seed gives the same metrics.
    smoke : bool
        Run the smoke sizes (seconds) instead of the full ones.
    figures : bool
        Draw the figures; they come back as PNG bytes in ``result.figures``.
    traces : bool
        Keep the traces (the arrays behind the figures) in the result.
    overrides : dict, optional
        Config fields to change (on top of the smoke sizes with ``smoke``), for
        example to remove a claim's premise and watch its check fail.

    Returns
    -------
    Result
        With ``passed`` False, and ``error`` and ``traceback`` set, if anything raised.
    """
    exp = registry.get(name)
    config = exp.config(smoke=smoke, seed=seed)
    if overrides:
        config = dataclasses.replace(config, **overrides)
    result = Result()
    default_dtype, grad_enabled = dtypes.get_default_dtype(), STATE.grad
    start = time.perf_counter()
    try:
        manual_seed(seed)
        with threadpool_limits(limits=1):
            result = exp.run(config)
            result.checks = list(exp.check(result))
            if figures:
                with tempfile.TemporaryDirectory(prefix="chainrule-lab-") as tmp:
                    paths = exp.plot(result, Path(tmp))
                    result.figures = {Path(p).name: Path(p).read_bytes() for p in paths}
    except Exception as err:
        result.error = f"{type(err).__name__}: {err}"
        result.traceback = traceback.format_exc()
    finally:
        # An experiment may switch to float64 or turn gradients off; the next one starts
        # from the library's defaults.
        dtypes.set_default_dtype(default_dtype)
        STATE.grad = grad_enabled
    result.name, result.claim, result.section = exp.name, exp.claim, exp.section
    result.seed, result.smoke = seed, smoke
    result.seconds = time.perf_counter() - start
    if not traces:
        result.traces = {}
    return result


def write_figures(result: Result, out_dir) -> list[Path]:
    """Write the result's figures as PNG files into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name, data in sorted(result.figures.items()):
        path = out / file_name
        path.write_bytes(data)
        paths.append(path)
    return paths


def run_all(
    names: Sequence[str] | None = None,
    *,
    seed: int = 0,
    smoke: bool = False,
    executor: Executor | None = None,
    progress: bool = True,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run many experiments (all by default) and return their results in the given order.

    Parameters
    ----------
    names : sequence of str, optional
        Experiment names; every registered one when None.
    seed, smoke
        As for :func:`run_experiment`.
    executor : Executor, optional
        Where the experiments run (default: one after the other in this process).
    progress : bool
        Show a progress bar of experiments done (on standard error, on a terminal).
    on_result : callable, optional
        Called with each result as it arrives (in finishing order).
    """
    names = list(registry.names() if names is None else names)
    for name in names:
        registry.get(name)  # an unknown name fails before anything runs
    executor = executor or LocalExecutor(1)
    results: dict[int, Result] = {}
    bar = tqdm(
        total=len(names),
        desc="lab",
        unit="exp",
        file=sys.stderr,
        disable=None if progress else True,
    )
    tasks = [(name, seed, smoke, True, False) for name in names]
    try:
        for done in executor.map_unordered(run_experiment, tasks):
            if done.ok:
                result = done.value
            else:  # the worker itself failed (it died, or could not import chainrule)
                exp = registry.get(names[done.index])
                result = Result(name=exp.name, claim=exp.claim, section=exp.section)
                result.seed, result.smoke = seed, smoke
                result.error, result.traceback = done.error, done.traceback
            results[done.index] = result
            bar.update(1)
            bar.set_postfix_str(f"{result.name} {'passed' if result.passed else 'FAILED'}")
            if on_result is not None:
                on_result(result)
    finally:
        bar.close()
    return [results[i] for i in range(len(names))]
