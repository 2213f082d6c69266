"""Strict settings for every test: numerical sloppiness must fail loudly."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.autograd import engine
from chainrule.autograd.grad_mode import STATE


@pytest.fixture(autouse=True)
def _strict_and_isolated(monkeypatch):
    # A built-in rule returning a gradient of the wrong shape or dtype is a bug: it raises.
    monkeypatch.setattr(engine, "CHECK_BUILTIN_RULES", True)
    default = cr.get_default_dtype()
    cr.manual_seed(0)
    yield
    cr.set_default_dtype(default)
    STATE.grad = True
    STATE.anomaly = False
    STATE.inference = False
