"""The benchmark is honest: each hand-written NumPy reference computes what chainrule
computes, and PyTorch's version starts from the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from chainrule import cli
from chainrule.bench import CASES
from chainrule.bench.runner import measure_memory, sgemm_rate

STEPS = 3


def _params(case, step):
    if case.kind == "graph" or case.kind == "mlp-infer":
        return None
    return [p.numpy().copy() for p in step.model.parameters()]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.kind in ("mlp", "cnn")], ids=lambda c: c.name
)
def test_reference_training_step_matches_chainrule(case):
    mine, ref = case.chainrule_step(), case.numpy_step()
    for _ in range(STEPS):
        loss_mine = mine().item()
        loss_ref = ref()
        assert loss_mine == pytest.approx(loss_ref, rel=1e-4)
    ref_params = ref.params
    mine_params = [p.numpy() for p in mine.model.parameters()]
    if case.kind == "mlp":  # the reference keeps weights and biases in two lists
        n = len(mine_params) // 2
        ref_params = [x for pair in zip(ref_params[:n], ref_params[n:]) for x in pair]
    for a, b in zip(mine_params, ref_params):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_reference_graph_and_inference_match_chainrule():
    graph = next(c for c in CASES if c.kind == "graph")
    mine, ref = graph.chainrule_step(), graph.numpy_step()
    for a, b in zip(mine(), ref()[1]):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-7)
    infer = next(c for c in CASES if c.kind == "mlp-infer")
    np.testing.assert_allclose(
        infer.chainrule_step()().numpy(), infer.numpy_step()(), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pytorch_version_starts_from_the_same_point(case):
    mine, theirs = case.chainrule_step(), case.torch_step(torch)
    if case.kind == "graph":
        for a, b in zip(mine(), theirs()):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    elif case.kind == "mlp-infer":
        np.testing.assert_allclose(mine().numpy(), theirs().numpy(), rtol=1e-4, atol=1e-5)
    else:
        assert mine().item() == pytest.approx(theirs().item(), rel=1e-4)


def test_case_flops_and_memory_measures():
    mlp = next(c for c in CASES if c.name == "mlp-sgd-b32")
    layers = 784 * 512 + 512 * 256 + 256 * 10
    assert mlp.flops() == 2 * 32 * (2 * layers + 512 * 256 + 256 * 10)
    assert sgemm_rate(n=128, repeats=1) > 0
    step = mlp.chainrule_step()
    step()
    assert measure_memory("chainrule", step) > 2e6  # the gradients alone are 2.1 MB
    assert measure_memory("torch", mlp.torch_step(torch), torch) > 2e6


def test_memory_measures_agree_when_a_step_frees_what_came_before():
    """A step that frees a block allocated before it, then allocates 1 MiB and 4 MiB:
    both tools report 5 MiB, every time (PyTorch's profiler reports the free of a block
    it saw allocated in an earlier profile; that free must not count)."""
    mib = 1 << 20
    held = {"numpy": np.ones(mib), "torch": torch.ones(mib // 4)}  # 8 MiB / 4 MiB

    def numpy_step():
        held["numpy"] = None
        small = np.ones(mib // 8)
        held["numpy"] = np.ones(mib // 2)
        return small

    def torch_step():
        held["torch"] = None
        small = torch.ones(mib // 4)
        held["torch"] = torch.ones(mib)
        return small

    for _ in range(3):
        assert measure_memory("numpy", numpy_step) == pytest.approx(5 * mib, rel=0.01)
        assert measure_memory("torch", torch_step, torch) == pytest.approx(5 * mib, rel=0.01)


def test_bench_command_prints_json(capsys):
    assert cli.main(["bench", "--quick", "--cases", "graph-5op", "--no-torch", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["case"] for c in report["cases"]] == ["graph-5op"]
    assert report["cases"][0]["ms"]["chainrule"] > 0 and report["sgemm_gflops"] > 0
    assert cli.main(["bench", "--cases", "nope"]) == 2
