"""The backward pass as named steps: what ``explain`` prints and ``to_dot`` draws.

A :class:`Step` is one node of the walk (``walk.py``) with the names a reader uses for
it (``z1``, ``a1``, ``L``, a parameter's name) and what went in and out; :func:`summarize`
turns an array into text that stays short for large tensors.
"""

from __future__ import annotations

import textwrap

import numpy as np

from chainrule.autograd.walk import NodeRecord
from chainrule.tensor import Tensor

__all__ = ["ACTIVATIONS", "SMALL", "Step", "as_json", "as_number", "label_nodes", "summarize"]

SMALL = 16  # arrays with at most this many elements are printed in full


def summarize(a, full: int = SMALL) -> str:
    """An array as text: every entry when small, else shape, norm, range and a few entries."""
    a = np.asarray(a)
    if a.size <= full:
        if a.ndim == 0:
            return f"{a.item():.6g}"
        return " ".join(np.array2string(a, precision=4, separator=", ").split())
    head = ", ".join(f"{v:.4g}" for v in a.reshape(-1)[:4])
    return (
        f"shape {tuple(a.shape)}, norm {np.linalg.norm(a.astype(np.float64)):.4g}, "
        f"min {a.min():.4g}, max {a.max():.4g}, first [{head}, ...]"
    )


def as_json(a, full: int = 64) -> dict:
    a = np.asarray(a, dtype=np.float64)
    out = {"shape": list(a.shape), "norm": as_number(np.linalg.norm(a))}
    if a.size <= full:
        out["values"] = [as_number(v) for v in a.reshape(-1)] if a.ndim else as_number(a.item())
    else:
        out["head"] = [as_number(v) for v in a.reshape(-1)[:8]]
    return out


def as_number(v) -> float | str:
    v = float(v)
    return v if np.isfinite(v) else str(v)


class Step:
    """One node of the backward pass.

    ``op``: the op's name (``leaf`` for a tensor created by the user); ``name``: how the
    trace refers to the node's output (``z2``, ``a1``, a parameter's name); ``rule``: the
    backward rule, read from the op's docstring (``rule_source``: that text unrendered);
    ``upstream``: the gradient that reached each output; ``downstream``: the gradient sent
    to each input that needs one, to ``inputs[i]`` (the receiving steps' names);
    ``received``: ``(step index or None for the seed, array)`` terms summed into
    ``upstream[0]`` when the output was used more than once (a fan-out sum); ``notes``:
    the layer notation; ``value``: the leaf's value (None for op nodes).
    """

    def __init__(self, index: int, record: NodeRecord, rule: tuple[str, str]) -> None:
        self.index = index
        self.record = record
        self.op = ""
        self.name = ""
        self.rule, self.rule_source = rule
        self.upstream = list(record.upstream)
        self.downstream = [g for g in record.downstream if g is not None]
        self.inputs: list[str] = []
        self.received: list[tuple] = []
        self.notes: list[str] = []
        self.value = None

    @property
    def is_leaf(self) -> bool:
        return self.op == "leaf"

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "op": self.op,
            "name": self.name,
            "rule": self.rule,
            "upstream": [None if g is None else as_json(g) for g in self.upstream],
            "downstream": [
                {"to": to, "gradient": as_json(g)} for to, g in zip(self.inputs, self.downstream)
            ],
            "fan_out": [{"from": k, "gradient": as_json(g)} for k, g in self.received]
            if len(self.received) > 1
            else [],
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        kind = "leaf: adds into .grad" if self.is_leaf else self.op
        out = [f"step {self.index}  {self.name}  ({kind})"]
        out += textwrap.wrap(
            self.rule, 100, initial_indent="  rule      ", subsequent_indent=" " * 12
        )
        if len(self.received) > 1:
            out.append(
                f"  fan-out   {self.name} was used by {len(self.received)} ops; its gradient "
                "is the sum of what each sent:"
            )
            for k, g in self.received:
                out.append(f"            from step {k}: {summarize(g)}")
        for i, g in enumerate(self.upstream):
            label = f"∂L/∂{self.name}" + (f"[{i}]" if len(self.upstream) > 1 else "")
            out.append(f"  upstream  {label} = {summarize(g) if g is not None else 'none'}")
        for to, g in zip(self.inputs, self.downstream):
            out.append(f"  sends     to {to}: {summarize(g)}")
        out.extend(f"  note      {n}" for n in self.notes)
        return out


def label_nodes(steps: list[Step], records: list[NodeRecord], params) -> None:
    """Names for every node, numbered in forward order (the reverse of the engine's):
    ``z1, z2`` for linear layers' outputs, ``a1`` for an activation of ``z1``, parameters
    from ``params``, ``op#n`` otherwise."""

    names = {id(t): n for n, t in (params or {}).items()}
    count: dict[str, int] = {}
    layer = {}  # id(node) -> layer number, for linear nodes
    for s in reversed(steps):  # forward order
        node = s.record.node
        if isinstance(node, Tensor):
            s.op = "leaf"
            n = count["leaf"] = count.get("leaf", 0) + 1
            s.name = names.get(id(node), f"leaf{n}")
            s.value = node._array
            continue
        s.op = node.op_name
        n = count[s.op] = count.get(s.op, 0) + 1
        if s.op == "linear":
            layer[id(node)] = n
            s.name = f"z{n}"
        else:
            first = next((p for p in s.record.parents if p is not None), None)
            k = layer.get(id(first[0])) if first is not None else None
            if k is not None and len(s.record.parents) == 1 and s.op in ACTIVATIONS:
                s.name = f"a{k}"
            else:
                s.name = f"{s.op}#{n}"
    if steps and not steps[0].is_leaf and steps[0].op != "linear":
        steps[0].name = "L"  # the root: the loss
    by_node = {id(s.record.node): s for s in steps}
    for s in steps:
        s.inputs = [
            by_node[id(p[0])].name
            for p, g in zip(s.record.parents, s.record.downstream)
            if p is not None and (g is not None or s.record.upstream[0] is None)
        ]
    for s in steps:
        s.received = [(None if k is None else steps[k].index, g) for k, g in s.record.received[0]]


ACTIVATIONS = {"sigmoid", "tanh", "relu", "softplus", "leaky_relu", "elu", "gelu", "silu"}
