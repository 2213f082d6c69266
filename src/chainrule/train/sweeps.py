"""Sweeps: many ``chainrule train`` runs over a grid of options and several seeds, at once.

``sweep(grid, base=..., seeds=..., executor=...)`` expands the grid (every combination of
the options' values, each with every seed) and trains each combination with
:func:`chainrule.train.run.run`, the function behind ``chainrule train``, in a worker of
the executor (a local process pool, or a Dask cluster; see :mod:`chainrule.parallel`).
Each run writes its own folder, ``OUT/runs/NAME/``, exactly as ``chainrule train --out``
does (checkpoint after every epoch, history, results, curves), so a sweep's run is the
same run as the command's, bit for bit.

Nothing is lost:

* a run that raises is recorded as failed, with its error, and the others go on;
* when a run finishes, ``OUT/runs/NAME/run.json`` records its row and its options: a
  sweep started again over the same folder skips those runs, and resumes every other run
  that has a checkpoint from it (bit-exact, as ``--resume`` is);
* a worker that dies mid-run (killed, out of memory) has its run started again, on
  another worker where there is one; that start resumes from the run's last checkpoint;
* an interrupt (Ctrl-C) stops the workers; the finished runs' results are written first.

Where the workers cannot see ``OUT`` (machines without a shared file system), a run trains
in a temporary folder on its worker, and its files come back with its result; a run
resumed there gets its checkpoint from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from chainrule.io import FormatError, atomic_write_bytes
from chainrule.train.sweep_table import SweepTable, _text

__all__ = ["RunSpec", "expand", "run_name", "sweep", "train_one"]

# Fields whose values are tuples (JSON gives lists back).
_TUPLES = ("hidden", "betas")
# What a folder name may hold; anything else becomes "-".
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its folder name, the swept options' values, its seed, and
    every option of the run (the fields of :class:`~chainrule.train.run.Config`)."""

    name: str
    options: dict
    seed: int
    config: dict


def _config_fields() -> dict:
    from chainrule.train.run import Config

    return {f.name: f for f in dataclasses.fields(Config)}


def _plain(value):
    """A value as JSON and a checkpoint keep it (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def _key(name: str) -> str:
    """A grid key as a Config field name (``clip-grad-norm`` -> ``clip_grad_norm``)."""
    return name.strip().lstrip("-").replace("-", "_")


def _base(base) -> dict:
    from chainrule.train.run import Config

    if base is None:
        base = Config()
    if dataclasses.is_dataclass(base):
        base = dataclasses.asdict(base)
    fields = _config_fields()
    if not isinstance(base, Mapping):
        raise TypeError(f"base must be a Config or a dict of its fields, got {type(base).__name__}")
    unknown = [k for k in base if _key(k) not in fields]
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r} in base; the options of a run are: " + ", ".join(fields)
        )
    config = {name: _plain(f.default) for name, f in fields.items()}
    config.update({_key(k): _plain(v) for k, v in base.items()})
    return config


def _check_grid(grid: Mapping) -> dict[str, list]:
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a dict of option -> values, got {type(grid).__name__}")
    if not grid:
        raise ValueError(
            "the grid is empty: give at least one option and its values, e.g. "
            "{'lr': [0.1, 0.01]} (--grid lr=0.1,0.01)"
        )
    fields = _config_fields()
    out: dict[str, list] = {}
    for raw, values in grid.items():
        key = _key(raw)
        if key not in fields:
            raise ValueError(
                f"unknown option {raw!r} in the grid; the options of chainrule train are: "
                + ", ".join(k.replace("_", "-") for k in fields)
            )
        if key in out:
            raise ValueError(f"the grid gives {key!r} twice")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise TypeError(f"the grid's values of {key!r} must be a list, got {values!r}")
        values = [_plain(v) for v in values]
        if not values:
            raise ValueError(f"the grid gives no values for {key!r}")
        seen = [json.dumps(v) for v in values]
        twice = [v for v, s in zip(values, seen) if seen.count(s) > 1]
        if twice:
            raise ValueError(f"the grid gives {key!r} the value {twice[0]!r} twice")
        out[key] = values
    return out


def _check_values(config: dict) -> None:
    """The named choices of a run's options, checked before anything runs."""
    from chainrule.data import available
    from chainrule.train import recipes

    choices = {
        "data": available(),
        "model": ["mlp", "cnn"],
        "activation": sorted(recipes.ACTIVATIONS),
        "init": sorted(recipes.INITS),
        "loss": recipes.LOSSES,
        "optimizer": recipes.OPTIMIZERS,
        "schedule": recipes.SCHEDULES,
    }
    for key, allowed in choices.items():
        if config[key] not in allowed:
            raise ValueError(
                f"{key} {config[key]!r} is not one of chainrule train's: {', '.join(allowed)}"
            )
    if not (isinstance(config["epochs"], int) and config["epochs"] >= 1):
        raise ValueError(f"epochs must be a positive integer, got {config['epochs']!r}")


