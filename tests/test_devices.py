"""Devices: the CPU, honestly. PyTorch's device words are accepted, any device other than
the CPU raises a clear error, and the answers tutorials branch on are those of a machine
without a GPU (which is what torch says here, a CPU-only build)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

NOT_HERE = ["cuda", "cuda:0", "mps", cr.device("cuda", 1)]


def _torch_device(d):
    return torch.device(str(d)) if isinstance(d, cr.device) else d


@pytest.mark.parametrize(
    "args", [("cpu",), ("cpu", 0), ("cpu:0",), ("cuda",), ("cuda:1",), ("cuda", 2), ("mps",)]
)
def test_device_describes_as_pytorch(args):
    mine, theirs = cr.device(*args), torch.device(*args)
    assert (mine.type, mine.index) == (theirs.type, theirs.index)
    assert str(mine) == str(theirs) and repr(mine) == repr(theirs)
    assert cr.device(mine) == mine and hash(cr.device(*args)) == hash(mine)
    assert pickle.loads(pickle.dumps(mine)) == mine


def test_device_equality_as_pytorch():
    assert (cr.device("cpu") == cr.device("cpu:0")) == (
        torch.device("cpu") == torch.device("cpu:0")
    )
    assert (cr.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")
    assert cr.zeros(2).device == cr.device("cpu") and torch.zeros(2).device == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:-1"])
def test_malformed_device_strings_raise(bad):
    with pytest.raises(RuntimeError):
        torch.device(bad)
    with pytest.raises(RuntimeError, match="device"):
        cr.device(bad)


def test_a_bare_number_or_a_negative_index_raise():
    with pytest.raises(RuntimeError):
        torch.device(0)
    with pytest.raises(RuntimeError, match="CPU only"):
        cr.device(0)
    with pytest.raises(RuntimeError):
        torch.device("cuda", -1)
    with pytest.raises(RuntimeError, match="negative"):
        cr.device("cuda", -1)


def test_the_questions_tutorials_ask():
    assert cr.cuda.is_available() is torch.cuda.is_available() is False
    assert cr.cuda.device_count() == torch.cuda.device_count() == 0
    assert cr.accelerator.is_available() is torch.accelerator.is_available() is False
    assert cr.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert cr.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert cr.backends.mps.is_built() is False
    assert cr.backends.cudnn.is_available() is False
    assert cr.backends.cudnn.deterministic == torch.backends.cudnn.deterministic
    assert cr.backends.cudnn.benchmark == torch.backends.cudnn.benchmark
    cr.cuda.manual_seed(1)  # accepted and ignored, as torch without CUDA
    cr.cuda.manual_seed_all(1)
    # The idioms, which must land on the CPU.
    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    assert device == cr.device("cpu")
    if cr.accelerator.is_available():  # pragma: no cover - never here
        device = cr.accelerator.current_accelerator()
    assert str(device) == "cpu"
    assert cr.cuda.is_available() & (cr.device("cuda").index is not None) is False


FACTORIES = [
    ("tensor", lambda L, d: L.tensor([1.0, 2.0], device=d)),
    ("zeros", lambda L, d: L.zeros(2, 3, device=d)),
    ("ones", lambda L, d: L.ones(2, device=d)),
    ("full", lambda L, d: L.full((2,), 7.0, device=d)),
    ("empty", lambda L, d: L.empty(2, device=d)),
    ("rand", lambda L, d: L.rand(2, device=d)),
    ("randn", lambda L, d: L.randn(2, device=d)),
    ("randint", lambda L, d: L.randint(0, 5, (2,), device=d)),
    ("randperm", lambda L, d: L.randperm(4, device=d)),
    ("arange", lambda L, d: L.arange(4, device=d)),
    ("linspace", lambda L, d: L.linspace(0, 1, 5, device=d)),
    ("eye", lambda L, d: L.eye(3, device=d)),
    ("zeros_like", lambda L, d: L.zeros_like(L.ones(2), device=d)),
    ("ones_like", lambda L, d: L.ones_like(L.ones(2), device=d)),
    ("full_like", lambda L, d: L.full_like(L.ones(2), 3.0, device=d)),
    ("rand_like", lambda L, d: L.rand_like(L.ones(2), device=d)),
    ("randn_like", lambda L, d: L.randn_like(L.ones(2), device=d)),
    ("randint_like", lambda L, d: L.randint_like(L.ones(2), 5, device=d)),
    ("as_tensor", lambda L, d: L.as_tensor([1.0], device=d)),
]


@pytest.mark.parametrize(("name", "make"), FACTORIES, ids=[f[0] for f in FACTORIES])
def test_every_factory_takes_the_cpu_and_refuses_other_devices(name, make):
    for dev in ("cpu", "cpu:0", cr.device("cpu"), None):
        mine = make(cr, dev)
        theirs = make(torch, _torch_device(dev))
        assert mine.device == cr.device("cpu") and tuple(mine.shape) == tuple(theirs.shape)
        assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "cr.")
    for dev in NOT_HERE:
        with pytest.raises(RuntimeError, match=rf"{name}: chainrule runs on the CPU only"):
            make(cr, dev)


def test_to_in_all_of_pytorchs_forms():
    x = cr.tensor([1.5, -2.0])
    tx = torch.tensor([1.5, -2.0])
    forms = [
        ((), {}),
        (("cpu",), {}),
        ((cr.device("cpu"),), {}),
        ((cr.float64,), {}),
        (("cpu", cr.float64), {}),
        (("cpu",), {"dtype": cr.int64}),
        ((), {"device": "cpu", "dtype": cr.float16}),
        ((cr.ones(1, dtype=cr.int32),), {}),
        ((cr.float32,), {"copy": True}),
        (("cpu", cr.float32, False, True), {}),
        (("cpu",), {"non_blocking": True}),
    ]

    def torchify(v):
        if isinstance(v, cr.dtype):
            return getattr(torch, v.name)
        if isinstance(v, cr.device):
            return torch.device(str(v))
        if isinstance(v, cr.Tensor):
            return torch.from_numpy(v.numpy())
        return v

    for args, kwargs in forms:
        mine = x.to(*args, **kwargs)
        theirs = tx.to(*[torchify(a) for a in args], **{k: torchify(v) for k, v in kwargs.items()})
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
        assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "cr.")
        assert (mine is x) == (theirs is tx), (args, kwargs)
    assert x.cpu() is x and tx.cpu() is tx
    assert x.is_cpu and not x.is_cuda and tx.is_cpu and not tx.is_cuda


def test_to_is_differentiable_and_to_another_device_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cpu", cr.float64)
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert x.grad.dtype is cr.float32
    for dev in NOT_HERE:
        with pytest.raises(RuntimeError, match="to: chainrule runs on the CPU only"):
            x.to(dev)
        with pytest.raises(RuntimeError, match="CPU only"):
            x.to(dev, cr.float64)
    with pytest.raises(RuntimeError, match=r"cuda: .*there is no 'cuda' device"):
        x.cuda()
    with pytest.raises(RuntimeError, match="'cuda:1'"):
        x.cuda(1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(cr.float64, devcie="cpu")


def test_module_to_in_pytorchs_forms():
    torch.manual_seed(0)
    cr.manual_seed(0)
    mine, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    assert mine.to("cpu") is mine and theirs.to("cpu") is theirs
    assert mine.to(cr.device("cpu")) is mine and mine.cpu() is mine
    mine.to("cpu", cr.float64)
    theirs.to("cpu", torch.float64)
    assert str(mine.weight.dtype) == str(theirs.weight.dtype).replace("torch.", "cr.")
    mine.to(cr.ones(1, dtype=cr.float32))
    theirs.to(torch.ones(1, dtype=torch.float32))
    assert str(mine.weight.dtype) == str(theirs.weight.dtype).replace("torch.", "cr.")
    mine.to(device="cpu", dtype=cr.float64)
    assert mine.weight.dtype is cr.float64
    with pytest.raises(TypeError):
        theirs.to(torch.int64)
    with pytest.raises(TypeError, match="floating"):
        mine.to(cr.int64)
    for dev in NOT_HERE:
        with pytest.raises(RuntimeError, match=r"Module\.to: chainrule runs on the CPU only"):
            mine.to(dev)
    with pytest.raises(RuntimeError, match="CPU only"):
        mine.cuda()


def test_default_device():
    assert str(cr.get_default_device()) == str(torch.get_default_device())
    cr.set_default_device("cpu")
    cr.set_default_device(cr.device("cpu"))
    cr.set_default_device(None)
    assert cr.zeros(1).device == cr.device("cpu")
    for dev in NOT_HERE:
        with pytest.raises(RuntimeError, match="set_default_device: chainrule runs on the CPU"):
            cr.set_default_device(dev)
    assert cr.get_default_device() == cr.device("cpu")
