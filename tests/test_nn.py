"""nn: modules against PyTorch (weights copied through load_state_dict), the Module API,
BatchNorm over several steps, dropout's statistics, initialisers, clipping, errors."""

from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(0)


def _pair(make_mine, make_theirs):
    """The same module in both libraries, float64, PyTorch's weights loaded into ours."""
    theirs = make_theirs().double()
    mine = make_mine().double()
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


def _compare_step(mine, theirs, x, rtol=1e-10, atol=1e-12):
    """Forward and backward (random upstream gradient) on the same input; compare the
    output, the input gradient and every parameter gradient."""
    cx = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, tout = mine(cx), theirs(tx)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    v = RNG.standard_normal(tuple(tout.shape))
    out.backward(cr.tensor(v))
    tout.backward(torch.tensor(v))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )


LAYERS = [
    ("linear", lambda M: M.Linear(4, 3), (5, 4)),
    ("linear, no bias, 3-D input", lambda M: M.Linear(4, 3, bias=False), (2, 5, 4)),
    ("conv 3x3", lambda M: M.Conv2d(3, 4, 3), (2, 3, 7, 6)),
    ("conv stride 2 padding 1", lambda M: M.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 8, 7)),
    ("conv 1x1", lambda M: M.Conv2d(3, 5, 1), (2, 3, 4, 4)),
    (
        "conv rectangular",
        lambda M: M.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)),
        (1, 2, 7, 5),
    ),
    ("conv no bias", lambda M: M.Conv2d(2, 3, 3, bias=False), (2, 2, 5, 5)),
    ("conv dilation", lambda M: M.Conv2d(2, 2, 3, dilation=2), (1, 2, 7, 7)),
    ("max pool", lambda M: M.MaxPool2d(2), (2, 3, 6, 6)),
    ("max pool overlapping", lambda M: M.MaxPool2d(3, stride=2, padding=1), (1, 2, 7, 7)),
    ("avg pool", lambda M: M.AvgPool2d(2), (2, 3, 6, 6)),
    (
        "avg pool padded",
        lambda M: M.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        (1, 2, 7, 7),
    ),
    ("flatten", lambda M: M.Flatten(), (2, 3, 4)),
    ("identity", lambda M: M.Identity(), (2, 3)),
    ("layer norm", lambda M: M.LayerNorm(4), (3, 5, 4)),
    ("layer norm 2-D shape", lambda M: M.LayerNorm((3, 4)), (2, 3, 4)),
    ("sigmoid", lambda M: M.Sigmoid(), (3, 4)),
    ("tanh", lambda M: M.Tanh(), (3, 4)),
    ("relu", lambda M: M.ReLU(), (3, 4)),
    ("leaky relu", lambda M: M.LeakyReLU(0.2), (3, 4)),
    ("elu", lambda M: M.ELU(0.7), (3, 4)),
    ("gelu", lambda M: M.GELU(), (3, 4)),
    ("gelu tanh", lambda M: M.GELU(approximate="tanh"), (3, 4)),
    ("silu", lambda M: M.SiLU(), (3, 4)),
    ("softplus", lambda M: M.Softplus(beta=2.0, threshold=3.0), (3, 4)),
    ("softmax", lambda M: M.Softmax(dim=1), (3, 4)),
    ("log softmax", lambda M: M.LogSoftmax(dim=-1), (3, 4)),
    (
        "cnn",
        lambda M: M.Sequential(
            M.Conv2d(1, 4, 3),
            M.ReLU(),
            M.MaxPool2d(2),
            M.Flatten(),
            M.Linear(4 * 3 * 3, 5),
            M.Tanh(),
            M.Linear(5, 2),
        ),
        (3, 1, 8, 8),
    ),
]


@pytest.mark.parametrize(
    ("make", "shape"), [(m, s) for _, m, s in LAYERS], ids=[n for n, _, _ in LAYERS]
)
def test_layer_matches_pytorch(make, shape):
    mine, theirs = _pair(lambda: make(nn), lambda: make(torch.nn))
    _compare_step(mine, theirs, RNG.standard_normal(shape))


