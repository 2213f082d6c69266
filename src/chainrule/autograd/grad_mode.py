"""Switches that decide whether ops record a graph (``no_grad``) and whether they are
watched for NaN/inf (``detect_anomaly``)."""

from __future__ import annotations

import functools

__all__ = ["STATE", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class _State:
    """Process-wide flags read by every op; plain attributes so the check costs nothing."""

    __slots__ = ("anomaly", "grad")

    def __init__(self) -> None:
        self.grad = True
        self.anomaly = False


STATE = _State()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph that backward needs."""
    return STATE.grad


class _GradModeContext:
    """A context manager that is also a decorator, like PyTorch's."""

    mode: bool

    def __enter__(self) -> None:
        self._prev = STATE.grad
        STATE.grad = self.mode

    def __exit__(self, *exc) -> None:
        STATE.grad = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Run ops without recording a graph: inference, weight updates, evaluation."""

    mode = False


class enable_grad(_GradModeContext):
    """Record the graph again inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled:
    """Set grad mode to ``mode``; as a context manager, restore it on exit."""

    def __init__(self, mode: bool) -> None:
        self._prev = STATE.grad
        STATE.grad = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        STATE.grad = self._prev
