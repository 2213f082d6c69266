"""Parameters as PyTorch 2.x hands them around: optimizers given
``model.named_parameters()`` (the groups' ``param_names``), and a model's parameters as
one flat vector (``nn.utils.parameters_to_vector`` / ``vector_to_parameters``), against
PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(14)


def _close(a, b, what, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=what)


# ------------------------------------------------------------------ optimizers and named parameters
def test_optimizers_accept_named_parameters_as_pytorch_does():
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)
    ).double()
    mine = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    mine.load_state_dict(theirs.state_dict())
    topt = torch.optim.SGD(theirs.named_parameters(), lr=0.1, momentum=0.9)
    copt = cr.optim.SGD(mine.named_parameters(), lr=0.1, momentum=0.9)
    assert copt.param_groups[0]["param_names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x, y = RNG.standard_normal((8, 3)), RNG.standard_normal((8, 1))
    for _ in range(3):
        for model, opt, lib in ((mine, copt, cr), (theirs, topt, torch)):
            opt.zero_grad()
            ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean().backward()
            opt.step()
    for (name, p), tp in zip(mine.named_parameters(), theirs.parameters()):
        _close(p.numpy(), tp.detach().numpy(), name)
    state, tstate = copt.state_dict(), topt.state_dict()
    assert state["param_groups"][0]["param_names"] == tstate["param_groups"][0]["param_names"]
    again = cr.optim.SGD(mine.named_parameters(), lr=0.1, momentum=0.9)
    again.load_state_dict(state)
    assert again.param_groups[0]["param_names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_and_unnamed_parameter_groups_do_not_mix():
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = [{"params": m[0].named_parameters()}, {"params": m[1].parameters(), "lr": 0.1}]
    with pytest.raises(ValueError, match="with names"):
        cr.optim.Adam(groups)
    with pytest.raises(ValueError, match="every parameter with its name"):
        cr.optim.SGD([("w", m[0].weight), m[0].bias], lr=0.1)
    opt = cr.optim.Adam(
        [{"params": m[0].named_parameters()}, {"params": m[1].named_parameters(), "lr": 0.1}]
    )
    assert [g["param_names"] for g in opt.param_groups] == [["weight", "bias"], ["weight", "bias"]]


# ------------------------------------------------------------------ flat parameter vectors
def test_parameters_to_vector_and_back_match_pytorch():
    theirs = torch.nn.Linear(3, 2).double()
    mine = nn.Linear(3, 2).double()
    mine.load_state_dict(theirs.state_dict())
    vec = nn.utils.parameters_to_vector(mine.parameters())
    tvec = torch.nn.utils.parameters_to_vector(theirs.parameters())
    _close(vec.numpy(), tvec.detach().numpy(), "vector")
    weights = cr.arange(8.0, dtype=cr.float64)
    (vec * weights).sum().backward()  # the vector is in the graph
    _close(mine.weight.grad.numpy(), np.arange(6.0).reshape(2, 3), "weight gradient")
    new = cr.tensor(RNG.standard_normal(8))
    nn.utils.vector_to_parameters(new, mine.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new.numpy()), theirs.parameters())
    _close(mine.weight.numpy(), theirs.weight.detach().numpy(), "weight")
    _close(mine.bias.numpy(), theirs.bias.detach().numpy(), "bias")
    assert np.shares_memory(mine.bias.numpy(), new.numpy())  # as PyTorch's .data assignment
    with pytest.raises(TypeError, match="tensor"):
        nn.utils.vector_to_parameters(new.numpy(), mine.parameters())
    with pytest.raises(ValueError, match="only 5"):
        nn.utils.vector_to_parameters(new[:5], mine.parameters())
