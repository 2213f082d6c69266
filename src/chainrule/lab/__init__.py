"""The lab: every claim of docs/fundamentals.md as an experiment that runs, plots and checks
itself.

``chainrule lab list`` names them; ``chainrule lab run NAME`` runs one;
``chainrule lab all --report DIR`` runs all of them and writes one HTML page to study
from. From Python::

    from chainrule import lab

    result = lab.run_experiment("softmax-overflow", seed=0, smoke=True)
    result.passed, result.metrics, [str(c) for c in result.checks]

``docs/fundamentals.md`` holds the derivations the experiments check.
"""

from chainrule.lab.base import Check, Config, Result
from chainrule.lab.registry import SECTIONS, Experiment, get, names
from chainrule.lab.runner import run_all, run_experiment, write_figures

__all__ = [
    "SECTIONS",
    "Check",
    "Config",
    "Experiment",
    "Result",
    "get",
    "names",
    "run_all",
    "run_experiment",
    "write_figures",
]
