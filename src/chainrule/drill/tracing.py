"""Reading a :func:`chainrule.explain` trace by tensor, for the worked solutions of the
gradient exercises: each gradient the solution prints is the one the trace recorded for
that node, so the solution and the engine cannot disagree."""

from __future__ import annotations

import numpy as np

from chainrule.autograd.steps import Step
from chainrule.autograd.trace import Trace, explain
from chainrule.tensor import Tensor

__all__ = ["TraceReader"]


def _node(t: Tensor):
    return t._node if t._node is not None else t


class TraceReader:
    """``cr.explain(output, params)`` looked up by the tensors of the computation."""

    def __init__(self, output: Tensor, params: dict | None = None) -> None:
        self.trace: Trace = explain(output, params)
        self._steps = {id(s.record.node): s for s in self.trace.steps}

    def step(self, t: Tensor) -> Step:
        """The step of the node that produced ``t`` (or of the leaf ``t``)."""
        return self._steps[id(_node(t))]

    def grad(self, t: Tensor) -> np.ndarray:
        """:math:`\\partial L/\\partial t`: the gradient that reached ``t``'s node."""
        return self.step(t).upstream[0]

    def sent(self, frm: Tensor, to: Tensor) -> np.ndarray:
        """What the node of ``frm`` sent to its input ``to``."""
        target = _node(to)
        record = self.step(frm).record
        for pair, g in zip(record.parents, record.downstream):
            if pair is not None and pair[0] is target:
                return g
        raise KeyError(f"the node of {frm!r} sends nothing to {to!r}")

    def where(self, t: Tensor) -> str:
        """How ``str(trace)`` names the step, e.g. ``cr.explain step 5 (z2)``."""
        s = self.step(t)
        return f"cr.explain step {s.index} ({s.name})"
