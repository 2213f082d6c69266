r"""Derivatives of whole functions, as PyTorch's ``torch.autograd.functional``: ``vjp``,
``jvp``, ``jacobian``, ``hessian``, ``hvp``, ``vhp``.

Each takes a function ``func`` of tensors and the point ``inputs`` (a tensor, or a tuple
of tensors passed as ``func(*inputs)``) and is built from reverse mode alone
(:func:`chainrule.autograd.grad`):

- ``vjp``: :math:`v^\top J`, one backward pass with ``v`` as the upstream gradient.
- ``jvp``: :math:`J v`, by the double-backward trick. The vector-Jacobian product
  :math:`g(u) = J^\top u` is linear in :math:`u`, so its own vector-Jacobian product with
  ``v``, taken with respect to :math:`u`, is :math:`(J^\top)^\top v = J v`. Two backward
  passes, no forward mode needed.
- ``jacobian``: one backward pass per output element :math:`i`, with the one-hot
  upstream gradient :math:`e_i`, giving row :math:`i`. The result for an output of shape
  ``O`` and an input of shape ``I`` has shape ``O + I``.
- ``hessian``: the jacobian of the gradient (the gradient taken with ``create_graph``).
- ``vhp``: :math:`v^\top H`, the vector-Jacobian product of the gradient.
- ``hvp``: :math:`H v`, the double-backward trick applied to the gradient.

Returned values are detached unless ``create_graph=True``, which keeps them in the graph
(for a derivative of a derivative). An input that the outputs do not depend on gets
zeros, or with ``strict=True`` an error. The result mirrors the arguments: a tensor for a
tensor, a tuple for a tuple (``jacobian`` and ``hessian``: a tuple per output, of one
entry per input).

``vectorize=True`` is accepted; PyTorch then batches the backward passes with vmap, and
here they run one after another, with the same numbers. ``strategy="forward-mode"``
(with ``vectorize=True``, as PyTorch requires) is computed by the same reverse passes.
"""

from __future__ import annotations

from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from chainrule.tensor import Tensor, zeros_like

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


# ----------------------------------------------------------------------------- helpers
def _as_tuple(x, what: str, fn: str) -> tuple[bool, tuple]:
    """``x`` as a tuple of tensors, and whether it was a tuple."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the {what}"
            raise TypeError(
                f"{fn}: the {what} must be a tensor or a tuple of tensors, but {where} is a "
                f"{type(el).__name__}"
            )
    return is_tuple, items


def _prepare(tensors: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh leaves to differentiate at. With ``create_graph`` an input that requires
    grad is kept connected to its own graph (through an alias), so the result can be
    differentiated with respect to it."""
    out = []
    for t in tensors:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(results, create_graph: bool):
    """Detach the results unless they are to stay in the graph (nested tuples allowed)."""
    if isinstance(results, Tensor):
        return results if create_graph else results.detach()
    return tuple(_finish(r, create_graph) for r in results)


def _unpack(results: tuple, is_tuple):
    """Undo the tuples that were added around single tensors."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        if not inner:
            results = tuple(r[0] for r in results)
        return results if outer else results[0]
    return results if is_tuple else results[0]


def _check_v(v: tuple, other: tuple, other_is_tuple: bool, fn: str) -> None:
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"{fn}: v should hold {len(other)} tensors, but it holds {len(v)}")
        raise RuntimeError(f"{fn}: v should be a single tensor")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            which = f"entry {i} of v" if other_is_tuple else "v"
            raise RuntimeError(f"{fn}: {which} should have shape {b.shape}, but has {a.shape}")


def _need_grad(tensors: tuple, what: str, strict: bool, fn: str) -> None:
    """With ``strict``, every tensor must depend differentiably on the inputs."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None or not t.requires_grad:
            raise RuntimeError(
                f"{fn}: {what} {i} does not depend differentiably on the inputs, which "
                "strict=True does not allow"
            )


