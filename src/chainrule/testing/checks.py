"""The checks run on each op-table entry, shared by the test suite and ``chainrule verify``.

Every check raises :class:`CheckFailure` with a message that names the op, the sample and
the worst disagreement; on success it returns the largest error it saw.
"""

from __future__ import annotations

import zlib

import numpy as np

import chainrule as cr
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.testing.sampling import (
    Kink,
    OpInfo,
    Sample,
    float_leaves,
    plain,
    to_chainrule,
    to_torch,
)

__all__ = [
    "CheckFailure",
    "check_float32",
    "check_forward",
    "check_gradcheck",
    "check_gradgradcheck",
    "check_kink",
    "check_method",
    "check_torch",
    "samples_of",
]

# float64 agreement with NumPy and PyTorch: a few ulps of accumulated rounding.
RTOL64, ATOL64 = 1e-10, 1e-12


class CheckFailure(AssertionError):
    """An op disagrees with its reference."""


def samples_of(info: OpInfo) -> list[Sample]:
    """The op's samples, drawn from a generator seeded by its name (stable across runs)."""
    return info.samples(np.random.default_rng(zlib.crc32(info.name.encode())))


def _label(info: OpInfo, sample) -> str:
    return f"{info.name} [{sample.desc}]" if sample.desc else info.name


def _max_error(actual, expected) -> float:
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(e)
    same_inf = np.isinf(a) & (a == e)
    with np.errstate(invalid="ignore"):
        diff = np.where(both_nan | same_inf, 0.0, np.abs(a - e) / (1.0 + np.abs(e)))
    return float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0


def _compare(what: str, label: str, actual, expected, rtol: float, atol: float) -> float:
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise CheckFailure(f"{label}: {what} has shape {actual.shape}, expected {expected.shape}")
    if actual.dtype.kind == "b" or expected.dtype.kind in "biu":
        if not np.array_equal(actual, expected):
            raise CheckFailure(f"{label}: {what} differs: {actual} vs {expected}")
        return 0.0
    try:
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    except AssertionError as err:
        raise CheckFailure(f"{label}: {what} disagrees{err}") from None
    return _max_error(actual, expected)


def _call(info: OpInfo, sample, dtype=np.float64, requires_grad=None):
    rg = info.differentiable if requires_grad is None else requires_grad
    args = [to_chainrule(a, dtype, rg) for a in sample.args]
    return info.op(*args, **_kwargs(sample, dtype)), args


def _kwargs(sample, dtype=np.float64):
    """A sample's (or kink's) keyword arguments as chainrule values (arrays there are
    constants)."""
    return {k: to_chainrule(v, dtype, requires_grad=False) for k, v in sample.kwargs.items()}


def _torch_kwargs(torch, sample, dtype=None):
    return {k: to_torch(torch, v, dtype, requires_grad=False) for k, v in sample.kwargs.items()}


def _ref(info: OpInfo, sample, dtype=np.float64):
    def cast(a):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            return a.astype(dtype)
        return [cast(v) for v in a] if isinstance(a, list) else a

    args = [cast(plain(a)) for a in sample.args]
    kwargs = {k: cast(plain(v)) for k, v in sample.kwargs.items()}
    return np.asarray(info.ref(*args, **kwargs))


def check_forward(info: OpInfo, sample: Sample) -> float:
    """float64 forward against the NumPy reference: values, shape and dtype."""
    out, _ = _call(info, sample, requires_grad=False)
    expected = _ref(info, sample)
    err = _compare("the forward", _label(info, sample), out.numpy(), expected, RTOL64, ATOL64)
    if out.dtype != expected.dtype:
        raise CheckFailure(
            f"{_label(info, sample)}: dtype {out.dtype}, the reference gives {expected.dtype}"
        )
    return err


def check_float32(info: OpInfo, sample: Sample) -> float:
    """float32 forward: close to the float64 reference, and computed in float32."""
    out, _ = _call(info, sample, np.float32, requires_grad=False)
    expected_dtype = _ref(info, sample, np.float32).dtype
    if out.dtype != expected_dtype:
        raise CheckFailure(
            f"{_label(info, sample)}: float32 input gave dtype {out.dtype}, "
            f"expected {expected_dtype}"
        )
    return _compare(
        "the float32 forward",
        _label(info, sample),
        out.numpy(),
        _ref(info, sample),
        info.rtol32,
        1e-6,
    )


def _bound(info: OpInfo, sample: Sample):
    """The op as a function of its differentiable inputs only, and those inputs."""
    args = [to_chainrule(a) for a in sample.args]
    leaves = float_leaves(args)

    def rebuild(values, it):
        out = []
        for a in values:
            if isinstance(a, list):
                out.append(rebuild(a, it))
            elif hasattr(a, "requires_grad") and a.requires_grad:
                out.append(next(it))
            else:
                out.append(a)
        return out

    kwargs = _kwargs(sample)

    def fn(*new_leaves):
        return info.op(*rebuild(args, iter(new_leaves)), **kwargs)

    return fn, leaves


