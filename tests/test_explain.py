"""cr.explain (the backward pass node by node), the rules read from the op docstrings, and
cr.autograd.to_dot."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.rules import plain, rule_of
from chainrule.diagnostics.examples import build_example
from chainrule.nn import functional as F
from chainrule.ops.elementwise import Sigmoid
from chainrule.ops.op import Op


def _mlp_ce(n=5, seed=0):
    """A 2-layer MLP (3 -> 4 sigmoid -> 3) with mean cross-entropy, float64, built from
    functionals so that the test holds every intermediate tensor."""
    rng = np.random.default_rng(seed)
    p = {
        "W1": cr.tensor(rng.normal(0, 1, (4, 3)), requires_grad=True),
        "b1": cr.tensor(rng.normal(0, 0.1, 4), requires_grad=True),
        "W2": cr.tensor(rng.normal(0, 1, (3, 4)), requires_grad=True),
        "b2": cr.tensor(rng.normal(0, 0.1, 3), requires_grad=True),
    }
    x = cr.tensor(rng.normal(0, 1, (n, 3)))
    y = np.arange(n) % 3
    z1 = F.linear(x, p["W1"], p["b1"])
    a1 = z1.sigmoid()
    z2 = F.linear(a1, p["W2"], p["b2"])
    loss = F.cross_entropy(z2, cr.tensor(y))
    return loss, p, (x, y, z1, a1, z2)


def _step(trace, name):
    (step,) = [s for s in trace.steps if s.name == name]
    return step


# ----------------------------------------------------------------------------- rules
def test_every_registered_op_states_its_backward_rule_in_its_docstring():
    missing = [n for n, cls in Op.registry.items() if rule_of(object.__new__(cls))[1] == ""]
    assert missing == []


def test_plain_renders_the_docstring_math():
    bar = "\u0304"  # combining macron: x̄ is x + bar
    assert plain(r":math:`\bar x = \bar y\, y (1 - y)`") == f"x{bar} = y{bar} y (1 - y)"
    assert plain(r":math:`\bar A = \bar Y B^\top`") == f"A{bar} = Y{bar} Bᵀ"
    assert plain(r":math:`\frac{2}{\sqrt\pi} e^{-x^2}`") == "2/(√π) e^(-x^2)"


def test_the_rule_shown_is_read_from_the_op_class(monkeypatch):
    """One source of truth: change the docstring and the trace changes with it."""
    x = cr.tensor([0.5, -1.0], requires_grad=True)
    before = _step(cr.explain(x.sigmoid().sum(), {"x": x}), "sigmoid#1").rule
    assert before == "x\u0304 = y\u0304 y (1 - y)."
    monkeypatch.setattr(Sigmoid, "__doc__", "Forward: s.\n\nBackward: :math:`\\bar x = 42`.\n")
    after = _step(cr.explain(x.sigmoid().sum(), {"x": x}), "sigmoid#1").rule
    assert after == "x\u0304 = 42."


def test_a_custom_function_shows_its_backward_docstring():
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            """The gradient is 3 x^2 times the upstream."""
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    trace = cr.explain(Cube.apply(x).sum(), {"x": x})
    (step,) = [s for s in trace.steps if s.op == "Cube"]
    assert "Cube.backward" in step.rule and "3 x^2" in step.rule
    assert np.allclose(step.downstream[0], [3.0, 12.0]) and trace.check()


# ----------------------------------------------------------------------------- the trace
def test_mlp_with_cross_entropy_every_gradient_equals_autograd():
    loss, p, (_, _, z1, a1, z2) = _mlp_ce()
    trace = cr.explain(loss, p)
    assert trace.check(), trace.mismatches
    # Independently: autograd's gradients at every intermediate and parameter.
    for t in (z1, a1, z2):
        t.retain_grad()
    loss.backward()
    assert np.allclose(_step(trace, "z2").upstream[0], z2.grad.numpy(), rtol=1e-12)
    assert np.allclose(_step(trace, "a1").upstream[0], a1.grad.numpy(), rtol=1e-12)
    assert np.allclose(_step(trace, "z1").upstream[0], z1.grad.numpy(), rtol=1e-12)
    for name, t in p.items():
        assert np.allclose(_step(trace, name).upstream[0], t.grad.numpy(), rtol=1e-12), name


def test_output_delta_is_softmax_minus_onehot_over_n():
    loss, p, (x, y, _, a1, z2) = _mlp_ce(n=6)
    trace = cr.explain(loss, p)
    logits = z2.numpy()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax = e / e.sum(axis=1, keepdims=True)
    expected = (softmax - np.eye(3)[y]) / 6
    ce = _step(trace, "L")
    assert ce.inputs == ["z2"]
    assert np.allclose(ce.downstream[0], expected, rtol=1e-12, atol=0)
    assert any("(a - y)/N" in n and "N = 6" in n for n in ce.notes)
    # Residual notation on the layers: dL/dW2 = delta2^T a1, dL/dW1 = delta1^T x.
    d2, d1 = _step(trace, "z2").upstream[0], _step(trace, "z1").upstream[0]
    assert np.allclose(_step(trace, "W2").upstream[0], d2.T @ a1.numpy(), rtol=1e-12)
    assert np.allclose(_step(trace, "W1").upstream[0], d1.T @ x.numpy(), rtol=1e-12)
    assert any("δ2ᵀ·a1" in n for n in _step(trace, "z2").notes)


def test_net_2_2_1_matches_the_hand_computation():
    loss, model = build_example("net-2-2-1")
    trace = cr.explain(loss, dict(model.named_parameters()))
    # By hand, with the example's numbers (float64).
    x = [0.05, 0.10]
    w1 = [[0.15, 0.20], [0.25, 0.30]]
    b1 = 0.35
    w2 = [0.40, 0.45]
    b2, t = 0.60, 0.01
    z1 = [w1[i][0] * x[0] + w1[i][1] * x[1] + b1 for i in range(2)]
    a1 = [1 / (1 + math.exp(-z)) for z in z1]
    yhat = w2[0] * a1[0] + w2[1] * a1[1] + b2
    assert math.isclose(trace.loss, 0.5 * (yhat - t) ** 2, rel_tol=1e-14)
    delta2 = yhat - t  # dL/dyhat for L = (yhat - t)^2 / 2; the output is linear
    d_w2 = [delta2 * a1[0], delta2 * a1[1]]
    delta1 = [w2[i] * delta2 * a1[i] * (1 - a1[i]) for i in range(2)]
    d_w1 = [[delta1[i] * x[j] for j in range(2)] for i in range(2)]
    assert np.allclose(_step(trace, "z2").upstream[0], [[delta2]], rtol=1e-14)
    assert np.allclose(_step(trace, "2.weight").upstream[0], [d_w2], rtol=1e-14)
    assert np.allclose(_step(trace, "2.bias").upstream[0], [delta2], rtol=1e-14)
    assert np.allclose(_step(trace, "a1").upstream[0], [[w2[0] * delta2, w2[1] * delta2]])
    assert np.allclose(_step(trace, "z1").upstream[0], [delta1], rtol=1e-14)
    assert np.allclose(_step(trace, "0.weight").upstream[0], d_w1, rtol=1e-14)
    assert np.allclose(_step(trace, "0.bias").upstream[0], delta1, rtol=1e-14)
    assert trace.check()


def test_fan_out_is_shown_as_a_sum():
    w = cr.tensor([0.3, -0.7], requires_grad=True)
    loss = (w * w).sum() + w.sigmoid().sum()
    trace = cr.explain(loss, {"w": w})
    step = _step(trace, "w")
    assert len(step.received) == 3  # twice from mul, once from sigmoid
    total = sum(g for _, g in step.received)
    assert np.allclose(step.upstream[0], total)
    s = 1 / (1 + np.exp(-w.numpy()))
    assert np.allclose(step.upstream[0], 2 * w.numpy() + s * (1 - s))
    assert "fan-out   w was used by 3 ops" in str(trace)
    assert trace.check()


def test_steps_are_in_engine_order_each_before_its_inputs():
    loss, p, _ = _mlp_ce()
    trace = cr.explain(loss, p)
    position = {s.name: i for i, s in enumerate(trace.steps)}
    for i, s in enumerate(trace.steps):
        assert all(position[name] > i for name in s.inputs), s.name
    assert [s.op for s in trace.steps[:4]] == ["softmaxcrossentropy", "linear", "sigmoid", "linear"]


def test_check_reports_a_wrong_number():
    loss, p, _ = _mlp_ce()
    trace = cr.explain(loss, p)
    step = _step(trace, "a1")
    step.upstream[0] = step.upstream[0] * 1.001
    assert not trace.check()
    assert any("a1" in m and "upstream" in m for m in trace.mismatches)
    trace = cr.explain(loss, p)
    step = _step(trace, "z1")
    step.downstream[0] = step.downstream[0] + 1e-3
    assert not trace.check()
    assert any("to W1" in m for m in trace.mismatches)


def test_explain_changes_nothing():
    loss, p, _ = _mlp_ce()
    trace = cr.explain(loss, p)
    assert all(t.grad is None for t in p.values())
    loss.backward()  # the graph is still there
    assert np.allclose(_step(trace, "W1").upstream[0], p["W1"].grad.numpy())


def test_large_tensors_are_summarised_and_the_dict_is_json():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 10))
    loss = F.cross_entropy(model(cr.randn(64, 20)), cr.tensor(np.arange(64) % 10))
    trace = cr.explain(loss, dict(model.named_parameters()))
    text = str(trace)
    assert "shape (64, 10), norm" in text and "first [" in text
    data = json.loads(json.dumps(trace.to_dict(), allow_nan=False))
    assert len(data["steps"]) == len(trace.steps) == 8
    z2 = next(s for s in data["steps"] if s["name"] == "z2")
    assert z2["upstream"][0]["shape"] == [64, 10] and "head" in z2["upstream"][0]
    assert "<table>" in trace._repr_html_()


def test_explain_errors_name_the_problem():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="scalar"):
        cr.explain(x * 2)
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.explain(cr.tensor([1.0, 2.0]).sum())
    with pytest.raises(TypeError, match="tensor"):
        cr.explain(3.0)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        cr.explain(y)


# ----------------------------------------------------------------------------- DOT
_TOKEN = re.compile(
    r"""\s*(?:(?P<id>[A-Za-z_\x80-\uffff][\w\x80-\uffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))"""
    r"""|(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>->|--|[{}\[\]=;,])|(?P<bad>\S))"""
)


def parse_dot(text: str) -> tuple[dict, list]:
    """A strict parser of the DOT language (graphviz.org/doc/info/lang.html) without
    subgraphs, ports or HTML labels: returns ``({node: attributes}, [(tail, head)])`` and
    raises ValueError at the first token the grammar does not allow."""
    tokens = []
    for m in _TOKEN.finditer(text):
        if m.group("bad"):
            raise ValueError(f"unexpected character {m.group('bad')!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r'\\(["\\])', r"\1", value[1:-1])
        tokens.append((kind if kind != "str" else "id", value))
    pos = 0

    def take(kind=None, value=None):
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("unexpected end of input")
        k, v = tokens[pos]
        if (kind and k != kind) or (value and v != value):
            raise ValueError(f"expected {value or kind}, got {v!r}")
        pos += 1
        return v

    def peek():
        return tokens[pos][1] if pos < len(tokens) else None

    def attrs():
        out = {}
        while peek() == "[":
            take("op", "[")
            while peek() != "]":
                key = take("id")
                take("op", "=")
                out[key] = take("id")
                if peek() in (",", ";"):
                    take("op")
            take("op", "]")
        return out

    nodes, edges = {}, []
    take("id", "digraph")
    if peek() != "{":
        take("id")
    take("op", "{")
    while peek() != "}":
        first = take("id")
        if first in ("graph", "node", "edge") and peek() == "[":
            attrs()
        elif peek() == "->":
            chain = [first]
            while peek() == "->":
                take("op", "->")
                chain.append(take("id"))
            attrs()
            edges += list(itertools.pairwise(chain))
        elif peek() == "=":
            take("op", "=")
            take("id")
        else:
            nodes.setdefault(first, {}).update(attrs())
        if peek() == ";":
            take("op", ";")
    take("op", "}")
    if pos != len(tokens):
        raise ValueError("text after the closing brace")
    for a, b in edges:
        nodes.setdefault(a, {})
        nodes.setdefault(b, {})
    return nodes, edges


def test_the_dot_checker_rejects_invalid_dot():
    parse_dot('digraph g { a [label="x\\"y"]; a -> b; }')
    for bad in ("digraph { a -> ; }", 'digraph { a [label="x"] }}', 'digraph { a [label="x] }'):
        with pytest.raises(ValueError):
            parse_dot(bad)


def _dot_of_mlp():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    loss = F.cross_entropy(model(cr.randn(5, 3)), cr.tensor(np.array([0, 1, 1, 0, 1])))
    return loss, model


def test_dot_parses_and_names_every_parameter():
    loss, model = _dot_of_mlp()
    params = dict(model.named_parameters())
    text = cr.autograd.to_dot(loss, params)
    nodes, edges = parse_dot(text)
    labels = [a["label"] for a in nodes.values()]
    assert len(nodes) == 8  # loss, two linear, tanh, four parameters
    for name in params:
        assert any(lab.startswith(name + "\\n") for lab in labels), name
    assert len(edges) == 7
    assert any("grad norm" in lab for lab in labels) and any("(5, 4)" in lab for lab in labels)
    assert any(f"value {loss.item():.4g}\\n" in lab for lab in labels)  # the loss itself


def test_dot_after_backward_still_draws_the_structure():
    loss, model = _dot_of_mlp()
    loss.backward()
    text = cr.autograd.to_dot(loss, {"w": model[0].weight})
    _, edges = parse_dot(text)
    assert "grad norm" not in text and '"w\\n(4, 3)' in text
    assert len(edges) == 7


def test_dot_escapes_names():
    w = cr.tensor([1.0], requires_grad=True)
    text = cr.autograd.to_dot((w * 2).sum(), {'a "quoted" \\ name': w})
    nodes, edges = parse_dot(text)
    assert len(edges) == 2
    assert any(a["label"].startswith('a "quoted" \\ name') for a in nodes.values())


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_is_accepted_by_graphviz(tmp_path):
    loss, model = _dot_of_mlp()
    text = cr.autograd.to_dot(loss, dict(model.named_parameters()))
    proc = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in proc.stdout and "0.weight" in proc.stdout
    pytest.importorskip("graphviz")
    path = text.render(tmp_path / "graph.svg")
    assert path.read_text().lstrip().startswith("<?xml") or "<svg" in path.read_text()


def test_render_without_graphviz_says_what_is_missing(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "graphviz", None)
    loss, _ = _dot_of_mlp()
    with pytest.raises(RuntimeError, match="graphviz package"):
        cr.autograd.to_dot(loss).render(tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