def run_name(options: Mapping, seed: int) -> str:
    """A run's folder name: ``optimizer=sgd_lr=0.1_seed=0``."""
    parts = [f"{k}={_text(v).replace(',', 'x')}" for k, v in options.items()]
    return _UNSAFE.sub("-", "_".join([*parts, f"seed={seed}"]))


def expand(grid: Mapping, base=None, seeds: int | Sequence[int] = 1) -> list[RunSpec]:
    """Every run of a sweep, in order: the grid's combinations (the last option varying
    fastest), each with every seed.

    Parameters
    ----------
    grid : dict
        Option name (a field of :class:`~chainrule.train.run.Config`; ``lr``,
        ``clip-grad-norm`` and ``clip_grad_norm`` all work) -> list of values. ``seed``
        may be a key: its values are then the seeds.
    base : Config or dict, optional
        The options every run shares (default: ``chainrule train``'s defaults).
    seeds : int or list of int
        ``N``: the seeds ``base.seed``, ..., ``base.seed + N - 1``; or the seeds themselves.
    """
    grid = _check_grid(grid)
    config = _base(base)
    if "seed" in grid:
        if not (isinstance(seeds, int) and seeds == 1):
            raise ValueError("give the seeds either in the grid or as seeds, not both")
        seed_list = grid.pop("seed")
        if not grid:
            raise ValueError("the grid holds only seeds; give at least one option to sweep")
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive integer, got {seeds}")
        seed_list = list(range(config["seed"], config["seed"] + seeds))
    else:
        seed_list = list(seeds)
        if not seed_list or len(set(seed_list)) != len(seed_list):
            raise ValueError(f"seeds must be distinct and at least one, got {seeds!r}")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seed_list):
        raise ValueError(f"seeds must be integers, got {seed_list!r}")
    runs = []
    for values in itertools.product(*grid.values()):
        options = dict(zip(grid, values))
        for seed in seed_list:
            run_config = {**config, **options, "seed": seed}
            _check_values(run_config)
            runs.append(RunSpec(run_name(options, seed), options, seed, run_config))
    return runs


