"""Exceptions that chainrule raises for bad input."""

from __future__ import annotations

__all__ = ["ShapeError"]


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit together.

    It is both a ``ValueError`` (what NumPy users catch) and a ``RuntimeError`` (what
    PyTorch raises for the same mistakes), so code written for either library catches it.
    """
