"""One module per experiment, each a claim of docs/fundamentals.md.

Every module follows the same plan (see :mod:`chainrule.lab.base`): its docstring's
first paragraph states the claim, then the section of docs/fundamentals.md (§N) that
derives it; ``Config`` and ``SMOKE`` give the sizes; ``run`` measures, ``check`` judges
with the bounds written beside each comparison, and ``plot`` draws.
"""
