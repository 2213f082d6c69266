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
is recognised and refused (chainrule never unpickles). A checksum only catches accidents:
anyone can recompute it. So, as safetensors does, the whole header is then validated
before any array is read, and a file that breaks any of these rules raises
:class:`FormatError`, naming the rule and where in the tree it broke:

* the header is at most ``MAX_HEADER`` bytes of UTF-8 JSON, without the non-standard
  constants ``NaN``/``Infinity``, numbers that overflow a float, or repeated object keys;
  it is the object ``{"version": 1, "tree": ...}``;
* the tree nests at most ``MAX_DEPTH`` dicts, lists and tuples deep, and every tagged
  value has exactly the form the writer produces (dict keys are strings or integers, each
  once; a ``"float"`` is ``"nan"``, ``"inf"`` or ``"-inf"``);
* an array has a dtype from ``DTYPES``, a shape of at most ``MAX_NDIM`` non-negative
  integers that NumPy can represent (the product of its non-zero sizes, in bytes, below
  2**63; an empty array may have other large sizes, as in NumPy), and an integer offset;
  taken in the order the tree lists them, the arrays lie one after another from offset 0
  and end exactly where the data block ends (no gap, no overlap, no byte left over); a
  boolean array holds only the bytes 0 and 1.

A value that breaks none of them loads, and saving what was loaded writes the same header
and data again. :func:`save` refuses what :func:`load` would (a dtype outside the list,
deeper nesting, a larger header), so whatever it writes loads.

Saving is atomic: the bytes go to a temporary file ``.NAME.PID.XXXXXXXX.tmp`` in the same
directory, which is flushed, synced to disk and renamed over the target, so a crash leaves
either the old file or the new one, never half of one. A process killed mid-save cannot
remove its temporary file; the next save to the same target removes the ones of that
target whose process is no longer running.

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
import re
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
MAX_HEADER = 100 << 20  # bytes of JSON (safetensors' limit); arrays do not count
MAX_DEPTH = 64  # dicts, lists and tuples inside one another
MAX_NDIM = 64  # NumPy's own limit
# Every dtype a file may hold, as the writer spells it (little-endian; one byte: "|").
DTYPES = {
    code: np.dtype(code)
    for code in ("|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8")
}


class FormatError(ValueError):
    """The file is not a chainrule file (or not one this version can read)."""


class ChecksumError(FormatError):
    """The file is a chainrule file whose bytes were changed or cut short."""


# --------------------------------------------------------------------------- encoding
class _Writer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.offset = 0

    def encode(self, obj, where: str, depth: int = 0):
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
        if isinstance(obj, dict | list | tuple) and depth == MAX_DEPTH:
            raise ValueError(
                f"save: {where} nests dicts, lists and tuples more than {MAX_DEPTH} deep"
            )
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, str | int) or isinstance(k, bool):
                    raise TypeError(
                        f"save: dict keys must be strings or integers, got {k!r} at {where}"
                    )
                items.append([k, self.encode(v, f"{where}[{k!r}]", depth + 1)])
            return {"dict": items}
        if isinstance(obj, list | tuple):
            tag = "list" if isinstance(obj, list) else "tuple"
            return {tag: [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]}
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
        little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        if little.dtype.str not in DTYPES:
            raise TypeError(
                f"save: cannot store an array of dtype {arr.dtype} at {where}; the format "
                "holds bool, int8-64, uint8-64 and float16/32/64"
            )
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
    if len(header) > MAX_HEADER:
        raise ValueError(
            f"save: the header (everything but the arrays) would take {len(header)} bytes, "
            f"more than the format's {MAX_HEADER}; store long lists of numbers as arrays"
        )
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


def _running(pid: int) -> bool:
    """Whether the process ``pid`` may still be writing (on doubt, yes)."""
    if os.name != "posix" or pid == os.getpid():
        return True  # elsewhere, signal 0 is not a harmless probe
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def _remove_stale_temporaries(directory: Path, name: str) -> None:
    """Remove the temporary files of saves to ``name`` whose process was killed: exactly
    the names ``.NAME.PID.XXXXXXXX.tmp`` that :func:`atomic_write_bytes` makes (the random
    part has no dot, so another target's files never match), with no process ``PID``."""
    own = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[a-z0-9_]+\.tmp")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for entry in names:
        match = own.fullmatch(entry)
        if match and not _running(int(match[1])):
            with contextlib.suppress(OSError):
                os.unlink(directory / entry)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never half-written: a temporary file
    in the same directory is written, flushed, synced to disk and renamed over ``path``.
    If anything fails, the temporary file is removed and ``path`` is untouched; the
    temporary files of earlier saves to ``path`` that were killed are removed first."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"the directory {str(directory)!r} does not exist")
    _remove_stale_temporaries(directory, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=directory)
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


