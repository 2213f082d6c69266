r"""``einsum``: products and sums of tensors written as index equations.

``einsum("ij,jk->ik", a, b)`` is ``a @ b``: each operand's dimensions get a letter; a
letter shared by operands is multiplied along; a letter missing from the output (after
``->``) is summed over. Without ``->`` the output holds the letters that appear exactly
once, in alphabetical order (upper case first), after any ``...``.

The equation is first brought to a plain form that NumPy's ``einsum`` computes directly
and that the backward can reverse:

* ``...`` becomes letters of its own (right-aligned, broadcast across operands);
* a dimension of size 1 facing a larger one under the same letter (broadcasting, which
  PyTorch allows) gets a letter of its own, summed away at once.

Backward: the gradient of operand :math:`k` is another einsum, of the output's gradient
with the other operands, whose output is operand :math:`k`'s subscripts:
:math:`\bar x_k = \mathrm{einsum}(o, s_{j \ne k} \to s_k)(\bar y, x_{j \ne k})`.
Two cases need a constant operand: a letter that only operand :math:`k` has (summed in
the forward) comes back through a vector of ones, and a letter repeated within
operand :math:`k` (a diagonal, ``"ii->i"``) becomes two letters tied by an identity
matrix, so the gradient lands on the diagonal only.
"""

from __future__ import annotations

import string
from collections import Counter

from chainrule._backend import xp
from chainrule.errors import ShapeError
from chainrule.ops.op import Op
from chainrule.tensor import Tensor, as_tensor

__all__ = ["einsum"]

_LETTERS = string.ascii_uppercase + string.ascii_lowercase


class Einsum(Op):
    r"""Forward: :math:`y = \mathrm{einsum}(s_1, \dots, s_n \to o)(x_1, \dots, x_n)`
    (NumPy's, with the contraction order optimised).

    Backward: :math:`\bar x_k = \mathrm{einsum}(o, s_{j \ne k} \to s_k)(\bar y, x_{j \ne k})`,
    with a vector of ones for each letter only :math:`x_k` has and an identity matrix for
    each repeated letter of :math:`s_k` (see the module docstring).

    Each operand is saved only when another operand's gradient reads it.
    """

    def forward(self, *arrays, plan):
        self.plan = plan
        needs = self.needs_input_grad
        self.save(
            *(
                a if any(need for i, need in enumerate(needs) if i != j) else None
                for j, a in enumerate(arrays)
            )
        )
        return xp.einsum(plan.equation, *arrays, optimize=len(arrays) > 1)

    def backward(self, lib, g, *saved):
        plan = self.plan
        grads = []
        for k, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            equation, constants = plan.gradient_equation(k, g.dtype)
            others = [x for j, x in enumerate(saved) if j != k]
            grads.append(lib.einsum(equation, g, *others, *constants))
        return tuple(grads)


class _Plan:
    """The equation in plain form: ``subs`` (one string per operand, no ``...``, no
    broadcasting), ``out`` and ``sizes`` (letter -> size)."""

    def __init__(self, subs: list, out: str, sizes: dict) -> None:
        self.subs, self.out, self.sizes = subs, out, sizes
        self.equation = ",".join(subs) + "->" + out

    def gradient_equation(self, k: int, dtype) -> tuple[str, list]:
        """The equation of operand ``k``'s gradient, and the constants it needs."""
        target = self.subs[k]
        others = [s for j, s in enumerate(self.subs) if j != k]
        present = set(self.out).union(*others)
        unused = iter(c for c in _LETTERS if c not in self.sizes)
        inputs, constants, result, seen = [self.out, *others], [], "", set()
        for c in target:
            if c in seen:  # a repeated letter: a fresh one, tied to c by an identity
                fresh = next(unused)
                inputs.append(c + fresh)
                constants.append(xp.eye(self.sizes[c], dtype=dtype))
                result += fresh
                continue
            seen.add(c)
            if c not in present:  # summed in the forward: broadcast back by ones
                inputs.append(c)
                constants.append(xp.ones(self.sizes[c], dtype=dtype))
            result += c
        return ",".join(inputs) + "->" + result, constants


