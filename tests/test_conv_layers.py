"""The convolution family as modules against PyTorch (weights copied through
load_state_dict): Conv1d, grouped and padded Conv2d, ConvTranspose2d, 1-D and adaptive
pooling, Upsample; values, input and parameter gradients, reprs, default
initialisation, and errors for bad arguments. The functionals' gradchecks and parity run
from the op table (testing/conv_opinfo.py)."""

from __future__ import annotations

import math
import re
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
    ("conv1d", lambda M: M.Conv1d(3, 4, 3), (2, 3, 9)),
    ("conv1d strided, grouped", lambda M: M.Conv1d(4, 6, 3, 2, 1, groups=2), (2, 4, 9)),
    ("conv1d same, even kernel", lambda M: M.Conv1d(3, 2, 4, padding="same"), (2, 3, 7)),
    (
        "conv1d reflect, unbatched",
        lambda M: M.Conv1d(3, 2, 3, padding=2, padding_mode="reflect"),
        (3, 8),
    ),
    ("conv2d groups", lambda M: M.Conv2d(4, 6, 3, groups=2), (2, 4, 6, 5)),
    ("conv2d depthwise", lambda M: M.Conv2d(3, 6, 3, stride=2, padding=1, groups=3), (2, 3, 7, 6)),
    ("conv2d same, odd total", lambda M: M.Conv2d(2, 3, (2, 4), padding="same"), (1, 2, 5, 6)),
    (
        "conv2d circular",
        lambda M: M.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
        (2, 2, 5, 4),
    ),
    (
        "conv2d replicate",
        lambda M: M.Conv2d(2, 3, 3, padding=(2, 1), padding_mode="replicate"),
        (1, 2, 4, 4),
    ),
    ("conv transpose", lambda M: M.ConvTranspose2d(3, 2, 3), (2, 3, 4, 5)),
    (
        "conv transpose stride 2",
        lambda M: M.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        (2, 4, 4, 3),
    ),
    (
        "conv transpose dilated",
        lambda M: M.ConvTranspose2d(2, 2, 2, dilation=2, bias=False),
        (2, 3, 3),
    ),
    ("max pool 1d", lambda M: M.MaxPool1d(3, 2, 1), (2, 3, 9)),
    ("avg pool 1d", lambda M: M.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 9)),
    ("adaptive avg pool", lambda M: M.AdaptiveAvgPool2d((2, 3)), (2, 3, 5, 7)),
    ("adaptive avg pool global", lambda M: M.AdaptiveAvgPool2d(1), (2, 3, 4, 4)),
    ("adaptive max pool", lambda M: M.AdaptiveMaxPool2d((3, None)), (2, 3, 5, 4)),
    ("upsample nearest", lambda M: M.Upsample(scale_factor=2), (1, 2, 3, 3)),
    (
        "upsample bilinear",
        lambda M: M.Upsample(size=(5, 4), mode="bilinear", align_corners=True),
        (1, 2, 3, 3),
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


def test_conv_transpose_output_size_picks_the_output_padding():
    mine, theirs = _pair(lambda M: M.ConvTranspose2d(2, 3, 3, stride=3, padding=1))
    x = RNG.standard_normal((2, 2, 3, 4))
    for size in [(7, 10), (9, 12), [2, 3, 8, 11]]:
        _compare_step(mine, theirs, x, output_size=size)
    with pytest.raises(ValueError, match=r"valid sizes range from \[7, 10\] to \[9, 12\]"):
        mine(cr.tensor(x), output_size=(10, 10))


# ------------------------------------------------------------------ default initialisation
@pytest.mark.parametrize(
    ("make", "fan_in"),
    [
        (lambda M: M.Conv1d(6, 9, 5, groups=3), 2 * 5),
        (lambda M: M.Conv2d(6, 9, 3, groups=3), 2 * 9),
        (lambda M: M.ConvTranspose2d(4, 6, 3, groups=2), 3 * 9),
    ],
    ids=["conv1d", "conv2d groups", "conv transpose"],
)
def test_default_initialisation_follows_pytorch(make, fan_in):
    cr.manual_seed(3)
    mine, theirs = make(nn), make(torch.nn)
    assert mine.weight.shape == tuple(theirs.weight.shape)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), ...)
    for w in (mine.weight.numpy(), theirs.weight.detach().numpy()):
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(mine.bias.numpy()).max() <= bound