def _brief(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _constant(name: str):
    raise FormatError(
        f"the header contains {name}, which JSON does not define (the format writes a "
        'non-finite float as {"float": "nan"})'
    )


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FormatError(f"the header's number {text} overflows a float")
    return value


def _unique(pairs: list) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"the key {key!r} appears twice in one object of the header")
        out[key] = value
    return out


def _parse_header(raw: bytes):
    """The header's JSON, strictly: no NaN/Infinity, no overflowing number, no repeated
    key, nesting that JSON's own parser can follow."""
    try:
        return json.loads(
            raw.decode("utf-8"),
            parse_constant=_constant,
            parse_float=_finite,
            object_pairs_hook=_unique,
        )
    except FormatError:
        raise
    except UnicodeDecodeError as err:
        raise FormatError(f"the header is not UTF-8 ({err.reason} at byte {err.start})") from None
    except RecursionError:
        raise FormatError(f"the header nests more than {MAX_DEPTH} levels deep") from None
    except ValueError as err:  # JSONDecodeError, or an integer of thousands of digits
        raise FormatError(f"the header is not valid JSON: {err}") from None


class _Array:
    """An array the header describes: where its bytes lie in the data block, and what
    they are. Read only once the whole header has been checked."""

    __slots__ = ("dtype", "end", "shape", "start", "tensor")

    def __init__(self, dtype, shape: tuple, start: int, end: int, tensor: bool) -> None:
        self.dtype, self.shape, self.start, self.end, self.tensor = dtype, shape, start, end, tensor

    def read(self, data: memoryview, where: str):
        raw = data[self.start : self.end]
        if self.dtype.kind == "b" and self.end > self.start and max(raw) > 1:
            raise FormatError(f"the boolean array at {where} holds bytes other than 0 and 1")
        arr = np.frombuffer(raw, dtype=self.dtype).reshape(self.shape)
        arr = arr.astype(self.dtype.newbyteorder("="), copy=True)
        return _make(xp.asarray(arr), None, False) if self.tensor else xp.asarray(arr)


_ARRAY_KEYS = {"dtype", "shape", "offset", "tensor"}


