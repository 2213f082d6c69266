"""The exercise object: its question and inputs, the key, grading and the worked solution."""

from __future__ import annotations

import html
import textwrap

import numpy as np

from chainrule.drill.core import DOCS, Draft, Quantity, Solution, fmt
from chainrule.drill.grading import (
    ATOL,
    RTOL,
    CheckResult,
    QuantityResult,
    compare,
    grade,
    parse_answer,
)

__all__ = ["Exercise"]


def _jsonable(value):
    a = np.asarray(value)
    if a.dtype.kind in "iu":
        return a.tolist()
    return np.asarray(value, dtype=np.float64).tolist()


class Exercise:
    """One drill exercise: a topic's question with the numbers of one seed.

    Attributes
    ----------
    topic, seed : str, int
        What ``chainrule drill TOPIC --seed S`` shows the same exercise with.
    title, section : str
        The topic's title, and the section of ``docs/fundamentals.md`` it drills.
    question : str
        What to compute, in words, naming every input and every quantity.
    inputs : dict
        name -> number or ndarray: the numbers given.
    quantities : tuple of Quantity
        What is asked, in the order the interactive mode asks it.

    ``check(answers)`` grades, ``solution()`` derives every quantity step by step,
    ``key()`` gives the answers (computed by chainrule: autograd for gradients, the
    optimizer classes for steps, the loss modules for losses).
    """

    def __init__(self, topic: str, seed: int, title: str, section: str, draft: Draft) -> None:
        self.topic, self.seed, self.title, self.section = topic, seed, title, section
        self.question = draft.question
        self.inputs = dict(draft.inputs)
        self.quantities: tuple[Quantity, ...] = tuple(draft.quantities)
        self._key = {
            q.name: np.asarray(draft.key[q.name], np.float64).reshape(q.shape)
            for q in self.quantities
        }
        self._solve = draft.solve
        self._solution: Solution | None = None

    # ------------------------------------------------------------------ what is asked
    @property
    def answer_shape(self) -> dict[str, list[int]]:
        """quantity name -> the shape of its answer (``[]`` for a single number)."""
        return {q.name: list(q.shape) for q in self.quantities}

    def quantity(self, name: str) -> Quantity:
        for q in self.quantities:
            if q.name == name:
                return q
        raise KeyError(
            f"{name!r} is not a quantity of {self.topic}; it asks for: "
            + ", ".join(q.name for q in self.quantities)
        )

    def key(self) -> dict:
        """The answers: quantity name -> number or nested list, as ``check`` accepts them."""
        return {name: _jsonable(v) for name, v in self._key.items()}

    def to_dict(self) -> dict:
        """The exercise for programs: ``topic``, ``seed``, ``question``, ``inputs`` and
        ``answer_shape`` (what ``chainrule drill TOPIC --seed S --json`` prints)."""
        return {
            "topic": self.topic,
            "seed": self.seed,
            "question": self.question,
            "inputs": {k: _jsonable(v) for k, v in self.inputs.items()},
            "answer_shape": self.answer_shape,
        }

    # ------------------------------------------------------------------ grading
    def check(self, answers, *, rtol: float = RTOL, atol: float = ATOL) -> CheckResult:
        r"""Grade ``answers``: a mapping from quantity name to a number, a (nested) list of
        numbers or a string of numbers separated by spaces or commas.

        Returns a :class:`~chainrule.drill.grading.CheckResult`: true when every answer is
        right; ``str()`` of it names each wrong entry and shows the first step of the
        worked solution where the answers part from it. Entry :math:`a` is right when
        :math:`|a - k| \le` ``rtol`` :math:`|k| +` ``atol``.
        """
        return grade(
            list(self.quantities),
            self._key,
            answers,
            self.solution(),
            title=f"{self.topic}, seed {self.seed}",
            rtol=rtol,
            atol=atol,
        )

    def check_one(
        self, name: str, answer, *, rtol: float = RTOL, atol: float = ATOL
    ) -> QuantityResult:
        """Grade the answer to one quantity (raises ``AnswerError`` when it cannot be
        read: not numbers, or not as many as the quantity has)."""
        q = self.quantity(name)
        return compare(q, parse_answer(q, answer), self._key[name], rtol, atol, self.solution())

    def solution(self) -> Solution:
        """The worked solution, step by step, with this exercise's numbers."""
        if self._solution is None:
            head = (
                f"Worked solution: {self.topic}, seed {self.seed} ({self.title}). "
                f'Notation of {DOCS}, section "{self.section}".'
            )
            self._solution = Solution(head, self._solve())
        return self._solution

    # ------------------------------------------------------------------ display
    def inputs_lines(self) -> list[str]:
        width = max(len(k) for k in self.inputs)
        return [f"  {k:<{width}} = {fmt(v, 6)}" for k, v in self.inputs.items()]

    def quantities_lines(self) -> list[str]:
        width = max(len(q.name) for q in self.quantities)
        return [f"  {q.name:<{width}}  {q.text} ({q.count_text()})" for q in self.quantities]

    def __str__(self) -> str:
        lines = [f"{self.topic} (seed {self.seed}): {self.title}", ""]
        lines += textwrap.wrap(self.question, 96)
        lines += ["", "Given:", *self.inputs_lines(), "Find:", *self.quantities_lines()]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"<drill exercise {self.topic!r}, seed {self.seed}: {', '.join(self._key)}>"

    def _repr_html_(self) -> str:
        e = html.escape
        given = "".join(
            f"<tr><td><code>{e(k)}</code></td><td><code>{e(fmt(v, 6))}</code></td></tr>"
            for k, v in self.inputs.items()
        )
        find = "".join(
            f"<tr><td><code>{e(q.name)}</code></td><td>{e(q.text)}</td>"
            f"<td>{e(q.count_text())}</td></tr>"
            for q in self.quantities
        )
        return (
            f"<h4>{e(self.topic)} (seed {self.seed}): {e(self.title)}</h4>"
            f"<p>{e(self.question)}</p>"
            f"<table><tr><th>given</th><th>value</th></tr>{given}</table>"
            f"<table><tr><th>find</th><th>what</th><th>answer</th></tr>{find}</table>"
            "<p>Grade with <code>ex.check({name: numbers, ...})</code>.</p>"
            f"<details><summary>Worked solution</summary><pre>{e(str(self.solution()))}</pre>"
            "</details>"
        )