def _grad(outputs: tuple, inputs: tuple, upstream=None, create_graph: bool = False, retain=None):
    """``autograd.grad`` over the outputs that require grad; None for unused inputs."""
    if upstream is None:
        upstream = (None,) * len(outputs)
    pairs = [(o, u) for o, u in zip(outputs, upstream) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    from chainrule.autograd import grad

    outs, ups = zip(*pairs)
    return grad(
        list(outs),
        list(inputs),
        list(ups) if any(u is not None for u in ups) else None,
        retain_graph=retain,
        create_graph=create_graph,
        allow_unused=True,
    )


def _zeros_for_missing(grads, refs, strict: bool, create_graph: bool, fn: str, what: str):
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{fn}: {what} is independent of input {i}, which strict=True does not allow"
                )
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(
                f"{fn}: {what} does not depend on input {i}, which strict=True with "
                "create_graph=True does not allow"
            )
        out.append(g)
    return tuple(out)


def _vector(v, against: tuple, against_is_tuple: bool, create_graph: bool, fn: str, of: str):
    """``v`` as a tuple of fresh tensors shaped as ``against``; None (a one-element
    ``against`` only) stays None."""
    if v is None:
        if len(against) != 1 or against[0].numel() != 1:
            raise RuntimeError(
                f"{fn}: v can only be omitted when the {of} is a single tensor with a single "
                "element"
            )
        return None
    _, v = _as_tuple(v, "v", fn)
    v = _prepare(v, create_graph, need_graph=False)
    _check_v(v, against, against_is_tuple, fn)
    return v


def _call(func, inputs: tuple, strict: bool, fn: str) -> tuple[bool, tuple]:
    """``func(*inputs)`` as a tuple of tensors, and whether it returned a tuple."""
    outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the function", fn)
    _need_grad(outputs, "output", strict, fn)
    return outputs_tuple, outputs


def _pair(outputs, outputs_tuple, result, result_tuple, create_graph: bool) -> tuple:
    """``(func(inputs), product)``, each detached unless ``create_graph``, and each a
    tensor or a tuple as its argument was."""
    return (
        _unpack(_finish(outputs, create_graph), outputs_tuple),
        _unpack(_finish(result, create_graph), result_tuple),
    )


