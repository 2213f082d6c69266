r"""``gradient_flow``: why a network does not learn, read from one forward and backward.

Backpropagation multiplies one factor per layer, :math:`\partial L/\partial a_{k-1} =
(\delta_k W_k)` with :math:`\delta_k = \partial L/\partial a_k \odot f'(z_k)`. Where the
factors are below 1 (sigmoid's derivative is at most 1/4) the gradient reaching the first
layers vanishes; where they are above 1 (large weights) it explodes. Saturated sigmoid or
tanh units (derivative near 0), dead ReLU units (derivative exactly 0) and identical units
(the symmetry failure) each stop learning in their own way. :func:`gradient_flow` measures
all of it per layer on one batch and names the problem, with the numbers and the remedy.
"""

from __future__ import annotations

import numpy as np

from chainrule import random as _random
from chainrule.autograd.anomaly import detect_anomaly
from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.trace import check_scalar
from chainrule.diagnostics.report import FlowReport, LayerStats
from chainrule.diagnostics.symmetry import distinct_rows
from chainrule.diagnostics.thresholds import PRIORITY, REMEDIES, Thresholds, layer_findings
from chainrule.nn import activation as _act
from chainrule.nn.module import Module
from chainrule.tensor import Tensor, as_tensor

__all__ = ["ACTIVATIONS", "SATURATING", "gradient_flow"]

# Modules whose output is a layer's activation; the saturating ones with their asymptotes.
ACTIVATIONS = (
    _act.Sigmoid,
    _act.Tanh,
    _act.ReLU,
    _act.LeakyReLU,
    _act.ELU,
    _act.GELU,
    _act.SiLU,
    _act.Softplus,
)
SATURATING = {_act.Sigmoid: (0.0, 1.0), _act.Tanh: (-1.0, 1.0)}


def _own_params(m: Module) -> list:
    return [p for p in m._parameters.values() if p is not None and p.requires_grad]


class _Probe:
    """Forward hooks that record, in call order, each parameter-owning module's and each
    activation module's first output, and the norm of the gradient reaching it."""

    def __init__(self, model: Module) -> None:
        self.calls: list[tuple[str, Module, object]] = []
        self.act_grads: dict[int, tuple[float, bool]] = {}
        self._seen: set[int] = set()
        self.handles = [
            m.register_forward_hook(self._hook(name))
            for name, m in model.named_modules()
            if _own_params(m) or isinstance(m, ACTIVATIONS)
        ]

    def _hook(self, name: str):
        def hook(module, args, out):
            if id(module) in self._seen:
                return  # a module used twice is described by its first call
            self._seen.add(id(module))
            t = out[0] if isinstance(out, tuple | list) else out
            if not isinstance(t, Tensor):
                return
            self.calls.append((name, module, t))
            if t.requires_grad:
                key = len(self.calls) - 1

                def keep(g, key=key):
                    a = g._array
                    self.act_grads[key] = (float(np.linalg.norm(a)), bool(np.isfinite(a).all()))

                t.register_hook(keep)

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class _Restore:
    """Leave the model as it was: the gradients of its parameters (and of the inputs),
    its buffers (batch norm's running statistics), its mode, and the random generator
    (dropout masks), so that a diagnosis never changes a training run."""

    def __init__(self, model: Module, tensors: list) -> None:
        self.model = model
        self.params = list(model.parameters()) + [t for t in tensors if t.requires_grad]

    def __enter__(self):
        self.grads = [p.grad for p in self.params]
        self.buffers = [(b, b._array.copy()) for _, b in self.model.named_buffers()]
        self.training = self.model.training
        self.rng = _random.get_rng_state()
        for p in self.params:
            p.grad = None  # fresh gradients, and none accumulated into the user's
        self.model.train()
        return self

    def __exit__(self, *exc) -> None:
        for p, g in zip(self.params, self.grads):
            p.grad = g
        with no_grad():
            for b, saved in self.buffers:
                b.copy_(saved)
        self.model.train(self.training)
        _random.set_rng_state(self.rng)


def _fraction_saturated(a: np.ndarray, bounds: tuple, margin: float) -> float:
    lo, hi = bounds
    return float(((a < lo + margin) | (a > hi - margin)).mean()) if a.size else 0.0


