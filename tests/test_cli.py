"""The command line: verify's table, summary and exit status; one-line errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from chainrule import cli
from chainrule.testing import opinfo, verify


def test_verify_prints_a_row_per_op_and_a_summary(capsys):
    assert cli.main(["verify", "--ops", "mul,relu,softmax"]) == 0
    out = capsys.readouterr().out
    rows = [
        line for line in out.splitlines() if line.split()[:1] in (["mul"], ["relu"], ["softmax"])
    ]
    assert len(rows) == 3 and all(line.endswith("ok") for line in rows)
    assert "verify: all 3 ops agree" in out and "PyTorch 2.13.0" in out


def test_verify_exits_non_zero_when_an_op_disagrees(monkeypatch, capsys):
    table = list(opinfo.OP_DB)
    i = next(k for k, info in enumerate(table) if info.name == "exp")
    table[i] = dataclasses.replace(
        table[i], ref=lambda x: np.exp(x) * (1 + 1e-6)
    )  # a wrong reference
    monkeypatch.setattr(verify, "OP_DB", table)
    assert cli.main(["verify", "--ops", "exp", "--no-torch"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 of 1 ops disagree (exp)" in out


def test_verify_unknown_op_is_a_one_line_error(capsys):
    assert cli.main(["verify", "--ops", "nosuchop"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: unknown op(s): nosuchop") and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["--help"], ["verify", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
    assert "usage: chainrule" in capsys.readouterr().out


def test_unknown_option_gives_one_line_and_status_2():
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "verify", "--bogus"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "chainrule: error:" in proc.stderr


def test_console_script_runs():
    proc = subprocess.run(
        ["chainrule", "verify", "--ops", "add"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "verify: all 1 ops agree" in proc.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")
def test_tune_allocator_stops_freed_memory_being_faulted_in_again():
    """A training step allocates arrays that live together, then frees them all. By
    default glibc hands the freed memory back and the next step faults every page in
    again; with the allocator tuned, the memory is reused without a fault."""
    script = (
        "import resource, sys, numpy as np, chainrule as cr\n"
        "if sys.argv[1] == 'tuned': assert cr.tune_allocator()\n"
        "def step(): keep = [np.ones(250_000, np.float32) for _ in range(10)]\n"
        "for _ in range(3): step()\n"
        "start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(20): step()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)\n"
    )
    faults = {}
    for mode in ("default", "tuned"):
        run = subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
        )
        faults[mode] = int(run.stdout)
    assert faults["default"] > 20 * 1000  # ten 1 MB arrays a step, 4 KB pages
    assert faults["tuned"] < faults["default"] / 20
