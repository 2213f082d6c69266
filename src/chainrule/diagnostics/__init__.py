"""Seeing inside a network: why it does not learn.

- :func:`gradient_flow`: one forward and backward, a row per layer (gradient norms,
  activation statistics, saturated and dead units, distinct units) and a verdict:
  healthy, vanishing, exploding, saturated, dead or symmetric, with its remedies.
- :func:`symmetry`: how many distinct hidden units each layer really has.
- :class:`FlowMonitor`: a callback for :func:`chainrule.train.fit` that records the
  report every N steps and warns once when training turns unhealthy.

The backward pass itself, node by node, is :func:`chainrule.explain`.
"""

from chainrule.diagnostics.flow import gradient_flow
from chainrule.diagnostics.monitor import FlowMonitor, FlowWarning
from chainrule.diagnostics.report import FlowReport, LayerStats
from chainrule.diagnostics.symmetry import distinct_rows, symmetry
from chainrule.diagnostics.thresholds import PRIORITY, REMEDIES, Thresholds

__all__ = [
    "PRIORITY",
    "REMEDIES",
    "FlowMonitor",
    "FlowReport",
    "FlowWarning",
    "LayerStats",
    "Thresholds",
    "distinct_rows",
    "gradient_flow",
    "symmetry",
]
