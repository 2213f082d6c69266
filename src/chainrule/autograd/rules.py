r"""A graph node's backward rule, read from the op's own docstring.

Every primitive states its derivative in its class docstring, in a paragraph that starts
with ``Backward`` (see :mod:`chainrule.autograd.function`, "Writing a primitive"). That
paragraph is the one source of truth: :func:`rule_of` finds it and :func:`plain` turns its
``:math:`` markup into readable text (``\bar x`` becomes ``x̄``, ``\odot`` becomes ``⊙``),
so a trace never carries a second copy of any derivative.
"""

from __future__ import annotations

import inspect
import re

from chainrule.autograd.function import FunctionCtx
from chainrule.autograd.graph import AccumulateGrad
from chainrule.tensor import Tensor

__all__ = ["plain", "rule_of"]

# "Backward" then an optional qualifier ("(with the leading dimensions ...)", ", with
# :math:`\bar Y` as a matrix") up to the first colon followed by white space (the colons
# inside ":math:`" never are), then the paragraph, which ends at a blank line.
_BACKWARD = re.compile(
    r"\bBackward\b(?P<qual>[^\n]*?(?:\n[^\n]*?)??):\s+(?P<body>.*?)(?:\n\s*\n|\Z)", re.S
)

_SYMBOLS = {
    r"\odot": "⊙",
    r"\cdot": "·",
    r"\top": "ᵀ",
    r"\sigma": "σ",
    r"\delta": "δ",
    r"\partial": "∂",
    r"\varepsilon": "ε",
    r"\epsilon": "ε",
    r"\beta": "β",
    r"\gamma": "γ",
    r"\mu": "μ",
    r"\pi": "π",
    r"\infty": "∞",
    r"\le": "≤",
    r"\in": "∈",
    r"\ge": "≥",
    r"\lnot": "¬",
    r"\sum": "Σ",
    r"\prod": "Π",
    r"\ln": "ln",
    r"\log": "log",
    r"\exp": "exp",
    r"\max": "max",
    r"\min": "min",
    r"\sin": "sin",
    r"\cos": "cos",
    r"\tanh": "tanh",
    r"\pm": "±",
    r"\mathrel": "",
}
_BAR = "\u0304"  # combining macron: x̄, the adjoint (gradient) of x
_HAT = "\u0302"  # combining circumflex: x̂, a standardised x


def _group(text: str, start: int) -> tuple[str, int]:
    """The brace group (or single character) at ``start``, and the index after it."""
    if start >= len(text):
        return "", start
    if text[start] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", text[start:])
        return m.group(0), start + len(m.group(0))
    if text[start] != "{":
        return text[start], start + 1
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i], i + 1
    return text[start + 1 :], len(text)


def _tex(expr: str) -> str:
    """A LaTeX formula as plain Unicode text (the small subset the op docstrings use)."""
    out = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c != "\\":
            out.append(" " if c == "~" else c)
            i += 1
            continue
        m = re.match(r"\\([A-Za-z]+|.)", expr[i:])
        if m is None:  # a lone backslash at the end
            break
        name = m.group(1)
        i += len(m.group(0))
        if name in ("bar", "overline", "hat"):
            mark = _HAT if name == "hat" else _BAR
            while i < len(expr) and expr[i] == " ":
                i += 1
            arg, i = _group(expr, i)
            out.append(_tex(arg) + mark if len(_tex(arg)) == 1 else f"({_tex(arg)})" + mark)
        elif name in ("mathrm", "text", "operatorname", "mathbf"):
            arg, i = _group(expr, i)
            out.append(_tex(arg))
        elif name == "frac":
            num, i = _group(expr, i)
            den, i = _group(expr, i)
            num, den = _tex(num), _tex(den)
            num = num if len(num) == 1 else f"({num})"
            den = den if len(den) == 1 else f"({den})"
            out.append(f"{num}/{den}")
        elif name == "sqrt":
            arg, i = _group(expr, i)
            inner = _tex(arg)
            out.append(f"√{inner}" if len(inner) == 1 else f"√({inner})")
        elif name in (",", ";", ":", " ", "!", "quad"):
            out.append(" ")
        elif name in ("{", "}"):
            out.append("\x00" if name == "{" else "\x01")  # literal braces, kept below
        elif name in ("_", "%", "&", "#"):
            out.append(name)
        elif name in ("left", "right", "big", "Big"):
            pass
        else:
            out.append(_SYMBOLS.get("\\" + name, name))
    text = "".join(out)
    # Sub- and superscripts: x_{ij} -> x_ij, e^{x - y} -> e^(x - y).
    text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    text = re.sub(
        r"\^\{([^{}]*)\}", lambda m: "^" + (m[1] if len(m[1]) == 1 else f"({m[1]})"), text
    )
    text = text.replace("^ᵀ", "ᵀ").replace("{", "").replace("}", "")
    return text.replace("\x00", "{").replace("\x01", "}")


def plain(text: str) -> str:
    """reST with ``:math:`` roles as one line of readable text."""
    text = re.sub(r":math:`([^`]*)`", lambda m: _tex(m.group(1)), text)
    text = re.sub(r":[a-z]+:`~?([^`]*)`", r"\1", text)  # :class:`Op` -> Op
    text = text.replace("``", "")
    return " ".join(text.split())


def rule_of(node) -> tuple[str, str]:
    """The backward rule of a graph node (or leaf) as ``(plain text, source text)``.

    The source is the ``Backward`` paragraph of the docstring of the node's class; for a
    custom :class:`~chainrule.autograd.Function`, of its ``backward`` method or, failing
    that, of the class. Where no such paragraph exists the text says so.
    """

    if isinstance(node, Tensor):
        owner = AccumulateGrad
    elif isinstance(node, FunctionCtx):
        owner = node.fn
        doc = inspect.getdoc(node.fn.backward) or ""
        if _BACKWARD.search(doc) is None:
            body = doc.strip() or inspect.getdoc(node.fn) or ""
            source = body.split("\n\n")[0] if body else ""
            text = plain(source) if source else "(no docstring)"
            return f"custom Function {node.fn.__name__}.backward: {text}", source
    else:
        owner = type(node)
    doc = inspect.getdoc(owner) or ""
    m = _BACKWARD.search(doc)
    if m is None:
        return f"(the docstring of {owner.__name__} states no Backward rule)", ""
    qual = m.group("qual")
    source = m.group("body").strip()
    text = plain(source)
    qual = plain(qual).strip(" ,")
    if qual.startswith("(") and qual.endswith(")"):
        qual = qual[1:-1]
    if qual:
        text = f"{qual}: {text}"
    return text, source
