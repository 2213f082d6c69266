"""In-place operations, version counters, views and ``.data``: PyTorch's idioms give
PyTorch's numbers, or PyTorch's error.

Most tests run one program twice, with ``L`` bound to chainrule and then to torch (the
APIs are the same), and compare what came out: values, gradients, or that both raised.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

F64 = {"dtype": "float64"}


def run_both(program):
    """``program(L)`` under chainrule and under torch: each result, or the exception."""
    out = []
    for lib in (cr, torch):
        try:
            out.append(program(lib))
        except Exception as err:
            out.append(err)
    return out


def _arrays(value):
    if isinstance(value, cr.Tensor | torch.Tensor):
        return np.asarray(value.detach().numpy() if isinstance(value, torch.Tensor) else value)
    if isinstance(value, list | tuple):
        return [_arrays(v) for v in value]
    return value


def assert_same(program, rtol=1e-12):
    ours, theirs = run_both(program)
    if isinstance(theirs, Exception) or isinstance(ours, Exception):
        assert isinstance(ours, Exception), f"torch raised {theirs!r}, chainrule did not"
        assert isinstance(theirs, Exception), f"chainrule raised {ours!r}, torch did not"
        return ours, theirs
    a, b = _arrays(ours), _arrays(theirs)
    if not isinstance(a, list):
        a, b = [a], [b]
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
        else:
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-300)
    return ours, theirs


def _t(L, values, requires_grad=False):
    return L.tensor(values, dtype=L.float64, requires_grad=requires_grad)


# --------------------------------------------------------------------------- the idioms
def test_manual_sgd_loop_moves_the_weights_as_in_pytorch():
    def program(L):
        w = _t(L, [[0.5, -0.3], [0.2, 0.1]], requires_grad=True)
        b = _t(L, [0.1, -0.2], requires_grad=True)
        x = _t(L, [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
        y = _t(L, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        for _ in range(5):
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            with L.no_grad():
                for p in (w, b):
                    p -= 0.5 * p.grad
                    p.grad.zero_()
        return [w, b, loss]

    ours, _ = assert_same(program)
    assert ours[0].requires_grad and ours[0].is_leaf  # still the same parameter


def test_augmented_assignment_changes_every_name_for_the_tensor():
    def program(L):
        x = _t(L, [1.0, 2.0])
        y = x
        y += 1
        y *= 3
        y -= 1
        y /= 2
        return x

    ours, _ = assert_same(program)
    assert ours._version == 4


def test_an_in_place_op_with_an_input_that_requires_grad_enters_the_graph():
    def program(L):
        w = _t(L, [1.0, 2.0], requires_grad=True)
        buf = L.zeros(2, dtype=L.float64)
        buf.add_(w * 3)
        buf.mul_(w)  # also saves the old buf for w's gradient
        (buf * _t(L, [6.0, 12.0])).sum().backward()
        return [w.grad, buf]

    assert_same(program)


def test_changing_a_value_saved_for_backward_raises_pytorchs_error():
    def program(L):
        w = _t(L, [1.0, 2.0, 3.0], requires_grad=True)
        c = _t(L, [1.0, 2.0, 3.0])
        y = (w * c).sum()
        c.mul_(10)
        y.backward()

    ours, theirs = assert_same(program)
    assert "[float64 [3]] is at version 1; expected version 0 instead" in str(ours)
    assert "is at version 1; expected version 0 instead" in str(theirs)


def test_an_update_before_backward_raises():
    def program(L):
        w = _t(L, [1.0, 2.0], requires_grad=True)
        y = (w * w).sum()
        with L.no_grad():
            w.mul_(10)
        y.backward()

    assert_same(program)


def test_an_optimizer_step_before_backward_raises():
    def program(L):
        L.manual_seed(0)
        model = L.nn.Sequential(L.nn.Linear(2, 3), L.nn.Tanh(), L.nn.Linear(3, 1))
        opt = L.optim.SGD(model.parameters(), lr=0.1)
        model(L.ones(1, 2)).sum().backward()
        loss = model(L.ones(1, 2)).sum()  # the second layer saves its weight
        opt.step()  # writes the weights in place
        loss.backward()

    ours, _ = assert_same(program)
    assert "modified by an inplace operation" in str(ours)


def test_the_output_of_an_op_that_saved_it_names_the_op():
    def program(L):
        x = _t(L, [1.0, 2.0], requires_grad=True).clone()
        s = x.sigmoid()
        s.add_(1)
        s.sum().backward()

    ours, theirs = assert_same(program)
    message = "[float64 [2]], which is output 0 of Sigmoid, is at version 1; expected version 0"
    assert message in str(ours)
    assert message.replace("float64", "torch.DoubleTensor") in str(theirs)


def test_gradients_of_two_leaves_are_never_one_tensor():
    a, b = nn.Parameter(cr.tensor([3.0])), nn.Parameter(cr.tensor([4.0]))
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    a.grad.mul_(10)  # clipping one does not scale the other
    assert b.grad.item() == 1.0
    g = cr.tensor([2.0, 3.0])
    x = cr.tensor([1.0, 1.0], requires_grad=True)
    x.backward(g)
    g.mul_(100)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])
    y = cr.tensor([1.0, 1.0], requires_grad=True)
    y.backward(g, create_graph=True)
    g.mul_(2)
    np.testing.assert_array_equal(y.grad.numpy(), [200.0, 300.0])


@pytest.mark.parametrize("in_no_grad", [False, True])
def test_in_place_on_a_leaf_that_requires_grad(in_no_grad):
    def program(L):
        w = _t(L, [1.0, 2.0], requires_grad=True)
        if in_no_grad:
            with L.no_grad():
                w += 1
                w[0] = 5.0
                w.clamp_(max=4.0)
        else:
            w += 1
        return w

    ours, theirs = assert_same(program)
    if not in_no_grad:
        message = "a leaf Variable that requires grad is being used in an in-place operation"
        assert message in str(ours) and message in str(theirs)


def test_in_place_on_a_view_of_a_leaf_that_requires_grad():
    def program(L):
        w = _t(L, [1.0, 2.0, 3.0], requires_grad=True)
        w[0:2].add_(1)

    ours, theirs = assert_same(program)
    message = "a view of a leaf Variable that requires grad is being used in an in-place"
    assert message in str(ours) and message in str(theirs)


# --------------------------------------------------------------------------- versions
def test_versions_count_writes_and_views_and_detach_share_them_data_does_not():
    def program(L):
        x = _t(L, [[1.0, 2.0], [3.0, 4.0]])
        v = x[0]
        d = x.detach()
        data = x.data
        versions = [x._version]
        v.add_(1)
        versions.append((x._version, v._version, d._version))
        d.mul_(2)
        versions.append((x._version, v._version, d._version))
        data.sub_(1)  # .data has a counter of its own
        versions.append((x._version, data._version))
        x[1, 1] = 0.0
        x.zero_()
        x.fill_(2.0)
        x.copy_(_t(L, [1.0, 2.0]))
        versions.append(x._version)
        return versions

    ours, theirs = run_both(program)
    assert ours == theirs, (ours, theirs)


def test_data_is_a_tensor_sharing_memory_outside_the_graph():
    p = nn.Parameter(cr.tensor([1.0, 2.0]))
    d = p.data
    assert isinstance(d, cr.Tensor) and not d.requires_grad and d.grad_fn is None
    d.add_(1)
    np.testing.assert_array_equal(p.numpy(), [2.0, 3.0])
    p.grad = cr.tensor([1.0, 1.0])
    p.data -= 0.5 * p.grad
    np.testing.assert_array_equal(p.numpy(), [1.5, 2.5])
    p.data.copy_(cr.tensor([7.0, 8.0]))
    np.testing.assert_array_equal(p.numpy(), [7.0, 8.0])
    p.data = cr.tensor([1.0, 2.0, 3.0])  # PyTorch's set_data: other memory, other shape
    assert p.shape == (3,) and p.requires_grad
    with pytest.raises(TypeError, match="data must be assigned a tensor"):
        p.data = np.zeros(3)
    assert np.asarray(p).shape == (3,) and p.numpy().shape == (3,)


# --------------------------------------------------------------------------- views
def test_views_share_memory_with_their_base():
    def program(L):
        x = _t(L, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        x[0].add_(10)  # a row
        x[1, 2].mul_(-1)  # one element: a 0-d view
        x.T[0].sub_(1)  # a column through a transpose
        x.view(-1)[1:3] = 0.0  # a reshape
        x.unsqueeze(0).squeeze(0)[1].div_(2)
        for row in x:  # iterating yields views
            row.add_(100)
        return x

    assert_same(program)


def test_an_expanded_tensor_can_be_filled_but_not_otherwise_written():
    def program(L, write):
        base = _t(L, [1.0, 2.0])
        write(base.expand(3, 2))
        return base

    for write in (lambda x: x.add_(1), lambda x: x.copy_(x * 1), lambda x: x.clamp_(0, 1)):
        ours, _ = assert_same(lambda L, w=write: program(L, w))
        assert "more than one element of the written-to tensor" in str(ours)
    for write in (
        lambda x: x.zero_(),
        lambda x: x.fill_(3.0),
        lambda x: x.__setitem__(0, 1.0),  # one row of the expansion is the base itself
        lambda x: x.__setitem__(1, x[0] * 4),
    ):
        ours, _ = assert_same(lambda L, w=write: program(L, w))
        assert ours._version == 1


def test_recording_a_write_into_an_expanded_tensor_is_refused_clearly():
    """Deliberately stricter than PyTorch, whose gradient here depends on the order in
    which it writes elements that share memory."""
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    x = (w * 2).expand(3, 2)
    with pytest.raises(RuntimeError, match="cannot record an in-place write into an expanded"):
        x[0] = 5.0
    with cr.no_grad():
        x[0] = 5.0  # without a graph to keep, the write is well defined
    np.testing.assert_array_equal(x.numpy(), [[5.0, 5.0]] * 3)


@pytest.mark.parametrize(
    "where",
    [
        lambda t: t[1],
        lambda t: t[:, 1:3],
        lambda t: t.T[0],
        lambda t: t.view(-1)[2:5],
        lambda t: t.unsqueeze(0)[0, 1],
    ],
    ids=["row", "columns", "transposed", "reshaped", "unsqueezed"],
)
def test_an_in_place_op_through_a_view_gives_the_base_pytorchs_gradient(where):
    def program(L):
        w = _t(L, [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]], requires_grad=True)
        u = _t(L, [2.0, -1.0, 0.5], requires_grad=True)
        base = w * 2
        view = where(base)
        view.mul_(view.detach() * 0 + 3)  # a recorded op on the view
        view.add_(u[: view.shape[-1]] if view.ndim else u[0])
        loss = (base * base).sum() + (view * view).sum()
        loss.backward()
        return [base, view, w.grad, u.grad, base.grad_fn is not None]

    ours, _ = assert_same(program)
    assert type(ours[0]._node).__name__ == "CopySlices"  # the base's history moved


def test_a_view_made_before_its_base_changed_follows_the_new_history():
    def program(L):
        w = _t(L, [1.0, 2.0, 3.0], requires_grad=True)
        base = w * 1
        v = base[0:2]  # made before the base changes
        base.mul_(w)  # the base's history moves
        (v * v).sum().backward()
        return [w.grad, v]

    assert_same(program)


def test_a_leaf_that_does_not_require_grad_receives_a_graph_through_a_view():
    def program(L):
        w = _t(L, [1.0, 2.0], requires_grad=True)
        buf = L.zeros(2, 3, dtype=L.float64)
        buf[:, 1].copy_(w * w)
        buf[0].add_(w[0])
        (buf * _t(L, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        return [w.grad, buf, buf.requires_grad, buf.is_leaf]

    assert_same(program)


def test_setitem_in_a_loop_builds_the_graph():
    """makemore's pattern: ``out[i] = f(x[i])``."""

    def program(L):
        x = _t(L, [0.1, -0.4, 0.9, 1.3], requires_grad=True)
        out = L.zeros(4, dtype=L.float64)
        for i in range(4):
            out[i] = (x[i] * x[i]).tanh()
        h = L.zeros(2, 4, dtype=L.float64)
        h[0] = out
        h[1, [0, 2]] = x[1:3] * 3
        (h * _t(L, [[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])).sum().backward()
        return [x.grad, h]

    assert_same(program)


def test_masked_fill_clamp_and_copy_in_the_graph():
    def program(L):
        x = _t(L, [0.5, -1.0, 2.0, -0.1], requires_grad=True)
        v = _t(L, 3.0, requires_grad=True)
        y = x * 2
        y.masked_fill_(y < 0, v)
        y.clamp_(min=-0.5, max=3.5)
        z = x * 1
        z.copy_(x.exp())
        z.zero_()
        z.add_(y)
        (z * _t(L, [1.0, 2.0, 3.0, 4.0])).sum().backward()
        return [x.grad, v.grad, y, z]

    assert_same(program)


def test_in_place_activations_and_dropout():
    def program(L):
        x = _t(L, [[0.5, -1.0], [2.0, -0.1]], requires_grad=True)
        h = x * 3
        out = L.nn.functional.relu(h, inplace=True)
        assert out is h
        m = L.nn.LeakyReLU(0.1, inplace=True)
        g = m(x * 1)
        (h.sum() + (g * g).sum()).backward()
        return [h, g, x.grad]

    assert_same(program)
    x = cr.ones(1000)
    y = nn.functional.dropout(x, 0.5, True, inplace=True)
    assert y is x and set(np.unique(x.numpy())) == {0.0, 2.0}


def test_in_place_results_must_keep_the_shape_and_not_lose_kind():
    for program in (
        lambda L: L.ones(3).add_(L.ones(2, 3)),
        lambda L: L.ones(3, dtype=L.int64).add_(1.5),
        lambda L: L.ones(3, dtype=L.int64).div_(2),
    ):
        ours, theirs = assert_same(program)
    assert "output with shape [3] doesn't match the broadcast shape [2, 3]" in str(
        run_both(lambda L: L.ones(3).add_(L.ones(2, 3)))[0]
    )

    def widening(L):  # float64 into float32 keeps float32, as in PyTorch
        x = L.ones(3)
        x.add_(L.ones(3, dtype=L.float64) / 3)
        return [x, str(x.dtype).replace("torch.", "").replace("cr.", "")]

    ours, theirs = run_both(widening)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    assert ours[1] == theirs[1] == "float32"


# --------------------------------------------------------------------------- grad_fn
def test_grad_fn_has_pytorchs_names_and_next_functions():
    def walk(L):
        x = _t(L, [1.0, 2.0], requires_grad=True)
        c = _t(L, [3.0, 4.0])
        y = (x * c).sum()
        mul = y.grad_fn.next_functions[0][0]
        acc, none = mul.next_functions
        return [
            y.grad_fn.name(),
            mul.name(),
            type(acc[0]).__name__,
            acc[0].variable is x,
            none,
            len(mul.next_functions),
            acc[0] is mul.next_functions[0][0],
        ]

    ours, theirs = run_both(walk)
    assert ours == theirs
    x = cr.tensor([1.0], requires_grad=True)
    assert repr(x * 2).endswith("grad_fn=<MulBackward0>)")
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr((x * 2).grad_fn))


def test_deepcopy_of_leaves_and_of_a_state_dict():
    p = nn.Parameter(cr.tensor([1.0, 2.0]))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    with cr.no_grad():
        p.add_(1)
    np.testing.assert_array_equal(q.numpy(), [1.0, 2.0])
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(p * 2)
