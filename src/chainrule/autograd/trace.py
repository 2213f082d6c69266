r"""``explain``: the backward pass of a scalar, node by node, with every number shown.

Backpropagation is the chain rule applied once per node, in the order the engine runs
them: each node receives :math:`\bar y = \partial L/\partial y` for its output (the sum
over every op that used it), applies its backward rule and sends one gradient to each
input. :func:`explain` records exactly that (see :mod:`chainrule.autograd.walk`) and
prints it, with the rule of each node taken from its op's docstring
(:mod:`chainrule.autograd.rules`), so the text and the code cannot disagree.

For a fully connected network it also writes the residual notation of
docs/fundamentals.md §1: for layer k, :math:`z_k = a_{k-1} W_k^\top + b_k`, the residual
:math:`\delta_k = \partial L/\partial z_k`, :math:`\partial L/\partial W_k =
\delta_k^\top a_{k-1}` (one sample's :math:`\delta a^\top`, summed over the samples)
and, for a softmax cross-entropy output with the mean over N samples,
:math:`\delta_L = (a - y)/N` with :math:`a` the softmax and :math:`y` the one-hot targets.

:meth:`Trace.check` asks the engine for every gradient again (``autograd.grad``) and
compares.
"""

from __future__ import annotations

import html
import json

import numpy as np

from chainrule._backend import xp
from chainrule.autograd.dot import to_dot
from chainrule.autograd.rules import rule_of
from chainrule.autograd.steps import ACTIVATIONS, Step, as_number, label_nodes, summarize
from chainrule.autograd.walk import (
    NodeRecord,
    engine_edge_gradients,
    engine_gradients,
    walk_backward,
)
from chainrule.tensor import Tensor

__all__ = ["Trace", "explain"]


