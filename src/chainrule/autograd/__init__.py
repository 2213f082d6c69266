"""Automatic differentiation: ``backward``, ``grad``, custom ``Function``, ``gradcheck``,
``detect_anomaly``, and seeing the backward pass: ``explain`` and ``to_dot``."""

from __future__ import annotations

import sys

from chainrule import tensor as _tensor_module
from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.autograd import views as views  # reached by Tensor through the seam
from chainrule.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.autograd.engine import run_backward
from chainrule.autograd.function import Function, FunctionCtx
from chainrule.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.autograd.variable import Variable
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor, _make

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "Variable",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "explain",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
    "to_dot",
]


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


@replayable
def _seed(shape: tuple, dtype):
    """The implicit upstream gradient of a one-element output: 1, in its shape and dtype."""
    g = xp.array(1, dtype)  # faster than ones() for one element
    return g.reshape(shape) if shape else g


def _root_grads(roots, grad_outputs, create_graph: bool, where: str) -> list:
    """One upstream gradient per root: given ones checked, missing ones made (scalars only)."""
    given = [grad_outputs] if not isinstance(grad_outputs, list | tuple) else list(grad_outputs)
    if grad_outputs is None:
        given = []
    if given and len(given) != len(roots):
        raise ValueError(f"{where}: got {len(given)} gradients for {len(roots)} outputs")
    out = []
    for i, root in enumerate(roots):
        if not isinstance(root, Tensor):
            raise TypeError(f"{where}: output {i} is a {type(root).__name__}, not a tensor")
        reason = getattr(root, "reason", None)  # a metric that explains why it has no gradient
        if reason:
            raise RuntimeError(reason)
        if not root.requires_grad:  # (the property: a view may have a new history)
            raise RuntimeError(
                f"{where}: output {i} does not require grad: it was not computed from any "
                "tensor with requires_grad=True, or it was computed under no_grad()"
            )
        g = given[i] if given else None
        if g is None:
            if root._array.size != 1:
                raise RuntimeError(
                    f"{where}: a gradient can only be created implicitly for a single-element "
                    f"output, but output {i} has shape {tuple(root.shape)}; pass gradient= "
                    "(a tensor of that shape)"
                )
            g = _seed(root._array.shape, root._array.dtype)
            out.append(_make(g, None, False) if create_graph else g)
            continue
        tensor_g = g if isinstance(g, Tensor) else _make(xp.asarray(g), None, False)
        if tuple(tensor_g.shape) != tuple(root.shape):
            raise ShapeError(
                f"{where}: the gradient for output {i} has shape {tuple(tensor_g.shape)}, "
                f"but the output has shape {tuple(root.shape)}"
            )
        if tensor_g.dtype != root.dtype:
            tensor_g = tensor_g.to(root.dtype)
        out.append(tensor_g if create_graph else tensor_g._array)
    return out


def backward(
    tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False
):
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves they depend on.

    ``grad_tensors`` holds the upstream gradient of each tensor (needed unless the tensor
    has a single element). The graph is freed afterwards unless ``retain_graph`` is true;
    with ``create_graph`` the gradients are themselves differentiable.
    """
    roots = _as_list(tensors)
    grads = _root_grads(roots, grad_tensors, create_graph, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(roots, grads, retain_graph=retain_graph, create_graph=create_graph)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
):
    """The gradients of ``outputs`` with respect to ``inputs``, returned as a tuple.

    Unlike ``backward`` this leaves every ``.grad`` untouched. With ``create_graph=True``
    the returned gradients carry a graph of their own, so they can be differentiated again
    (second derivatives, Hessian-vector products). An input that the outputs do not depend
    on raises, unless ``allow_unused`` (then its gradient is None).
    """
    roots = _as_list(outputs)
    targets = _as_list(inputs)
    for i, t in enumerate(targets):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: input {i} is a {type(t).__name__}, not a tensor")
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so it has no gradient")
    grads = _root_grads(roots, grad_outputs, create_graph, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(
        roots,
        grads,
        retain_graph=retain_graph,
        create_graph=create_graph,
        inputs=targets,
        accumulate=False,
    )
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                "to get None for it"
            )
    return tuple(result)


from chainrule.autograd import functional  # noqa: E402
from chainrule.autograd.dot import to_dot  # noqa: E402
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
from chainrule.autograd.trace import explain  # noqa: E402

_tensor_module._autograd = sys.modules[__name__]  # the seam: see chainrule/tensor.py
