"""PyTorch's dtype names and printing, and ``cr.Size``, against torch."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import chainrule as cr

ALIASES = ["float", "double", "half", "long", "int", "short", "bool", "uint8", "int8"]
ALL = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("name", ALIASES + ALL)
def test_dtype_names_mean_what_they_mean_in_pytorch(name):
    mine, theirs = getattr(cr, name), getattr(torch, name)
    assert str(mine) == str(theirs).replace("torch.", "cr.")
    assert repr(mine) == repr(theirs).replace("torch.", "cr.")
    assert mine.itemsize == theirs.itemsize
    assert mine.is_floating_point == theirs.is_floating_point
    assert mine.is_signed == theirs.is_signed
    assert mine.is_complex == theirs.is_complex
    made = cr.zeros(2, dtype=mine)
    assert str(made.dtype) == str(torch.zeros(2, dtype=theirs).dtype).replace("torch.", "cr.")


def test_a_tensors_dtype_compares_with_every_spelling():
    t = cr.zeros(2)
    assert t.dtype == cr.float32 and t.dtype is cr.float32 and t.dtype is cr.float
    assert t.dtype == np.float32 and t.dtype == np.dtype("float32") and t.dtype == "float32"
    assert t.dtype != cr.float64 and t.dtype != np.float64 and t.dtype != None  # noqa: E711
    assert t.dtype != "cpu" and t.dtype.__eq__(3) is NotImplemented
    assert isinstance(t.dtype, cr.dtype)
    # It hashes as its NumPy dtype, so either finds the other in a dict or a set.
    assert {np.dtype("float32"): 1}[t.dtype] == 1 and {cr.float32: 2}[np.dtype("float32")] == 2
    assert np.dtype("float32") in {cr.float32}


def test_numpy_takes_a_chainrule_dtype_wherever_it_takes_a_dtype():
    assert np.zeros(2, cr.float64).dtype == np.float64
    assert np.asarray([1, 2], dtype=cr.int32).dtype == np.int32
    assert np.ones(2).astype(cr.half).dtype == np.float16
    assert np.dtype(cr.long) == np.int64 and np.finfo(cr.float).eps == np.finfo(np.float32).eps
    assert np.promote_types(cr.float32, cr.int64) == np.float64
    # Attributes NumPy's dtype has are read from it.
    assert cr.float32.kind == "f" and cr.int64.name == "int64" and cr.float64.type is np.float64


def test_dtype_survives_copy_and_pickle_as_the_same_object():
    for d in (cr.float32, cr.long, cr.bool):
        assert copy.deepcopy(d) is d and pickle.loads(pickle.dumps(d)) is d


def test_default_dtype_prints_as_pytorch():
    assert str(cr.get_default_dtype()) == str(torch.get_default_dtype()).replace("torch.", "cr.")
    cr.set_default_dtype(cr.double)
    assert cr.get_default_dtype() is cr.float64 and cr.tensor([1.0]).dtype is cr.double
    with pytest.raises(TypeError, match=r"cr\.int64"):
        cr.set_default_dtype(cr.long)


def test_tutorial_uses_of_the_aliases():
    # (pred.argmax(1) == y).type(torch.float).sum(), and rand_like(ints, dtype=torch.float)
    pred, y = [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], [1, 1, 1]
    mine = (cr.tensor(pred).argmax(1) == cr.tensor(y)).type(cr.float).sum()
    theirs = (torch.tensor(pred).argmax(1) == torch.tensor(y)).type(torch.float).sum()
    assert mine.item() == theirs.item() and str(mine.dtype) == "cr.float32"
    assert cr.tensor([1, 2]).to(cr.double).dtype is cr.float64
    assert cr.tensor([1.5]).long().dtype is cr.long and cr.tensor([1.5]).int().dtype is cr.int


# ------------------------------------------------------------------------ Size
def test_shape_and_size_are_sizes_printing_as_pytorch():
    mine, theirs = cr.zeros(2, 3), torch.zeros(2, 3)
    for a, b in [
        (mine.shape, theirs.shape),
        (mine.size(), theirs.size()),
        (cr.zeros(()).shape, torch.zeros(()).shape),
        (mine.shape[1:], theirs.shape[1:]),
        (mine.shape + (4,), theirs.shape + (4,)),  # noqa: RUF005 (the operator is the point)
        ((4,) + mine.shape, (4,) + theirs.shape),  # noqa: RUF005
        (mine.shape * 2, theirs.shape * 2),
        (2 * mine.shape, 2 * theirs.shape),
    ]:
        assert isinstance(a, cr.Size) and isinstance(a, tuple)
        assert repr(a) == repr(b).replace("torch.", "cr.") and str(a) == repr(a)
        assert f"{a}" == f"{b}".replace("torch.", "cr.")
        assert a.numel() == b.numel() and a == tuple(b) and hash(a) == hash(tuple(b))
    assert mine.size(1) == theirs.size(1) == 3 and type(mine.size(-1)) is int
    assert mine.shape[0] == 2 and type(mine.shape[0]) is int


def test_size_constructs_and_refuses_as_pytorch():
    assert cr.Size([2, 3]) == (2, 3) and cr.Size() == () and cr.Size([np.int64(4)]) == (4,)
    assert cr.Size([2, 3]) != [2, 3]  # a tuple, not a list, as torch.Size
    assert cr.Size([]).numel() == torch.Size([]).numel() == 1
    assert cr.Size([True]) == torch.Size([True])
    for bad in ([2.0], ["a"], [None]):
        with pytest.raises(TypeError):
            torch.Size(bad)
        with pytest.raises(TypeError, match="iterable of 'int'"):
            cr.Size(bad)
    with pytest.raises(TypeError):
        cr.Size([2]) + [3]  # noqa: RUF005
    assert pickle.loads(pickle.dumps(cr.Size([2, 3]))) == cr.Size([2, 3])
    assert np.zeros(cr.Size([2, 3])).shape == (2, 3)
    assert cr.ones(cr.Size([2, 3])).shape == (2, 3)
