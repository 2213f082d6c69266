"""``detect_anomaly``: find the op that first produced NaN or inf."""

from __future__ import annotations

from chainrule.autograd.grad_mode import STATE

__all__ = ["detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly"]


class detect_anomaly:
    """A context (or decorator) in which NaN and inf are traced to the op that made them.

    Forward: an op whose inputs are all finite but whose output is not raises a
    RuntimeError naming the op. Backward: a rule that returns a non-finite gradient raises,
    naming the op and showing where it was created. Checking every op costs time; use it
    to debug, not to train.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.mode = bool(check_nan)

    def __enter__(self) -> None:
        self._prev = STATE.anomaly
        STATE.anomaly = self.mode

    def __exit__(self, *exc) -> None:
        STATE.anomaly = self._prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Switch anomaly detection on or off; as a context manager, restore it on exit."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._prev = STATE.anomaly
        STATE.anomaly = self.mode

    def __enter__(self) -> None:
        pass


def is_anomaly_enabled() -> bool:
    return STATE.anomaly
