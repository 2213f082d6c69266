"""``cr.cuda``: the answers PyTorch's ``torch.cuda`` gives on a machine without a GPU.

chainrule computes with NumPy on the CPU (see ``chainrule/devices.py``), so
``is_available()`` is False and ``device_count()`` 0, and scripts that choose their device
with them run unchanged on the CPU. ``manual_seed`` and ``manual_seed_all`` do nothing, as
PyTorch's do when there is no GPU: chainrule's randomness is seeded by ``cr.manual_seed``.
"""

from __future__ import annotations

from chainrule.devices import home

__all__ = ["device_count", "is_available", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    """Whether tensors can live on a CUDA GPU: False, chainrule runs on the CPU."""
    return home().type == "cuda"


def device_count() -> int:
    """How many CUDA GPUs chainrule can use: 0."""
    return 1 if is_available() else 0


def manual_seed(seed: int) -> None:
    """Accepted and ignored, as PyTorch ignores it without a GPU; ``cr.manual_seed``
    seeds every draw chainrule makes."""


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored (see :func:`manual_seed`)."""
