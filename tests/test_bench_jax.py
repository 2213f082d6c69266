"""The bench's JAX column times what chainrule computes: each case, written in JAX
(``chainrule/bench/jax_steps.py``) and started from the same weights and batch, gives
chainrule's loss, gradients and updated parameters within float32 rounding; and
``--threads N`` pins every library and says so. JAX is part of the ``test`` extra, so
these tests run wherever the suite does (a missing JAX is an error here, not a skip).

JAX runs in a child process started with ``spawn`` (the ``jax_side`` fixture), never in
the test process: once JAX has started its threads, every later ``os.fork`` in the suite
(the data loader's workers, the lab's executors) warns that the child may deadlock, and
the suite turns warnings into errors. The child computes JAX's figures; the comparisons
are made here."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from chainrule import cli
from chainrule.bench import CASES, jax_worker, pinning, runner

# One case per model and optimizer (the MLP with SGD and with Adam, the deep narrow MLP, the
# CNN): the other batch sizes run the same code, and each case costs two XLA compilations.
# test_every_case_has_a_jax_version builds the rest.
_BY_NAME = {c.name: c for c in CASES}
TRAINING = [_BY_NAME[n] for n in ("mlp-sgd-b32", "mlp-adam-b32", "deep-narrow-b32", "lenet-b64")]


@pytest.fixture(scope="module")
def jax_side():
    """A process of its own for JAX (see the module's docstring)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield lambda fn, *args: pool.submit(fn, *args).result(timeout=600)


def _arrays(xs) -> list:
    return [np.array(x) for x in xs]  # copies: a donated buffer is reused by the next step


# ------------------------------------------------------------ run in the JAX process
def _jax_training(name: str, grads1: list, grads2: list) -> dict:
    """JAX's side of a training case: its starting weights; loss and gradients at the
    start (value_and_grad under jit); the loss and the parameters after each of two timed
    steps; and the parameters after two optimizer updates fed ``grads1`` and ``grads2``."""
    import jax
    import jax.numpy as jnp

    from chainrule.bench import jax_steps

    case = _BY_NAME[name]
    theirs = jax_steps.build(case)
    out = {"start": _arrays(theirs.params)}
    loss, grads = jax.jit(jax.value_and_grad(theirs.loss_fn))(theirs.params, theirs.x, theirs.y)
    out["loss"], out["grads"] = float(loss), _arrays(grads)
    for step in (1, 2):  # the step the bench times
        out[f"loss{step}"] = float(theirs.run())
        out[f"after{step}"] = _arrays(theirs.params)
    fresh = jax_steps.build(case)
    params, state = fresh.params, fresh.state
    for g in (grads1, grads2):
        params, state = fresh.update(params, state, [jnp.asarray(a) for a in g])
    out["updated"] = _arrays(params)
    return out


def _jax_graph_and_inference() -> tuple[list, np.ndarray]:
    from chainrule.bench import jax_steps

    graph = next(c for c in CASES if c.kind == "graph")
    infer = next(c for c in CASES if c.kind == "mlp-infer")
    return _arrays(jax_steps.build(graph).run()), np.array(jax_steps.build(infer).run())


def _jax_builds_every_case() -> dict:
    from chainrule.bench import jax_steps

    return {c.name: isinstance(jax_steps.build(c), jax_steps.JaxCase) for c in CASES}


# ------------------------------------------------------------------------ the tests
def _assert_grads_close(mine: list, theirs: list) -> None:
    """Gradients agree to float32 rounding of sums taken in another order: relative to
    each gradient's own scale."""
    for a, b in zip(mine, theirs, strict=True):
        assert a.shape == b.shape and b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(np.abs(b).max()))


def _assert_params_close(mine: list, theirs: list) -> None:
    for a, b in zip(mine, theirs, strict=True):
        assert b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", TRAINING, ids=lambda c: c.name)
def test_jax_training_step_matches_chainrule(case, jax_side):
    mine = case.chainrule_step()
    start = [p.numpy().copy() for p in mine.model.parameters()]
    loss = mine().item()  # chainrule's step 1
    grads = [p.grad.numpy().copy() for p in mine.model.parameters()]
    after = [p.numpy().copy() for p in mine.model.parameters()]
    loss2 = mine().item()  # step 2 uses the optimizer's state (momentum; Adam's averages, t)
    grads2 = [p.grad.numpy().copy() for p in mine.model.parameters()]
    final = [p.numpy().copy() for p in mine.model.parameters()]
    theirs = jax_side(_jax_training, case.name, grads, grads2)

    for a, b in zip(start, theirs["start"], strict=True):  # the same starting point
        np.testing.assert_array_equal(a, b)
    assert theirs["loss"] == pytest.approx(loss, rel=1e-5)
    _assert_grads_close(grads, theirs["grads"])

    assert theirs["loss1"] == pytest.approx(loss, rel=1e-5)
    if case.optimizer == "sgd":
        _assert_params_close(after, theirs["after1"])
    else:
        # Adam's first step moves each weight by lr * g / (|g| + eps): about lr for any
        # gradient well above eps, so where |g| is at the level of rounding noise the two
        # may step differently (by at most lr). Elsewhere they agree to rounding.
        for a, b, g in zip(after, theirs["after1"], grads, strict=True):
            sure = np.abs(g) > 1e-6
            np.testing.assert_allclose(a[sure], b[sure], rtol=1e-5, atol=1e-6)
            assert np.abs(a - b).max() <= 2 * case.lr

    assert theirs["loss2"] == pytest.approx(loss2, rel=1e-5)
    if case.optimizer == "sgd":
        _assert_params_close(final, theirs["after2"])
    # The update rule on its own: fed chainrule's gradients, JAX's optimizer step gives
    # chainrule's parameters after both steps.
    _assert_params_close(final, theirs["updated"])