# ------------------------------------------------------------------ batch norm
@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda M: M.BatchNorm1d(3), (6, 3)),
        (lambda M: M.BatchNorm1d(3, momentum=None), (4, 3, 5)),
        (lambda M: M.BatchNorm2d(3, momentum=0.3), (4, 3, 5, 5)),
        (lambda M: M.BatchNorm2d(2, affine=False), (3, 2, 4, 4)),
    ],
    ids=["1d", "1d cumulative average", "2d momentum 0.3", "2d no affine"],
)
def test_batch_norm_matches_pytorch_over_training_steps_and_in_eval(make, shape):
    mine, theirs = _pair(lambda: make(nn), lambda: make(torch.nn))
    for _ in range(4):
        x = RNG.standard_normal(shape) * 3 + 1
        _compare_step(mine, theirs, x)
        for name, buf in theirs.named_buffers():
            np.testing.assert_allclose(
                getattr(mine, name).numpy(), buf.numpy(), rtol=1e-12, err_msg=name
            )
        for p in [*mine.parameters(), *theirs.parameters()]:
            p.grad = None
    mine.eval()
    theirs.eval()
    _compare_step(mine, theirs, RNG.standard_normal(shape))
    assert int(mine.num_batches_tracked.item()) == 4


def test_batch_norm_normalises_with_the_biased_variance_and_tracks_the_unbiased_one():
    bn = nn.BatchNorm1d(1, momentum=1.0, affine=False).double()
    x = np.array([[1.0], [2.0], [4.0]])
    out = bn(x).numpy()[:, 0]
    np.testing.assert_allclose(out, (x[:, 0] - x.mean()) / np.sqrt(x.var() + 1e-5))
    assert bn.running_var.item() == pytest.approx(x.var(ddof=1))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.ones((1, 1)))


# ------------------------------------------------------------------ dropout
def test_dropout_drops_the_right_fraction_and_scales_the_rest():
    cr.manual_seed(1)
    x = cr.ones(200, 500, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    kept = y.numpy() != 0
    assert abs(1 - kept.mean() - 0.3) < 0.005
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)  # the gradient's mask is the forward's
    np.testing.assert_allclose(x.grad.numpy()[kept], 1 / 0.7, rtol=1e-6)


def test_dropout_is_the_identity_in_eval_and_reproducible_with_a_seed():
    d = nn.Dropout(0.5)
    x = cr.randn(4, 6)
    d.eval()
    assert d(x) is x
    d.train()
    cr.manual_seed(7)
    a = d(x).numpy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(a, d(x).numpy())


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_probability_outside_zero_one_raises(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(p)


# ------------------------------------------------------------------ the Module API
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.head = nn.ModuleList([nn.Linear(8, 4), nn.Linear(4, 2)])
        self.scale = nn.Parameter(cr.ones(1))

    def forward(self, x):
        h = self.features(x).flatten(1)
        for layer in self.head:
            h = layer(h)
        return h * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU()
        )
        self.head = torch.nn.ModuleList([torch.nn.Linear(8, 4), torch.nn.Linear(4, 2)])
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        h = self.features(x).flatten(1)
        for layer in self.head:
            h = layer(h)
        return h * self.scale


def test_names_and_state_dict_keys_are_pytorchs():
    mine, theirs = Net(), TorchNet()
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in mine.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in theirs.named_buffers()]


def test_a_pytorch_model_loads_unchanged_and_computes_the_same():
    torch.manual_seed(0)
    theirs = TorchNet().double()
    mine = Net().double()
    mine.load_state_dict(theirs.state_dict())
    _compare_step(mine, theirs, RNG.standard_normal((3, 1, 4, 4)))


