"""Update arithmetic written into existing arrays: each function is one line of an
algorithm box (its docstring says which), computed without allocating, through the work
arrays the optimizer keeps. An update function written with these reads like its
pseudo-code; ``tests/test_optim.py`` checks that it gives the bits of the plain NumPy
expressions."""

from __future__ import annotations

from chainrule._backend import xp

__all__ = ["add_scaled_square_", "lerp_", "root_plus", "sub_scaled_", "sub_scaled_ratio_"]


def lerp_(a, b, weight: float, work) -> None:
    """``a ← a + weight (b - a)``, in place (the moving average of ``b``)."""
    a += xp.multiply(xp.subtract(b, a, out=work), weight, out=work)


def add_scaled_square_(a, b, weight: float, work) -> None:
    """``a ← a + weight b²``, in place."""
    a += xp.multiply(xp.multiply(b, b, out=work), weight, out=work)


def root_plus(v, divisor: float, eps: float, out):
    """``√v / divisor + eps``, written into ``out`` and returned."""
    xp.sqrt(v, out=out)
    out /= divisor
    out += eps
    return out


def sub_scaled_(a, b, scale: float, work=None) -> None:
    """``a ← a - scale b``, in place (through ``work`` when given, else a temporary)."""
    a -= scale * b if work is None else xp.multiply(b, scale, out=work)


def sub_scaled_ratio_(a, numerator, denominator, scale: float, work) -> None:
    """``a ← a - scale (numerator / denominator)``, in place."""
    a -= xp.multiply(xp.divide(numerator, denominator, out=work), scale, out=work)
