"""Switches that decide whether ops record a graph (``no_grad``, ``inference_mode``) and
whether they are watched for NaN/inf (``detect_anomaly``)."""

from __future__ import annotations

import functools

__all__ = [
    "STATE",
    "enable_grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]


class _State:
    """Process-wide flags read by every op; plain attributes so the check costs nothing."""

    __slots__ = ("anomaly", "grad", "inference")

    def __init__(self) -> None:
        self.grad = True
        self.anomaly = False
        self.inference = False


STATE = _State()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph that backward needs."""
    return STATE.grad


class _GradModeContext:
    """A context manager that is also a decorator, like PyTorch's."""

    mode: bool

    def __enter__(self) -> None:
        self._prev = STATE.grad
        # Inside inference_mode nothing is recorded, even under enable_grad (as in PyTorch,
        # whose inference tensors never join a graph).
        STATE.grad = self.mode and not STATE.inference

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
        STATE.grad = bool(mode) and not STATE.inference

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        STATE.grad = self._prev


def is_inference_mode_enabled() -> bool:
    """Whether an ``inference_mode()`` block is active."""
    return STATE.inference


class inference_mode:
    """PyTorch's ``inference_mode``: a context manager and decorator in which no graph is
    recorded, for evaluation and serving.

    In chainrule it is ``no_grad`` and a flag (:func:`is_inference_mode_enabled`): ops
    record nothing inside it, even under ``enable_grad``. PyTorch also marks the tensors
    made inside as inference tensors, which it then refuses to save for backward;
    chainrule's are ordinary tensors cut from the graph, as ``no_grad`` makes them.
    ``inference_mode(False)`` switches it off again (and grad mode on, as in PyTorch).
    It decorates with or without parentheses: ``@cr.inference_mode`` or
    ``@cr.inference_mode()``.
    """

    def __new__(cls, mode=True):
        if not isinstance(mode, bool) and callable(mode):  # @inference_mode, bare
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self._prev = (STATE.grad, STATE.inference)
        STATE.inference = self.mode
        STATE.grad = not self.mode

    def __exit__(self, *exc) -> None:
        STATE.grad, STATE.inference = self._prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)
