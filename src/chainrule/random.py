"""The library's one source of randomness.

Every random number chainrule draws (``randn``, ``rand``, initialisers, dropout masks,
shuffles) comes from the generator held here, so ``cr.manual_seed(s)`` makes a whole run
reproducible bit for bit. No other module calls ``np.random`` directly.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "default_generator",
    "draw_seed",
    "get_rng_state",
    "manual_seed",
    "seed",
    "set_rng_state",
]

_generator = np.random.Generator(np.random.PCG64(0))


def default_generator() -> np.random.Generator:
    """The generator all of chainrule draws from."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator; returns it, as ``torch.manual_seed`` does."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: the seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: the seed must be non-negative, got {seed}")
    _generator.bit_generator.state = np.random.PCG64(int(seed)).state
    return _generator


def seed() -> int:
    """Reseed from fresh OS entropy and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


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
