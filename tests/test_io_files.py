"""cr.save / cr.load with PyTorch's calling conventions: file objects, ``map_location``,
``weights_only``, ``mmap``, and a clear refusal to save a whole model or to unpickle."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.io import ChecksumError, FormatError


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def _same_state(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))


def test_a_checkpoint_through_bytesio_as_pytorch():
    model = _model()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    model(cr.randn(5, 3)).sum().backward()
    opt.step()
    for L, m, o in ((cr, model, opt), (torch, None, None)):
        if L is torch:
            m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
            o = torch.optim.Adam(m.parameters(), lr=0.01)
        buffer = io.BytesIO()
        L.save({"model": m.state_dict(), "optimizer": o.state_dict(), "epoch": 3}, buffer)
        buffer.seek(0)
        back = L.load(buffer)
        assert back["epoch"] == 3 and list(back) == ["model", "optimizer", "epoch"]
        assert list(back["model"]) == list(m.state_dict())
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    buffer = io.BytesIO()
    cr.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh.load_state_dict(cr.load(buffer))
    x = cr.randn(2, 3)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_open_files_and_paths_give_the_same_bytes(tmp_path):
    state = _model().state_dict()
    with open(tmp_path / "a.pt", "wb") as fh:
        cr.save(state, fh)
    cr.save(state, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    with open(tmp_path / "b.pt", "rb") as fh:
        _same_state(cr.load(fh), state)
    _same_state(cr.load(str(tmp_path / "a.pt")), state)
    # load reads from the file object's position, as torch.load does.
    buffer = io.BytesIO(b"prefix")
    buffer.seek(0, io.SEEK_END)
    cr.save(state, buffer)
    buffer.seek(len(b"prefix"))
    _same_state(cr.load(buffer), state)


def test_text_mode_file_objects_are_refused(tmp_path):
    with open(tmp_path / "t.txt", "w") as fh, pytest.raises(TypeError, match="'wb'"):
        cr.save({"a": 1}, fh)
    (tmp_path / "t.txt").write_text("hello")
    with open(tmp_path / "t.txt") as fh, pytest.raises(TypeError, match="'rb'"):
        cr.load(fh)


def test_damaged_and_foreign_bytes_from_a_file_object():
    buffer = io.BytesIO()
    cr.save({"w": cr.ones(3)}, buffer)
    damaged = bytearray(buffer.getvalue())
    damaged[-40] ^= 1
    with pytest.raises(ChecksumError, match="the file object"):
        cr.load(io.BytesIO(bytes(damaged)))
    theirs = io.BytesIO()
    torch.save({"w": torch.ones(3)}, theirs)
    theirs.seek(0)
    with pytest.raises(FormatError, match="PyTorch"):
        cr.load(theirs)


@pytest.mark.parametrize(
    "where",
    ["cpu", cr.device("cpu"), "cpu:0", {"cuda:0": "cpu"}, {"cpu": "cpu"}, lambda s, loc: s],
)
def test_map_location_onto_the_cpu(where):
    buffer = io.BytesIO()
    cr.save({"w": cr.ones(2), "n": [cr.zeros(1)]}, buffer)
    buffer.seek(0)
    back = cr.load(buffer, map_location=where)
    assert back["w"].device == cr.device("cpu") and back["w"].tolist() == [1.0, 1.0]
    if where == "cpu:0":
        return  # chainrule takes any CPU index; torch.load does not know "cpu:0"
    theirs = io.BytesIO()
    torch.save({"w": torch.ones(2)}, theirs)
    theirs.seek(0)
    twhere = torch.device(str(where)) if isinstance(where, cr.device) else where
    assert torch.load(theirs, map_location=twhere)["w"].device == torch.device("cpu")


def test_map_location_callable_sees_every_tensor():
    buffer = io.BytesIO()
    cr.save({"w": cr.ones(2), "nested": [cr.zeros(1), (cr.ones(1),)], "k": 3}, buffer)
    buffer.seek(0)
    seen = []
    back = cr.load(buffer, map_location=lambda t, loc: seen.append(loc) or t * 2)
    assert seen == ["cpu"] * 3
    assert back["w"].tolist() == [2.0, 2.0] and back["nested"][1][0].tolist() == [2.0]
    assert isinstance(back["nested"][1], tuple) and back["k"] == 3


@pytest.mark.parametrize("where", ["cuda", "cuda:0", cr.device("mps"), {"cpu": "cuda:0"}])
def test_map_location_to_another_device_raises_as_pytorch(where):
    theirs = io.BytesIO()
    torch.save({"w": torch.ones(2)}, theirs)
    theirs.seek(0)
    if not isinstance(where, cr.device):  # (torch without MPS fails differently there)
        with pytest.raises(RuntimeError):
            torch.load(theirs, map_location=where)
    buffer = io.BytesIO()
    cr.save({"w": cr.ones(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(RuntimeError, match=r"load\(map_location\): chainrule runs on the CPU"):
        cr.load(buffer, map_location=where)


def test_weights_only_and_pickle_options():
    buffer = io.BytesIO()
    cr.save({"w": cr.ones(2)}, buffer)
    for kwargs in ({"weights_only": True}, {"weights_only": None}, {"mmap": True}, {}):
        buffer.seek(0)
        assert cr.load(buffer, **kwargs)["w"].tolist() == [1.0, 1.0]
    buffer.seek(0)
    with pytest.raises(ValueError, match=r"weights_only=False is not supported.*never unpickles"):
        cr.load(buffer, weights_only=False)
    with pytest.raises(ValueError, match="pickle_module"):
        cr.load(buffer, pickle_module=__import__("pickle"))
    theirs = io.BytesIO()
    torch.save({"w": torch.ones(2)}, theirs)
    theirs.seek(0)
    with pytest.raises(RuntimeError):  # torch refuses a pickle module with weights_only too
        torch.load(theirs, pickle_module=__import__("pickle"), weights_only=True)


def test_saving_a_whole_model_names_the_state_dict(tmp_path):
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1)
    for obj, name in ((model, "Sequential"), (opt, "SGD"), (sched, "StepLR")):
        with pytest.raises(TypeError, match=rf"whole {name} object.*\.state_dict\(\)"):
            cr.save(obj, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"whole Linear object at the top level\['head'\]"):
        cr.save({"head": nn.Linear(2, 2)}, io.BytesIO())
    assert not (tmp_path / "m.pt").exists()  # nothing written
    # PyTorch would pickle it; chainrule points to the form that loads back safely.
    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buffer)
    buffer.seek(0)
    with pytest.raises(Exception, match="weights_only"):
        torch.load(buffer)