# ------------------------------------------------------------------------- in a worker
def train_one(config: dict, out: str, name: str, session: str, checkpoint: bytes | None):
    """Train one run of a sweep (what each task of the executor runs).

    Where this process sees the sweep's folder ``out`` (its ``sweep.json`` holds
    ``session``), the run writes ``out/runs/name`` directly and resumes from the
    checkpoint there, if any; elsewhere it trains in a temporary folder, resuming from
    ``checkpoint`` (the bytes of one) when given, and returns its files.
    """
    from chainrule import dtypes
    from chainrule.autograd.grad_mode import STATE
    from chainrule.train.checkpoint import read
    from chainrule.train.run import Config, run

    shared = _sees(Path(out), session)
    scratch = None
    if shared:
        folder = Path(out) / "runs" / name
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = scratch = Path(tempfile.mkdtemp(prefix="chainrule-sweep-"))
        if checkpoint is not None:
            (folder / "checkpoint.chainrule").write_bytes(checkpoint)
    started = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    atomic_write_bytes(folder / "worker.json", json.dumps(started).encode())
    resume = folder / "checkpoint.chainrule"
    resume = resume if resume.exists() else None
    options = {
        k: tuple(v) if k in _TUPLES and isinstance(v, list) else v for k, v in config.items()
    }
    # A run of `chainrule train` starts from the library's defaults, whatever this
    # process did before.
    default_dtype, grad = dtypes.get_default_dtype(), STATE.grad
    try:
        dtypes.set_default_dtype(dtypes.float32)
        STATE.grad = True
        start_epoch = read(resume)["epoch"] if resume is not None else 0
        result = run(Config(**options), folder, resume=resume, verbose=0)
        outcome = {
            "validation": result["validation"],
            "test": result["test"],
            "records": result["history"].records,
            "start_epoch": start_epoch,
            "host": started["host"],
            "pid": started["pid"],
            "files": None,
        }
        if scratch is not None:
            outcome["files"] = {
                p.name: p.read_bytes()
                for p in sorted(folder.iterdir())
                if p.is_file() and not p.name.startswith(".") and p.name != "worker.json"
            }
        return outcome
    finally:
        dtypes.set_default_dtype(default_dtype)
        STATE.grad = grad
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _sees(out: Path, session: str) -> bool:
    """Whether this process sees the sweep folder of this session (a shared file system)."""
    try:
        return json.loads((out / "sweep.json").read_text()).get("session") == session
    except (OSError, ValueError, AttributeError):
        return False


# ------------------------------------------------------------------------- the driver
def _row(spec: RunSpec, outcome: dict) -> dict:
    """The table's row of a finished run."""
    records = outcome["records"]
    row = {"run": spec.name, "status": "done", **spec.options, "seed": spec.seed}
    row["epochs"] = len(records)
    for prefix, metrics in (("val_", outcome["validation"]), ("test_", outcome["test"])):
        for k, v in (metrics or {}).items():
            row[prefix + k] = v
    row["train_loss"] = records[-1]["loss"] if records else None
    for key in sorted({k for r in records for k in r if k.startswith("val_")}):
        values = [r[key] for r in records if key in r]
        pick = max if "acc" in key else min
        row[f"best_{key}"] = pick(values)
    chooser = "val_accuracy" if "best_val_accuracy" in row else "val_loss"
    if f"best_{chooser}" in row:
        row["best_epoch"] = next(
            r["epoch"] for r in records if r.get(chooser) == row[f"best_{chooser}"]
        )
    row["time"] = math.fsum(r.get("time", 0.0) for r in records)
    row["session"] = "resumed" if outcome["start_epoch"] else "new"
    row["start_epoch"] = outcome["start_epoch"]
    return row


def _failed_row(spec: RunSpec, error: str, traceback: str | None) -> dict:
    row = {"run": spec.name, "status": "failed", **spec.options, "seed": spec.seed}
    row["error"] = error
    row["traceback"] = traceback
    return row


def _previous(out: Path, spec: RunSpec) -> tuple[str, object]:
    """What an earlier sweep left of this run: ``("done", row)``, ``("resume", epoch)``
    or ``("new", None)``. A folder holding another run (other options) is an error."""
    from chainrule.train.checkpoint import read

    folder = out / "runs" / spec.name
    marker = folder / "run.json"
    if marker.exists():
        try:
            done = json.loads(marker.read_text())
            config, row = done["config"], done["row"]
        except (ValueError, KeyError, TypeError) as err:
            raise FormatError(f"{marker} is not a sweep's record of a run ({err})") from None
        _same(spec, config, marker)
        return "done", {**row, "session": "earlier"}
    checkpoint = folder / "checkpoint.chainrule"
    if checkpoint.exists():
        state = read(checkpoint)
        _same(spec, state["extra"].get("config", {}), checkpoint)
        return "resume", state["epoch"]
    return "new", None


