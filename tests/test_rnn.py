"""Recurrent layers against PyTorch (weights loaded from torch's state_dict): outputs,
final states and every gradient in float64; gradchecks; names, shapes, initialisation;
dropout between layers; unbatched input; the errors; backprop through time's vanishing
gradient, measured."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.nn import rnn as rnn_module

RNG = np.random.default_rng(14)


def _pair(name: str, *args, **kwargs):
    """The same layer in both libraries, float64, PyTorch's weights loaded into ours."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    mine = getattr(nn, name)(*args, **kwargs).double()
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


def _flat(out) -> list:
    return [t for o in out for t in _flat(o)] if isinstance(out, tuple | list) else [out]


def _compare(mine, theirs, inputs, rtol=1e-10, atol=1e-12):
    """Run both on the same inputs (arrays, None, or tuples of arrays: LSTM states); give
    every output its own random upstream gradient; compare the outputs, the gradient of
    every input and of every parameter."""

    def make(lib, value):
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(make(lib, v) for v in value)
        return (cr.tensor if lib is cr else torch.tensor)(value, requires_grad=True)

    cin, tin = [make(cr, v) for v in inputs], [make(torch, v) for v in inputs]
    cout, tout = _flat(mine(*cin)), _flat(theirs(*tin))
    assert [tuple(o.shape) for o in cout] == [tuple(o.shape) for o in tout]
    for c, t in zip(cout, tout):
        np.testing.assert_allclose(c.numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    ups = [RNG.standard_normal(tuple(t.shape)) for t in tout]
    sum((c * cr.tensor(u)).sum() for c, u in zip(cout, ups)).backward()
    sum((t * torch.tensor(u)).sum() for t, u in zip(tout, ups)).backward()
    for c, t in zip(
        _flat(tuple(x for x in cin if x is not None)), _flat(tuple(x for x in tin if x is not None))
    ):
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )


L, N, I, H = 5, 3, 4, 6

LAYERS = [
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2)),
    ("RNN", dict(bias=False, bidirectional=True, batch_first=True)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(num_layers=3, batch_first=True, bias=False)),
    ("LSTM", dict(proj_size=2, num_layers=2, bidirectional=True)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(bias=False, num_layers=2)),
]


def _input(kwargs, batched=True):
    shape = (N, L, I) if kwargs.get("batch_first") else (L, N, I)
    return RNG.standard_normal(shape if batched else (L, I))


def _states(name, kwargs, batched=True):
    d = 2 if kwargs.get("bidirectional") else 1
    layers = d * kwargs.get("num_layers", 1)
    lead = (layers, N) if batched else (layers,)
    h = RNG.standard_normal((*lead, kwargs.get("proj_size") or H))
    return (h, RNG.standard_normal((*lead, H))) if name == "LSTM" else h


@pytest.mark.parametrize(("name", "kwargs"), LAYERS, ids=[f"{n}-{k}" for n, k in LAYERS])
def test_layer_matches_pytorch_from_zero_states(name, kwargs):
    _compare(*_pair(name, I, H, **kwargs), [_input(kwargs)])


@pytest.mark.parametrize(("name", "kwargs"), LAYERS, ids=[f"{n}-{k}" for n, k in LAYERS])
def test_layer_matches_pytorch_from_given_states(name, kwargs):
    _compare(*_pair(name, I, H, **kwargs), [_input(kwargs), _states(name, kwargs)])


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])  # ignored for unbatched input
def test_unbatched_input_matches_pytorch(name, batch_first):
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    pair = _pair(name, I, H, **kwargs)
    _compare(*pair, [_input(kwargs, batched=False)])
    _compare(*pair, [_input(kwargs, batched=False), _states(name, kwargs, batched=False)])


CELLS = [
    ("RNNCell", dict()),
    ("RNNCell", dict(nonlinearity="relu", bias=False)),
    ("LSTMCell", dict()),
    ("LSTMCell", dict(bias=False)),
    ("GRUCell", dict()),
    ("GRUCell", dict(bias=False)),
]


