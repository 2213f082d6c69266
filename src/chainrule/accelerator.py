"""``cr.accelerator``: PyTorch's device-agnostic questions, answered for the CPU.

PyTorch 2.6+ examples pick their device with ``torch.accelerator.is_available()`` and
``torch.accelerator.current_accelerator()``; the CPU does not count as an accelerator, so
here they say False and None, and such scripts fall back to ``cr.device("cpu")``.
"""

from __future__ import annotations

from chainrule.devices import device, home

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    """Whether an accelerator (a GPU) is available: False, chainrule runs on the CPU."""
    return home().type != "cpu"


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator in use, or None when there is none (always, with NumPy)."""
    return home() if is_available() else None


def device_count() -> int:
    """How many accelerators there are: 0."""
    return 1 if is_available() else 0