def test_repr_matches_pytorch():
    mine = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8, 2),
        nn.Dropout(0.1),
        nn.LeakyReLU(0.2),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 2),
        torch.nn.Dropout(0.1),
        torch.nn.LeakyReLU(0.2),
    )
    assert repr(mine) == repr(theirs)
    for make in [
        lambda M: M.BatchNorm1d(4, momentum=None, affine=False),
        lambda M: M.BatchNorm2d(3, bias=False),
        lambda M: M.LayerNorm(4),
        lambda M: M.LayerNorm((2, 3), bias=False),
        lambda M: M.Softmax(dim=1),
        lambda M: M.ELU(0.5),
        lambda M: M.GELU(approximate="tanh"),
        lambda M: M.Softplus(2.0, 3.0),
        lambda M: M.AvgPool2d(2),
        lambda M: M.SiLU(),
        lambda M: M.Identity(),
        lambda M: M.Conv2d(2, 3, 3, dilation=2, padding="same"),
        lambda M: M.Linear(3, 1, bias=False),
        lambda M: M.ModuleList([M.Tanh(), M.Sigmoid()]),
        lambda M: M.LogSoftmax(dim=0),
    ]:
        assert repr(make(nn)) == repr(make(torch.nn))
    assert repr(Net()).startswith("Net(\n  (features): Sequential(\n    (0): Conv2d(1, 2")


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as in PyTorch
    x = cr.randn(2, 3)
    model(x).sum().backward()
    assert shared.weight.grad is not None


def test_load_state_dict_names_what_is_wrong_and_writes_nothing():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    good = {k: np.ones_like(v) for k, v in before.items()}

    bad_shape = dict(good, **{"0.weight": np.ones((3, 3))})
    bad_shape["0.bias"] = np.full(2, 5.0)
    with pytest.raises(RuntimeError, match=r"size mismatch for '0.weight'.*\(3, 3\).*\(2, 3\)"):
        model.load_state_dict(bad_shape)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # nothing written, not even 0.bias

    missing = {k: v for k, v in good.items() if k != "1.running_var"}
    with pytest.raises(RuntimeError, match=r"missing key.*'1\.running_var'"):
        model.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r"unexpected key.*'extra'"):
        model.load_state_dict(dict(good, extra=np.ones(1)))
    result = model.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == []
    assert model.state_dict()["0.bias"].tolist() == [1.0, 1.0]


def test_state_dict_values_share_the_modules_memory_as_in_pytorch():
    model = nn.Linear(2, 2)
    sd = model.state_dict()
    assert isinstance(sd["weight"], cr.Tensor) and not sd["weight"].requires_grad
    with cr.no_grad():
        model.weight.add_(1)
    np.testing.assert_array_equal(sd["weight"].numpy(), model.weight.numpy())  # not a snapshot
    theirs = torch.nn.Linear(2, 2)
    tsd = theirs.state_dict()
    ours_before, theirs_before = model.weight._version, theirs.weight._version
    sd["weight"][:] = 0  # writing into the state_dict writes the model
    sd["bias"].copy_(cr.tensor([1.0, 2.0]))
    tsd["weight"][:] = 0
    tsd["bias"].copy_(torch.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(model.weight.numpy(), theirs.weight.detach().numpy())
    np.testing.assert_array_equal(model.bias.numpy(), theirs.bias.detach().numpy())
    # The write is counted in the parameter's version, as PyTorch counts it.
    assert model.weight._version - ours_before == theirs.weight._version - theirs_before == 1
    snapshot = copy.deepcopy(model.state_dict())  # the way to keep one
    with cr.no_grad():
        model.weight.add_(1)
    assert snapshot["weight"].numpy().max() == 0


def test_train_and_eval_reach_every_child():
    model = Net()
    model.eval()
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_to_dtype_keeps_parameter_identity():
    model = Net()
    params = list(model.parameters())
    model.double()
    assert all(p.dtype == cr.float64 for p in model.parameters())
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert model.features[1].running_mean.dtype == cr.float64
    assert model.features[1].num_batches_tracked.dtype == cr.int64
    model.float()
    assert model(cr.randn(2, 1, 4, 4)).dtype == cr.float32


def test_apply_and_hooks():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]

    outputs = []
    handle = model[0].register_forward_hook(lambda m, args, out: outputs.append(out.shape))
    model[2].register_forward_hook(lambda m, args, out: out * 0)
    y = model(cr.randn(4, 2))
    assert outputs == [(4, 3)] and float(y.abs().sum()) == 0.0
    handle.remove()
    model(cr.randn(4, 2))
    assert len(outputs) == 1