class Trace:
    """The backward pass of a scalar, one :class:`Step` per node in engine order."""

    def __init__(self, output, steps: list[Step], seed) -> None:
        self.output = output
        self.steps = steps
        self._seed = seed
        self.mismatches: list[str] = []

    @property
    def loss(self) -> float:
        return float(self.output._array)

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        head = [
            f"Backward pass of L = {self.loss:.6g} ({self.output._array.dtype}): "
            f"{len(self.steps)} steps, in the order the engine runs them.",
            "Each step receives ∂L/∂(its output), applies its rule and sends one gradient to "
            "each input; x̄ means ∂L/∂x.",
            "",
        ]
        body = []
        for s in self.steps:
            body.extend([*s.lines(), ""])
        return "\n".join(head + body).rstrip() + "\n"

    def to_dict(self) -> dict:
        """A JSON-serialisable form: each step with its rule and its gradients (arrays of
        up to 64 elements in full, larger ones as shape, norm and first entries)."""
        return {
            "output": as_number(self.loss),
            "dtype": str(self.output._array.dtype),
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def check(self, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        """Recompute every printed gradient with the engine and compare.

        Each step's upstream gradient (and so each leaf's total) against
        ``autograd.grad`` of the output with respect to that node, and each gradient a
        step sends against the engine running that node alone for the same upstream.
        Returns True when all agree; the disagreements are left in ``self.mismatches``.
        """
        records = [s.record for s in self.steps]
        self.mismatches = []
        truth = engine_gradients(self.output, self._seed, records)
        for s, expected in zip(self.steps, truth):
            for i, (mine, ref) in enumerate(zip(s.upstream, expected)):
                self._compare(f"step {s.index} ({s.name}) upstream {i}", mine, ref, rtol, atol)
            if s.is_leaf:
                continue
            edges = [g for g in engine_edge_gradients(s.record) if g is not None]
            for to, mine, ref in zip(s.inputs, s.downstream, edges):
                self._compare(f"step {s.index} ({s.name}) to {to}", mine, ref, rtol, atol)
        return not self.mismatches

    def _compare(self, what, mine, ref, rtol, atol) -> None:
        if mine is None and ref is None:
            return
        if mine is None or ref is None or mine.shape != ref.shape:
            self.mismatches.append(f"{what}: trace {mine!r}, engine {ref!r}")
        elif not np.allclose(mine, ref, rtol=rtol, atol=atol, equal_nan=True):
            err = np.max(np.abs(np.asarray(mine, np.float64) - ref))
            self.mismatches.append(f"{what}: differs by up to {err:.3g}")

    def _repr_html_(self) -> str:
        rows = []
        for s in self.steps:
            sends = "<br>".join(
                f"→ {html.escape(to)}: <code>{html.escape(summarize(g))}</code>"
                for to, g in zip(s.inputs, s.downstream)
            )
            up = "<br>".join(html.escape(summarize(g)) for g in s.upstream if g is not None)
            notes = "<br>".join(html.escape(n) for n in s.notes)
            rows.append(
                f"<tr><td>{s.index}</td><td>{html.escape(s.name)}</td><td>{html.escape(s.op)}"
                f"</td><td>{html.escape(s.rule)}</td><td><code>{up}</code></td><td>{sends}</td>"
                f"<td>{notes}</td></tr>"
            )
        head = "".join(
            f"<th>{h}</th>" for h in ("step", "node", "op", "rule", "∂L/∂output", "sends", "notes")
        )
        svg = ""
        try:
            svg = to_dot(self.output)._repr_svg_() or ""
        except RuntimeError:  # no graphviz: the table alone
            svg = ""
        return (
            f"<p>Backward pass of L = {self.loss:.6g}, {len(self.steps)} steps in engine "
            f"order</p>{svg}<table><tr>{head}</tr>{''.join(rows)}</table>"
        )


def _layer_notes(steps: list[Step]) -> None:
    """The residual notation (docs/fundamentals.md §1) of linear layers and a softmax CE."""
    names = {id(s.record.node): s for s in steps}
    for s in steps:
        node = s.record.node
        if s.op == "linear":
            k = s.name[1:]
            parents = [names[id(p[0])].name if p else None for p in s.record.parents]
            x, w = [*parents, None, None][:2]
            s.notes.append(
                f"layer {k}: z{k} = {x or 'x'} W{k}ᵀ + b{k}; its residual δ{k} = ∂L/∂z{k} is "
                "the upstream above"
            )
            if w is not None:
                s.notes.append(
                    f"∂L/∂W{k} = δ{k}ᵀ·{x or 'x'} (one sample's δ·aᵀ, summed over the samples), "
                    f"sent to {w}"
                )
            if len(parents) > 2 and parents[2] is not None:
                s.notes.append(f"∂L/∂b{k} = Σ over samples of δ{k}, sent to {parents[2]}")
            if x is not None and s.record.downstream[0] is not None:
                s.notes.append(f"∂L/∂{x} = δ{k}·W{k}, sent to {x}")
        elif s.op in ACTIVATIONS and s.name.startswith("a"):
            s.notes.append(
                f"δ{s.name[1:]} = ∂L/∂{s.name} ⊙ (derivative at z{s.name[1:]}): the rule above"
            )
        elif type(node).__name__ == "SoftmaxCrossEntropy":
            _output_delta_note(s, names)


def _output_delta_note(s: Step, names: dict) -> None:
    node = s.record.node
    parent = s.record.parents[0]
    if parent is None or node.reduction != "mean" or node.smoothing or node.saved[2] is not None:
        return
    # What the op kept: logits, class indices, per-sample weights, validity, class
    # weights, and the softmax it computed.
    x, target, _, _, _, softmax = node.saved
    onehot = np.moveaxis(np.eye(x.shape[1], dtype=x.dtype)[target], -1, 1)
    target = names[id(parent[0])].name
    k = target[1:] if target.startswith("z") else ""
    s.notes.append(
        f"output delta δ{k} = ∂L/∂{target} = (a - y)/N with a = softmax({target}), "
        f"y = onehot(targets), N = {int(node.count)}"
    )
    s.notes.append(f"a = {summarize(softmax)}")
    s.notes.append(f"y = {summarize(onehot)}")


def check_scalar(value, what: str, reduce_hint: str, why_no_grad: str) -> None:
    """Raise unless ``value`` is a one-element tensor that requires grad, as a backward
    pass from it needs: ``TypeError``, ``ValueError`` or ``RuntimeError`` with a message
    that starts with ``what`` ("explain: the output") and ends with ``reduce_hint`` (for
    a tensor of more elements) or ``why_no_grad``."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{what} must be a tensor, got a {type(value).__name__}")
    if value._array.size != 1:
        raise ValueError(
            f"{what} must be a scalar (one element), got shape {tuple(value.shape)}; {reduce_hint}"
        )
    if not value.requires_grad:
        raise RuntimeError(f"{what} does not require grad: {why_no_grad}")


def _leaves_by_first_use(records: list[NodeRecord]) -> list[NodeRecord]:
    """The engine reaches the leaves last, in no particular order among themselves (none
    depends on another); list them in the order the ops first send to them, and the leaves
    of one op (a linear layer's weight and bias) in the order of its inputs, so that a
    trace reads the same on every run."""

    def first_use(r: NodeRecord) -> tuple[int, int]:
        k = min((k for k, _ in r.received[0] if k is not None), default=-1)
        inputs = records[k].parents if k >= 0 else []
        return k, next((j for j, p in enumerate(inputs) if p and p[0] is r.node), 0)

    ops = [r for r in records if not isinstance(r.node, Tensor)]
    leaves = [r for r in records if isinstance(r.node, Tensor)]
    leaves.sort(key=first_use)
    return ops + leaves


def explain(output, params: dict | None = None) -> Trace:
    """The backward pass of the scalar ``output``, node by node, in the engine's order.

    Parameters
    ----------
    output : Tensor
        A single-element tensor that requires grad, whose graph has not been freed (call
        ``explain`` before ``backward()``, or after ``backward(retain_graph=True)``).
    params : dict, optional
        ``{name: tensor}`` naming leaves in the trace, e.g.
        ``dict(model.named_parameters())``.

    Returns
    -------
    Trace
        ``str(trace)`` prints it; ``trace.steps[i]`` has ``op``, ``rule``, ``upstream``
        and ``downstream``; ``trace.check()`` compares every gradient with the engine's.
        Nothing is freed and no ``.grad`` changes.
    """

    check_scalar(
        output,
        "explain: the output",
        "reduce it first (.sum() or .mean())",
        "it was not computed from any tensor with requires_grad=True, or it was computed "
        "under no_grad()",
    )
    seed = xp.ones(output._array.shape, output._array.dtype)
    records = _leaves_by_first_use(walk_backward(output, seed))
    steps = [Step(i + 1, r, rule_of(r.node)) for i, r in enumerate(records)]
    label_nodes(steps, records, params)
    _layer_notes(steps)
    return Trace(output, steps, seed)
