"""``cr.Generator``, PyTorch's handle on a random stream, and the seeding functions
(``cr.manual_seed``, ``cr.seed``, ``cr.initial_seed``, ``cr.default_generator``).

A :class:`Generator` is NumPy's PCG64 bit generator with PyTorch's methods
(``manual_seed``, ``seed``, ``initial_seed``, ``get_state``, ``set_state``); what a seed
reproduces is said in ``random.py``, which holds the library's own stream.
"""

from __future__ import annotations

import numpy as np

from chainrule._recording import RECORDING
from chainrule.devices import check_device, device, home
from chainrule.random import _generator, check_seed
from chainrule.tensor import Tensor, tensor

__all__ = ["Generator", "default", "initial_seed", "manual_seed", "seed"]

# What ``torch.Generator()`` starts from: a fixed seed, so a new Generator is reproducible.
_NEW_GENERATOR_SEED = 67280421310721
# get_state's layout: PCG64's 128-bit state and increment, its buffered 32-bit half, and
# the initial seed, as bytes (little-endian).
_STATE_BYTES = 16 + 16 + 1 + 4 + 8


class Generator:
    """A random-number generator: pass it as ``generator=`` to make those draws come from
    it, apart from the library's own stream (PyTorch's ``torch.Generator``).

    ``Generator()`` starts from a fixed seed (PyTorch's default, 67280421310721), so two new
    generators give the same numbers; ``manual_seed(s)`` reseeds it and returns it, so
    ``cr.Generator().manual_seed(42)`` is the usual way to make one. ``device`` may only be
    the CPU.
    """

    def __init__(self, device="cpu") -> None:
        check_device("Generator", device)
        self._rng = np.random.Generator(np.random.PCG64(_NEW_GENERATOR_SEED))
        self._seed = _NEW_GENERATOR_SEED

    @classmethod
    def _wrapping(cls, numpy_generator: np.random.Generator, seed: int) -> Generator:
        g = cls.__new__(cls)
        g._rng, g._seed = numpy_generator, seed
        return g

    @property
    def device(self) -> device:
        return home()

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns this generator."""
        if RECORDING.tape is not None:  # a step captured by cr.compile reseeds on each replay
            return RECORDING.tape.method(self.manual_seed, seed)
        s = check_seed("manual_seed", seed)
        # Written into the existing bit generator, so everything holding it follows.
        self._rng.bit_generator.state = np.random.PCG64(s).state
        self._seed = s
        return self

    def seed(self) -> int:
        """Restart the stream from a seed drawn from the operating system's entropy, and
        return that seed."""
        s = int(np.random.SeedSequence().entropy % 2**64)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._seed

    def get_state(self):
        """The generator's state, as a uint8 tensor that :meth:`set_state` takes back."""
        st = self._rng.bit_generator.state
        raw = (
            st["state"]["state"].to_bytes(16, "little")
            + st["state"]["inc"].to_bytes(16, "little")
            + bytes([st["has_uint32"]])
            + int(st["uinteger"]).to_bytes(4, "little")
            + self._seed.to_bytes(8, "little")
        )
        return tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        """Restore a state returned by :meth:`get_state`; returns this generator."""
        if RECORDING.tape is not None:  # a step captured by cr.compile restores it on replays
            return RECORDING.tape.method(self.set_state, new_state)
        if not isinstance(new_state, Tensor) or new_state._array.dtype != np.uint8:
            raise TypeError(
                "set_state expects the uint8 tensor that get_state returns, got "
                + (
                    f"a tensor of dtype {new_state.dtype}"
                    if isinstance(new_state, Tensor)
                    else type(new_state).__name__
                )
            )
        raw = bytes(new_state.numpy().reshape(-1))
        if len(raw) != _STATE_BYTES:
            raise ValueError(
                f"set_state expects a state of {_STATE_BYTES} bytes (what get_state returns), "
                f"got {len(raw)}"
            )
        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {
                "state": int.from_bytes(raw[0:16], "little"),
                "inc": int.from_bytes(raw[16:32], "little"),
            },
            "has_uint32": raw[32],
            "uinteger": int.from_bytes(raw[33:37], "little"),
        }
        self._seed = int.from_bytes(raw[37:45], "little")
        return self

    def __repr__(self) -> str:
        return f"cr.Generator(initial_seed={self._seed})"


# The library's stream as a Generator (PyTorch's ``torch.default_generator``): the same
# NumPy generator that default_generator() returns, so both always agree.
default = Generator._wrapping(_generator, 0)


def manual_seed(seed: int) -> Generator:
    """Reseed the library's generator; returns it (as a :class:`Generator`), as
    ``torch.manual_seed`` does."""
    return default.manual_seed(check_seed("manual_seed", seed))


def seed() -> int:
    """Reseed from fresh OS entropy and return the seed used."""
    return default.seed()


def initial_seed() -> int:
    """The seed the library's generator was last started from."""
    return default.initial_seed()
