"""Strict settings for every test: numerical sloppiness must fail loudly."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.autograd import engine
from chainrule.autograd.grad_mode import STATE


@pytest.fixture(autouse=True)
def _strict_and_isolated(monkeypatch):
    # A built-in rule returning a gradient of the wrong dtype is a bug, not a cast.
    monkeypatch.setattr(engine, "STRICT_DTYPES", True)
    default = cr.get_default_dtype()
    cr.manual_seed(0)
    yield
    cr.set_default_dtype(default)
    STATE.grad = True
    STATE.anomaly = False
