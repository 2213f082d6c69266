"""``cr.backends.cudnn``: the flags PyTorch scripts set for reproducible GPU runs.

chainrule has no cuDNN: ``is_available()`` is False, and the flags below keep PyTorch's
defaults and may be set freely without effect (chainrule's results are reproducible bit
for bit from ``cr.manual_seed`` alone).
"""

from __future__ import annotations

__all__ = ["benchmark", "deterministic", "enabled", "is_available"]

enabled = True
deterministic = False
benchmark = False


def is_available() -> bool:
    """Whether cuDNN can be used: False."""
    return False
