"""``to_dot``: the graph of a result as Graphviz DOT text, made without any program.

Each op node shows its name, the shape of its output and the norm of the gradient that
reaches it; each leaf its name (from ``params``), shape, value and gradient. Edges point
the way data flows, from an input to the op that used it. The text is plain DOT: paste
it into any Graphviz viewer, or call ``.render(path)`` where the ``graphviz`` package
and its ``dot`` program are installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule._backend import xp
from chainrule.autograd.rules import rule_of
from chainrule.autograd.steps import Step, label_nodes
from chainrule.autograd.walk import walk_backward
from chainrule.io import atomic_write_bytes
from chainrule.tensor import Tensor

__all__ = ["DotGraph", "to_dot"]


class DotGraph(str):
    """DOT source text (a ``str``) that can also draw itself with Graphviz."""

    def _pipe(self, fmt: str) -> bytes:
        try:
            import graphviz
        except ImportError:
            raise RuntimeError(
                "rendering DOT needs the graphviz package (pip install graphviz) and "
                "Graphviz's dot program; the DOT text itself needs neither"
            ) from None
        try:
            return graphviz.Source(str(self)).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise RuntimeError(
                "rendering DOT needs Graphviz's dot program on the PATH (Debian: apt-get "
                "install graphviz); the DOT text itself needs neither"
            ) from None

    def render(self, path, format: str | None = None) -> Path:
        """Write the drawing to ``path`` (SVG, PNG or PDF, from ``format`` or the file's
        suffix), atomically. Needs the ``graphviz`` package and the ``dot`` program."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".") or "svg").lower()
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(f"render: format must be svg, png or pdf, got {fmt!r}")
        atomic_write_bytes(path, self._pipe(fmt))
        return path

    def _repr_svg_(self) -> str | None:
        try:
            return self._pipe("svg").decode()
        except RuntimeError:
            return None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _norm(a) -> str:
    return f"{np.linalg.norm(np.asarray(a, np.float64)):.3g}"


def to_dot(output, params: dict | None = None) -> DotGraph:
    """The graph that computed ``output`` as Graphviz DOT text.

    Parameters
    ----------
    output : Tensor
        A tensor that requires grad. When its graph still holds what backward needs (before
        ``backward()``, or after ``backward(retain_graph=True)``), the nodes also show the
        gradients of ``output`` (of ``output.sum()`` when it has several elements).
    params : dict, optional
        ``{name: tensor}`` naming the leaves, as torchviz's ``make_dot`` takes it, e.g.
        ``dict(model.named_parameters())``.

    Returns
    -------
    DotGraph
        The DOT text (a ``str``), with ``.render(path)`` for an SVG or PNG.
    """

    if not isinstance(output, Tensor):
        raise TypeError(f"to_dot: expected a tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise RuntimeError("to_dot: the output does not require grad, so it has no graph")
    seed = xp.ones(output._array.shape, output._array.dtype)
    try:
        records = walk_backward(output, seed)
    except RuntimeError:  # freed by a backward pass: the structure alone
        records = walk_backward(output, None)
    steps = [Step(i + 1, r, rule_of(r.node)) for i, r in enumerate(records)]
    label_nodes(steps, records, params)
    ids = {id(r.node): f"n{i}" for i, r in enumerate(records)}
    lines = [
        "digraph backward {",
        '  graph [rankdir=TB, fontname="Helvetica", label='
        + _quote(f"graph of {steps[0].name if steps else 'output'}; edges: data flow")
        + "];",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    for rec, s in zip(records, steps):
        node = rec.node
        parts = []
        if isinstance(node, Tensor):
            parts += [s.name, f"{tuple(node.shape)}", f"value norm {_norm(node._array)}"]
            style = 'shape=ellipse, style=filled, fillcolor="#dbe9f6"'
        else:
            shape = node.shape if node.n_out == 1 else node.shapes
            parts += [f"{s.op}  {s.name}", f"{tuple(shape)}"]
            if node is output._node:  # the one op output at hand: the result itself
                v = output._array
                parts.append(f"value {float(v):.4g}" if v.size == 1 else f"value norm {_norm(v)}")
            style = 'shape=box, style="rounded,filled", fillcolor="#f2f2f2"'
        if rec.upstream[0] is not None:
            parts.append(f"grad norm {_norm(rec.upstream[0])}")
        lines.append(f"  {ids[id(node)]} [label={_quote(chr(10).join(parts))}, {style}];")
    for rec in records:
        for pair in rec.parents:
            if pair is not None and id(pair[0]) in ids:
                lines.append(f"  {ids[id(pair[0])]} -> {ids[id(rec.node)]};")
    lines.append("}")
    return DotGraph("\n".join(lines) + "\n")
