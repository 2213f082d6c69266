r"""``cr.save`` and ``cr.load``: chainrule's file format, which never runs code on load.

What can be saved: nested dicts, lists and tuples of arrays, tensors, numbers, strings,
booleans and None; a model's or an optimizer's ``state_dict``, or a whole training
checkpoint. Dict keys may be strings or integers (an optimizer's state is keyed by
parameter index).

The format, version 1 (all integers little-endian)::

    offset  size  content
    0       8     magic b"CHAINRL1"
    8       8     n = length of the header, in bytes
    16      n     header: UTF-8 JSON, the object tree (see below)
    16+n    m     the arrays' raw bytes, one after another, C order, little-endian
    end-32  32    SHA-256 of every byte before it

In the header, JSON numbers, strings, booleans and null stand for themselves; every other
value is an object with one tag: ``{"dict": [[key, value], ...]}``, ``{"list": [...]}``,
``{"tuple": [...]}``, and ``{"array": {"dtype": "<f4", "shape": [2, 3], "offset": 0,
"tensor": false}}`` with the offset counted from the start of the array block.
Non-finite floats are written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` inside
``{"float": ...}``.

Loading checks the magic, the length and the checksum before reading anything, so a
flipped or missing byte is reported as corruption, and a pickle or a PyTorch ``.pt`` file
is recognised and refused (chainrule never unpickles). Saving to a path is atomic: the
bytes go to a temporary file in the same directory, which is flushed, synced to disk and
renamed over the target, so a crash leaves either the old file or the new one, never half
of one.

Both take a path or, as PyTorch's ``torch.save``/``torch.load`` do, a binary file object
(``io.BytesIO``, ``open(path, "wb")``): ``save`` writes the whole file with one
``write`` at the object's position (atomicity is then the caller's), ``load`` reads from
the object's position to its end. ``load`` accepts PyTorch's ``map_location``,
``weights_only`` and ``mmap``: every tensor loads on the CPU, the only device there is;
``weights_only`` is always true in effect, since the format holds nothing but data, and
asking for ``weights_only=False`` (unpickling arbitrary objects) is refused. A whole
model or optimizer object cannot be saved (only data can): save its ``state_dict()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from chainrule._backend import to_numpy, xp
from chainrule.devices import check_device
from chainrule.tensor import Tensor, _make

__all__ = ["ChecksumError", "FormatError", "atomic_write_bytes", "load", "save"]

MAGIC = b"CHAINRL1"
_DIGEST = 32


class FormatError(ValueError):
    """The file is not a chainrule file (or not one this version can read)."""


class ChecksumError(FormatError):
    """The file is a chainrule file whose bytes were changed or cut short."""


# --------------------------------------------------------------------------- encoding
class _Writer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.offset = 0

    def encode(self, obj, where: str):
        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, Tensor):
            return self._array(to_numpy(obj._array), where, tensor=True)
        # NumPy scalars (np.float64 is a float) keep their dtype: stored as 0-d arrays.
        if isinstance(obj, np.ndarray | np.generic) or (
            xp is not np and isinstance(obj, xp.ndarray)
        ):
            return self._array(np.asarray(to_numpy(obj)), where, tensor=False)
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, str | int) or isinstance(k, bool):
                    raise TypeError(
                        f"save: dict keys must be strings or integers, got {k!r} at {where}"
                    )
                items.append([k, self.encode(v, f"{where}[{k!r}]")])
            return {"dict": items}
        if isinstance(obj, list):
            return {"list": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if callable(getattr(obj, "state_dict", None)):  # a model, an optimizer, a scheduler
            raise TypeError(
                f"save: cannot store a whole {type(obj).__name__} object at {where}: chainrule "
                "files hold data, never code or objects (that needs pickle, which can run "
                "anything on load). Save its state instead, cr.save(obj.state_dict(), path), "
                "and restore it with obj.load_state_dict(cr.load(path)) into an object built "
                "by the same code"
            )
        raise TypeError(
            f"save: cannot store a {type(obj).__name__} at {where}; only dicts, lists, tuples, "
            "arrays, tensors, numbers, strings, booleans and None can be saved"
        )

    def _array(self, arr: np.ndarray, where: str, tensor: bool) -> dict:
        if arr.dtype.kind not in "biuf" or arr.dtype.hasobject:
            raise TypeError(f"save: cannot store an array of dtype {arr.dtype} at {where}")
        little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        data = np.ascontiguousarray(little).tobytes()
        entry = {
            "dtype": little.dtype.str,
            "shape": list(arr.shape),
            "offset": self.offset,
            "tensor": tensor,
        }
        self.chunks.append(data)
        self.offset += len(data)
        return {"array": entry}


def _serialize(obj) -> bytes:
    writer = _Writer()
    tree = writer.encode(obj, "the top level")
    header = json.dumps({"version": 1, "tree": tree}, separators=(",", ":")).encode("utf-8")
    body = MAGIC + struct.pack("<Q", len(header)) + header + b"".join(writer.chunks)
    return body + hashlib.sha256(body).digest()


def _file_mode(path: Path) -> int:
    """The permissions a new file at ``path`` would get: the old file's, or 0666 - umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never half-written: a temporary file
    in the same directory is written, flushed, synced to disk and renamed over ``path``.
    If anything fails, the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"the directory {str(directory)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; give what a plain open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save(obj, f) -> None:
    """Write ``obj`` to ``f``, a path (atomically) or a binary file object, in the format
    described in this module."""
    data = _serialize(obj)  # serialising first: bad content touches no file
    if hasattr(f, "write"):
        if isinstance(f, io.TextIOBase):
            raise TypeError("save: the file object is open in text mode; open it with 'wb'")
        f.write(data)
        return
    atomic_write_bytes(f, data)


