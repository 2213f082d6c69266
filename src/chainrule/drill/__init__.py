r"""``cr.drill``: derive it yourself, with the numbers checked by chainrule.

A learner must be able to derive backpropagation by hand (docs/fundamentals.md §1). A drill
exercise gives a few small numbers (2 decimals, drawn from a seed) and asks for the
quantities a derivation by hand produces: residuals, gradients, optimizer steps, losses.
The answer key is computed by chainrule itself (autograd for gradients, the optimizer
classes for steps, the loss modules for losses); the worked solution derives every
quantity with the exercise's numbers, in the notation of ``docs/fundamentals.md``
(residuals δ = ∂L/∂z, ∂L/∂W = δ·aᵀ, dC/dz = a - y, the update equations), and for the
gradient exercises reads its numbers from ``cr.explain``'s trace of the same computation::

    import chainrule as cr

    ex = cr.drill.exercise("softmax-ce", seed=3)
    print(ex)                      # the question, the inputs, what to find
    result = ex.check({"a": [0.2, 0.3, 0.5], "C": 1.2, "dC_dz": "0.2 -0.7 0.5"})
    print(result)                  # which entries are wrong, and where the solution parts
    print(ex.solution())           # the derivation, step by step

``chainrule drill`` runs the same exercises in the terminal (see :mod:`.command`).
"""

from chainrule.drill import backprop, layers, losses, softmax, updates  # noqa: F401 (registers)
from chainrule.drill.core import Quantity, Solution, SolutionStep
from chainrule.drill.exercise import Exercise
from chainrule.drill.grading import ATOL, RTOL, AnswerError, CheckResult, QuantityResult
from chainrule.drill.registry import TOPICS, exercise, random_topic, topics

__all__ = [
    "ATOL",
    "RTOL",
    "TOPICS",
    "AnswerError",
    "CheckResult",
    "Exercise",
    "Quantity",
    "QuantityResult",
    "Solution",
    "SolutionStep",
    "exercise",
    "random_topic",
    "topics",
]