def _fraction_dead(a: np.ndarray) -> float:
    """Units are the features along dimension 1 (a Linear's outputs, a Conv2d's channels);
    a unit is dead when it is 0 for every sample (and every position)."""
    if a.ndim < 2:
        return float((a == 0).mean()) if a.size else 0.0
    zero = a == 0
    axes = (0, *range(2, a.ndim))
    return float(zero.all(axis=axes).mean())


def _row(name, module, act_call, act_grad, t: Thresholds) -> LayerStats:
    params = _own_params(module)
    w = module._parameters.get("weight")
    main = [w] if w is not None and w.requires_grad else params
    grads = [p.grad._array for p in main if p.grad is not None]
    finite = all(np.isfinite(g).all() for g in grads)
    grad_norm = (
        float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
        if grads
        else None
    )
    weight_norm = float(
        np.sqrt(sum(float(np.sum(np.square(p._array, dtype=np.float64))) for p in main))
    )
    ratio = grad_norm / weight_norm if grad_norm is not None and weight_norm > 0 else None
    act_module, act = act_call
    a = np.asarray(act._array, dtype=np.float64)
    finite = finite and bool(np.isfinite(a).all())
    activation = type(act_module).__name__ if act_module is not module else None
    bounds = SATURATING.get(type(act_module))
    units = (
        int(w.shape[0])
        if w is not None and w.ndim >= 1
        else int(a.shape[1] if a.ndim > 1 else a.size)
    )
    distinct = None
    if w is not None and w.ndim >= 2:
        b = module._parameters.get("bias")
        distinct = distinct_rows(w._array, None if b is None else b._array, t.symmetry_atol)
    act_grad_norm = None
    if act_grad is not None:
        act_grad_norm, ok = act_grad
        finite = finite and ok
    return LayerStats(
        name=name,
        kind=type(module).__name__,
        activation=activation,
        units=units,
        distinct_units=distinct,
        grad_norm=grad_norm,
        weight_norm=weight_norm,
        ratio=ratio,
        act_mean=float(a.mean()) if a.size else 0.0,
        act_std=float(a.std()) if a.size else 0.0,
        act_grad_norm=act_grad_norm,
        saturated=_fraction_saturated(a, bounds, t.saturation_margin) if bounds else 0.0,
        dead=_fraction_dead(a) if activation is not None else 0.0,
        finite=finite,
    )


def _relative(value, ref):
    if value is None or ref is None or not np.isfinite(ref) or ref == 0 or not np.isfinite(value):
        return None
    return value / ref


def _rows(probe: _Probe, t: Thresholds) -> list[LayerStats]:
    rows = []
    calls = probe.calls
    for i, (name, module, out) in enumerate(calls):
        if not _own_params(module):
            continue
        act, key = (module, out), i
        for j in range(i + 1, len(calls)):  # the activation that follows, if any
            other = calls[j][1]
            if _own_params(other):
                break
            if isinstance(other, ACTIVATIONS):
                act, key = (other, calls[j][2]), j
                break
        rows.append(_row(name, module, act, probe.act_grads.get(key), t))
    return rows


def _judge(rows: list[LayerStats], t: Thresholds) -> tuple[dict, str | None]:
    """Each row's findings and verdict; every finding by verdict; the first layer with
    non-finite values (forward: the first layer whose output is non-finite; else, as the
    backward pass met them, the last layer in forward order with a non-finite gradient)."""
    last = rows[-1]
    for r in rows:
        r.grad_rel = _relative(r.grad_norm, last.grad_norm)
        r.act_grad_rel = _relative(r.act_grad_norm, last.act_grad_norm)
    weighted = [r for r in rows if r.distinct_units is not None]
    output_row = weighted[-1] if weighted else None
    findings: dict[str, list[str]] = {}
    for r in rows:
        found = layer_findings(r, t, hidden=r.distinct_units is not None and r is not output_row)
        r.evidence = [e for _, e in found]
        kinds = {v for v, _ in found}
        r.verdict = next(v for v in PRIORITY if v in kinds or v == "healthy")
        for v, e in found:
            findings.setdefault(v, []).append(f"layer {r.name!r}: {e}")
    bad = [r for r in rows if not r.finite]
    first = None
    if bad:
        forward = [r for r in bad if not (np.isfinite(r.act_mean) and np.isfinite(r.act_std))]
        first = (forward[0] if forward else bad[-1]).name
    return findings, first