# ----------------------------------------------------------------------------- products
def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""``(func(inputs), vᵀ J)``: the outputs, and the vector-Jacobian product, shaped as
    the inputs. ``v`` is shaped as the outputs (optional for a one-element output)."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _call(func, inputs, strict, "vjp")
        v = _vector(v, outputs, outputs_tuple, create_graph, "vjp", "output of the function")
        grads = _grad(outputs, inputs, v, create_graph)
        result = _zeros_for_missing(grads, inputs, strict, create_graph, "vjp", "the output")
    return _pair(outputs, outputs_tuple, result, inputs_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""``(func(inputs), J v)``: the outputs, and the Jacobian-vector product, shaped as
    the outputs. ``v`` is shaped as the inputs (optional for a one-element input).
    Computed by the double-backward trick (see the module's docstring)."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, inputs_tuple, create_graph, "jvp", "input")
        outputs_tuple, outputs = _call(func, inputs, strict, "jvp")
        # g(u) = Jᵀu, with u a dummy upstream gradient that requires grad
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        back = _grad(outputs, inputs, dummies, create_graph=True)
        _need_grad(back, "gradient with respect to input", strict, "jvp")
        grads = _grad(back, dummies, v, create_graph=create_graph)
        result = _zeros_for_missing(grads, outputs, strict, create_graph, "jvp", "the output")
    return _pair(outputs, outputs_tuple, result, outputs_tuple, create_graph)


# ----------------------------------------------------------------------------- matrices
def _check_strategy(strategy: str, create_graph: bool, strict: bool, vectorize: bool) -> None:
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(
            f'jacobian: strategy must be "forward-mode" or "reverse-mode", got {strategy!r}'
        )
    if vectorize and strict:
        raise RuntimeError(
            "jacobian: strict=True and vectorize=True are not supported together (as in "
            "PyTorch); set one of them to False"
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'jacobian: create_graph=True and strategy="forward-mode" are not supported '
                'together (as in PyTorch); use strategy="reverse-mode"'
            )
        if not vectorize:
            raise NotImplementedError(
                'jacobian: strategy="forward-mode" needs vectorize=True (as in PyTorch)'
            )


# Mirrors PyTorch's signature (torch.autograd.functional.jacobian), as hessian does.
def jacobian(
    func,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
):
    r"""The Jacobian of ``func`` at ``inputs``: entry ``[i..., j...]`` is
    :math:`\partial\, \mathrm{out}_{i} / \partial\, \mathrm{in}_{j}`, of shape
    ``out.shape + in.shape``; a tuple per output (of one per input) when there are tuples."""
    _check_strategy(strategy, create_graph, strict, vectorize)
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _call(func, inputs, strict, "jacobian")
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            for k in range(out.numel()):
                one_hot = zeros_like(out)
                one_hot._array.reshape(-1)[k] = 1  # (a fresh array: reshape is a view of it)
                row = _grad((out,), inputs, (one_hot,), create_graph, retain=True)
                what = f"output {i}"
                row = _zeros_for_missing(row, inputs, strict, create_graph, "jacobian", what)
                for j, g in enumerate(row):
                    rows[j].append(g)
            jac.append(tuple(_stack(r, out, inp) for r, inp in zip(rows, inputs)))
    return _unpack(_finish(tuple(jac), create_graph), (outputs_tuple, inputs_tuple))


def _stack(rows: list, out: Tensor, inp: Tensor) -> Tensor:
    from chainrule.ops import stack

    if not rows:  # an output without elements
        return zeros_like(inp).reshape(-1)[:0].reshape(*out.shape, *inp.shape)
    return stack(rows, 0).reshape(*out.shape, *inp.shape)


# Mirrors PyTorch's signature (torch.autograd.functional.hessian).
def hessian(
    func,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    r"""The Hessian of a function with a one-element output: entry ``[i..., j...]`` is
    :math:`\partial^2 f / \partial x_i \partial x_j`, the jacobian of the gradient; for a
    tuple of inputs a tuple of tuples (block ``[a][b]`` pairs input ``a`` with ``b``)."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(
            'hessian: outer_jacobian_strategy must be "forward-mode" or "reverse-mode", '
            f"got {outer_jacobian_strategy!r}"
        )

    def scalar(*args):
        _, (out,) = _scalar_output(func, args, strict, "hessian")
        return out.reshape(())

    def gradient(*args):
        jac = jacobian(scalar, args, create_graph=True)
        _need_grad(jac, "gradient with respect to input", strict, "hessian")
        return jac

    result = jacobian(
        gradient,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _unpack(result, (inputs_tuple, inputs_tuple))


def _scalar_output(func, inputs: tuple, strict: bool, fn: str) -> tuple[bool, tuple]:
    outputs_tuple, outputs = _call(func, inputs, strict, fn)
    if outputs_tuple:
        raise RuntimeError(f"{fn}: the function should return a single tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(
            f"{fn}: the tensor the function returns should hold a single element, got shape "
            f"{outputs[0].shape}"
        )
    return outputs_tuple, outputs


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""``(func(inputs), vᵀ H)`` for a function with a one-element output: the
    vector-Jacobian product of the gradient, shaped as the inputs."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    r"""``(func(inputs), H v)`` for a function with a one-element output, shaped as the
    inputs: the double-backward trick applied to the gradient :math:`\nabla f`
    (:math:`H v` is the Jacobian-vector product of :math:`\nabla f`)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph: bool, strict: bool, fn: str):
    """``vhp`` (a backward pass through the gradient with ``v`` as its upstream
    gradient) or ``hvp`` (the same trick as ``jvp``, on the gradient)."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, inputs_tuple, create_graph, fn, "input")
        outputs_tuple, outputs = _scalar_output(func, inputs, strict, fn)
        jac = _grad(outputs, inputs, create_graph=True)
        _need_grad(jac, "gradient with respect to input", strict, fn)
        wrt, what = inputs, "the gradient"
        if fn == "hvp":
            wrt, what = tuple(zeros_like(x).requires_grad_(True) for x in inputs), "the hessian"
            jac = _grad(jac, inputs, wrt, create_graph=True)  # Hᵀu, linear in the dummy u
        with set_grad_enabled(create_graph or is_grad_enabled()):
            grads = _grad(jac, wrt, v, create_graph=create_graph)
            result = _zeros_for_missing(grads, inputs, strict, create_graph, fn, what)
    return _pair(outputs, outputs_tuple, result, inputs_tuple, create_graph)
