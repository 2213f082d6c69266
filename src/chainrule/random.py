"""The library's one source of randomness.

Every random number chainrule draws (``randn``, ``rand``, initialisers, dropout masks,
shuffles) comes from the NumPy generator held here, unless a :class:`chainrule.Generator`
(``generator.py``) is passed as ``generator=``, so ``cr.manual_seed(s)`` makes a whole
run reproducible bit for bit. No other module calls ``np.random`` directly.

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

from chainrule._recording import RECORDING

__all__ = [
    "check_seed",
    "default_generator",
    "draw_seed",
    "get_rng_state",
    "rng",
    "set_rng_state",
]

_generator = np.random.Generator(np.random.PCG64(0))


def check_seed(where: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{where}: the seed must be an integer, got {type(value).__name__}")
    value = int(value)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"{where}: the seed must lie in [-2**63, 2**64), got {value}")
    return value % 2**64


def default_generator() -> np.random.Generator:
    """The NumPy generator all of chainrule draws from."""
    return _generator


def rng(generator=None) -> np.random.Generator:
    """The NumPy generator to draw from: the library's when ``generator`` is None,
    else the given :class:`chainrule.Generator`'s (its ``_rng``; a NumPy ``Generator`` is
    also taken)."""
    if generator is None:
        return _generator
    if isinstance(generator, np.random.Generator):
        return generator
    own = getattr(generator, "_rng", None)  # a chainrule.Generator (generator.py)
    if isinstance(own, np.random.Generator):
        return own
    raise TypeError(f"generator must be a cr.Generator, got {type(generator).__name__}")


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
    if RECORDING.tape is not None:  # a step captured by cr.compile restores it on replays
        return RECORDING.tape.method(set_rng_state, state)
    if not _is_state(state):
        text = repr(state)
        raise ValueError(
            "set_rng_state: expected the PCG64 state that get_rng_state returns, got "
            + (text if len(text) <= 80 else text[:77] + "...")
        )
    _generator.bit_generator.state = state