def test_sequential_and_module_list_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear) and len(seq) == 3
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    layers = nn.ModuleList([nn.Linear(2, 2)])
    layers.append(nn.Linear(2, 2))
    layers.insert(0, nn.Linear(2, 2))
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    with pytest.raises(IndexError, match="out of range"):
        seq[5]


def test_zero_grad_and_requires_grad():
    model = nn.Linear(2, 2)
    model(cr.randn(3, 2)).sum().backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.requires_grad_(False)
    assert not model(cr.randn(3, 2)).requires_grad


def test_assigning_before_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__"):
        Forgot()


# ------------------------------------------------------------------ dtypes and training
def test_float64_numpy_input_into_a_float32_model_is_cast():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 2))
    y = model(np.random.default_rng(0).standard_normal((5, 3)))
    assert y.dtype == cr.float32
    conv = nn.Conv2d(1, 2, 3)
    assert conv(np.zeros((1, 1, 5, 5))).dtype == cr.float32
    with pytest.raises(TypeError, match="floating-point input"):
        model(np.ones((2, 3), dtype=np.int64))


def test_a_float32_model_trains_end_to_end():
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.float32)[:, None]  # XOR-like: needs the hidden layer
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Sigmoid())
    first = None
    for _ in range(300):
        p = model(x)
        loss = -(cr.tensor(y) * p.log() + (1 - cr.tensor(y)) * (1 - p).log()).mean()
        model.zero_grad()
        loss.backward()
        with cr.no_grad():
            for w in model.parameters():
                assert w.grad.dtype == cr.float32
                w.sub_(w.grad * 0.5)
        first = first if first is not None else loss.item()
    assert loss.dtype == cr.float32
    assert loss.item() < 0.25 * first
    accuracy = ((model(x).numpy() > 0.5) == (y > 0.5)).mean()
    assert accuracy > 0.95


def test_manual_seed_reproduces_initialisation():
    cr.manual_seed(3)
    a = nn.Sequential(nn.Linear(4, 3), nn.Conv2d(1, 2, 3)).state_dict()
    cr.manual_seed(3)
    b = nn.Sequential(nn.Linear(4, 3), nn.Conv2d(1, 2, 3)).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


# ------------------------------------------------------------------ errors
def test_linear_names_the_expected_and_actual_width():
    with pytest.raises(cr.ShapeError, match=r"Linear\(in_features=4.*last dimension 4.*\(2, 3\)"):
        nn.Linear(4, 2)(cr.randn(2, 3))


def test_conv_names_the_expected_and_actual_channels():
    with pytest.raises(cr.ShapeError, match=r"Conv2d\(3, 8.*\(N, 3, H, W\).*\(2, 1, 28, 28\)"):
        nn.Conv2d(3, 8, 3)(cr.randn(2, 1, 28, 28))
    with pytest.raises(cr.ShapeError, match="smaller than the kernel"):
        nn.Conv2d(1, 1, 5)(cr.randn(1, 1, 3, 3))


def test_norm_layers_name_the_expected_features():
    with pytest.raises(cr.ShapeError, match=r"expected 4 features.*\(8, 3\)"):
        nn.BatchNorm1d(4)(cr.randn(8, 3))
    with pytest.raises(cr.ShapeError, match="2-D or 3-D"):
        nn.BatchNorm1d(4)(cr.randn(2, 4, 2, 2))
    with pytest.raises(cr.ShapeError, match=r"last dimensions are \(5,\)"):
        nn.LayerNorm(5)(cr.randn(2, 4))


def test_softmax_module_needs_a_dim():
    with pytest.raises(ValueError, match="dim=1"):
        nn.Softmax()(cr.randn(2, 3))


