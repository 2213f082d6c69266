"""cr.save / cr.load: exact round trips, damaged and foreign files refused, atomic writes."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import io


def _tree():
    return {
        "weights": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        "doubles": np.array([1 / 3, -0.0, np.nan, np.inf, -np.inf, 5e-324]),
        "ints": np.array([[-(2**62), 2**62]], dtype=np.int64),
        "small": np.array([1, 2, 250], dtype=np.uint8),
        "mask": np.array([True, False]),
        "scalar array": np.float64(2.5),
        "tensor": cr.tensor([1.5, 2.5]),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "state": {0: {"step": 3.0, "exp_avg": np.ones(2)}, 7: None},
        "groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False}],
        "rng": cr.random.get_rng_state(),
        "numbers": [1, -2.5, float("nan"), float("inf"), 10**30, "text", "", None, True],
    }


def _assert_same(a, b):
    if isinstance(a, dict):  # an OrderedDict comes back as a dict, in the same order
        assert isinstance(b, dict)
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, cr.Tensor):
        assert a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert (
            np.asarray(a).tobytes() == np.asarray(b).tobytes()
        )  # bit for bit, nan and -0.0 included
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b)
    else:
        assert type(a) is type(b) and a == b


def test_round_trip_is_exact(tmp_path):
    tree = _tree()
    cr.save(tree, tmp_path / "t.chainrule")
    _assert_same(tree, cr.load(tmp_path / "t.chainrule"))


def test_model_and_optimizer_state_round_trip(tmp_path):
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4))
    opt = cr.optim.Adam(model.parameters(), amsgrad=True)
    model(cr.randn(5, 3)).sum().backward()
    opt.step()
    cr.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "c")
    back = cr.load(tmp_path / "c")
    _assert_same(model.state_dict(), back["model"])
    _assert_same(opt.state_dict(), back["opt"])


def test_every_flipped_byte_is_detected(tmp_path):
    path = tmp_path / "t.chainrule"
    cr.save({"w": np.arange(50, dtype=np.float64), "name": "x"}, path)
    good = path.read_bytes()
    positions = [0, 5, 9, 16, 30, len(good) // 2, len(good) - 40, len(good) - 1]
    for i in range(8, len(good), 7):
        positions.append(i)
    for pos in sorted(set(positions)):
        bad = bytearray(good)
        bad[pos] ^= 0x01
        path.write_bytes(bytes(bad))
        with pytest.raises(io.FormatError):  # ChecksumError is a FormatError
            cr.load(path)
    path.write_bytes(good)
    assert cr.load(path)["name"] == "x"


@pytest.mark.parametrize("keep", [0, 5, 8, 20, -1, -33])
def test_truncated_files_are_detected(tmp_path, keep):
    path = tmp_path / "t.chainrule"
    cr.save({"w": np.ones(40)}, path)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(io.FormatError, match=r"truncated|corrupted|not a chainrule file"):
        cr.load(path)


def test_a_flipped_data_byte_names_the_checksum(tmp_path):
    path = tmp_path / "t.chainrule"
    cr.save({"w": np.ones(40)}, path)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(io.ChecksumError, match="SHA-256 checksum does not match"):
        cr.load(path)


def test_pickles_and_foreign_files_are_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"a": Boom()}))
    with pytest.raises(
        io.FormatError, match="a Python pickle; chainrule only reads its own format"
    ):
        cr.load(tmp_path / "p.pkl")
    assert not (tmp_path / "pwned").exists()
    torch.save({"w": torch.ones(2)}, tmp_path / "m.pt")
    with pytest.raises(io.FormatError, match="zip archive"):
        cr.load(tmp_path / "m.pt")
    np.save(tmp_path / "a.npy", np.ones(2))
    with pytest.raises(io.FormatError, match=r"NumPy \.npy"):
        cr.load(tmp_path / "a.npy")
    (tmp_path / "text").write_text("hello")
    with pytest.raises(io.FormatError, match="not a chainrule file"):
        cr.load(tmp_path / "text")
    with pytest.raises(FileNotFoundError, match="there is no file"):
        cr.load(tmp_path / "missing")


def test_unsupported_content_writes_nothing(tmp_path):
    path = tmp_path / "x.chainrule"
    with pytest.raises(TypeError, match=r"cannot store a set at the top level\['bad'\]"):
        cr.save({"bad": {1, 2}}, path)
    with pytest.raises(TypeError, match="dict keys"):
        cr.save({(1, 2): 3}, path)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.chainrule"
    cr.save({"version": 1}, path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        cr.save({"version": 2}, path)
    monkeypatch.undo()
    assert cr.load(path) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.chainrule"]

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        cr.save({"version": 3}, path)
    monkeypatch.undo()
    assert cr.load(path) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.chainrule"]


def test_save_needs_an_existing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cr.save({"a": 1}, tmp_path / "missing" / "x.chainrule")


def test_saved_files_get_ordinary_permissions(tmp_path):
    cr.save({"a": 1}, tmp_path / "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o666 & ~mask