def _same(spec: RunSpec, saved, where: Path) -> None:
    if not isinstance(saved, dict):
        raise FormatError(f"{where} holds no run options")
    differs = [k for k in spec.config if saved.get(k) != spec.config[k]]
    if differs:
        was = " ".join(f"--{k.replace('_', '-')} {_text(saved.get(k))}" for k in differs)
        now = " ".join(f"--{k.replace('_', '-')} {_text(spec.config[k])}" for k in differs)
        raise ValueError(
            f"{where.parent} holds a run trained with {was}, but this sweep asks for {now}; "
            "give the sweep another --out, or remove that folder"
        )


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` while the sweep runs, so that two sweeps never share a folder."""
    try:
        import fcntl
    except ImportError:  # not on a POSIX system: no lock
        yield
        return
    with open(out / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RuntimeError(
                f"another sweep is running in {out}; wait for it, or give another --out"
            ) from None
        yield


def sweep(
    grid: Mapping,
    base=None,
    *,
    seeds: int | Sequence[int] = 1,
    executor=None,
    out="runs/sweep",
    verbose: int = 1,
    plot: bool = True,
    on_result: Callable[[dict], None] | None = None,
) -> SweepTable:
    """Train every combination of ``grid`` with every seed, and tabulate the results.

    Parameters
    ----------
    grid : dict
        Option -> list of values, as for :func:`expand`: e.g. ``{"optimizer": ["sgd",
        "adam"], "lr": [0.1, 0.01]}``.
    base : Config or dict, optional
        The options every run shares (``chainrule train``'s defaults otherwise).
    seeds : int or list of int
        How many seeds (from ``base``'s seed on), or which.
    executor : chainrule.parallel.Executor, optional
        Where the runs train (default: one after the other in this process).
    out : path
        The sweep's folder: ``runs/NAME/`` per run, ``results.csv``, ``summary.csv``,
        ``results.json`` and ``sweep.png``. A folder of an earlier sweep is continued.
    verbose : int
        1: a progress bar of finished runs (on a terminal) and a line per finished run
        with the best configuration so far; 0: silent.
    plot : bool
        Draw ``sweep.png`` at the end.
    on_result : callable, optional
        Called with each row as its run finishes (or fails).

    Returns
    -------
    SweepTable
        One row per run, in the grid's order; ``.summary()`` groups them over seeds.
    """
    from tqdm import tqdm

    from chainrule.parallel import LocalExecutor

    runs = expand(grid, base, seeds)
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the sweep's output path {str(out)!r} is a file")
    out.mkdir(parents=True, exist_ok=True)
    options = [k for k in runs[0].options]
    description = {
        "grid": {k: _plain_list(v) for k, v in _check_grid(grid).items()},
        "base": _base(base),
        "seeds": sorted({r.seed for r in runs}),
        "runs": len(runs),
    }
    say = _printer(verbose)
    with _locked(out):
        rows: dict[int, dict] = {}
        todo: list[int] = []
        resumed = 0
        for i, spec in enumerate(runs):
            state, value = _previous(out, spec)
            if state == "done":
                rows[i] = value
            else:
                todo.append(i)
                resumed += state == "resume"
        session = secrets.token_hex(8)
        atomic_write_bytes(
            out / "sweep.json", json.dumps({**description, "session": session}, indent=1).encode()
        )
        executor = executor or LocalExecutor(1)
        say(
            f"chainrule sweep: {len(runs)} runs ({len(rows)} finished earlier, {resumed} to "
            f"resume, {len(todo) - resumed} to train) on {executor.describe()}; writing {out}"
        )
        tasks = [
            (runs[i].config, str(out), runs[i].name, session, _checkpoint_bytes(out, runs[i]))
            for i in todo
        ]

        def table() -> SweepTable:
            return SweepTable([rows[i] for i in sorted(rows)], options)

        bar = tqdm(
            total=len(runs),
            initial=len(rows),
            desc="sweep",
            unit="run",
            file=sys.stderr,
            disable=None if verbose else True,
        )
        try:
            for done in executor.map_unordered(train_one, tasks):
                i = todo[done.index]
                spec = runs[i]
                if done.ok:
                    row = rows[i] = {**_row(spec, done.value), "attempts": done.attempts}
                    _write_run(out, spec, done.value, row)
                else:
                    row = rows[i] = _failed_row(spec, done.error, done.traceback)
                    row["attempts"] = done.attempts
                current = table()
                current.write(out, description)
                bar.update(1)
                say(_progress(current, row, len(rows), len(runs)), bar=bar)
                if on_result is not None:
                    on_result(row)
        finally:
            bar.close()
            final = table()
            final.write(out, description)
            if plot and final.done:
                _plot(final, out)
    final = SweepTable([rows[i] for i in range(len(runs))], options)
    if verbose:
        print(final)
        print(f"wrote {out / 'results.csv'}, {out / 'summary.csv'}, {out / 'results.json'}")
        if plot and final.done:
            print(f"wrote {out / 'sweep.png'}")
    return final


def _plot(table: SweepTable, out: Path) -> None:
    from chainrule.train.sweep_plot import plot_sweep

    try:
        plot_sweep(table, out / "runs", out / "sweep.png")
    except Exception as err:  # a figure is never worth losing the results over
        print(
            f"chainrule: warning: sweep.png not drawn ({type(err).__name__}: {err})",
            file=sys.stderr,
        )


def _plain_list(values: list) -> list:
    return [_plain(v) for v in values]


def _checkpoint_bytes(out: Path, spec: RunSpec) -> bytes | None:
    path = out / "runs" / spec.name / "checkpoint.chainrule"
    return path.read_bytes() if path.exists() else None


def _write_run(out: Path, spec: RunSpec, outcome: dict, row: dict) -> None:
    """Files that came back from a worker without the shared folder, then the marker
    that says the run is finished."""
    folder = out / "runs" / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (outcome.get("files") or {}).items():
        atomic_write_bytes(folder / name, data)
    record = {"run": spec.name, "config": spec.config, "row": row}
    atomic_write_bytes(folder / "run.json", json.dumps(record, indent=1).encode())


def _printer(verbose: int) -> Callable:
    def say(text: str, bar=None) -> None:
        if not verbose:
            return
        if bar is not None and not bar.disable:
            bar.write(text)
        else:
            print(text, flush=True)

    return say


def _progress(table: SweepTable, row: dict, finished: int, total: int) -> str:
    """A line per finished run: its figures, and the best configuration so far."""
    width = len(str(total))
    head = f"[{finished:>{width}}/{total}] {row['run']}"
    if row["status"] == "failed":
        return f"{head}: FAILED, {row['error']}"
    metric = table.metric
    test = "test_" + metric.split("_", 1)[1]  # the same figure, on the test split
    figures = ", ".join(f"{k} {row[k]:.4f}" for k in (metric, test) if row.get(k) is not None)
    line = f"{head}: {figures} ({row['time']:.1f} s of training)"
    best = table.best()
    if best is not None:
        mean, std = best[f"{metric}_mean"], best[f"{metric}_std"]
        spread = "" if math.isnan(std) else f" ± {std:.4f}"
        seeds = f"{best['seeds']} seed" + ("s" if best["seeds"] != 1 else "")
        line += f"; best so far: {table.describe(best)} ({metric} {mean:.4f}{spread}, {seeds})"
    return line
