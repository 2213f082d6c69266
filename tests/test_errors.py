"""Bad input gets a clear exception that names what is wrong, never a NumPy error from
deep inside."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\) and \(4, 5\).*\(3\).*\(4\)"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(cr.ShapeError, match=r"\(3,\) and \(4,\)"):
        cr.ones(3) @ cr.ones(4)
    with pytest.raises(cr.ShapeError, match="at least 1 dimension"):
        cr.matmul(cr.tensor(2.0), cr.ones(2))


def test_matmul_batch_mismatch_names_the_batch_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(2,\) and \(3,\)"):
        cr.ones(2, 4, 5) @ cr.ones(3, 5, 6)


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\) and \(4,\).*sizes 3 and 4"):
        cr.ones(2, 3) + cr.ones(4)
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\) and \(2,\)"):
        cr.maximum(cr.ones(2, 3), cr.ones(2))
    with pytest.raises(cr.ShapeError, match="cannot be broadcast"):
        _ = cr.ones(2, 3) < cr.ones(3, 2)


def test_shape_error_is_both_value_error_and_runtime_error():
    for kind in (ValueError, RuntimeError):
        with pytest.raises(kind):
            cr.ones(2, 3) * cr.ones(4)


def test_reshape_to_the_wrong_size():
    with pytest.raises(cr.ShapeError, match=r"shape \(2, 3\) \(6 elements\) into shape \(4,\)"):
        cr.ones(2, 3).reshape(4)
    with pytest.raises(cr.ShapeError, match="into shape"):
        cr.ones(2, 3).reshape(4, -1)
    with pytest.raises(cr.ShapeError, match="at most one"):
        cr.ones(6).reshape(-1, -1)


def test_bad_dims():
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        cr.ones(2, 3).sum(2)
    with pytest.raises(ValueError, match="more than once"):
        cr.ones(2, 3).sum((1, -1))
    with pytest.raises(TypeError, match="dim must be an integer"):
        cr.softmax(cr.ones(3), None)
    with pytest.raises(cr.ShapeError, match="permute"):
        cr.ones(2, 3).permute(0)
    with pytest.raises(ValueError, match="not a permutation"):
        cr.ones(2, 3).permute(0, 0)


def test_cat_and_stack_mismatches():
    with pytest.raises(cr.ShapeError, match=r"tensor 1 has shape \(2, 4\).*\(2, 3\).*dimension 0"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)], 0)
    with pytest.raises(cr.ShapeError, match="equal shapes"):
        cr.stack([cr.ones(2), cr.ones(3)])
    with pytest.raises(ValueError, match="non-empty"):
        cr.cat([])
    with pytest.raises(TypeError, match="list or tuple"):
        cr.cat(cr.ones(3))


def test_indexing_errors():
    x = cr.ones(3, 4)
    with pytest.raises(IndexError, match=r"shape \(3, 4\).*out of bounds"):
        x[5]
    with pytest.raises(IndexError, match="integer or bool"):
        x[cr.tensor([0.5])]
    with pytest.raises(IndexError, match="float"):
        x[1.0]
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        cr.gather(x, 1, cr.tensor([[4]]))


def test_other_argument_errors():
    with pytest.raises(TypeError, match="bool tensor"):
        cr.where(cr.ones(2), cr.ones(2), cr.zeros(2))
    with pytest.raises(ValueError, match="min and max"):
        cr.clamp(cr.ones(2))
    with pytest.raises(cr.ShapeError, match="broadcast_to"):
        cr.broadcast_to(cr.ones(3), (2, 4))
    with pytest.raises(ValueError, match="empty"):
        cr.zeros(0).amax()


def test_no_numpy_warning_escapes_from_ops():
    # pytest turns warnings into errors, so these would fail if NumPy warned.
    x = cr.tensor([0.0, -1.0, 1000.0], requires_grad=True)
    y = x.log() + x.exp() + x.sqrt() + 1 / x + x**-0.5
    y.sum().backward()
    assert np.isnan(y.numpy()).any() and np.isinf(x.grad.numpy()).any()
