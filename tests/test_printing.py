"""How tensors print: ``repr`` against PyTorch's for floats, integers, bools, 0-d and empty
tensors, scientific notation, wrapped and summarised rows, the dtype, ``requires_grad``
and ``grad_fn`` suffixes, the print options, and ``format`` of 0-d tensors."""

from __future__ import annotations

import pytest
import torch

import chainrule as cr

_REPR_CASES = {
    "float vector": lambda m: m.tensor([1.5, -2.25, 3.0]),
    "whole floats": lambda m: m.tensor([[1.0, 2.0], [-3.0, 40.0]]),
    "zeros": lambda m: m.zeros(2, 3),
    "0-d": lambda m: m.tensor(2.5),
    "0-d whole": lambda m: m.tensor(-3.0),
    "0-d int": lambda m: m.tensor(7),
    "ints": lambda m: m.tensor([[1, -20, 300], [4, 5, 6]]),
    "bools": lambda m: m.tensor([True, False, True]),
    "int32": lambda m: m.tensor([1, 2], dtype=m.int32),
    "float64": lambda m: m.tensor([0.1, 0.2], dtype=m.float64),
    "float16": lambda m: m.tensor([0.5, 1.25], dtype=m.float16),
    "uint8": lambda m: m.tensor([3, 250], dtype=m.uint8),
    "sci: wide range": lambda m: m.tensor([1e-5, 1.0, 123.0]),
    "sci: large": lambda m: m.tensor([1e9, 2.0]),
    "sci: whole": lambda m: m.tensor([1e10, 1.0]),
    "nan and inf": lambda m: m.tensor([float("nan"), float("inf"), -float("inf"), 1.5]),
    "nan and whole": lambda m: m.tensor([float("nan"), 2.0]),
    "negative zero": lambda m: m.tensor([-0.0, 1.0]),
    "empty": lambda m: m.tensor([]),
    "empty int": lambda m: m.tensor([], dtype=m.int64),
    "empty 2-d": lambda m: m.zeros(0, 3),
    "empty float64 2-d": lambda m: m.zeros(2, 0, dtype=m.float64),
    "3-d": lambda m: m.arange(24).reshape(2, 3, 4),
    "4-d floats": lambda m: m.arange(16.0).reshape(2, 2, 2, 2) / 3,
    "long row wraps": lambda m: m.arange(40.0) / 7,
    "long int row": lambda m: m.arange(100),
    "summarised vector": lambda m: m.arange(2000),
    "summarised matrix": lambda m: m.arange(4000.0).reshape(50, 80) / 9,
    "summarised 3-d": lambda m: m.arange(3000).reshape(10, 15, 20),
    "summarised sci": lambda m: m.arange(2000.0) * 1e6,
    "requires grad": lambda m: m.tensor([1.0, 2.0], requires_grad=True),
    "0-d requires grad": lambda m: m.tensor(1.0, requires_grad=True),
    "float64 requires grad": lambda m: m.tensor([1.0], dtype=m.float64, requires_grad=True),
    "grad_fn": lambda m: m.tensor([1.0, 2.0], requires_grad=True) * 2,
    "grad_fn wraps": lambda m: m.ones(3, 9, requires_grad=True) * 1.123456,
    "long suffix wraps": lambda m: (m.arange(15.0, dtype=m.float64) / 7).requires_grad_(),
}


@pytest.mark.parametrize("case", list(_REPR_CASES))
def test_repr_matches_pytorch(case):
    make = _REPR_CASES[case]
    mine, theirs = repr(make(cr)), repr(make(torch))
    # The formats agree by design; only the dtype's module prefix differs (cr. for torch.).
    assert mine == theirs.replace("torch.", "cr."), f"\n{mine}\n!=\n{theirs}"


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_repr_dtype_suffix_follows_the_default_dtype(default):
    cr.set_default_dtype(getattr(cr, default))
    torch.set_default_dtype(getattr(torch, default))
    try:
        for make in (lambda m: m.tensor([1.5]), lambda m: m.tensor([1.5], dtype=m.float32)):
            assert repr(make(cr)) == repr(make(torch)).replace("torch.", "cr.")
        assert repr(cr.tensor([])) == repr(torch.tensor([])).replace("torch.", "cr.")
    finally:
        torch.set_default_dtype(torch.float32)


