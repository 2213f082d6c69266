r"""What a drill exercise is made of: the numbers drawn from its seed, the quantities it
asks for, and the steps of its worked solution.

The numbers come from NumPy's ``default_rng`` seeded with the seed and the topic (PCG64,
the same stream on every machine) and are rounded to 2 decimals, so that an exercise can be worked on paper and
``chainrule drill TOPIC --seed S`` shows everyone the same one. Nothing here touches the
library's own generator (:mod:`chainrule.random`).
"""

from __future__ import annotations

import html
import textwrap
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Draft", "Numbers", "Quantity", "Solution", "SolutionStep", "fmt", "par"]

DOCS = "docs/fundamentals.md"


def _num(v: float, digits: int) -> str:
    if v == 0:
        return "0"  # never "-0"
    return f"{v:.{digits}g}"


def fmt(value, digits: int = 4) -> str:
    """A number or an array as the worked solution prints it: ``digits`` significant
    digits (4: enough to answer within a relative 1e-2), nested brackets for arrays."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        return _num(float(a), digits)
    return "[" + ", ".join(fmt(row, digits) for row in a) + "]"


def par(value, digits: int = 4) -> str:
    """:func:`fmt`, in parentheses when negative, for a factor in a product: ``2 × (-0.5)``."""
    text = fmt(value, digits)
    return f"({text})" if text.startswith("-") else text


class Numbers:
    """The numbers of one exercise, drawn from ``np.random.default_rng([seed, crc32(topic)])``.

    Every draw is rounded to 2 decimals. ``avoid`` lists values an entry must stay at
    least ``gap`` away from (0 for a weight that must have a sign, 1 for a margin that
    must not sit on the hinge): such entries are drawn again from the same stream, so the
    result still depends on the seed alone.
    """

    def __init__(self, seed: int, topic: str = "") -> None:
        self.seed = seed
        # the topic joins the seed so that seed 0 of two topics gives unrelated numbers;
        # crc32, unlike hash(), is the same in every process and on every machine
        self._rng = np.random.default_rng([seed, zlib.crc32(topic.encode())])

    def values(
        self,
        shape: int | tuple[int, ...],
        low: float,
        high: float,
        *,
        avoid: Sequence[float] = (0.0,),
        gap: float = 0.05,
    ) -> np.ndarray:
        out = np.array(np.round(self._rng.uniform(low, high, shape), 2))  # 0-d: an array too
        for _ in range(1000):
            bad = np.zeros(out.shape, bool)
            for v in avoid:
                bad |= np.abs(out - v) < gap
            if not bad.any():
                return out + 0.0  # turns a rounded -0.0 into 0.0
            out[bad] = np.round(self._rng.uniform(low, high, int(bad.sum())), 2)
        raise RuntimeError(f"could not draw values in [{low}, {high}] away from {list(avoid)}")

    def value(self, low: float, high: float, **kwargs) -> float:
        return float(self.values((), low, high, **kwargs))

    def pick(self, options: Sequence):
        return options[int(self._rng.integers(len(options)))]

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high)."""
        return int(self._rng.integers(low, high))

    def signs(self, size: int) -> np.ndarray:
        """Labels in {-1, +1}, both present."""
        while True:
            t = self._rng.choice(np.array([-1.0, 1.0]), size)
            if (t > 0).any() and (t < 0).any():
                return t


@dataclass(frozen=True)
class Quantity:
    """One number, or a small array, that the exercise asks for.

    ``name`` is the key of the answer (in ``check`` and in an answers file); ``text``
    says what it is in the notation of the worked solution; ``hint`` is what ``?`` shows.
    """

    name: str
    text: str
    shape: tuple[int, ...]
    hint: str

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    def count_text(self) -> str:
        """How many numbers the answer has, and in which order for a matrix."""
        if self.size == 1:
            return "1 number"
        order = ""
        if sum(d > 1 for d in self.shape) > 1:
            order = f", a {'x'.join(map(str, self.shape))} matrix row by row"
        return f"{self.size} numbers{order}"

    def entry(self, flat: int) -> str:
        """The name of entry ``flat`` (row-major), as in NumPy: ``dL_dW1[1, 0]``."""
        if self.size == 1:
            return self.name
        index = np.unravel_index(flat, self.shape)
        kept = [int(i) for i, d in zip(index, self.shape) if d > 1]
        return f"{self.name}[{', '.join(map(str, kept))}]"


@dataclass
class SolutionStep:
    """One step of a worked solution: a title, its lines, the quantities it derives
    (``values``: answer name -> the number the step arrives at) and other numbers it
    arrives at that a wrong answer may turn out to be (``also``: label -> number, e.g.
    ``∂L/∂a1`` for hidden residuals computed without the sigmoid's derivative)."""

    title: str
    lines: list[str]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    also: dict[str, np.ndarray] = field(default_factory=dict)

    def text(self, number: int) -> str:
        body = [
            "\n".join(
                textwrap.wrap(
                    line, 100, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
                )
            )
            for line in self.lines
        ]
        return "\n".join([f"Step {number}. {self.title}", *body])


class Solution:
    """The worked solution of one exercise, step by step, with the exercise's numbers.

    ``str(solution)`` prints it; ``steps[k]`` is step ``k + 1``; :meth:`step_of` finds
    the step that derives a quantity.
    """

    def __init__(self, head: str, steps: list[SolutionStep]) -> None:
        self.head = head
        self.steps = steps

    def step_of(self, name: str) -> int:
        """The number (from 1) of the step that derives quantity ``name``."""
        for k, step in enumerate(self.steps, 1):
            if name in step.values:
                return k
        raise KeyError(f"no step of the solution derives {name!r}")

    def values(self) -> dict[str, np.ndarray]:
        """Every quantity as the solution arrives at it."""
        out: dict[str, np.ndarray] = {}
        for step in self.steps:
            out.update(step.values)
        return out

    def lookalike(self, name: str, given: np.ndarray, rtol: float, atol: float) -> str | None:
        """When a wrong answer to ``name`` holds the numbers of something else the solution
        computes (another quantity, or an intermediate such as ``∂L/∂a1``), say which and
        where: the usual slips (a factor left out, two quantities swapped) show up so."""
        flat = np.asarray(given, np.float64).reshape(-1)
        for k, step in enumerate(self.steps, 1):
            for label, value in [*step.values.items(), *step.also.items()]:
                v = np.asarray(value, np.float64).reshape(-1)
                same = v.size == flat.size and np.all(np.abs(flat - v) <= rtol * np.abs(v) + atol)
                if label != name and same:
                    return f"{label} (step {k})"
        return None

    def step_text(self, number: int) -> str:
        return self.steps[number - 1].text(number)

    def __str__(self) -> str:
        parts = [textwrap.fill(self.head, 100), ""]
        for k, step in enumerate(self.steps, 1):
            parts += [step.text(k), ""]
        return "\n".join(parts).rstrip() + "\n"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


@dataclass
class Draft:
    """What a topic's builder returns: the exercise before it is given its topic and seed.

    ``inputs``: name -> number or array (what the student is given); ``key``: quantity
    name -> the answer, computed by chainrule; ``solve``: builds the worked solution's
    steps (called on demand).
    """

    question: str
    inputs: dict
    quantities: list[Quantity]
    key: dict[str, np.ndarray]
    solve: Callable[[], list[SolutionStep]]
