"""Sweeps: the same bits in one process, two worker processes and a Dask cluster; nothing
lost when a worker dies, a run raises or the sweep is interrupted; bad input refused
before anything runs; the table, its summary over seeds and the figure."""

from __future__ import annotations

import csv
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli
from chainrule.io import _running as _alive  # whether a process still runs
from chainrule.parallel import DaskExecutor, LocalExecutor
from chainrule.train import callbacks
from chainrule.train import run as run_module
from chainrule.train.sweep_command import parse_grid
from chainrule.train.sweep_plot import sweep_figure
from chainrule.train.sweep_table import SweepTable
from chainrule.train.sweeps import expand

# The acceptance sweep: 3 optimizers x 2 learning rates x 2 seeds on the digits, small and short.
BASE = ["--data", "digits", "--hidden", "16", "--epochs", "2"]
GRID = ["--grid", "optimizer=sgd,momentum,adam", "--grid", "lr=0.1,0.01", "--seeds", "2"]
BASE_CONFIG = {"data": "digits", "hidden": (16,), "epochs": 2}
# Columns that say how and when a run was trained, not what it gave.
VOLATILE = ("time", "attempts", "session", "start_epoch")


def _results(out: Path) -> dict[str, dict]:
    """results.csv by run name, the volatile columns left out (floats as written: every bit)."""
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    return {r["run"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in rows}


def _histories(out: Path) -> dict[str, list]:
    return {
        p.parent.name: [
            {k: v for k, v in r.items() if k != "time"} for r in json.loads(p.read_text())
        ]
        for p in (out / "runs").glob("*/history.json")
    }


def _workers(out: Path) -> dict[str, int]:
    return {
        p.parent.name: json.loads(p.read_text())["pid"]
        for p in (out / "runs").glob("*/worker.json")
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The 12-run sweep, ``--jobs 1``: every run in this process."""
    out = tmp_path_factory.mktemp("jobs1")
    assert cli.main(["sweep", *GRID, *BASE, "--jobs", "1", "--out", str(out)]) == 0
    return out


def test_one_process_gives_every_run_its_folder_and_row(reference):
    rows = _results(reference)
    assert len(rows) == 12 and all(r["status"] == "done" for r in rows.values())
    assert set(_workers(reference).values()) == {os.getpid()}
    assert len({r["val_accuracy"] for r in rows.values()}) > 6  # the runs really differ
    for name in rows:
        folder = reference / "runs" / name
        for file in ("checkpoint.chainrule", "history.csv", "history.json", "results.json"):
            assert (folder / file).is_file(), (name, file)
        # The row is the run's own results.json, as `chainrule train` wrote it.
        own = json.loads((folder / "results.json").read_text())
        assert float(rows[name]["test_accuracy"]) == own["test"]["accuracy"]
        assert float(rows[name]["val_loss"]) == own["validation"]["loss"]
    summary = json.loads((reference / "results.json").read_text())["summary"]
    assert len(summary) == 6 and {s["seeds"] for s in summary} == {2}
    assert (reference / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.filterwarnings("ignore")  # Dask's own start-up warnings (ports, resources)
def test_jobs_2_and_a_local_dask_cluster_give_the_same_bits_as_one_process(reference, tmp_path):
    expected, curves = _results(reference), _histories(reference)
    for name, where in (
        ("jobs2", ["--jobs", "2"]),
        ("dask", ["--scheduler", "local", "--jobs", "2"]),
    ):
        out = tmp_path / name
        assert cli.main(["sweep", *GRID, *BASE, *where, "--out", str(out)]) == 0
        assert _results(out) == expected, name
        assert _histories(out) == curves, name
        pids = set(_workers(out).values())
        assert os.getpid() not in pids and (len(pids) == 2 or name == "dask"), (name, pids)


# --------------------------------------------------------------------- workers that die
def pause_after_each_checkpoint():
    """Worker initializer: a pause after each epoch's checkpoint, so that a test finds a
    run between two epochs and kills its worker there (no number changes)."""
    original = callbacks.ModelCheckpoint.on_epoch_end

    def on_epoch_end(self, state, record):
        original(self, state, record)
        time.sleep(0.5)

    callbacks.ModelCheckpoint.on_epoch_end = on_epoch_end


class Killer(threading.Thread):
    """Kills the worker process of the first run it sees mid-run: a checkpoint written,
    the run's results not yet."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.out, self.killed, self.done = out, None, threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 180
        while not self.done.is_set() and time.monotonic() < deadline:
            for folder in sorted(self.out.glob("runs/*")):
                try:
                    pid = json.loads((folder / "worker.json").read_text())["pid"]
                except (OSError, ValueError):
                    continue
                mid_run = (folder / "checkpoint.chainrule").exists() and not (
                    folder / "results.json"
                ).exists()
                if mid_run and pid != os.getpid():
                    os.kill(pid, signal.SIGKILL)
                    self.killed = (folder.name, pid)
                    return
            time.sleep(0.01)


KILL_GRID = {"optimizer": ["sgd", "adam"], "lr": [0.1]}


def _sweep_with_a_kill(executor, out: Path):
    killer = Killer(out)
    killer.start()
    try:
        table = cr.train.sweep(
            KILL_GRID, BASE_CONFIG, seeds=2, executor=executor, out=out, verbose=0
        )
    finally:
        killer.done.set()
        killer.join()
    assert killer.killed is not None, "no run was caught mid-run"
    return table, killer.killed


def test_a_killed_local_worker_costs_only_its_run_which_resumes(reference, tmp_path):
    with LocalExecutor(2, initializer=pause_after_each_checkpoint) as ex:
        table, (name, pid) = _sweep_with_a_kill(ex, tmp_path)
    assert not _alive(pid)
    rows = {r["run"]: r for r in table}
    assert all(r["status"] == "done" for r in table) and len(rows) == 4
    assert rows[name]["attempts"] == 2 and rows[name]["start_epoch"] >= 1  # from its checkpoint
    assert all(r["attempts"] == 1 for n, r in rows.items() if n != name)
    assert _workers(tmp_path)[name] != pid
    expected = _results(reference)
    assert _results(tmp_path) == {n: expected[n] for n in rows}


@pytest.mark.filterwarnings("ignore")  # Dask's warnings about the worker it lost
def test_a_killed_dask_worker_has_its_run_retried_elsewhere(reference, tmp_path):
    with DaskExecutor("local", jobs=2, initializer=pause_after_each_checkpoint) as ex:
        table, (name, pid) = _sweep_with_a_kill(ex, tmp_path)
    rows = {r["run"]: r for r in table}
    assert all(r["status"] == "done" for r in table) and len(rows) == 4
    assert rows[name]["start_epoch"] >= 1  # the retry resumed from the run's checkpoint
    assert _workers(tmp_path)[name] != pid
    expected = _results(reference)
    assert _results(tmp_path) == {n: expected[n] for n in rows}


# ------------------------------------------------------------------- interrupt, rerun
def _interrupt_after_saves(monkeypatch, count: int) -> None:
    """Ctrl-C right after the ``count``-th checkpoint of this process is written."""
    original, saves = callbacks.ModelCheckpoint.on_epoch_end, []

    def on_epoch_end(self, state, record):
        original(self, state, record)
        saves.append(record["epoch"])
        if len(saves) == count:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.ModelCheckpoint, "on_epoch_end", on_epoch_end)


def test_an_interrupted_sweep_reruns_only_what_was_not_finished(reference, tmp_path, monkeypatch):
    grid = {"optimizer": ["sgd"], "lr": [0.1, 0.01]}
    names = [r.name for r in expand(grid, BASE_CONFIG, 2)]
    _interrupt_after_saves(monkeypatch, 3)  # run 1 finished (2 epochs), run 2 after epoch 1
    with pytest.raises(KeyboardInterrupt):
        cr.train.sweep(grid, BASE_CONFIG, seeds=2, out=tmp_path, verbose=0)
    monkeypatch.undo()
    expected = _results(reference)
    assert _results(tmp_path) == {names[0]: expected[names[0]]}  # written before stopping
    assert (tmp_path / "runs" / names[1] / "checkpoint.chainrule").exists()
    assert not (tmp_path / "runs" / names[1] / "run.json").exists()

    trained, real = [], run_module.run

    def counting_run(config, out, resume=None, verbose=1):
        trained.append((Path(out).name, resume is not None))
        return real(config, out, resume=resume, verbose=verbose)

    monkeypatch.setattr(run_module, "run", counting_run)
    table = cr.train.sweep(grid, BASE_CONFIG, seeds=2, out=tmp_path, verbose=0)
    assert sorted(trained) == sorted([(names[1], True), (names[2], False), (names[3], False)])
    assert [r["session"] for r in table] == ["earlier", "resumed", "new", "new"]
    assert table[1]["start_epoch"] == 1
    assert _results(tmp_path) == {n: expected[n] for n in names}  # bit-exact, resumed or not
    assert _histories(tmp_path) == {n: _histories(reference)[n] for n in names}
    # A third time, everything is finished: nothing trains.
    trained.clear()
    assert [
        r["session"] for r in cr.train.sweep(grid, BASE_CONFIG, seeds=2, out=tmp_path, verbose=0)
    ] == ["earlier"] * 4
    assert trained == []


def test_ctrl_c_stops_every_worker_and_keeps_the_finished_runs(reference, tmp_path):
    grid = ["--grid", "optimizer=sgd,adam", "--grid", "lr=0.1", "--seeds", "2"]
    names = {r.name for r in expand(KILL_GRID, BASE_CONFIG, 2)}
    command = [sys.executable, "-m", "chainrule.cli", "sweep", *grid, *BASE, "--jobs", "2"]
    process = subprocess.Popen(
        [*command, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 180
    while not list(tmp_path.glob("runs/*/run.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    finished = {p.parent.name for p in tmp_path.glob("runs/*/run.json")}
    written = _results(tmp_path)
    assert finished and finished <= set(written) and set(written) < names
    expected = _results(reference)
    assert written == {n: expected[n] for n in written}
    assert not [pid for pid in _workers(tmp_path).values() if _alive(pid)]

    # The same command again trains only the runs that had not finished.
    again = time.time()
    assert cli.main(["sweep", *grid, *BASE, "--out", str(tmp_path)]) == 0
    started = {
        p.parent.name: json.loads(p.read_text())["started"]
        for p in tmp_path.glob("runs/*/worker.json")
    }
    trained = {name for name, when in started.items() if when >= again}
    assert set(started) == names and trained == names - finished
    sessions = {
        r["run"]: r["session"] for r in json.loads((tmp_path / "results.json").read_text())["runs"]
    }
    assert {n for n, s in sessions.items() if s == "earlier"} == finished
    assert _results(tmp_path) == {n: expected[n] for n in names}


# ------------------------------------------------------------------- runs elsewhere
class ElsewhereExecutor(LocalExecutor):
    """Runs each task here, as a worker on a machine that does not see the sweep's
    folder would: the folder it is given does not exist on this "machine"."""

    def __init__(self, elsewhere: Path) -> None:
        super().__init__(1)
        self.elsewhere = str(elsewhere)

    def map_unordered(self, fn, tasks):
        # A task's arguments: the run's options, the sweep's folder, then the rest.
        moved = [(t[0], self.elsewhere, *t[2:]) for t in tasks]
        return super().map_unordered(fn, moved)


def test_a_worker_without_the_folder_sends_the_files_back_and_resumes_from_sent_bytes(
    reference, tmp_path, monkeypatch
):
    grid = {"optimizer": ["adam"], "lr": [0.1]}
    names = [r.name for r in expand(grid, BASE_CONFIG, 2)]
    _interrupt_after_saves(monkeypatch, 1)  # run 1 stopped after its first epoch
    with pytest.raises(KeyboardInterrupt):
        cr.train.sweep(grid, BASE_CONFIG, seeds=2, out=tmp_path / "sweep", verbose=0)
    monkeypatch.undo()
    elsewhere = tmp_path / "not-here"
    table = cr.train.sweep(
        grid,
        BASE_CONFIG,
        seeds=2,
        executor=ElsewhereExecutor(elsewhere),
        out=tmp_path / "sweep",
        verbose=0,
    )
    assert not elsewhere.exists()
    assert [(r["session"], r["start_epoch"]) for r in table] == [("resumed", 1), ("new", 0)]
    for name in names:
        folder = tmp_path / "sweep" / "runs" / name
        for file in (
            "checkpoint.chainrule",
            "history.json",
            "results.json",
            "curves.png",
            "run.json",
        ):
            assert (folder / file).is_file(), (name, file)
    expected = _results(reference)
    assert _results(tmp_path / "sweep") == {n: expected[n] for n in names}


# ------------------------------------------------------------------- failures, bad input
def test_a_raising_run_is_recorded_failed_and_the_others_finish(tmp_path, capsys):
    command = [
        "sweep",
        "--grid",
        "lr=0.1,1e30",
        "--optimizer",
        "sgd",
        *BASE,
        "--out",
        str(tmp_path),
    ]
    assert cli.main(command) == 1
    printed = capsys.readouterr()
    assert "1 of 2 runs failed" in printed.err and "best so far: lr=0.1" in printed.out
    rows = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert [r["status"] for r in rows] == ["done", "failed"]
    assert rows[1]["error"].startswith("TrainingDiverged: the loss became")
    assert "Traceback" in rows[1]["traceback"]
    # Again: the finished run is kept, the failed one is tried again (and fails again).
    assert cli.main(command) == 1
    rows = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert [(r["status"], r.get("session")) for r in rows] == [
        ("done", "earlier"),
        ("failed", None),
    ]
    # Other options over the same folder: refused, naming them.
    with pytest.raises(
        ValueError, match=r"trained with --epochs 2, but this sweep asks for --epochs 3"
    ):
        cr.train.sweep(
            {"lr": [0.1]}, {**BASE_CONFIG, "optimizer": "sgd", "epochs": 3}, out=tmp_path
        )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "the grid is empty"),
        (["--grid", "lr="], "a value is missing"),
        (["--grid", "lr"], "--grid expects KEY=V1,V2"),
        (["--grid", "speed=1,2"], "unknown option 'speed' in --grid"),
        (["--grid", "lr=0.1,fast"], "--grid lr: expected a number, got 'fast'"),
        (["--grid", "epochs=2,0"], "--grid epochs: expected a positive integer, got '0'"),
        (["--grid", "optimizer=sgd,adamx"], "invalid choice: 'adamx'"),
        (["--grid", "batchnorm=maybe"], "--batchnorm is a flag; give true or false"),
        (
            ["--grid", "betas=0.9,0.99"],
            "separate the values with semicolons: --grid 'betas=0.9,0.99;...'",
        ),
        (["--grid", "lr=0.1", "--grid", "lr=0.2"], "--grid gives 'lr' twice"),
        (["--grid", "lr=0.1,0.10"], "the grid gives 'lr' the value 0.1 twice"),
        (
            ["--grid", "seed=1,2", "--grid", "lr=0.1", "--seeds", "2"],
            "either in the grid or as seeds",
        ),
        (["--grid", "lr=0.1", "--jobs", "0"], "--jobs: expected a positive integer, got '0'"),
        (["--grid", "lr=0.1", "--seeds", "0"], "--seeds: expected a positive integer, got '0'"),
    ],
)
def test_bad_input_is_one_line_and_nothing_runs(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        code = cli.main(["sweep", *arguments, "--out", str(tmp_path / "sweep")])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "sweep").exists()


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds(tmp_path, capsys):
    start = time.perf_counter()
    command = [
        "sweep",
        "--grid",
        "lr=0.1",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(command) == 2
    assert time.perf_counter() - start < 15
    assert "could not reach the Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("grid", "base", "seeds", "message"),
    [
        ({}, None, 1, "the grid is empty"),
        ({"lr": []}, None, 1, "no values for 'lr'"),
        ({"speed": [1]}, None, 1, "unknown option 'speed' in the grid"),
        ({"optimizer": ["adamx"]}, None, 1, "optimizer 'adamx' is not one of"),
        ({"lr": [0.1]}, {"speed": 1}, 1, "unknown option 'speed' in base"),
        ({"lr": [0.1]}, None, 0, "seeds must be a positive integer"),
        ({"seed": [0, 1]}, None, 1, "the grid holds only seeds"),
    ],
)
def test_the_python_api_refuses_bad_input_before_anything_runs(
    tmp_path, grid, base, seeds, message
):
    with pytest.raises(ValueError, match=message):
        cr.train.sweep(grid, base, seeds=seeds, out=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


def test_a_folder_in_use_by_another_sweep_is_refused(tmp_path):
    with open(tmp_path / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(RuntimeError, match="another sweep is running in"):
            cr.train.sweep({"lr": [0.1]}, BASE_CONFIG, out=tmp_path)


# ------------------------------------------------------------------- grid, table, figure
def test_the_grid_expands_in_order_with_every_seed():
    runs = expand({"optimizer": ["sgd", "adam"], "hidden": [(64, 32), (8,)]}, {"seed": 5}, seeds=2)
    assert [(r.options["optimizer"], r.options["hidden"], r.seed) for r in runs] == [
        (o, h, s) for o in ("sgd", "adam") for h in ([64, 32], [8]) for s in (5, 6)
    ]
    assert runs[0].name == "optimizer=sgd_hidden=64x32_seed=5"
    assert runs[0].config["hidden"] == [64, 32] and runs[0].config["lr"] is None
    assert [r.seed for r in expand({"lr": [0.1]}, seeds=[3, 9])] == [3, 9]
    assert [r.seed for r in expand({"seed": [4, 2], "lr": [0.1]})] == [4, 2]


def test_grid_values_parse_as_chainrule_train_parses_them():
    parser = cli.build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    grid = parse_grid(
        [
            "hidden=64,32;128",
            "batchnorm=true,false",
            "clip_grad_norm=default,1",
            "--betas=0.9,0.99;0,0",
        ],
        train,
    )
    assert grid == {
        "hidden": [(64, 32), (128,)],
        "batchnorm": [True, False],
        "clip_grad_norm": [None, 1.0],
        "betas": [(0.9, 0.99), (0.0, 0.0)],
    }


def _row(options, seed, val, test, status="done"):
    row = {"run": f"{options}-{seed}", "status": status, "lr": options, "seed": seed}
    if status == "done":
        row.update(val_accuracy=val, val_loss=1 - val, test_accuracy=test, test_loss=1 - test)
    return row


def test_the_summary_is_the_mean_and_std_over_seeds_and_the_best_is_chosen_on_validation():
    rows = [
        _row(0.1, 0, 0.90, 0.99),
        _row(0.1, 1, 0.80, 0.98),
        _row(0.1, 2, 0.70, 0.97),
        _row(0.01, 0, 0.85, 0.50),
        _row(0.01, 1, 0.0, 0.0, status="failed"),
    ]
    table = SweepTable(rows, ["lr"])
    first, second = table.summary()
    assert (first["seeds"], first["failed"], second["seeds"], second["failed"]) == (3, 0, 1, 1)
    assert first["val_accuracy_mean"] == pytest.approx(np.mean([0.9, 0.8, 0.7]), abs=1e-15)
    assert first["val_accuracy_std"] == pytest.approx(np.std([0.9, 0.8, 0.7], ddof=1), abs=1e-15)
    assert first["test_loss_std"] == pytest.approx(np.std([0.01, 0.02, 0.03], ddof=1), abs=1e-15)
    assert second["val_accuracy_mean"] == 0.85 and math.isnan(second["val_accuracy_std"])
    # 0.85 beats 0.80 on validation; the test figures (0.98 against 0.50) choose nothing.
    assert table.metric == "val_accuracy" and table.best()["lr"] == 0.01
    assert "0.8000 ± 0.1000" in str(table) and "1 (1 failed)" in str(table)
    no_accuracy = [{k: v for k, v in r.items() if "accuracy" not in k} for r in rows]
    by_loss = SweepTable(no_accuracy, ["lr"])
    assert (by_loss.metric, by_loss.maximize) == ("val_loss", False)
    assert by_loss.best()["lr"] == 0.01  # mean val_loss 0.15, against 0.2
    csv_rows = list(csv.DictReader(table.to_csv().splitlines()))
    assert [float(r["val_accuracy"]) for r in csv_rows[:4]] == [0.9, 0.8, 0.7, 0.85]
    assert csv_rows[4]["val_accuracy"] == "" and csv_rows[4]["status"] == "failed"


def test_the_figure_plots_each_option_with_error_bars_and_the_best_curves(reference):
    import matplotlib.pyplot as plt
    from matplotlib.container import ErrorbarContainer

    document = json.loads((reference / "results.json").read_text())
    table = SweepTable(document["runs"], ["optimizer", "lr"])
    fig = sweep_figure(table, reference / "runs")
    try:
        (by_optimizer, by_lr), (loss, accuracy) = fig.axes[:2], fig.axes[2:4]
        for ax, option, series in ((by_optimizer, "optimizer", 2), (by_lr, "lr", 3)):
            assert ax.get_xlabel() == option
            assert ax.get_ylabel() == "final validation accuracy"
            bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
            assert len(bars) == series and all(c.has_yerr for c in bars)
            assert ax.get_legend() is not None
        assert by_lr.get_xscale() == "log"
        assert [t.get_text() for t in by_optimizer.get_xticklabels()] == ["sgd", "momentum", "adam"]
        best = document["best"]
        assert f"optimizer={best['optimizer']} lr={best['lr']}" in loss.get_title()
        assert loss.get_xlabel() == "epoch" and accuracy.get_ylabel() == "accuracy"
        assert len(loss.get_lines()) == 4  # two seeds, training and validation
        assert list(loss.get_xticks()) == [1, 2]  # every epoch, no fractions
        assert all(line.get_marker() == "o" for line in loss.get_lines())  # few epochs: points
        assert "mean ± one standard deviation over seeds" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
