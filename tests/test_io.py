"""cr.save / cr.load: exact round trips, damaged and foreign files refused, atomic writes."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import random
import struct
import subprocess
import sys

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


# ------------------------------------------------------------------ crafted headers
def _forged(header, data: bytes = b"", length=None) -> bytes:
    """A file's bytes with ``header`` (an object, dumped as JSON, or raw bytes) and a
    correct checksum: what an attacker, who can recompute a checksum, would write."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(raw) if length is None else length
    body = io.MAGIC + struct.pack("<Q", n) + raw + data
    return body + hashlib.sha256(body).digest()


def _forge(path, header, data: bytes = b"", length=None):
    path.write_bytes(_forged(header, data, length))
    return path


def _arr(dtype="<f4", shape=(2,), offset=0, tensor=False):
    return {"array": {"dtype": dtype, "shape": list(shape), "offset": offset, "tensor": tensor}}


def _tree_of(*nodes):
    return {"version": 1, "tree": {"list": list(nodes)}}


_EIGHT = bytes(8)  # the data block of two float32 values
_CRAFTED = [
    (b'{"version":1,"tree":NaN}', "", "NaN, which JSON does not define"),
    (b'{"version":1,"tree":-Infinity}', "", "-Infinity, which JSON does not define"),
    (b'{"version":1,"tree":1e400}', "", "1e400 overflows a float"),
    (b'{"version":1,"version":1,"tree":1}', "", "'version' appears twice"),
    (b'{"version":1,"tree":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "", "nests more than"),
    (b'{"version":1,"tree":' + b"9" * 5000 + b"}", "", "not valid JSON"),
    (b'{"version":1,"tree":1', "", "not valid JSON"),
    (b'{"version":1,"tree":"\xff"}', "", "not UTF-8"),
    ([1, 2], "", 'the header is the object {"version": 1'),
    ({"version": 1}, "", 'the header is the object {"version": 1'),
    ({"version": 1, "tree": 1, "extra": 0}, "", 'the header is the object {"version": 1'),
    ({"version": True, "tree": 1}, "", "format version true"),
    ({"version": 2, "tree": 1}, "", "format version 2"),
    ({"version": 1, "tree": [1, 2]}, "", "neither a plain value nor a one-key tag"),
    ({"version": 1, "tree": {"list": [], "dict": []}}, "", "neither a plain value"),
    ({"version": 1, "tree": {"set": [1]}}, "", "unknown tag 'set'"),
    ({"version": 1, "tree": {"list": 3}}, "", "a 'list' tag holds a list, not 3"),
    ({"version": 1, "tree": {"dict": [["a"]]}}, "", "a dict entry is a [key, value] pair"),
    ({"version": 1, "tree": {"dict": [[1.5, 0]]}}, "", "a dict entry is a [key, value] pair"),
    ({"version": 1, "tree": {"dict": [[True, 0]]}}, "", "a dict entry is a [key, value] pair"),
    ({"version": 1, "tree": {"dict": [["a", 1], ["a", 2]]}}, "", "has the key 'a' twice"),
    ({"version": 1, "tree": {"float": "NaN"}}, "", 'holds "nan", "inf" or "-inf", not "NaN"'),
    ({"version": 1, "tree": {"float": 1.0}}, "", 'holds "nan", "inf" or "-inf"'),
    (_tree_of(_arr(dtype=",f4")), _EIGHT, 'has the dtype ",f4"; the format holds |b1'),
    (_tree_of(_arr(dtype="<c8", shape=(1,))), _EIGHT, 'dtype "<c8"'),
    (_tree_of(_arr(dtype="|O8")), _EIGHT, 'dtype "|O8"'),
    (_tree_of(_arr(dtype=">f4")), _EIGHT, 'dtype ">f4"'),
    (_tree_of(_arr(dtype=["<f4"])), _EIGHT, 'dtype ["<f4"]'),
    (_tree_of({"array": [1]}), _EIGHT, "needs exactly the fields dtype, shape, offset"),
    (_tree_of({"array": {"dtype": "<f4", "shape": [2]}}), _EIGHT, "needs exactly the fields"),
    (_tree_of(_arr(shape=(-2,))), _EIGHT, "the shape [-2]; a shape is a list"),
    (_tree_of(_arr(shape=(2.0,))), _EIGHT, "the shape [2.0]"),
    (_tree_of(_arr(shape=(True, 2))), _EIGHT, "the shape [true, 2]"),
    (_tree_of(_arr(shape=[1] * 65)), _EIGHT, "at most 64 non-negative integers"),
    (_tree_of(_arr(shape=(0, 2**62, 2))), b"", "too large for NumPy to represent"),
    (_tree_of(_arr(shape=(10**9, 10**9))), _EIGHT, "needs bytes 0 to 4000000000000000000"),
    (_tree_of(_arr(tensor="yes")), _EIGHT, 'tensor="yes"'),
    (_tree_of(_arr(offset=0.0)), _EIGHT, "starts at byte 0.0"),
    (_tree_of(_arr(offset=-4)), _EIGHT, "starts at byte -4"),
    (_tree_of(_arr(offset=2)), _EIGHT, "starts at byte 2 of the data block, but the arrays"),
    (_tree_of(_arr(shape=(1,)), _arr(shape=(1,))), _EIGHT, "starts at byte 0 of the data"),
    (_tree_of(_arr(shape=(1,)), _arr(shape=(1,), offset=8)), _EIGHT + _EIGHT, "at byte 8"),
    (
        _tree_of(_arr()),
        _EIGHT + b"\0",
        "the arrays end at byte 8 of the data block, but it holds 9",
    ),
    (_tree_of(_arr(shape=(3,))), _EIGHT, "needs bytes 0 to 12 of the data block, which holds 8"),
    (_tree_of(_arr(dtype="|b1", shape=(2,))), b"\x01\x02", "holds bytes other than 0 and 1"),
    (
        {"version": 1, "tree": json.loads('{"list":[' * 65 + "]}" * 65)},
        "",
        "more than 64 deep",
    ),
]


@pytest.mark.parametrize(("header", "data", "message"), _CRAFTED)
def test_crafted_headers_are_refused_with_one_error_that_names_the_problem(
    tmp_path, header, data, message
):
    path = _forge(tmp_path / "forged.chainrule", header, data or b"")
    with pytest.raises(io.FormatError) as err:
        cr.load(path)
    assert type(err.value) is io.FormatError
    assert str(err.value).startswith(f"load: {str(path)!r} is malformed: ")
    assert message in str(err.value)


def test_header_length_and_size_caps(tmp_path):
    path = _forge(tmp_path / "f", {"version": 1, "tree": 1}, length=io.MAX_HEADER + 1)
    with pytest.raises(io.FormatError, match="declares a header of 104857601 bytes"):
        cr.load(path)
    with pytest.raises(ValueError, match="more than 64 deep"):
        nested = []
        for _ in range(65):
            nested = [nested]
        cr.save(nested, tmp_path / "deep")
    with pytest.raises(TypeError, match="cannot store an array of dtype complex128"):
        cr.save(np.ones(2, dtype=complex), tmp_path / "c")
    assert not (tmp_path / "deep").exists() and not (tmp_path / "c").exists()


def test_the_deepest_tree_save_writes_loads_back(tmp_path):
    nested = np.ones(2)
    for _ in range(64):
        nested = [nested]
    cr.save(nested, tmp_path / "deep")
    _assert_same(nested, cr.load(tmp_path / "deep"))


def _canonical(header: bytes) -> str:
    return json.dumps(json.loads(header), sort_keys=True, separators=(",", ":"))


def _split(raw: bytes) -> tuple[bytes, bytes]:
    (n,) = struct.unpack("<Q", raw[8:16])
    return raw[16 : 16 + n], raw[16 + n : -32]


_POOL = [None, True, False, 0, 1, -1, 7, 2.5, -0.0, 10**20, "", "x", "<f8", "|b1", "nan",
         [], {}, [1], {"list": []}, {"float": "inf"}, {"tuple": [1]}, {"dict": [["k", 1]]},
         [0, 10**18], [-1], [2.0], 1e300]  # fmt: skip
_BYTES = b'{}[],:"0123456789.-eE+ tfnaulrsy\\'


def _mutate(header: bytes, rng) -> bytes:
    """One random edit of a header: a JSON value replaced, nudged, dropped or duplicated,
    or (one time in four) a raw byte inserted, dropped or replaced."""
    if rng.random() < 0.25:
        i = rng.randrange(len(header) + 1)
        edit = rng.randrange(3)
        new = bytes([rng.choice(_BYTES)])
        if edit == 0:
            return header[:i] + new + header[i:]
        return header[:i] + (new if edit == 1 else b"") + header[i + 1 :]
    tree = json.loads(header)
    slots = []  # (container, key) of every value in the tree

    def walk(node):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            slots.append((node, key))
            if isinstance(value, dict | list):
                walk(value)

    walk(tree)
    node, key = rng.choice(slots)
    value = node[key]
    edit = rng.randrange(5)
    if edit == 0:
        node[key] = copy.deepcopy(rng.choice(_POOL))
    elif edit == 1 and isinstance(value, int | float) and not isinstance(value, bool):
        node[key] = rng.choice([value + 1, value - 1, -value, value * 2, value + 0.5, 2**64])
    elif edit == 2 and isinstance(node, list):
        del node[key]
    elif edit == 3 and isinstance(node, list):
        node.insert(key, copy.deepcopy(value))
    elif isinstance(node, dict):
        del node[key]
        node[rng.choice([key, "dtype", "list", "extra"])] = value
    else:
        node[key] = copy.deepcopy(rng.choice(_POOL))
    return json.dumps(tree, separators=(",", ":")).encode()


def test_fuzzed_headers_load_exactly_or_raise_format_error(tmp_path):
    """Thousands of random header edits, each with a recomputed checksum: every load either
    raises FormatError, or returns a value that, saved again, gives the edited file's
    header (as JSON) and the same data bytes: nothing is dropped, invented or reread."""
    rng = random.Random(12)
    original = tmp_path / "original"
    cr.save(_tree(), original)
    header, data = _split(original.read_bytes())
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(3000):
        edited = _mutate(header, rng)
        try:  # what cr.load does with the file's bytes, without the file
            value = io._deserialize(_forged(edited, data), "forged")
        except io.FormatError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        header2, data2 = _split(io._serialize(value))  # what cr.save writes, without the fsync
        assert _canonical(header2) == _canonical(edited) and data2 == data, edited
    assert min(outcomes.values()) > 300, outcomes  # both outcomes well exercised


def test_train_resume_from_a_forged_file_is_one_line_and_no_traceback(tmp_path):
    forged = _forge(tmp_path / "forged.chainrule", b'{"version":1,"tree":{"dict":[["kind",NaN]]}}')
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "train", "--resume", str(forged)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("chainrule: error: load: ") and "is malformed" in proc.stderr


# ------------------------------------------------------------------ killed saves
def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "c.chainrule"
    script = (
        "import os, signal, sys, chainrule as cr\n"
        "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # killed mid-save\n"
        "cr.save({'w': list(range(10))}, sys.argv[1])\n"
    )
    for _ in range(3):  # each killed save removes the one before's temporary first
        proc = subprocess.Popen([sys.executable, "-c", script, str(target)])
        assert proc.wait() == -9
        (left,) = tmp_path.iterdir()
        assert left.name.startswith(f".c.chainrule.{proc.pid}.") and left.name.endswith(".tmp")
    cr.save({"version": 2}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["c.chainrule"]
    assert cr.load(target) == {"version": 2}


def test_only_the_targets_own_dead_temporaries_are_removed(tmp_path):
    dead = 2**22 + 12345  # above Linux's largest process id: no such process
    stale = [f".c.chainrule.{dead}.abcdefgh.tmp", f".c.chainrule.{dead}.a1_b2c3d.tmp"]
    kept = [
        f".c.chainrule.{os.getpid()}.abcdefgh.tmp",  # a live process may still be writing
        f".c.chainrule.{os.getppid()}.abcdefgh.tmp",
        f".c.chainrule.bak.{dead}.abcdefgh.tmp",  # another target's
        f".other.{dead}.abcdefgh.tmp",
        f"c.chainrule.{dead}.abcdefgh.tmp",
        f".c.chainrule.{dead}.abcdefgh.tmp.keep",
        f".c.chainrule.x{dead}.abcdefgh.tmp",
        ".c.chainrule.abcdefgh.tmp",
        "notes.txt",
    ]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    cr.save({"a": 1}, tmp_path / "c.chainrule")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "c.chainrule"])
