"""Comparing the recordings of two calls of a step: can the second be replayed?"""

from __future__ import annotations

from chainrule.compile.guards import same
from chainrule.compile.tape import CONST, UNTRACKED, Call, Tape, describe

__all__ = ["RETRY", "compare"]

RETRY = "retry"


def compare(first: Tape, second: Tape) -> str | None:
    """Whether ``second`` can be replayed, judged against ``first``, the recording of an
    earlier call: None if so; ``RETRY`` when a guard call (a :class:`Call` returning
    Python values, such as the check of class labels) returned other values on the two
    calls, so that they may have taken different paths legitimately (record again);
    otherwise why not.

    Replayable: the same events reading the same slots, the same Python values, the same
    modules in the same modes, and each untracked array the *same array* on both calls
    (a parameter, a buffer: a replay reads what it holds then). An untracked array that
    is a new array on each call was made outside the recorded events, perhaps from the
    data; even when its values happen to agree, a replay could not make it again.
    """
    if len(first.names) != len(second.names) or any(
        a[2] is not b[2] for a, b in zip(first.names, second.names)
    ):
        return RETRY  # a name the step reads was rebound between the calls: record again
    for a, b in zip(first.events, second.events):
        if type(a) is not type(b) or (isinstance(a, Call) and a.fn is not b.fn):
            break
        if isinstance(a, Call) and a.first and not same(_values(a.outs), _values(b.outs)):
            return RETRY
    if first.kinds != second.kinds or len(first.events) != len(second.events):
        return "the step did different work on two calls (Python control flow on the data?)"
    for a, b in zip(first.events, second.events):
        if type(a) is not type(b) or not same(a.signature(), b.signature()):
            return (
                f"the step did different work on two calls ({describe(a)} became "
                f"{describe(b)}): Python control flow that depends on the data?"
            )
    for slot, kind in enumerate(second.kinds):
        x, y = first.values[slot], second.values[slot]
        if kind == UNTRACKED and x is not y:
            return (
                f"{second.reader(slot)} received an array that the step made without "
                "chainrule's ops or factories (with NumPy directly?), so a replay could not "
                "make it again"
            )
        if kind == CONST and not same(x, y):
            return (
                f"{second.reader(slot)} received a Python value that changed between two "
                f"calls ({x!r}, then {y!r}), computed outside chainrule's ops"
            )
    if [(id(m), t) for m, t, _ in first.modules.values()] != [
        (id(m), t) for m, t, _ in second.modules.values()
    ]:
        return "the step called different modules, or in other modes, on two calls"
    if not same(first.outputs, second.outputs):
        return "the step returned different Python values on two calls"
    return None


def _values(outs) -> list:
    if isinstance(outs, list):
        return [v for o in outs for v in _values(o)]
    return [] if isinstance(outs, int) else [outs[1]]