class _Checker:
    """Checks a parsed header tree against the rules in the module docstring, returning
    the tree with each array as an :class:`_Array`; reads no array data."""

    def __init__(self, size: int) -> None:
        self.size = size  # bytes in the data block
        self.end = 0  # where the next array must start

    def node(self, node, where: str, depth: int):
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is not dict or len(node) != 1:
            raise FormatError(f"{where} is neither a plain value nor a one-key tag: {_brief(node)}")
        ((tag, value),) = node.items()
        if tag == "float":
            if value not in ("nan", "inf", "-inf"):
                raise FormatError(
                    f'{where}: a "float" tag holds "nan", "inf" or "-inf", not {_brief(value)}'
                )
            return float(value)
        if tag == "array":
            return self.array(value, where)
        if tag not in ("dict", "list", "tuple"):
            raise FormatError(f"{where} has the unknown tag {tag!r}")
        if type(value) is not list:
            raise FormatError(f"{where}: a {tag!r} tag holds a list, not {_brief(value)}")
        if depth == MAX_DEPTH:
            raise FormatError(f"{where} nests dicts, lists and tuples more than {MAX_DEPTH} deep")
        if tag == "dict":
            out = {}
            for item in value:
                if type(item) is not list or len(item) != 2 or type(item[0]) not in (str, int):
                    raise FormatError(
                        f"{where}: a dict entry is a [key, value] pair with a string or integer "
                        f"key, not {_brief(item)}"
                    )
                key = item[0]
                if key in out:
                    raise FormatError(f"{where} has the key {key!r} twice")
                out[key] = self.node(item[1], f"{where}[{key!r}]", depth + 1)
            return out
        items = [self.node(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        return items if tag == "list" else tuple(items)

    def array(self, entry, where: str) -> _Array:
        if type(entry) is not dict or entry.keys() != _ARRAY_KEYS:
            raise FormatError(
                f"the array at {where} needs exactly the fields dtype, shape, offset and tensor, "
                f"got {_brief(entry)}"
            )
        code, shape, offset, tensor = (entry[k] for k in ("dtype", "shape", "offset", "tensor"))
        if type(code) is not str or code not in DTYPES:
            raise FormatError(
                f"the array at {where} has the dtype {_brief(code)}; the format holds "
                f"{', '.join(DTYPES)}"
            )
        if (
            type(shape) is not list
            or len(shape) > MAX_NDIM
            or not all(type(n) is int and n >= 0 for n in shape)
        ):
            raise FormatError(
                f"the array at {where} has the shape {_brief(shape)}; a shape is a list of at "
                f"most {MAX_NDIM} non-negative integers"
            )
        if type(tensor) is not bool:
            raise FormatError(
                f"the array at {where} has tensor={_brief(tensor)}, not true or false"
            )
        itemsize = DTYPES[code].itemsize
        if itemsize * math.prod(n for n in shape if n) >= 2**63:
            raise FormatError(
                f"the array at {where} has the shape {shape}, too large for NumPy to represent"
            )
        if type(offset) is not int or offset != self.end:
            raise FormatError(
                f"the array at {where} starts at byte {_brief(offset)} of the data block, but "
                f"the arrays before it end at byte {self.end}: arrays must follow one another "
                "in order, without gaps or overlaps"
            )
        nbytes = itemsize * math.prod(shape)
        if offset + nbytes > self.size:
            raise FormatError(
                f"the array at {where} ({code}, shape {tuple(shape)}) needs bytes {offset} to "
                f"{offset + nbytes} of the data block, which holds {self.size}"
            )
        self.end = offset + nbytes
        return _Array(DTYPES[code], tuple(shape), offset, self.end, tensor)


def _read_arrays(node, data: memoryview, where: str):
    """The checked tree with every :class:`_Array` replaced by its array."""
    if isinstance(node, _Array):
        return node.read(data, where)
    if type(node) is dict:
        return {k: _read_arrays(v, data, f"{where}[{k!r}]") for k, v in node.items()}
    if type(node) in (list, tuple):
        items = [_read_arrays(v, data, f"{where}[{i}]") for i, v in enumerate(node)]
        return items if type(node) is list else tuple(items)
    return node


def _decode(raw_header: bytes, data: memoryview):
    header = _parse_header(raw_header)
    if type(header) is not dict or header.keys() != {"version", "tree"}:
        raise FormatError(
            f'the header is the object {{"version": 1, "tree": ...}}, not {_brief(header)}'
        )
    version = header["version"]
    if type(version) is not int or version != 1:
        raise FormatError(f"it uses format version {_brief(version)}; this chainrule reads 1")
    checker = _Checker(len(data))
    tree = checker.node(header["tree"], "the top level", 0)
    if checker.end != len(data):
        raise FormatError(
            f"the arrays end at byte {checker.end} of the data block, but it holds {len(data)} "
            "bytes: the rest belongs to no array"
        )
    return _read_arrays(tree, data, "the top level")


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
    or one that breaks a rule of the format (see the module docstring), and
    ``ChecksumError`` for a damaged one; nothing else.

    PyTorch's options: ``map_location`` may name the CPU (``"cpu"``, ``cr.device("cpu")``,
    a dict whose ``"cpu"`` entry is the CPU), or be a callable ``fn(tensor, "cpu")``
    applied to every tensor loaded; another device raises. ``weights_only`` may be None or
    True (the only way chainrule loads); False raises. ``mmap`` is accepted (the file is
    read into memory either way)."""
    _check_load_options(map_location, pickle_module, weights_only)
    raw, name = _read(f)
    loaded = _deserialize(raw, repr(name))
    return _relocate(loaded, map_location) if callable(map_location) else loaded


def _deserialize(raw: bytes, name: str):
    """The object in ``raw``, the bytes of a file (called ``name`` in messages)."""
    if raw[: len(MAGIC)] != MAGIC:
        raise FormatError(
            f"load: {name} is {_identify(raw[:8])}; chainrule only reads its own format"
        )
    if len(raw) < len(MAGIC) + 8 + _DIGEST:
        raise ChecksumError(f"load: {name} is truncated ({len(raw)} bytes)")
    body, digest = raw[:-_DIGEST], raw[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise ChecksumError(
            f"load: {name} is corrupted or truncated: its SHA-256 checksum does not match"
        )
    (length,) = struct.unpack("<Q", body[len(MAGIC) : len(MAGIC) + 8])
    start = len(MAGIC) + 8
    if length > MAX_HEADER:
        raise FormatError(
            f"load: {name} declares a header of {length} bytes; the format allows at most "
            f"{MAX_HEADER}"
        )
    if start + length > len(body):
        raise FormatError(f"load: {name} has a header longer than the file")
    try:
        return _decode(body[start : start + length], memoryview(body)[start + length :])
    except FormatError as err:
        raise FormatError(f"load: {name} is malformed: {err}") from None
