"""``chainrule bench``: chainrule against hand-written NumPy and PyTorch, case by case."""

from chainrule.bench.cases import CASES, Case
from chainrule.bench.runner import run

__all__ = ["CASES", "Case", "run"]
