"""The containers ``ModuleDict``, ``ParameterList``, ``ParameterDict`` and the
``Unflatten`` layer, against PyTorch: parameter names and state_dict keys, loading
PyTorch's weights, the dict and list interfaces, reprs and errors."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(14)


def _close(a, b, what, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=what)


def _compare_step(mine, theirs, x):
    """Forward and backward (random upstream gradient) against PyTorch."""
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = mine(cx), theirs(tx)
    _close(out.numpy(), tout.detach().numpy(), "output")
    v = RNG.standard_normal(tuple(tout.shape))
    out.backward(cr.tensor(v))
    tout.backward(torch.tensor(v))
    _close(cx.grad.numpy(), tx.grad.numpy(), "input gradient")
    theirs_params = dict(theirs.named_parameters())
    for name, p in mine.named_parameters():
        _close(p.grad.numpy(), theirs_params[name].grad.numpy(), name)


# ------------------------------------------------------------------ containers
def _heads(M, lib):
    """A model built from the three containers, in either library."""

    class Heads(M.Module):
        def __init__(self):
            super().__init__()
            self.blocks = M.ModuleDict(
                {"enc": M.Linear(3, 4), "act": M.Tanh(), "dec": M.Linear(4, 2)}
            )
            self.scales = M.ParameterList([M.Parameter(lib.ones(2)) for _ in range(2)])
            self.extra = M.ParameterDict({"b": M.Parameter(lib.zeros(2)), "a": lib.ones(1)})

        def forward(self, x):
            for name in ("enc", "act", "dec"):
                x = self.blocks[name](x)
            return x * self.scales[0] * self.scales[1] + self.extra["b"] + self.extra["a"]

    return Heads()


def test_containers_name_parameters_as_pytorch_and_load_its_weights():
    theirs, mine = _heads(torch.nn, torch).double(), _heads(nn, cr).double()
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in mine.named_modules()] == [n for n, _ in theirs.named_modules()]
    mine.load_state_dict(theirs.state_dict())
    _compare_step(mine, theirs, RNG.standard_normal((5, 3)))
    assert list(mine.extra) == ["a", "b"]  # a plain dict's keys are sorted, as in PyTorch


def test_module_dict_behaves_as_a_dict():
    d = nn.ModuleDict([("a", nn.ReLU()), ("b", nn.Linear(2, 2))])
    d["c"] = nn.Tanh()
    d.update(OrderedDict(z=nn.Sigmoid()))
    assert list(d) == ["a", "b", "c", "z"] and "b" in d and len(d) == 4
    assert isinstance(d.pop("a"), nn.ReLU) and list(d.keys()) == ["b", "c", "z"]
    del d["c"]
    assert [type(m).__name__ for m in d.values()] == ["Linear", "Sigmoid"]
    assert len(list(d.parameters())) == 2
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(ValueError, match="length 3"):
        d.update([("x", nn.ReLU(), 1)])
    d.clear()
    assert len(d) == 0
    tm = torch.nn.ModuleDict({"l": torch.nn.Linear(2, 3), "a": torch.nn.ReLU()})
    assert repr(nn.ModuleDict({"l": nn.Linear(2, 3), "a": nn.ReLU()})) == repr(tm)


def test_parameter_list_and_dict_wrap_tensors_as_parameters():
    pl = nn.ParameterList([cr.ones(2), nn.Parameter(cr.zeros(3))])
    pl.append(cr.ones(1, 2))
    pl += [cr.zeros(4)]
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 4
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2", "3"]
    assert isinstance(pl[1:3], nn.ParameterList) and len(pl[1:3]) == 2
    assert pl[-1].shape == (4,)
    pl[0] = cr.full((2,), 5.0)
    assert isinstance(pl[0], nn.Parameter) and pl[0].numpy().tolist() == [5.0, 5.0]
    with pytest.raises(IndexError, match="out of range"):
        pl[4]
    with pytest.raises(RuntimeError, match="should not be called"):
        pl()
    assert "Parameter containing: [cr.float32 of size 1x2]" in repr(pl)
    pd = nn.ParameterDict(OrderedDict(w=cr.ones(2, 2), b=cr.zeros(2)))
    assert list(pd) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert pd.get("missing") is None and pd.setdefault("c", cr.ones(1)).shape == (1,)
    assert pd.popitem()[0] == "c" and list(pd.keys()) == ["w", "b"]
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    with pytest.raises(KeyError):
        pd["missing"]


def test_unflatten_matches_pytorch_and_checks_its_sizes():
    for dim, sizes, shape in [(1, (2, -1), (3, 6)), (-1, [2, 3], (2, 4, 6)), (0, (2, 2), (4,))]:
        mine, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
        assert repr(mine) == repr(theirs)
        _compare_step(mine, theirs, RNG.standard_normal(shape))
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="position 0"):
        nn.Unflatten(1, (2.0, 3))
    with pytest.raises(ValueError, match=r"sizes \[2, 2\]"):
        nn.Unflatten(1, (2, 2))(cr.ones(3, 6))
