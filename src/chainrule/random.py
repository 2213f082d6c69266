"""The library's one source of randomness, and :class:`Generator`, PyTorch's handle on it.

Every random number chainrule draws (``randn``, ``rand``, initialisers, dropout masks,
shuffles) comes from the generator held here, unless a :class:`Generator` is passed as
``generator=``, so ``cr.manual_seed(s)`` makes a whole run reproducible bit for bit. No
other module calls ``np.random`` directly.

A :class:`Generator` is NumPy's PCG64 bit generator with PyTorch's methods
(``manual_seed``, ``seed``, ``initial_seed``, ``get_state``, ``set_state``).

Reproducibility. The same seed gives the same numbers on every machine: PCG64's bits are
defined exactly, and so are the integers, permutations, shuffles and uniform draws NumPy
makes from them. Normal and exponential draws also pass through a few floating-point
functions (``exp``, ``log`` in the distributions' tails), whose last bit can differ
between C math libraries, so across operating systems those may, rarely, differ in the
last bit. NumPy may change a sampling algorithm between its own versions (it says so in
its release notes). The numbers are not PyTorch's for the same seed: PyTorch draws from
its own Mersenne Twister with its own transformations, and matching it bit for bit is not
a goal; the distributions are the same. Seeds are taken as PyTorch takes them: any
integer in [-2**63, 2**64), a negative one standing for itself plus 2**64.
"""

from __future__ import annotations

import numpy as np

from chainrule.devices import check_device, device, home

__all__ = [
    "Generator",
    "default_generator",
    "draw_seed",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "rng",
    "seed",
    "set_rng_state",
]

_generator = np.random.Generator(np.random.PCG64(0))
# What ``torch.Generator()`` starts from: a fixed seed, so a new Generator is reproducible.
_NEW_GENERATOR_SEED = 67280421310721
# get_state's layout: PCG64's 128-bit state and increment, its buffered 32-bit half, and
# the initial seed, as bytes (little-endian).
_STATE_BYTES = 16 + 16 + 1 + 4 + 8


def _check_seed(where: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{where}: the seed must be an integer, got {type(value).__name__}")
    value = int(value)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"{where}: the seed must lie in [-2**63, 2**64), got {value}")
    return value % 2**64


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
        s = _check_seed("manual_seed", seed)
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
        from chainrule.tensor import tensor

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
        from chainrule.tensor import Tensor

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


def default_generator() -> np.random.Generator:
    """The NumPy generator all of chainrule draws from."""
    return _generator


def rng(generator=None) -> np.random.Generator:
    """The NumPy generator to draw from: the library's when ``generator`` is None,
    else the given :class:`Generator`'s (a NumPy ``Generator`` is also taken)."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a cr.Generator, got {type(generator).__name__}")


def manual_seed(seed: int) -> Generator:
    """Reseed the library's generator; returns it (as a :class:`Generator`), as
    ``torch.manual_seed`` does."""
    return default.manual_seed(_check_seed("manual_seed", seed))


def seed() -> int:
    """Reseed from fresh OS entropy and return the seed used."""
    return default.seed()


def initial_seed() -> int:
    """The seed the library's generator was last started from."""
    return default.initial_seed()


def draw_seed() -> int:
    """A seed for a generator of its own (a loader's shuffles), drawn from this one."""
    return int(_generator.integers(2**63))


def get_rng_state() -> dict:
    """The generator's state as a plain dict (what a checkpoint stores)."""
    return _generator.bit_generator.state


def _is_state(state) -> bool:
    """Whether ``state`` has exactly the form :func:`get_rng_state` returns."""
    if not isinstance(state, dict) or state.keys() != {
        "bit_generator",
        "state",
        "has_uint32",
        "uinteger",
    }:
        return False
    inner = state["state"]
    return (
        state["bit_generator"] == "PCG64"
        and isinstance(inner, dict)
        and inner.keys() == {"state", "inc"}
        and all(type(v) is int and 0 <= v < 2**128 for v in inner.values())
        and state["has_uint32"] in (0, 1)
        and type(state["has_uint32"]) is int
        and type(state["uinteger"]) is int
        and 0 <= state["uinteger"] < 2**32
    )


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state` (anything else is refused with a
    ValueError, before the generator changes)."""
    if not _is_state(state):
        text = repr(state)
        raise ValueError(
            "set_rng_state: expected the PCG64 state that get_rng_state returns, got "
            + (text if len(text) <= 80 else text[:77] + "...")
        )
    _generator.bit_generator.state = state