def check_gradcheck(info: OpInfo, sample: Sample) -> None:
    """float64 finite differences, random upstream gradient and full Jacobian."""
    _finite_differences(gradcheck, info, sample, "")


def check_gradgradcheck(info: OpInfo, sample: Sample) -> None:
    """Second derivatives: the same backward rule, run with create_graph=True."""
    _finite_differences(gradgradcheck, info, sample, " (second derivative)")


def _finite_differences(check, info: OpInfo, sample: Sample, what: str) -> None:
    fn, leaves = _bound(info, sample)
    try:
        check(fn, tuple(leaves))
    except GradcheckError as err:
        raise CheckFailure(f"{_label(info, sample)}{what}: {err}") from None


def check_method(info: OpInfo, sample: Sample) -> None:
    """``x.method(...)`` computes exactly what ``cr.function(x, ...)`` computes."""
    out, args = _call(info, sample, requires_grad=False)
    via_method = getattr(args[0], info.method)(*args[1:], **_kwargs(sample))
    if not np.array_equal(out.numpy(), via_method.numpy(), equal_nan=True):
        raise CheckFailure(
            f"{_label(info, sample)}: the method .{info.method} differs from the function"
        )


def _np_dtype(torch, t):
    return np.dtype(str(t.dtype).replace("torch.", ""))


def check_torch(info: OpInfo, sample: Sample, torch) -> tuple[float, float]:
    """Forward and backward (random upstream gradient) against PyTorch, in float64, and in
    float32 for dtypes and values. Returns the largest float64 forward and backward errors."""
    tol64 = (RTOL64, ATOL64)
    errors = _against_torch(info, sample, torch, np.float64, tol=tol64, grad_tol=tol64)
    # float32: the same dtypes as PyTorch, and values within float32 rounding.
    tol32 = (max(info.rtol32, 1e-5), 1e-5)
    _against_torch(info, sample, torch, np.float32, tol=tol32, grad_tol=(1e-4, 1e-5))
    return errors


def _against_torch(info, sample, torch, dtype, tol, grad_tol) -> tuple[float, float]:
    """:func:`check_torch` in one dtype, within (rtol, atol) ``tol`` for the forward and
    ``grad_tol`` for the gradients; the largest forward and backward errors."""
    what = "float32 " if dtype == np.float32 else ""
    label = _label(info, sample)
    out, args = _call(info, sample, dtype)
    targs = [to_torch(torch, a, dtype, info.differentiable) for a in sample.args]
    tout = info.torch(torch, *targs, **_torch_kwargs(torch, sample, dtype))
    if out.dtype != _np_dtype(torch, tout):
        raise CheckFailure(
            f"{label}: {what}inputs give dtype {out.dtype}, PyTorch gives {tout.dtype}"
        )
    fwd = _compare(
        f"the {what}forward against PyTorch", label, out.numpy(), tout.detach().numpy(), *tol
    )
    bwd = 0.0
    if info.differentiable and out.dtype.kind == "f":
        v = np.random.default_rng(7).standard_normal(out.shape)
        out.backward(cr.tensor(v, dtype=out.dtype))
        tout.backward(torch.tensor(v, dtype=tout.dtype))
        for i, (leaf, tleaf) in enumerate(zip(float_leaves(args), float_leaves(targs))):
            if leaf.grad is not None and leaf.grad.dtype != leaf.dtype:
                raise CheckFailure(
                    f"{label}: the gradient of input {i} is {leaf.grad.dtype}, not {leaf.dtype}"
                )
            mine = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
            theirs = np.zeros(tuple(tleaf.shape)) if tleaf.grad is None else tleaf.grad.numpy()
            what_grad = f"the {what}gradient of input {i} against PyTorch"
            bwd = max(bwd, _compare(what_grad, label, mine, theirs, *grad_tol))
    return fwd, bwd


def check_kink(info: OpInfo, kink: Kink, torch=None) -> None:
    """The exact gradient at a kink (upstream gradient of ones), and PyTorch's agreement."""
    label = f"{info.name} at {kink.desc}"
    args = [to_chainrule(a) for a in kink.args]
    out = info.op(*args, **_kwargs(kink))
    out.backward(cr.ones_like(out))
    leaves = float_leaves(args)
    if len(leaves) != len(kink.grads):
        raise CheckFailure(
            f"{label}: {len(leaves)} differentiable inputs but {len(kink.grads)} expected gradients"
        )
    for i, (leaf, expected) in enumerate(zip(leaves, kink.grads)):
        _compare(f"the gradient of input {i}", label, leaf.grad.numpy(), expected, 1e-15, 0.0)
    if torch is not None and info.torch is not None:
        targs = [to_torch(torch, a) for a in kink.args]
        tout = info.torch(torch, *targs, **_torch_kwargs(torch, kink))
        tout.backward(torch.ones_like(tout))
        for i, (tleaf, expected) in enumerate(zip(float_leaves(targs), kink.grads)):
            _compare(
                f"PyTorch's gradient of input {i}", label, tleaf.grad.numpy(), expected, 1e-15, 0.0
            )
