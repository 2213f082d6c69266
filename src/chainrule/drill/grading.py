r"""Grading: reading a student's numbers and comparing them with the key.

An entry is right when :math:`|a - k| \le \mathrm{rtol}\,|k| + \mathrm{atol}`, with
``rtol = 1e-2`` (hand arithmetic on 2-decimal inputs, carried with 3 or 4 significant
digits, lands well inside it) and ``atol = 1e-6`` (only so that an exact 0 may be
answered as 0). Both are arguments of :meth:`Exercise.check`.

A wrong answer is reported entry by entry, and with the first step of the worked
solution whose quantity the student got wrong: the place where their numbers part from
the solution's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from chainrule.drill.core import Quantity, Solution, fmt

__all__ = [
    "ATOL",
    "RTOL",
    "AnswerError",
    "CheckResult",
    "QuantityResult",
    "compare",
    "grade",
    "parse_answer",
]

RTOL = 1e-2
ATOL = 1e-6


class AnswerError(ValueError):
    """An answer that cannot be graded: not numbers, or not as many as asked."""


def _describe(q: Quantity) -> str:
    return f"{q.count_text()} ({q.text})"


def _flatten(value, q: Quantity) -> list[float]:
    if isinstance(value, str):
        # brackets are allowed, so that "[0.1, 0.2]" pasted from the solution reads too
        words = [w for w in re.split(r"[\s,;\[\]()]+", value) if w]
        out = []
        for w in words:
            try:
                out.append(float(w))
            except ValueError:
                raise AnswerError(
                    f"{q.name}: {w!r} is not a number; expected {_describe(q)}"
                ) from None
        return out
    if isinstance(value, bool) or value is None:
        raise AnswerError(f"{q.name}: {value!r} is not a number; expected {_describe(q)}")
    if isinstance(value, int | float | np.integer | np.floating):
        return [float(value)]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1).tolist()
    if isinstance(value, list | tuple):
        out = []
        for v in value:
            if isinstance(v, str):
                raise AnswerError(
                    f"{q.name}: {v!r} is not a number (a string inside a list); expected "
                    f"{_describe(q)}"
                )
            out.extend(_flatten(v, q))
        return out
    raise AnswerError(
        f"{q.name}: a {type(value).__name__} is not a number; expected {_describe(q)}"
    )


def parse_answer(q: Quantity, value) -> np.ndarray:
    """The answer to ``q`` as an array of its shape.

    ``value`` may be a number, a (nested) list of numbers, or a string of numbers
    separated by spaces or commas; a matrix is read row by row. Raises
    :class:`AnswerError`, naming the quantity and what it expects, for anything else.
    """
    numbers = _flatten(value, q)
    if len(numbers) != q.size:
        raise AnswerError(f"{q.name}: expected {_describe(q)}, got {len(numbers)}")
    bad = [v for v in numbers if not np.isfinite(v)]
    if bad:
        raise AnswerError(f"{q.name}: {bad[0]} is not a finite number; expected {_describe(q)}")
    return np.asarray(numbers, dtype=np.float64).reshape(q.shape)


@dataclass
class QuantityResult:
    """The verdict on one quantity: ``status`` is ``right``, ``wrong``, ``missing`` or
    ``invalid``; ``wrong`` lists the wrong entries' names (``delta1[1]``); ``given`` is
    the parsed answer (None when missing or invalid); ``message`` says what went wrong."""

    quantity: Quantity
    status: str
    given: np.ndarray | None = None
    wrong: list[str] = field(default_factory=list)
    wrong_indices: list[int] = field(default_factory=list)
    message: str = ""
    lookalike: str | None = None

    @property
    def right(self) -> bool:
        return self.status == "right"

    def line(self) -> str:
        if self.status == "right":
            return "right"
        if self.status != "wrong":
            return self.message
        flat = self.given.reshape(-1)
        shown = [
            f"{name} (you gave {fmt(flat[i], 6)})"
            for i, name in zip(self.wrong_indices, self.wrong)
        ]
        text = "wrong: " + ", ".join(shown)
        if self.lookalike:
            text += f"; these are the numbers of {self.lookalike}"
        return text


def compare(
    q: Quantity, given: np.ndarray, key, rtol: float, atol: float, solution: Solution | None = None
) -> QuantityResult:
    """Grade an already parsed answer against the key; with the ``solution``, a wrong
    answer that equals another number of the solution says which."""
    key = np.asarray(key, dtype=np.float64).reshape(q.shape)
    ok = np.abs(given - key) <= rtol * np.abs(key) + atol
    if ok.all():
        return QuantityResult(q, "right", given)
    idx = [int(i) for i in np.flatnonzero(~ok.reshape(-1))]
    like = solution.lookalike(q.name, given, rtol, atol) if solution is not None else None
    return QuantityResult(
        q, "wrong", given, [q.entry(i) for i in idx], wrong_indices=idx, lookalike=like
    )


class CheckResult:
    """The grade of a set of answers: one :class:`QuantityResult` per quantity, in the
    order the exercise asks them, and the names given that the exercise does not ask.

    ``passed`` is True only when every quantity is right and nothing unknown was given.
    ``divergence`` is the number of the first step of the worked solution that derives a
    quantity answered wrongly (None when no answer is wrong).
    """

    def __init__(
        self,
        title: str,
        results: list[QuantityResult],
        unknown: list[str],
        solution: Solution,
        rtol: float,
        atol: float,
    ) -> None:
        self.title = title
        self.results = results
        self.unknown = unknown
        self.solution = solution
        self.rtol, self.atol = rtol, atol

    @property
    def passed(self) -> bool:
        return not self.unknown and all(r.right for r in self.results)

    @property
    def score(self) -> tuple[int, int]:
        return sum(r.right for r in self.results), len(self.results)

    def __getitem__(self, name: str) -> QuantityResult:
        for r in self.results:
            if r.quantity.name == name:
                return r
        raise KeyError(name)

    @property
    def divergence(self) -> int | None:
        steps = [
            self.solution.step_of(r.quantity.name) for r in self.results if r.status == "wrong"
        ]
        return min(steps) if steps else None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        right, total = self.score
        extra = ""
        if self.unknown:
            n = len(self.unknown)
            extra = f", but {n} name{'s are' if n > 1 else ' is'} not asked for"
        lines = [
            f"{self.title}: {right} of {total} right{extra} (an entry is right within a "
            f"relative {self.rtol:g} of the key, or {self.atol:g} of an exact 0)"
        ]
        width = max(len(r.quantity.name) for r in self.results)
        for r in self.results:
            lines.append(f"  {r.quantity.name:<{width}}  {r.line()}")
        asked = ", ".join(r.quantity.name for r in self.results)
        for name in self.unknown:
            lines.append(f"  {name!r} is not a quantity of this exercise (it asks for: {asked})")
        step = self.divergence
        if step is not None:
            lines += [
                "",
                f"Your numbers first part from the worked solution at step {step}:",
                self.solution.step_text(step),
            ]
        return "\n".join(lines) + "\n"


def grade(
    quantities: list[Quantity],
    key: dict,
    answers,
    solution: Solution,
    *,
    title: str,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> CheckResult:
    """Grade ``answers`` (a mapping from quantity name to answer) against ``key``."""
    if not isinstance(answers, Mapping):
        raise AnswerError(
            "the answers must be a mapping (a JSON object) from quantity name to numbers, "
            f"e.g. {{{quantities[0].name!r}: ...}}; got a {type(answers).__name__}"
        )
    if not rtol >= 0 or not atol >= 0:
        raise ValueError(f"rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    results = []
    for q in quantities:
        if q.name not in answers:
            results.append(
                QuantityResult(q, "missing", message=f"missing: expected {_describe(q)}")
            )
            continue
        try:
            given = parse_answer(q, answers[q.name])
        except AnswerError as err:
            results.append(QuantityResult(q, "invalid", message=str(err).split(": ", 1)[1]))
            continue
        results.append(compare(q, given, key[q.name], rtol, atol, solution))
    names = {q.name for q in quantities}
    unknown = [str(k) for k in answers if k not in names]
    return CheckResult(title, results, unknown, solution, rtol, atol)