# ------------------------------------------------------------------ pooling details
def test_adaptive_max_pool_returns_pytorchs_indices():
    x = RNG.standard_normal((2, 3, 7, 5))
    x[0, 0, :2, :2] = 1.0  # ties
    x[1, 1, 3, 2] = np.nan  # a NaN wins its windows
    for size in [(3, 2), (7, 5), (4, 4), 1]:
        out, idx = F.adaptive_max_pool2d(cr.tensor(x), size, return_indices=True)
        tout, tidx = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        np.testing.assert_array_equal(out.numpy(), tout.numpy())
    out, idx = nn.AdaptiveMaxPool2d(2, return_indices=True)(cr.tensor(x[0]))
    assert idx.shape == (3, 2, 2) and idx.dtype == np.int64


# ------------------------------------------------------------------ errors, as PyTorch raises them
ERRORS = [
    (
        "conv2d channels",
        lambda L: L.conv2d(L.ones(1, 4, 5, 5), L.ones(6, 2, 3, 3), groups=3),
        "6 channels",
    ),
    (
        "conv2d groups divide",
        lambda L: L.conv2d(L.ones(1, 4, 5, 5), L.ones(5, 2, 3, 3), groups=2),
        "divide",
    ),
    (
        "conv transpose output_padding",
        lambda L: L.conv_transpose2d(
            L.ones(1, 2, 3, 3), L.ones(2, 2, 3, 3), stride=2, output_padding=2
        ),
        "output_padding",
    ),
    ("conv1d 4-D input", lambda L: L.conv1d(L.ones(1, 2, 3, 4), L.ones(2, 2, 3)), "3-D"),
    ("max_pool1d padding", lambda L: L.max_pool1d(L.ones(1, 2, 5), 2, padding=2), "half"),
    ("pad odd length", lambda L: L.pad(L.ones(2, 3), (1, 2, 3)), "divisible by 2"),
    (
        "pad reflect too wide",
        lambda L: L.pad(L.ones(1, 1, 3, 3), (3, 3, 0, 0), mode="reflect"),
        "less than",
    ),
    (
        "pad reflect wrong rank",
        lambda L: L.pad(L.ones(1, 1, 3, 3), (1, 1), mode="reflect"),
        "2-D or 3-D",
    ),
    (
        "pad circular twice",
        lambda L: L.pad(L.ones(1, 1, 3), (4, 0), mode="circular"),
        "more than once",
    ),
    (
        "pad reflect value",
        lambda L: L.pad(L.ones(1, 3), (1, 1), mode="reflect", value=2.0),
        "value",
    ),
    (
        "interpolate both",
        lambda L: L.interpolate(L.ones(1, 1, 3, 3), size=2, scale_factor=2),
        "only one",
    ),
    ("interpolate neither", lambda L: L.interpolate(L.ones(1, 1, 3, 3)), "either"),
    (
        "interpolate align_corners",
        lambda L: L.interpolate(L.ones(1, 1, 3, 3), size=2, align_corners=True),
        "align_corners",
    ),
    (
        "interpolate bilinear 3-D",
        lambda L: L.interpolate(L.ones(1, 1, 3), size=2, mode="bilinear"),
        "4-D",
    ),
    ("adaptive pool size", lambda L: L.adaptive_avg_pool2d(L.ones(1, 1, 4, 4), (2, 3, 4)), "pair"),
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
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv1d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv1d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect")


def test_repr_of_new_modules_matches_pytorch():
    for make in [
        lambda M: M.Conv1d(
            4, 8, 3, stride=2, padding=1, groups=2, bias=False, padding_mode="reflect"
        ),
        lambda M: M.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, dilation=2),
        lambda M: M.AdaptiveAvgPool2d((2, None)),
        lambda M: M.AdaptiveMaxPool2d(3),
        lambda M: M.MaxPool1d(3, 1, 1, 2),
        lambda M: M.AvgPool1d(3),
        lambda M: M.Upsample(scale_factor=2, mode="bilinear"),
    ]:
        assert repr(make(nn)) == repr(make(torch.nn))


def test_upsample_and_interpolate_scale_conventions():
    x = RNG.standard_normal((1, 1, 5, 7))
    for kwargs in [
        {"scale_factor": 1.7, "mode": "bilinear"},
        {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True},
        {"scale_factor": (0.6, 1.3)},
        {"size": (3, 9), "mode": "nearest-exact"},
        {"size": (2, 3), "mode": "area"},
    ]:
        out = F.interpolate(cr.tensor(x), **kwargs)
        _close(out.numpy(), TF.interpolate(torch.tensor(x), **kwargs).numpy(), str(kwargs))
    assert re.search("bilinear", repr(nn.Upsample(size=3, mode="bilinear")))
