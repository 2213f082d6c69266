"""PyTorch's tensor functions and methods (issue 14, part A): NumPy's argument names on
the reductions, compared with torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _both(values, dtype=None, requires_grad=False):
    """The same values as a chainrule tensor and a torch tensor."""
    a = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
    return (
        cr.tensor(a, requires_grad=requires_grad),
        torch.tensor(a, requires_grad=requires_grad),
    )


def _same(mine, theirs):
    """Equal values, shapes and dtypes (NaN equals NaN)."""
    theirs = theirs.detach().numpy()
    mine = mine.detach().numpy()
    assert mine.shape == theirs.shape
    assert mine.dtype == theirs.dtype
    np.testing.assert_array_equal(mine, theirs)


# ------------------------------------------------------------------ NumPy's argument names
_REDUCTIONS = ["sum", "mean", "var", "std", "amax", "amin", "logsumexp"]


@pytest.mark.parametrize("name", _REDUCTIONS)
def test_keepdims_and_axis_are_accepted_as_in_pytorch(name):
    mine, theirs = _both(np.arange(1.0, 7.0).reshape(2, 3))
    expected = getattr(theirs, name)(axis=1, keepdims=True)
    np.testing.assert_allclose(getattr(mine, name)(axis=1, keepdims=True).numpy(), expected)
    np.testing.assert_allclose(getattr(cr, name)(mine, 1, keepdims=True).numpy(), expected)
    np.testing.assert_allclose(
        getattr(mine, name)(dim=0, keepdims=False).numpy(), getattr(theirs, name)(0)
    )


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin", "any", "all"])
def test_keepdims_on_the_other_reductions(name):
    mine, theirs = _both(np.array([[1.0, 5.0, 2.0], [0.0, 3.0, 3.0]]))
    got = getattr(mine, name)(axis=1, keepdims=True)
    want = getattr(theirs, name)(axis=1, keepdims=True)
    got, want = (got[0], want[0]) if isinstance(want, tuple) else (got, want)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_both_spellings_of_one_argument_is_an_error():
    x = cr.ones(2, 3)
    with pytest.raises(TypeError, match="keepdim"):
        x.sum(1, keepdim=True, keepdims=True)
    with pytest.raises(TypeError, match="axis"):
        cr.sum(x, dim=0, axis=0)