@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=[f"{n}-{k}" for n, k in CELLS])
def test_cell_matches_pytorch(name, kwargs):
    pair = _pair(name, I, H, **kwargs)
    for batch in ((N,), ()):  # batched and unbatched
        h = RNG.standard_normal((*batch, H))
        state = (h, RNG.standard_normal((*batch, H))) if name == "LSTMCell" else h
        x = RNG.standard_normal((*batch, I))
        _compare(*pair, [x])
        _compare(*pair, [x, state])


def test_a_cell_stepped_by_hand_is_the_layer():
    """LSTMCell over a sequence, by hand, gives LSTM's outputs (the same weights)."""
    layer, cell = nn.LSTM(I, H).double(), nn.LSTMCell(I, H).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).numpy()[...] = getattr(layer, name + "_l0").numpy()
    x = cr.tensor(_input({}))
    out, (_, c_n) = layer(x)
    h = c = None
    for t in range(L):
        h, c = cell(x[t], None if h is None else (h, c))
        np.testing.assert_allclose(out[t].numpy(), h.numpy(), rtol=1e-13)
    np.testing.assert_allclose(c_n[0].numpy(), c.numpy(), rtol=1e-13)


# ------------------------------------------------------------------ gradchecks (float64)
def test_cell_equations_gradcheck_with_their_weights():
    """The step functions (the cells' equations) against finite differences, weights
    included: gradcheck takes a random upstream gradient as well as the full Jacobian."""
    F = nn.functional

    def arrays(*shapes):
        return [cr.tensor(RNG.standard_normal(s) * 0.5, requires_grad=True) for s in shapes]

    x, h, c = arrays((2, 3), (2, 4), (2, 4))
    for gates, step in (
        (
            4,
            lambda x, h, c, wi, wh, bi, bh: rnn_module.lstm_step(F.linear(x, wi, bi), h, c, wh, bh),
        ),
        (3, lambda x, h, c, wi, wh, bi, bh: rnn_module.gru_step(F.linear(x, wi, bi), h, wh, bh)),
        (
            1,
            lambda x, h, c, wi, wh, bi, bh: rnn_module.rnn_step(
                F.linear(x, wi, bi), h, wh, bh, "tanh"
            ),
        ),
    ):
        weights = arrays((gates * 4, 3), (gates * 4, 4), (gates * 4,), (gates * 4,))
        assert cr.autograd.gradcheck(step, (x, h, c, *weights))


