"""What the library tells a step being captured by ``cr.compile``.

While :func:`chainrule.compile` captures a step, ``RECORDING.tape`` holds its tape
(``chainrule/compile/tape.py``) and the places where the library computes, writes or
reads arrays report to it: every primitive's forward (``Op.apply``), the backward pass,
the no-grad in-place write, the optimizer's step, ``zero_grad``, a module's call, and a
tensor's value read into Python. Outside a capture ``RECORDING.tape`` is None and each
report costs one attribute check.

Array work that the library does outside a primitive (the batch statistics of batch
norm, the check of class labels) is wrapped in :func:`replayable`, so that a captured
step runs it again on every call instead of keeping the first call's result.
"""

from __future__ import annotations

import functools

__all__ = ["RECORDING", "refuse_capture", "replayable", "reported"]


class _Recording:
    """``tape``: the capture in progress, or None. ``module_changes``: a count of the
    changes to any module's parameters, buffers, children or train/eval mode, so that a
    replay checks its modules only after something changed."""

    __slots__ = ("module_changes", "tape")

    def __init__(self) -> None:
        self.tape = None
        self.module_changes = 0


RECORDING = _Recording()


def refuse_capture(reason: str) -> None:
    """Tell a capture in progress (if any) that the step cannot be replayed: library code
    that reads values into Python, or makes a result whose shape depends on them."""
    if RECORDING.tape is not None:
        RECORDING.tape.refuse(reason)


def replayable(fn):
    """Mark ``fn``, a function of arrays, tensors and Python values that library code
    calls outside a primitive, as one step of a captured program: a captured step calls
    it again on every replay, with the arrays of that replay. Its results must depend
    only on its arguments (and the random generator); it may write into the arrays it is
    given."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tape = RECORDING.tape
        if tape is None:
            return fn(*args, **kwargs)
        return tape.call(fn, args, kwargs)

    wrapper.replayable = fn
    return wrapper


def reported(event: str):
    """Make ``fn`` report its calls to a capture: while a step is captured,
    ``fn(*args, **kwargs)`` becomes ``tape.<event>(fn, *args, **kwargs)`` (the tape
    records what it needs and calls ``fn``)."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            tape = RECORDING.tape
            if tape is None:
                return fn(*args, **kwargs)
            return getattr(tape, event)(fn, *args, **kwargs)

        return wrapper

    return decorate