def _parse(equation: str, shapes: list) -> _Plan:
    """Check ``equation`` against the operands' shapes and bring it to plain form."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum(): the equation {equation!r} has {len(terms)} operand(s) but "
            f"{len(shapes)} tensor(s) were given"
        )
    for term in [*terms, rhs]:
        bad = set(term.replace("...", "")) - set(_LETTERS)
        if bad or term.count("...") > 1 or "." in term.replace("...", ""):
            raise ValueError(
                f"einsum(): invalid subscript in {term!r}: use letters a-z, A-Z and at most "
                "one '...'"
            )
    used = set(eq) & set(_LETTERS)
    unused = iter(c for c in _LETTERS if c not in used)
    # "..." -> letters, right-aligned across operands.
    ell_ndim = 0
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if "..." not in term and named != len(shape):
            raise ShapeError(
                f"einsum(): the number of subscripts in {term!r} ({named}) does not match "
                f"the number of dimensions ({len(shape)}) of its operand, and no ellipsis "
                "was given"
            )
        if "..." in term:
            if named > len(shape):
                raise ShapeError(
                    f"einsum(): {term!r} names {named} dimensions, but its operand has "
                    f"only {len(shape)}"
                )
            ell_ndim = max(ell_ndim, len(shape) - named)
    ell = "".join(next(unused) for _ in range(ell_ndim))
    subs = []
    for term, shape in zip(terms, shapes):
        n = len(shape) - len(term.replace("...", ""))
        subs.append(term.replace("...", ell[ell_ndim - n :]))
    if arrow:
        out = rhs.replace("...", ell)  # without "...", its dimensions are summed
    else:
        counts = Counter("".join(t.replace("...", "") for t in terms))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    for i, (s, shape) in enumerate(zip(subs, shapes)):
        mine: dict = {}
        for c, n in zip(s, shape):
            if mine.setdefault(c, n) != n:
                raise ShapeError(
                    f"einsum(): subscript {c} is repeated for operand {i} but the sizes "
                    f"don't match, {mine[c]} != {n}"
                )
    # Sizes: equal, or 1 facing a larger size (broadcast: renamed, summed at once).
    sizes: dict = {}
    for s, shape in zip(subs, shapes):
        for c, n in zip(s, shape):
            sizes[c] = max(sizes.get(c, 1), n)
    plain = []
    for i, (s, shape) in enumerate(zip(subs, shapes)):
        term = ""
        for c, n in zip(s, shape):
            if n != sizes[c]:
                if n != 1:
                    raise ShapeError(
                        f"einsum(): subscript {c} has size {n} for operand {i} which does "
                        f"not broadcast with size {sizes[c]} elsewhere"
                    )
                fresh = next(unused)
                sizes[fresh] = 1
                c = fresh
            term += c
        plain.append(term)
    for c in out:
        if c not in sizes:
            raise ValueError(
                f"einsum(): output subscript {c} does not appear in the equation for any "
                "input operand"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"einsum(): output subscript {rhs!r} names a letter more than once")
    return _Plan(plain, out, sizes)


def einsum(equation: str, *operands) -> Tensor:
    """Sum of products by an index equation, e.g. ``einsum("bij,bjk->bik", a, b)``.

    The operands are tensors (or a single list of them, as PyTorch also accepts) of one
    dtype; dimensions broadcast where one side has size 1."""
    if not isinstance(equation, str):
        raise TypeError(
            f"einsum(): the first argument must be the equation string, got "
            f"{type(equation).__name__} (the sublist form is not supported)"
        )
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    tensors = [as_tensor(t) for t in operands]
    dtypes = {t._array.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(
            f"einsum(): all operands must have one dtype, got {sorted(map(str, dtypes))} "
            "(convert with .to(...))"
        )
    plan = _parse(equation, [tuple(t.shape) for t in tensors])
    return Einsum.apply(*tensors, plan=plan)
