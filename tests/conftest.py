"""Strict settings for every test: numerical sloppiness must fail loudly."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.autograd import engine
from chainrule.autograd.grad_mode import STATE


@pytest.fixture(autouse=True)
def _isolated():
    # Tests run the backward loop that users run (no checks on the built-in rules); the
    # op tables run once more with the checks on (tests/test_ops.py, the ``loop`` fixture).
    assert not engine.CHECK_BUILTIN_RULES
    default = cr.get_default_dtype()
    cr.manual_seed(0)
    yield
    cr.set_default_dtype(default)
    STATE.grad = True
    STATE.anomaly = False
    STATE.inference = False