# --------------------------------------------------------------------------- decoding
def _identify(head: bytes) -> str:
    if head[:1] == b"\x80":
        return "a Python pickle"
    if head[:2] == b"PK":
        return "a zip archive (a PyTorch .pt/.pth file or a NumPy .npz?)"
    if head[:6] == b"\x93NUMPY":
        return "a NumPy .npy file"
    return "not a chainrule file"


def _decode(node, blob: memoryview, where: str):
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise FormatError(f"load: malformed entry at {where}")
    ((tag, value),) = node.items()
    if tag == "dict":
        return {k: _decode(v, blob, f"{where}[{k!r}]") for k, v in value}
    if tag == "list":
        return [_decode(v, blob, f"{where}[{i}]") for i, v in enumerate(value)]
    if tag == "tuple":
        return tuple(_decode(v, blob, f"{where}[{i}]") for i, v in enumerate(value))
    if tag == "float":
        return float(value)
    if tag == "array":
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise FormatError(f"load: unsupported dtype {value['dtype']!r} at {where}")
        shape = tuple(int(s) for s in value["shape"])
        start = int(value["offset"])
        end = start + dtype.itemsize * math.prod(shape)
        if start < 0 or end > len(blob):
            raise FormatError(f"load: the array at {where} lies outside the file's data")
        arr = np.frombuffer(blob[start:end], dtype=dtype).reshape(shape)
        arr = arr.astype(dtype.newbyteorder("="), copy=True)
        return _make(xp.asarray(arr), None, False) if value.get("tensor") else xp.asarray(arr)
    raise FormatError(f"load: unknown entry {tag!r} at {where}")


def _read(f) -> tuple[bytes, str]:
    """The bytes of ``f`` (a path or a binary file object) and a name for messages."""
    if hasattr(f, "read"):
        if isinstance(f, io.TextIOBase):
            raise TypeError("load: the file object is open in text mode; open it with 'rb'")
        raw = f.read()
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise TypeError(f"load: the file object gave {type(raw).__name__}, not bytes")
        return bytes(raw), str(getattr(f, "name", "the file object"))
    path = Path(f)
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"load: there is no file {str(path)!r}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"load: {str(path)!r} is a directory, not a file") from None


_NO_PICKLE = (
    "chainrule never unpickles: unpickling can run any code the file's author chose. Its "
    "files hold only data (tensors, arrays, numbers, strings and containers of them), which "
    "load reads as PyTorch's weights_only=True does"
)


def _check_load_options(map_location, pickle_module, weights_only) -> None:
    if weights_only is False:
        raise ValueError(
            f"load: weights_only=False is not supported. {_NO_PICKLE}; leave weights_only "
            "out (or True). To move a whole model, save model.state_dict() and load it into "
            "a model built by the same code."
        )
    if pickle_module is not None:
        raise ValueError(f"load: a pickle_module cannot be used. {_NO_PICKLE}.")
    if map_location is None or callable(map_location):
        return
    if isinstance(map_location, dict):  # saved location -> target: every tensor was on the CPU
        check_device("load(map_location)", map_location.get("cpu", "cpu"))
    else:
        check_device("load(map_location)", map_location)


def _relocate(obj, fn):
    """Apply a callable map_location to every loaded tensor, as ``fn(tensor, "cpu")``."""
    if isinstance(obj, Tensor):
        return fn(obj, "cpu")
    if isinstance(obj, dict):
        return {k: _relocate(v, fn) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_relocate(v, fn) for v in obj)
    return obj


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None):
    """Read a file written by :func:`save` from ``f``, a path or a binary file object.
    Raises ``FormatError`` for a file of another kind (a pickle is recognised and refused)
    and ``ChecksumError`` for a damaged one.

    PyTorch's options: ``map_location`` may name the CPU (``"cpu"``, ``cr.device("cpu")``,
    a dict whose ``"cpu"`` entry is the CPU), or be a callable ``fn(tensor, "cpu")``
    applied to every tensor loaded; another device raises. ``weights_only`` may be None or
    True (the only way chainrule loads); False raises. ``mmap`` is accepted (the file is
    read into memory either way)."""
    _check_load_options(map_location, pickle_module, weights_only)
    loaded = _load(f)
    return _relocate(loaded, map_location) if callable(map_location) else loaded


def _load(f):
    """The format's reader: :func:`load` without PyTorch's options."""
    raw, path = _read(f)
    if raw[: len(MAGIC)] != MAGIC:
        raise FormatError(
            f"load: {str(path)!r} is {_identify(raw[:8])}; chainrule only reads its own format"
        )
    if len(raw) < len(MAGIC) + 8 + _DIGEST:
        raise ChecksumError(f"load: {str(path)!r} is truncated ({len(raw)} bytes)")
    body, digest = raw[:-_DIGEST], raw[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise ChecksumError(
            f"load: {str(path)!r} is corrupted or truncated: its SHA-256 checksum does not match"
        )
    (length,) = struct.unpack("<Q", body[len(MAGIC) : len(MAGIC) + 8])
    start = len(MAGIC) + 8
    if start + length > len(body):
        raise FormatError(f"load: {str(path)!r} has a header longer than the file")
    try:
        header = json.loads(body[start : start + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(f"load: {str(path)!r} has an unreadable header: {err}") from None
    if header.get("version") != 1:
        raise FormatError(
            f"load: {str(path)!r} uses format version {header.get('version')!r}; this chainrule reads 1"
        )
    return _decode(header["tree"], memoryview(body)[start + length :], "the top level")