def test_print_options_match_pytorch():
    options = [
        {"precision": 2},
        {"threshold": 5},
        {"edgeitems": 1, "threshold": 5},
        {"linewidth": 30},
        {"sci_mode": True},
        {"sci_mode": False},
        {"profile": "short"},
    ]
    for opts in options:
        with cr.printoptions(**opts):
            torch.set_printoptions(**opts)
            try:
                for make in (
                    lambda m: m.tensor([1.123456, 1e-3, 25.0]),
                    lambda m: m.arange(12.0).reshape(3, 4) / 3,
                    lambda m: m.arange(20),
                ):
                    assert repr(make(cr)) == repr(make(torch)), opts
            finally:
                torch.set_printoptions(profile="default")
    assert cr.get_printoptions()["precision"] == 4


def test_parameter_repr_matches_pytorch():
    p = cr.nn.Parameter(cr.tensor([1.0, 2.0]))
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))


def test_format_of_0d_tensors_matches_pytorch():
    for value in (1.23456, -2.0, 1e-7):
        for spec in (".2f", ".3e", "8.1f", "", "g"):
            assert format(cr.tensor(value), spec) == format(torch.tensor(value), spec)
    assert f"{cr.tensor(3):04d}" == f"{torch.tensor(3):04d}" == "0003"
    assert f"{cr.tensor([1.0, 2.0])}" == str(cr.tensor([1.0, 2.0]))


def test_format_spec_on_a_tensor_with_dimensions_raises_as_pytorch():
    with pytest.raises(TypeError):
        f"{torch.tensor([1.5]):.2f}"
    with pytest.raises(TypeError, match=r"only 0-d tensors.*item\(\)"):
        f"{cr.tensor([1.5]):.2f}"


_INDEXES = {
    "integer": lambda x, m: x[0],
    "integers": lambda x, m: x[0, 1],
    "integer last": lambda x, m: x[..., -1],
    "after a full slice": lambda x, m: x[:, 0],
    "slice then integer": lambda x, m: x[1:3, 0],
    "integer then slice": lambda x, m: x[0, 1:3],
    "lone slice": lambda x, m: x[:2],
    "lone full slice": lambda x, m: x[:],
    "lone slice past the end": lambda x, m: x[0:7],
    "strided": lambda x, m: x[::2],
    "full slices": lambda x, m: x[:, 0:4, :],
    "a slice after ...": lambda x, m: x[..., 1:, :],
    "ellipsis": lambda x, m: x[...],
    "None": lambda x, m: x[None],
    "None last": lambda x, m: x[0, None],
    "None first": lambda x, m: x[None, 0],
    "integer tensor": lambda x, m: x[m.tensor([0, 2])],
    "list with a slice": lambda x, m: x[[0, 1], 1:2],
    "mask": lambda x, m: x[m.tensor([True, False, True])],
    "twice": lambda x, m: x[0][1],
}


@pytest.mark.parametrize("case", list(_INDEXES))
def test_grad_fn_of_indexing_prints_as_pytorch(case):
    # grad_fn=<SliceBackward0> in print(param[:2]) (the basics tutorial), SelectBackward0
    # in print(preds[0]) (nn_tutorial): the name of the last step PyTorch's indexing takes.
    index = _INDEXES[case]
    mine = index(cr.ones(3, 4, 5, requires_grad=True), cr)
    theirs = index(torch.ones(3, 4, 5, requires_grad=True), torch)
    assert mine.grad_fn.name() == theirs.grad_fn.name()
    assert repr(mine).splitlines()[-1] == repr(theirs).splitlines()[-1]