def test_two_layer_bidirectional_lstm_gradcheck():
    """Input and initial states through gradcheck; every parameter by central
    differences of a loss with a random upstream gradient."""
    cr.manual_seed(3)
    lstm = nn.LSTM(2, 2, num_layers=2, bidirectional=True).double()
    x = cr.tensor(RNG.standard_normal((3, 2, 2)), requires_grad=True)
    h0, c0 = (cr.tensor(RNG.standard_normal((4, 2, 2)), requires_grad=True) for _ in range(2))

    def run(x, h0, c0):
        out, (h, c) = lstm(x, (h0, c0))
        return out, h, c

    assert cr.autograd.gradcheck(run, (x, h0, c0))

    ups = [cr.tensor(RNG.standard_normal(s)) for s in ((3, 2, 4), (4, 2, 2), (4, 2, 2))]

    def loss():
        return sum((o * u).sum() for o, u in zip(run(x, h0, c0), ups))

    lstm.zero_grad()
    loss().backward()
    eps = 1e-6
    for name, p in lstm.named_parameters():
        values = p.numpy()
        numeric = np.empty_like(values)
        for idx in np.ndindex(values.shape):
            keep = values[idx]
            with cr.no_grad():
                values[idx] = keep + eps
                up = loss().item()
                values[idx] = keep - eps
                down = loss().item()
            values[idx] = keep
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(p.grad.numpy(), numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def test_second_derivatives_flow_through_the_layer():
    """create_graph=True: a Hessian-vector product through an LSTM, against PyTorch's."""
    mine, theirs = _pair("LSTM", I, H, num_layers=2)
    x, v = _input({}), RNG.standard_normal((L, N, I))
    results = []
    for lib, model in ((cr, mine), (torch, theirs)):
        xt = (cr.tensor if lib is cr else torch.tensor)(x, requires_grad=True)
        (g,) = lib.autograd.grad((model(xt)[0] ** 2).sum(), [xt], create_graph=True)
        (hv,) = lib.autograd.grad((g * (cr.tensor if lib is cr else torch.tensor)(v)).sum(), [xt])
        results.append(hv.detach().numpy() if lib is torch else hv.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)


def test_one_node_pieces_give_the_same_bits_as_slicing(monkeypatch):
    """_unbind and _chunk (one graph node each) are a speed device: the layer's values
    and gradients are those of plain slicing, bit for bit."""
    lstm = nn.LSTM(I, H, num_layers=2, bidirectional=True).double()
    x = _input({})

    def run():
        xt = cr.tensor(x, requires_grad=True)
        lstm.zero_grad()
        out = lstm(xt)[0]
        (out * out).sum().backward()
        return [out.numpy(), xt.grad.numpy(), *(p.grad.numpy() for p in lstm.parameters())]

    fast = run()
    monkeypatch.setattr(
        rnn_module, "_unbind", lambda t, dim=0: tuple(t[i] for i in range(t.shape[0]))
    )
    monkeypatch.setattr(
        rnn_module,
        "_chunk",
        lambda t, k: tuple(t[..., i * H : (i + 1) * H] for i in range(k)),
    )
    for a, b in zip(fast, run()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ the module's surface
SURFACE = [
    ("RNN", dict(num_layers=2, bidirectional=True, nonlinearity="relu")),
    ("LSTM", dict(num_layers=2, proj_size=3, bias=False)),
    ("LSTM", dict(bidirectional=True, batch_first=True, dropout=0.0)),
    ("GRU", dict(num_layers=3, dropout=0.25)),
    ("RNNCell", dict(nonlinearity="relu")),
    ("LSTMCell", dict(bias=False)),
    ("GRUCell", dict()),
]


@pytest.mark.parametrize(("name", "kwargs"), SURFACE, ids=[f"{n}-{k}" for n, k in SURFACE])
def test_names_shapes_and_repr_are_pytorchs(name, kwargs):
    mine, theirs = getattr(nn, name)(I, H, **kwargs), getattr(torch.nn, name)(I, H, **kwargs)
    assert [(k, tuple(v.shape)) for k, v in mine.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    assert repr(mine) == repr(theirs)
    if hasattr(theirs, "all_weights"):
        assert [[tuple(p.shape) for p in ws] for ws in mine.all_weights] == [
            [tuple(p.shape) for p in ws] for ws in theirs.all_weights
        ]
        mine.flatten_parameters()  # accepted, as in PyTorch


@pytest.mark.parametrize("name", ["LSTM", "GRUCell"])
def test_initialisation_is_uniform_within_one_over_root_hidden(name):
    cr.manual_seed(1)
    layer = getattr(nn, name)(20, 50)
    values = np.concatenate([p.numpy().ravel() for p in layer.parameters()])
    bound = 1 / np.sqrt(50)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(values.std() - bound / np.sqrt(3)) < 0.02 * bound  # uniform: bound / sqrt(3)
    cr.manual_seed(1)
    again = getattr(nn, name)(20, 50)
    np.testing.assert_array_equal(
        values, np.concatenate([p.numpy().ravel() for p in again.parameters()])
    )


def test_float32_model_takes_float64_input_and_returns_float32():
    gru = nn.GRU(I, H)
    out, h = gru(_input({}))
    assert out.dtype == cr.float32 and h.dtype == cr.float32
    with pytest.raises(TypeError, match="floating-point input"):
        gru(np.zeros((L, N, I), dtype=np.int64))


# ------------------------------------------------------------------ dropout between layers
def test_dropout_acts_between_layers_in_training_only():
    kwargs = dict(num_layers=2, dropout=0.5)
    mine, theirs = _pair("LSTM", I, H, **kwargs)
    x = _input({})
    mine.eval()
    theirs.eval()
    _compare(mine, theirs, [x])  # eval: no dropout, PyTorch's numbers
    evaluated = mine(cr.tensor(x))[0].numpy()
    mine.train()
    cr.manual_seed(0)
    first = mine(cr.tensor(x))[0].numpy()
    cr.manual_seed(0)
    np.testing.assert_array_equal(mine(cr.tensor(x))[0].numpy(), first)  # reproducible
    assert np.abs(first - evaluated).max() > 1e-3

    # with p = 1 the second layer sees only zeros: the output does not depend on x
    drop_all = nn.GRU(I, H, num_layers=2, dropout=1.0).double()
    xt = cr.tensor(x, requires_grad=True)
    drop_all(xt)[0].sum().backward()
    assert np.abs(xt.grad.numpy()).max() == 0.0
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        single = nn.GRU(I, H, num_layers=1, dropout=1.0)  # nothing to drop between
    np.testing.assert_array_equal(single(x)[0].numpy(), single.eval()(x)[0].numpy())


def test_dropout_with_one_layer_warns_as_pytorch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(I, H, dropout=0.2)


# ------------------------------------------------------------------ errors
BAD_ARGS = [
    (lambda M: M.LSTM(I, H, dropout=1.5), ValueError, "dropout should be a number in range"),
    (lambda M: M.LSTM(I, H, dropout=True), ValueError, "dropout should be a number in range"),
    (lambda M: M.GRU(I, 0), ValueError, "hidden_size must be greater than zero"),
    (lambda M: M.GRU(I, 2.0), TypeError, "hidden_size should be of type int"),
    (lambda M: M.RNN(0, H), ValueError, "input_size must be greater than zero"),
    (lambda M: M.RNN(I, H, num_layers=0), ValueError, "num_layers must be greater than zero"),
    (
        lambda M: M.LSTM(I, H, proj_size=H),
        ValueError,
        "proj_size has to be smaller than hidden_size",
    ),
    (lambda M: M.LSTM(I, H, bias=1), TypeError, "bias should be of type bool"),
    (lambda M: M.RNN(I, H, nonlinearity="sigmoid"), ValueError, "Unknown nonlinearity 'sigmoid'"),
]


def test_the_cpu_is_accepted_and_other_devices_refused():
    for make in (lambda d: nn.LSTM(I, H, device=d), lambda d: nn.GRUCell(I, H, device=d)):
        make("cpu")
        make(cr.device("cpu"))
        with pytest.raises(RuntimeError, match="chainrule runs on the CPU only"):
            make("cuda")


@pytest.mark.parametrize(("make", "error", "message"), BAD_ARGS, ids=[m for _, _, m in BAD_ARGS])
def test_bad_constructor_arguments_raise_pytorchs_errors(make, error, message):
    for lib in (nn, torch.nn):
        with pytest.raises(error, match=message):
            make(lib)


BAD_CALLS = [
    ("RNN", lambda: (np.zeros((2, L, N, I)),), "RNN: Expected input to be 2D or 3D, got 4D"),
    ("LSTM", lambda: (np.zeros((N,)),), "LSTM: Expected input to be 2D or 3D, got 1D"),
    (
        "GRU",
        lambda: (np.zeros((L, N, I + 1)),),
        "input.size(-1) must be equal to input_size. Expected 4, got 5",
    ),
    (
        "GRU",
        lambda: (np.zeros((L, N, I)), np.zeros((2, N, H))),
        "Expected hidden size (1, 3, 6), got [2, 3, 6]",
    ),
    (
        "RNN",
        lambda: (np.zeros((L, N, I)), np.zeros((N, H))),
        "For batched 3-D input, hx should also be 3-D but got 2-D tensor",
    ),
    (
        "RNN",
        lambda: (np.zeros((L, I)), np.zeros((1, N, H))),
        "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor",
    ),
    (
        "LSTM",
        lambda: (np.zeros((L, N, I)), (np.zeros((1, N, H)), np.zeros((N, H)))),
        "hx and cx should also be 3-D but got (3-D, 2-D) tensors",
    ),
    (
        "LSTM",
        lambda: (np.zeros((L, N, I)), (np.zeros((1, N, H)), np.zeros((1, N, H + 1)))),
        "Expected hidden[1] size (1, 3, 6), got [1, 3, 7]",
    ),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_CALLS, ids=[m for _, _, m in BAD_CALLS])
def test_bad_calls_raise_pytorchs_errors(name, args, message):
    mine, theirs = _pair(name, I, H)
    with pytest.raises((ValueError, RuntimeError), match=re.escape(message)):
        mine(*args())
    targs = [
        tuple(torch.tensor(t) for t in a) if isinstance(a, tuple) else torch.tensor(a)
        for a in args()
    ]
    with pytest.raises((ValueError, RuntimeError), match=re.escape(message)):
        theirs(*targs)


def test_bad_cell_calls_name_what_is_wrong():
    cell = nn.LSTMCell(I, H)
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D"):
        cell(np.zeros((1, N, I)))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 4"):
        cell(np.zeros((N, I + 1)))
    with pytest.raises(RuntimeError, match=r"hx\[1\] has shape \(3, 5\), expected \(3, 6\)"):
        cell(np.zeros((N, I)), (np.zeros((N, H)), np.zeros((N, H - 1))))
    with pytest.raises(TypeError, match="pair"):
        cell(np.zeros((N, I)), (np.zeros((N, H)),))
    with pytest.raises(ValueError, match="GRUCell: Expected hidden to be 1D or 2D, got 3D"):
        nn.GRUCell(I, H)(np.zeros((N, I)), np.zeros((1, N, H)))


# ------------------------------------------------------------------ backprop through time
def _influence_of_the_first_input(model, steps: int) -> float:
    """||d h_T / d x_0||: how much the last state still depends on the first input."""
    x = cr.tensor(RNG.standard_normal((steps, 1, 4)) * 0.5, requires_grad=True)
    out = model(x)[0]
    out[-1].sum().backward()
    return float(np.abs(x.grad.numpy()[0]).sum())


def test_backprop_through_time_vanishes_geometrically_in_an_elman_rnn():
    """The module docstring's claim: one Jacobian diag(tanh') W_hh per step, so with
    ||W_hh|| = 0.5 the first input's influence shrinks at least as fast as 0.5^T."""
    rnn = nn.RNN(4, 8).double()
    w = rnn.weight_hh_l0.numpy()
    w *= 0.5 / np.linalg.norm(w, 2)  # spectral norm 0.5
    influence = [_influence_of_the_first_input(rnn, T) for T in (5, 10, 20, 40)]
    assert all(b < a for a, b in itertools.pairwise(influence))
    assert influence[-1] < influence[0] * 0.5**35 * 10  # 35 more steps, each at most 0.5

    # An LSTM whose forget gates sit near 1 carries it across the same 40 steps.
    lstm = nn.LSTM(4, 8).double()
    lstm.bias_ih_l0.numpy()[8:16] = 6.0  # the forget gate's bias: sigmoid(6) = 0.9975
    kept = [_influence_of_the_first_input(lstm, T) for T in (5, 40)]
    assert kept[1] > 0.3 * kept[0]
