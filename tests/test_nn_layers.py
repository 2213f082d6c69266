"""The layers tutorials use, as modules against PyTorch (weights copied through
load_state_dict): values, input and parameter gradients, reprs, default initialisation,
errors for bad arguments; embeddings, channel dropout and the KL divergence's
reductions.
The functionals' gradchecks and parity run from the op table (testing/layer_opinfo.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from module_parity import close as _close
from module_parity import compare_step as _compare_step
from module_parity import pair as _pair

RNG = np.random.default_rng(14)
TF = torch.nn.functional


LAYERS = [
    ("group norm", lambda M: M.GroupNorm(2, 6), (3, 6, 4, 2)),
    ("group norm no bias", lambda M: M.GroupNorm(3, 3, bias=False), (2, 3, 5)),
    ("instance norm 2d", lambda M: M.InstanceNorm2d(3, affine=True), (2, 3, 4, 5)),
    ("instance norm 2d unbatched", lambda M: M.InstanceNorm2d(3), (3, 4, 4)),
    ("instance norm 1d", lambda M: M.InstanceNorm1d(2, affine=True), (3, 2, 6)),
    ("prelu", lambda M: M.PReLU(), (3, 4)),
    ("prelu per channel", lambda M: M.PReLU(3, 0.1), (2, 3, 4)),
    ("hardtanh", lambda M: M.Hardtanh(-0.5, 1.5), (3, 4)),
    ("relu6", lambda M: M.ReLU6(), (3, 4)),
    ("mish", lambda M: M.Mish(), (3, 4)),
    ("dropout2d in eval", lambda M: M.Dropout2d(0.3).eval(), (2, 3, 4, 4)),
    (
        "autoencoder",
        lambda M: M.Sequential(
            M.Conv2d(2, 4, 3, padding=1, groups=2),
            M.InstanceNorm2d(4, affine=True),
            M.Mish(),
            M.MaxPool2d(2),
            M.ConvTranspose2d(4, 2, 2, stride=2),
            M.GroupNorm(1, 2),
            M.PReLU(2),
        ),
        (2, 2, 6, 6),
    ),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's
@pytest.mark.parametrize(
    ("make", "shape"), [(m, s) for _, m, s in LAYERS], ids=[n for n, _, _ in LAYERS]
)
def test_layer_matches_pytorch(make, shape):
    mine, theirs = _pair(make)
    assert repr(mine) == repr(theirs)
    x = RNG.standard_normal(shape)
    _compare_step(mine, theirs, x)


def test_cosine_similarity_module_and_its_clamp_convention():
    mine, theirs = _pair(lambda M: M.CosineSimilarity(dim=-1, eps=1e-6))
    _compare_step(mine, theirs, RNG.standard_normal((3, 1, 4)), RNG.standard_normal((2, 4)))
    # A vector shorter than eps: the value divides by eps, and the gradient still
    # differentiates the norm (PyTorch clamps it outside autograd).
    _compare_step(mine, theirs, np.array([1e-9, 2e-9, 0.0]), np.array([1.0, -2.0, 0.5]))


def test_instance_norm_tracks_running_statistics_like_pytorch():
    mine, theirs = _pair(lambda M: M.InstanceNorm2d(3, affine=True, track_running_stats=True))
    for _ in range(3):
        _compare_step(mine, theirs, RNG.standard_normal((4, 3, 3, 5)) * 2 + 1)
        for name, buf in theirs.named_buffers():
            _close(getattr(mine, name).numpy(), buf.numpy(), name)
        for p in [*mine.parameters(), *theirs.parameters()]:
            p.grad = None
    mine.eval()
    theirs.eval()
    _compare_step(mine, theirs, RNG.standard_normal((2, 3, 3, 5)))


def test_instance_norm_warns_when_channels_differ_without_affine():
    with pytest.warns(UserWarning, match="num_features=3"):
        nn.InstanceNorm2d(3)(cr.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="3 channels"):
        nn.InstanceNorm2d(3, affine=True)(cr.randn(2, 4, 3, 3))


def test_embedding_initialisation_and_padding_row():
    cr.manual_seed(0)
    e = nn.Embedding(2000, 50, padding_idx=3)
    w = e.weight.numpy()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01  # N(0, 1)
    assert not w[3].any()
    assert repr(e) == repr(torch.nn.Embedding(2000, 50, padding_idx=3))
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_prelu_and_norm_parameters_are_pytorchs():
    for make in [
        lambda M: M.PReLU(4, 0.2),
        lambda M: M.GroupNorm(2, 4),
        lambda M: M.InstanceNorm1d(4, affine=True, track_running_stats=True),
        lambda M: M.Embedding(5, 3),
    ]:
        mine, theirs = make(nn), make(torch.nn)
        assert list(mine.state_dict()) == list(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            assert mine.state_dict()[key].shape == tuple(value.shape), key
    np.testing.assert_array_equal(nn.PReLU(4, 0.2).weight.numpy(), np.full(4, 0.2, np.float32))


# ------------------------------------------------------------------ embedding
def test_embedding_matches_pytorch_with_every_option():
    idx = np.array([[0, 2, 2, 4], [5, 1, 0, 2]])
    for kwargs in [
        {},
        {"padding_idx": 2},
        {"max_norm": 1.0},
        {"max_norm": 2.0, "norm_type": 1.0, "padding_idx": 0},
        {"scale_grad_by_freq": True},
    ]:
        mine, theirs = _pair(lambda M, kw=kwargs: M.Embedding(6, 3, **kw))
        with torch.no_grad():
            theirs.weight.mul_(3)  # rows longer than max_norm
        mine.load_state_dict(theirs.state_dict())
        out, tout = mine(cr.tensor(idx)), theirs(torch.tensor(idx))
        _close(out.numpy(), tout.detach().numpy(), f"output {kwargs}")
        _close(mine.weight.numpy(), theirs.weight.detach().numpy(), f"renormed weight {kwargs}")
        v = RNG.standard_normal(tuple(tout.shape))
        out.backward(cr.tensor(v))
        tout.backward(torch.tensor(v))
        _close(mine.weight.grad.numpy(), theirs.weight.grad.numpy(), f"gradient {kwargs}")


def test_embedding_from_pretrained_shares_and_freezes():
    w = cr.tensor(RNG.standard_normal((4, 3)))
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and np.shares_memory(e.weight.numpy(), w.numpy())
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    out = e(cr.tensor([3, 0]))
    np.testing.assert_array_equal(out.numpy(), w.numpy()[[3, 0]])


def test_embedding_and_one_hot_errors():
    w = cr.randn(5, 3)
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        F.embedding(cr.tensor([0, 5]), w)
    with pytest.raises(TypeError, match="integer"):
        F.embedding(cr.tensor([0.0, 1.0]), w)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="sparse"):
        F.embedding(cr.tensor([1]), w, sparse=True)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(cr.tensor([0, -1]))
    with pytest.raises(ValueError, match="smaller than num_classes=2"):
        F.one_hot(cr.tensor([0, 2]), 2)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(cr.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        F.one_hot(cr.tensor(np.zeros(0, np.int64)))
    assert F.one_hot(cr.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)


# ------------------------------------------------------------------ channel dropout
def test_dropout2d_drops_whole_channels_and_scales_the_rest():
    cr.manual_seed(2)
    x = cr.ones(100, 40, 3, 2, requires_grad=True)
    y = F.dropout2d(x, 0.25)
    per_channel = y.numpy().reshape(100, 40, -1)
    assert (per_channel == per_channel[..., :1]).all()  # all or nothing per channel
    kept = per_channel[..., 0] != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(per_channel[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, y.numpy() != 0)
    assert not F.dropout2d(x, 1.0).numpy().any()
    d = nn.Dropout2d(0.5)
    d.eval()
    assert d(x) is x and repr(d) == repr(torch.nn.Dropout2d(0.5))


def test_dropout2d_reads_3d_input_as_pytorch_does_and_checks_p():
    cr.manual_seed(1)
    with pytest.warns(UserWarning, match=r"\(N, C, L\)"):
        y = F.dropout2d(cr.ones(30, 20, 4), 0.5).numpy()
    assert (y == y[..., :1]).all()  # one draw per (N, C) row, as PyTorch
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout2d(1.5)


# ------------------------------------------------------------------ KL divergence
def test_kl_div_mean_warns_as_pytorch_and_batchmean_is_the_divergence():
    q, p = RNG.dirichlet(np.ones(5), 4), RNG.dirichlet(np.ones(5), 4)
    with pytest.warns(UserWarning, match="batchmean"):
        mean = F.kl_div(cr.tensor(np.log(q)), cr.tensor(p))
    with pytest.warns(UserWarning):
        tmean = TF.kl_div(torch.tensor(np.log(q)), torch.tensor(p))
    _close(mean.numpy(), tmean.numpy(), "mean")
    per_sample = (p * np.log(p / q)).sum(1)  # the textbook KL(P || Q) per sample
    kl = nn.KLDivLoss(reduction="batchmean")(cr.tensor(np.log(q)), cr.tensor(p))
    _close(kl.numpy(), per_sample.mean(), "batchmean")
    with pytest.raises(ValueError, match="batchmean"):
        F.kl_div(cr.tensor(q), cr.tensor(p), reduction="average")
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(5,\)"):
        F.kl_div(cr.tensor(np.log(q)), cr.tensor(p[0]), reduction="sum")


# ------------------------------------------------------------------ errors, as PyTorch raises them
ERRORS = [
    ("group_norm groups", lambda L: L.group_norm(L.ones(2, 6, 4), 4), "num_groups=4"),
    ("instance_norm one position", lambda L: L.instance_norm(L.ones(2, 3, 1, 1)), "more than 1"),
    ("prelu slopes", lambda L: L.prelu(L.ones(2, 4, 3), L.ones(3)), "channels"),
    ("hardtanh bounds", lambda L: L.hardtanh(L.ones(3), 1.0, -1.0), "greater than max_val"),
    (
        "cosine int inputs",
        lambda L: L.cosine_similarity(L.tensor([1, 2]), L.tensor([1, 2]), dim=0),
        "floating",
    ),
]


class _Torch:
    """PyTorch's functional namespace with its factories, for the error table."""

    def __getattr__(self, name):
        return getattr(TF, name, None) or getattr(torch, name)


class _Mine:
    def __getattr__(self, name):
        return getattr(F, name, None) or getattr(cr, name)


@pytest.mark.parametrize(
    ("make", "match"), [(m, r) for _, m, r in ERRORS], ids=[n for n, _, _ in ERRORS]
)
def test_bad_arguments_raise_where_pytorch_raises(make, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((RuntimeError, ValueError, TypeError, IndexError, NotImplementedError)):
            make(_Torch())
    with pytest.raises(
        (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError), match=match
    ):
        make(_Mine())


def test_layer_constructors_check_their_arguments():
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="greater than min_val"):
        nn.Hardtanh(1.0, -1.0)


def test_repr_of_new_modules_matches_pytorch():
    for make in [
        lambda M: M.GroupNorm(3, 6, affine=False),
        lambda M: M.InstanceNorm2d(3, momentum=None, track_running_stats=True),
        lambda M: M.Embedding(10, 3, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True),
        lambda M: M.PReLU(3),
        lambda M: M.Hardtanh(-2, 3, inplace=True),
        lambda M: M.ReLU6(True),
        lambda M: M.Mish(),
        lambda M: M.Dropout2d(0.2, True),
    ]:
        assert repr(make(nn)) == repr(make(torch.nn))
