r"""Check analytic gradients against central finite differences, in float64.

For a function :math:`f` and input element :math:`x_j`, the numeric derivative is
:math:`(f(x + \epsilon e_j) - f(x - \epsilon e_j)) / 2\epsilon`, accurate to
:math:`O(\epsilon^2)`. ``gradcheck`` compares

* the whole Jacobian, row by row (one backward per output element), and
* the vector-Jacobian product for a random upstream gradient :math:`v` (one backward with
  ``gradient=v``), the product a real backward pass computes,

and fails where :math:`|a - n| > atol + rtol\,|n|`, naming the worst element.
"""

from __future__ import annotations

import numpy as np

from chainrule._backend import to_numpy, xp

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when an analytic gradient disagrees with the numeric one."""


def _outputs(result) -> list:
    from chainrule.tensor import Tensor

    outs = [result] if isinstance(result, Tensor) else list(result)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: the function must return tensors, got {type(o).__name__}")
    return [o for o in outs if o._array.dtype.kind == "f"]


def _prepare(inputs) -> list:
    """float64 leaf copies of the floating tensor inputs (keeping requires_grad)."""
    from chainrule.tensor import Tensor, tensor

    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x._array.dtype.kind == "f":
            out.append(tensor(x._array, dtype="float64", requires_grad=x.requires_grad))
        else:
            out.append(x)
    return out


def _evaluate(func, args) -> list:
    return [to_numpy(o._array).astype(np.float64).copy() for o in _outputs(func(*args))]


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def _worst(analytic, numeric, atol, rtol):
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    bad = ~np.isfinite(analytic) | ~np.isfinite(numeric)
    bad &= ~(np.isnan(analytic) & np.isnan(numeric))
    bad &= ~((analytic == numeric) & np.isinf(analytic))
    excess = np.where(bad, np.inf, np.nan_to_num(excess, nan=-1.0))
    k = int(np.argmax(excess)) if excess.size else 0
    return (excess.flat[k] > 0) if excess.size else False, k


# Mirrors PyTorch's signature (torch.autograd.gradcheck), as gradgradcheck does.
def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Whether ``func``'s analytic gradients match finite differences at ``inputs``.

    ``inputs``: a tensor or a tuple of arguments; the floating tensors among them are copied
    to float64, and those with ``requires_grad=True`` are checked. ``func`` returns a tensor
    or a tuple of tensors. Returns True, or False (``raise_exception=False``) / raises
    ``GradcheckError`` naming the input, the element, and both values where they disagree.
    """
    from chainrule.autograd import grad
    from chainrule.tensor import Tensor

    args = _prepare((inputs,) if isinstance(inputs, Tensor) else tuple(inputs))
    checked = [i for i, x in enumerate(args) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")

    base = _evaluate(func, args)
    out_sizes = [o.size for o in base]
    total_out = sum(out_sizes)

    # Numeric Jacobian, one column per input element: J[i] has shape (total_out, numel_i).
    numeric = []
    for i in checked:
        flat = args[i]._array.reshape(-1)
        cols = np.zeros((total_out, flat.size))
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = _evaluate(func, args)
            flat[j] = orig - eps
            minus = _evaluate(func, args)
            flat[j] = orig
            cols[:, j] = np.concatenate(
                [((p - m) / (2 * eps)).ravel() for p, m in zip(plus, minus)]
            )
        numeric.append(cols)

    diff_inputs = [args[i] for i in checked]

    def vjp(upstream: list) -> list:
        outs = _outputs(func(*args))
        pairs = [(o, u) for o, u in zip(outs, upstream) if o.requires_grad]
        if not pairs:
            return [np.zeros(args[i]._array.size) for i in checked]
        grads = grad(
            [o for o, _ in pairs],
            diff_inputs,
            grad_outputs=[xp.asarray(u.astype(o._array.dtype)) for o, u in pairs],
            allow_unused=True,
        )
        result = []
        for x, g in zip(diff_inputs, grads):
            if g is None:
                result.append(np.zeros(x._array.size))
                continue
            if tuple(g.shape) != tuple(x.shape) or g.dtype != x.dtype:
                raise GradcheckError(
                    f"gradcheck: the gradient has shape {tuple(g.shape)} and dtype {g.dtype}, "
                    f"but its input has shape {tuple(x.shape)} and dtype {x.dtype}"
                )
            result.append(to_numpy(g._array).astype(np.float64).ravel())
        return result

    def compare(analytic, expected, what: str) -> bool:
        for pos, (a, n) in enumerate(zip(analytic, expected)):
            failed, k = _worst(a, n, atol, rtol)
            if failed:
                i = checked[pos]
                index = np.unravel_index(k, args[i]._array.shape) if args[i]._array.ndim else ()
                where = tuple(int(v) for v in index)
                return _fail(
                    f"gradcheck: {what} disagrees for input {i} at index {where}: "
                    f"analytic {a.flat[k]!r}, numeric {n.flat[k]!r} "
                    f"(atol={atol}, rtol={rtol}, eps={eps})",
                    raise_exception,
                )
        return True

    # 1. A random upstream gradient: the product that backward really computes.
    rng = np.random.default_rng(seed)
    upstream = [rng.standard_normal(o.shape) for o in base]
    v = np.concatenate([u.ravel() for u in upstream]) if upstream else np.zeros(0)
    if not compare(vjp(upstream), [v @ J for J in numeric], "the vector-Jacobian product"):
        return False

    # 2. The full Jacobian, one output element at a time.
    offset = 0
    for o_idx, size in enumerate(out_sizes):
        for k in range(size):
            basis = [np.zeros(o.shape) for o in base]
            basis[o_idx].flat[k] = 1.0
            row = vjp(basis)
            expected = [J[offset + k] for J in numeric]
            if not compare(row, expected, f"the Jacobian row of output {o_idx}, element {k},"):
                return False
        offset += size
    return True


# Mirrors PyTorch's signature (torch.autograd.gradgradcheck).
def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck the map (inputs, v) -> vᵀJ computed with
    ``create_graph=True``. ``v`` (one per output) is random unless given."""
    from chainrule.autograd import grad
    from chainrule.tensor import Tensor, _make, tensor

    args = _prepare((inputs,) if isinstance(inputs, Tensor) else tuple(inputs))
    n_in = len(args)
    outs = _outputs(func(*args))
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        vs = [
            tensor(rng.standard_normal(o.shape), dtype="float64", requires_grad=True) for o in outs
        ]
    else:
        vs = _prepare(grad_outputs if not isinstance(grad_outputs, Tensor) else (grad_outputs,))

    def first_derivative(*all_args):
        xs, v = all_args[:n_in], all_args[n_in:]
        diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        res = _outputs(func(*xs))
        pairs = [(o, u) for o, u in zip(res, v) if o.requires_grad]
        if not pairs:
            return tuple(_make(xp.zeros(x.shape), None, False) for x in diff)
        gs = grad(
            [o for o, _ in pairs],
            diff,
            grad_outputs=[u for _, u in pairs],
            create_graph=True,
            allow_unused=True,
        )
        return tuple(
            g if g is not None else _make(xp.zeros(x.shape), None, False) for g, x in zip(gs, diff)
        )

    return gradcheck(
        first_derivative,
        (*args, *vs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        seed=seed,
    )
