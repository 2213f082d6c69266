"""The IDX format (MNIST's) and the downloads of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, ``0x00 0x00 <type> <ndim>``, then ``ndim``
big-endian 32-bit sizes, then the values in row-major order, big-endian. Types:
0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64. Files may be gzipped (recognised by their first bytes).

Downloads go through pooch, which checks each file's SHA-256 before it is used, into a
cache directory (``~/.cache/chainrule`` or ``$CHAINRULE_DATA``).
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["FASHION_MNIST", "MNIST", "cache_dir", "fetch", "read_idx"]

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (gzipped or not) into an array of its native shape and type."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"read_idx: {str(path)!r} is a damaged gzip file: {err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(
            f"read_idx: {str(path)!r} is not an IDX file (bad magic number {raw[:4].hex()})"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {str(path)!r} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = header + dtype.itemsize * math.prod(shape)
    if len(raw) != expected:
        raise ValueError(
            f"read_idx: {str(path)!r} holds {len(raw) - header} bytes of data, but its header "
            f"{shape} of {dtype.name} needs {expected - header}"
        )
    return np.frombuffer(raw[header:], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


# file name -> SHA-256 of the gzipped file as distributed
MNIST = {
    "url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "files": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
}
FASHION_MNIST = {
    "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "files": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}


def cache_dir() -> Path:
    """Where downloads are kept: ``$CHAINRULE_DATA`` or ``~/.cache/chainrule``."""
    return Path(os.environ.get("CHAINRULE_DATA", Path.home() / ".cache" / "chainrule"))


def fetch(source: dict, name: str, root, download: bool) -> dict[str, Path]:
    """The local paths of a source's files, under ``root/name``. Files already there are
    used as they are (so tests can write small IDX files); missing ones are downloaded,
    with their SHA-256 checked, when ``download`` is true."""
    folder = Path(root if root is not None else cache_dir()) / name
    paths = {}
    missing = [f for f in source["files"] if not (folder / f).exists()]
    if missing and not download:
        raise FileNotFoundError(
            f"{name}: {', '.join(missing)} not found in {str(folder)!r}; pass download=True "
            "(or --download) to fetch them"
        )
    if missing:
        import pooch

        folder.mkdir(parents=True, exist_ok=True)
        for f in missing:
            pooch.retrieve(
                source["url"] + f,
                known_hash="sha256:" + source["files"][f],
                fname=f,
                path=folder,
                progressbar=False,
            )
    for f in source["files"]:
        paths[f] = folder / f
    return paths
