"""A speed device for whole programs: keep the memory a training step frees for the next
step (the ``chainrule`` commands call it; library code never does)."""

from __future__ import annotations

__all__ = ["tune_allocator"]


def tune_allocator() -> bool:
    """Ask the C allocator to keep the memory a training step frees, for the next step.

    A step allocates and frees the same large arrays (activations, gradients, im2col
    columns) again and again. By default glibc serves arrays above a size threshold with
    fresh pages from the kernel and returns freed memory beyond another threshold, so
    every step pays for the first touch of each page again: a page fault per 4 KB, often
    more time than the arithmetic (docs/performance.md, "Where the speed devices pay").
    This sets glibc's ``M_MMAP_THRESHOLD``
    to 32 MiB and ``M_TRIM_THRESHOLD`` to 256 MiB (the environment variables
    ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` do the same from outside).
    The price: the process keeps up to 256 MiB it has freed, instead of handing it back.

    It changes the whole process, so chainrule's library code never calls it; the
    ``chainrule`` commands (``demo``, ``train``, ``bench``) do. Returns False, changing
    nothing, where the C library is not glibc.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h> parameter numbers
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 256 << 20))
