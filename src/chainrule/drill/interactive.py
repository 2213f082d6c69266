"""The interactive drill: ask each quantity in turn, grade it at once, show hints and the
worked solution on request, and end with a score.

Input, per quantity: numbers separated by spaces or commas (a matrix row by row), ``?``
for a hint, ``s`` for the solution's steps up to this quantity, ``q`` to stop. End of
input (Ctrl-D) or Ctrl-C stops too, with the score so far.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

from chainrule.drill.exercise import Exercise
from chainrule.drill.grading import ATOL, RTOL, AnswerError

__all__ = ["interact"]

HELP = (
    "Answer with numbers separated by spaces or commas (a matrix row by row); '?' shows a "
    "hint, 's' the solution's steps for this quantity, 'q' or Ctrl-D stops."
)


@dataclass
class _Tally:
    total: int
    right: int = 0
    wrong: int = 0
    shown: int = 0
    hints: int = 0

    @property
    def answered(self) -> int:
        return self.right + self.wrong + self.shown

    def summary(self, stopped: bool) -> str:
        parts = [f"{self.wrong} wrong", f"{self.shown} shown"]
        if self.hints:
            parts.append(f"{self.hints} hint{'s' * (self.hints != 1)}")
        if self.answered < self.total:
            parts.append(f"{self.total - self.answered} not answered")
        head = "score so far" if stopped else "score"
        return f"{head}: {self.right} of {self.total} right ({', '.join(parts)})"


def _echoing(prompt: str) -> str:
    line = input(prompt)
    print(line)
    return line


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _steps(ex: Exercise, upto: int, after: int) -> str:
    """The solution's steps ``after + 1 .. upto``: what leads to the quantity asked."""
    sol = ex.solution()
    return "\n".join(_indent(sol.step_text(k)) for k in range(after + 1, upto + 1))


def _ask(ex: Exercise, k: int, read, write, tally: _Tally, rtol: float, atol: float) -> None:
    q = ex.quantities[k - 1]
    sol = ex.solution()
    step = sol.step_of(q.name)
    before = sol.step_of(ex.quantities[k - 2].name) if k > 1 else 0
    write(f"[{k}/{tally.total}] {q.name}: {q.text} ({q.count_text()})")
    while True:
        line = read(f"{q.name} > ").strip()
        if not line:
            continue
        word = line.lower()
        if word in ("?", "hint"):
            tally.hints += 1
            write(f"  hint: {q.hint}")
            continue
        if word in ("s", "solution"):
            tally.shown += 1
            write(_steps(ex, step, min(before, step - 1)))
            return
        if word in ("q", "quit", "exit"):
            raise EOFError
        try:
            result = ex.check_one(q.name, line, rtol=rtol, atol=atol)
        except AnswerError as err:
            write(f"  {err}. Try again ('?' for a hint, 's' for the solution).")
            continue
        if result.right:
            tally.right += 1
            write("  right")
            return
        tally.wrong += 1
        write(f"  {result.line()}")
        write(f"  Your numbers part from the worked solution here (step {step}):")
        write(_steps(ex, step, min(before, step - 1)))
        return


def interact(
    ex: Exercise,
    *,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
    rtol: float = RTOL,
    atol: float = ATOL,
    chosen: bool = False,
) -> int:
    """Drill ``ex`` interactively, reading answers with ``read`` and writing with
    ``write``.

    Parameters
    ----------
    ex : Exercise
    read, write : callables
        ``input`` and ``print`` by default; tests pass their own.
    rtol, atol : float
        The tolerance of :meth:`Exercise.check`.
    chosen : bool
        The topic was drawn at random: say so, and how to get the same exercise again.

    Returns
    -------
    int
        The exit status: 0, or 130 when stopped by Ctrl-C.
    """
    if read is input and sys.stdin.isatty():
        with contextlib.suppress(ImportError):  # line editing for the answers, where it exists
            import readline  # noqa: F401
    elif read is input:
        read = _echoing  # answers piped in: show them after the prompt, as a terminal would
    again = f"chainrule drill {ex.topic} --seed {ex.seed}"
    write(f"{again}" + ("   (a topic drawn at random)" if chosen else ""))
    write("")
    write(str(ex))
    write(HELP)
    tally = _Tally(len(ex.quantities))
    status, stopped = 0, False
    try:
        for k in range(1, len(ex.quantities) + 1):
            _ask(ex, k, read, write, tally, rtol, atol)
    except EOFError:
        write("")  # the prompt's line is still open
        write("stopped.")
        stopped = True
    except KeyboardInterrupt:
        write("")
        write("interrupted.")
        status, stopped = 130, True
    write(tally.summary(stopped))
    if tally.right < tally.total:
        write(f"The whole worked solution: {again} --solution")
    return status