def test_jax_graph_and_inference_match_chainrule(jax_side):
    grads, out = jax_side(_jax_graph_and_inference)
    graph = next(c for c in CASES if c.kind == "graph")
    _assert_grads_close([g.numpy() for g in graph.chainrule_step()()], grads)
    infer = next(c for c in CASES if c.kind == "mlp-infer")
    assert out.dtype == np.float32
    np.testing.assert_allclose(infer.chainrule_step()().numpy(), out, rtol=1e-5, atol=1e-5)


def test_every_case_has_a_jax_version(jax_side):
    built = jax_side(_jax_builds_every_case)
    assert built == {c.name: True for c in CASES}


def test_jax_stays_out_of_the_test_process():
    import sys

    assert "jax" not in sys.modules  # see the module's docstring


def test_one_thread_mode_pins_every_library_and_says_so(capsys):
    import torch

    before_threads = [lib["num_threads"] for lib in threadpool_info()]
    before_torch = torch.get_num_threads()
    before_affinity = pinning.affinity()
    argv = ["bench", "--quick", "--threads", "1", "--cases", "graph-5op", "--json"]
    assert cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["threads"] == 1
    libs = report["libraries"]
    assert all(b["num_threads"] == 1 for b in libs["numpy"]["blas"])
    assert libs["numpy"]["blas"] and libs["numpy"]["blas"][0]["internal_api"]
    assert libs["torch"]["intra_op_threads"] == 1
    jax_info = libs["jax"]
    assert jax_info["nproc"] == "1" and "xla_cpu_multi_thread_eigen=false" in jax_info["xla_flags"]
    if before_affinity is not None:  # Linux: one CPU, for this process and the worker
        assert len(report["affinity"]) == 1 and jax_info["affinity"] == report["affinity"]
        assert jax_info["xla_eigen_threads"] == 1
    row = report["cases"][0]
    assert set(row["ms"]) == {"chainrule", "compiled", "numpy", "torch", "jax"}
    assert row["compiled_x_torch"] > 0 and row["compiled_x_jax"] > 0
    assert row["x_jax"] > 0 and row["peak_mb"]["jax"] is None  # not measured, not made up
    # Everything is as it was afterwards.
    assert [lib["num_threads"] for lib in threadpool_info()] == before_threads
    assert torch.get_num_threads() == before_torch
    assert pinning.affinity() == before_affinity

    table = runner.format_table(report)  # the table of the same run
    assert "--threads 1" in table and "jax ms" in table and "x jax" in table
    assert "Eigen thread" in table and "peak memory is not measured" in table
    assert "(jit, own process)" in table


def test_without_jax_the_column_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setattr(jax_worker, "available", lambda: False)
    out = io.StringIO()
    report = runner.run(quick=True, names=["graph-5op"], use_torch=False, stream=out)
    assert report["jax"] is None and "jax" not in report["cases"][0]["ms"]
    text = out.getvalue()
    assert "jax ms" not in text
    assert "JAX: not installed (pip install 'chainrule[bench]' brings it); column skipped" in text


def test_worker_environment_sets_xlas_threads_before_jax_starts():
    env = pinning.child_environment(1)
    assert env["NPROC"] == env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert "--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]
    two = pinning.child_environment(2)
    assert two["NPROC"] == "2" and "xla_cpu_multi_thread_eigen" not in two.get("XLA_FLAGS", "")
    default = pinning.child_environment(None)
    assert default.get("NPROC") == os.environ.get("NPROC")


def test_a_shared_cpu_is_reported_with_the_figures():
    def results(*busy):
        return [{"cpu_per_wall": {"chainrule": b, "torch": b}} for b in busy]

    assert runner._load_notes(results(0.97, 1.0, 0.95)) == []
    assert runner._load_notes(results(1.6, 1.9)) == []  # two threads busy: not a warning
    (note,) = runner._load_notes(results(0.3, 0.35, 0.9))
    assert "0.35 CPU seconds per wall second" in note and "other processes" in note


def test_bench_rejects_a_thread_count_below_one(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["bench", "--threads", "0"])
    assert stop.value.code == 2
    assert "chainrule: error:" in capsys.readouterr().err
