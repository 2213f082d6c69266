"""Modules against PyTorch, for the layer tests: the same module in both libraries with
PyTorch's weights, and one forward and backward compared (output, input gradients, every
parameter gradient)."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(14)


def pair(make):
    """The same module in both libraries, float64, PyTorch's weights loaded into ours."""
    theirs = make(torch.nn).double()
    mine = make(nn).double()
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


def close(a, b, what, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=what)


def compare_step(mine, theirs, *xs, **kwargs):
    """Forward and backward (random upstream gradient): output, input gradients and
    every parameter gradient must agree."""
    cx = [cr.tensor(x, requires_grad=True) for x in xs]
    tx = [torch.tensor(x, requires_grad=True) for x in xs]
    out, tout = mine(*cx, **kwargs), theirs(*tx, **kwargs)
    close(out.numpy(), tout.detach().numpy(), "output")
    v = RNG.standard_normal(tuple(tout.shape))
    out.backward(cr.tensor(v))
    tout.backward(torch.tensor(v))
    for i, (a, b) in enumerate(zip(cx, tx)):
        close(a.grad.numpy(), b.grad.numpy(), f"input {i} gradient")
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in mine.named_parameters()] == list(theirs_params)
    for name, p in mine.named_parameters():
        close(p.grad.numpy(), theirs_params[name].grad.numpy(), name)