def _call(what: str, fn, *args):
    try:
        return fn(*args)
    except Exception as err:
        raise RuntimeError(f"gradient_flow: {what} raised {type(err).__name__}: {err}") from err


def gradient_flow(model, loss_fn, inputs, targets, thresholds=None) -> FlowReport:
    """Diagnose how the gradient flows through ``model`` on one batch.

    One forward and one backward, in training mode, measure for each module that owns
    parameters, in forward order: the weight-gradient norm and its ratio to the weight
    norm, the activations' mean and standard deviation and their saturated and dead
    fractions, the norm of :math:`\\partial L/\\partial a` reaching the activation, and the
    number of distinct units. Each layer gets a verdict, and the network the first verdict
    of :data:`~chainrule.diagnostics.PRIORITY` that any layer shows (``symmetric``,
    ``exploding``, ``dead``, ``saturated``, ``vanishing``, else ``healthy``), with the
    numbers that triggered it and the remedies.

    Nothing changes: the parameters' ``.grad``, the buffers (batch norm's running
    statistics), the mode and the random generator are restored afterwards.

    Parameters
    ----------
    model : nn.Module
        With at least one parameter that requires grad. An activation is recognised as the
        output of an activation module (``nn.ReLU``, ``nn.Sigmoid``, ...) called after the
        layer and before the next one; without one, the layer's own output is used.
    loss_fn : callable
        ``loss_fn(output, targets)`` returning a scalar tensor.
    inputs, targets
        One batch (tensors or arrays). Dead-unit fractions are measured over this batch:
        a larger batch (say 256) gives steadier numbers.
    thresholds : Thresholds or dict, optional
        Bounds of the verdicts; the defaults, and the measurements behind them, are in
        :mod:`chainrule.diagnostics.thresholds`.

    Returns
    -------
    FlowReport
        Non-finite gradients are a finding (``exploding``, ``first_nonfinite`` naming the
        layer), not an error.

    Raises
    ------
    ValueError
        If the model has no parameters that require grad, or the loss is not a scalar.
    RuntimeError
        If the forward or the loss function raises, or the output does not require grad.
    """
    t = Thresholds.of(thresholds)
    if not isinstance(model, Module):
        raise TypeError(f"gradient_flow: expected an nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(
            f"gradient_flow: the model ({type(model).__name__}) has no parameters that "
            "require grad, so there is no gradient to diagnose"
        )
    if not isinstance(targets, Tensor):
        targets = as_tensor(targets)
    given = [x for x in (inputs, targets) if isinstance(x, Tensor)]
    probe = _Probe(model)
    try:
        with _Restore(model, given), detect_anomaly(False):
            out = _call("the model's forward", model, inputs)
            if not isinstance(out, Tensor) or not out.requires_grad:
                raise RuntimeError(
                    "gradient_flow: the model's output does not require grad: was the forward "
                    "run under no_grad(), or does it detach its result?"
                )
            loss = _call("the loss function", loss_fn, out, targets)
            check_scalar(
                loss,
                "gradient_flow: the loss",
                "use reduction='mean' or reduce it with .mean()",
                "it does not depend on the model's output through differentiable ops",
            )
            loss.backward()
            with np.errstate(all="ignore"):  # non-finite numbers are findings, not noise
                rows = _rows(probe, t)
    finally:
        probe.remove()
    if not rows:
        raise ValueError("gradient_flow: no module that owns parameters ran in the forward")
    with np.errstate(all="ignore"):
        findings, first = _judge(rows, t)
    verdict = next(v for v in PRIORITY if v in findings or v == "healthy")
    evidence = list(findings.get(verdict, []))
    if first is not None:
        evidence.insert(0, f"non-finite values first appear in layer {first!r}")
    return FlowReport(
        verdict=verdict,
        layers=rows,
        remedies=list(REMEDIES[verdict]),
        evidence=evidence,
        findings=findings,
        thresholds=t,
        loss=float(loss._array),
        first_nonfinite=first,
    )