# ------------------------------------------------------------------ initialisers
FANS = {"fan_in": 300, "fan_out": 200}


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_kaiming_std_matches_the_formula(mode, kind):
    w = cr.empty(200, 30, 5, 2)  # fan_in = 30*10, fan_out = 200*10 ... receptive field 10
    fan = {"fan_in": 30 * 10, "fan_out": 200 * 10}[mode]
    getattr(nn.init, f"kaiming_{kind}_")(w, mode=mode, nonlinearity="relu")
    expected = math.sqrt(2) / math.sqrt(fan)
    assert abs(w.numpy().std() / expected - 1) < 0.03
    assert abs(w.numpy().mean()) < 0.03 * expected


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_xavier_std_matches_the_formula(kind):
    w = cr.empty(400, 300)
    getattr(nn.init, f"xavier_{kind}_")(w, gain=nn.init.calculate_gain("tanh"))
    expected = 5 / 3 * math.sqrt(2 / 700)
    assert abs(w.numpy().std() / expected - 1) < 0.03


def test_uniform_normal_constant_zeros_ones():
    w = cr.empty(300, 300)
    nn.init.uniform_(w, -2, 2)
    assert w.numpy().min() >= -2 and w.numpy().max() <= 2
    assert abs(w.numpy().std() / (4 / math.sqrt(12)) - 1) < 0.02
    nn.init.normal_(w, 1.0, 0.5)
    assert abs(w.numpy().mean() - 1) < 0.01 and abs(w.numpy().std() / 0.5 - 1) < 0.02
    nn.init.constant_(w, 0.3)
    assert np.all(w.numpy() == np.float32(0.3))
    nn.init.zeros_(w)
    assert not w.numpy().any()
    nn.init.ones_(w)
    assert np.all(w.numpy() == 1)


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 3, 2, 2)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = cr.empty(*shape)
    nn.init.orthogonal_(w, gain=2.0)
    m = w.numpy().reshape(shape[0], -1).astype(np.float64)
    small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-5)


@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_pytorch(name, param):
    assert nn.init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param)
    )


def test_initialisers_need_two_dimensions_and_known_names():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(cr.empty(5))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


@pytest.mark.parametrize("make", [lambda M: M.Linear(250, 120), lambda M: M.Conv2d(20, 30, (3, 5))])
def test_default_initialisation_follows_pytorch(make):
    mine = make(nn)
    fan_in = mine.weight.numpy()[0].size
    bound = 1 / math.sqrt(fan_in)
    for p in (mine.weight, mine.bias):
        values = p.numpy()
        assert values.min() >= -bound and values.max() <= bound
    assert abs(mine.weight.numpy().std() / (bound / math.sqrt(3)) - 1) < 0.05
    theirs = make(torch.nn)
    assert abs(theirs.weight.detach().numpy().std() / mine.weight.numpy().std() - 1) < 0.05


def test_constant_initialisation_keeps_hidden_units_identical():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    for p in model.parameters():
        nn.init.constant_(p, 0.5)
    x, y = cr.randn(16, 3), cr.randn(16, 1)
    for _ in range(20):
        loss = ((model(x) - y) ** 2).mean()
        model.zero_grad()
        loss.backward()
        with cr.no_grad():
            for p in model.parameters():
                p.sub_(p.grad * 0.1)
    w = model[0].weight.numpy()
    np.testing.assert_allclose(
        w, np.broadcast_to(w[0], w.shape), rtol=1e-6
    )  # the symmetry never breaks


# ------------------------------------------------------------------ gradient clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [RNG.standard_normal(s) for s in shapes]
    mine = [cr.tensor(g * 0, requires_grad=True) for g in grads]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for p, tp, g in zip(mine, theirs, grads):
        p.grad = cr.tensor(g)
        tp.grad = torch.tensor(g)
    total = nn.utils.clip_grad_norm_(mine, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(mine, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_nonfinite_and_value_clipping():
    p = cr.zeros(3, requires_grad=True)
    p.grad = cr.tensor([1.0, float("nan"), 2.0])
    with pytest.raises(RuntimeError, match="nan or inf"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    q = cr.zeros(4, requires_grad=True)
    q.grad = cr.tensor([-3.0, -0.5, 0.5, 3.0])
    nn.utils.clip_grad_value_(q, 1.0)
    assert q.grad.tolist() == [-1.0, -0.5, 0.5, 1.0]
