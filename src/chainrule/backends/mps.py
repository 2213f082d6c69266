"""``cr.backends.mps``: Apple's GPU backend, which chainrule does not have."""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """Whether an Apple GPU can be used: False, chainrule runs on the CPU."""
    return False


def is_built() -> bool:
    """Whether chainrule was built with MPS support: False."""
    return False
