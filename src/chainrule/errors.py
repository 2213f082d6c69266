"""Exceptions that chainrule raises for bad input."""

from __future__ import annotations

__all__ = ["LabelError", "ShapeError", "TrainingDiverged"]


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit together.

    It is both a ``ValueError`` (what NumPy users catch) and a ``RuntimeError`` (what
    PyTorch raises for the same mistakes), so code written for either library catches it.
    """


class LabelError(ValueError, IndexError):
    """A target label outside the values a loss accepts (a class index out of range, a
    label that is not -1 or +1). An ``IndexError`` too, as PyTorch raises for bad class
    indices."""


class TrainingDiverged(RuntimeError):
    """A training run stopped because its loss (or its weights) stopped being finite
    numbers; the message says where, what was kept, and what usually helps."""
