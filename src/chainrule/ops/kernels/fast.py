"""Speed devices for the elementwise kernels: the same bits as the plain forms in
``elementwise.py``, in fewer or cheaper passes over memory.

Each device exists because a profile of a training step showed its plain form costing
a large share of the step (the figures: docs/performance.md, "Where the speed devices
pay"); each is tested against its plain form, bit for bit, special values included
(tests/test_kernels.py).

- :func:`keep_where`: ``where(mask, x, 0.0)`` without branches. NumPy's ``where``
  branches per element, and a random mask (a ReLU's) defeats the CPU's branch
  prediction; multiplying the float's bit pattern, read as an integer, by the mask's 0 or
  1 has no branch.
- :func:`where`: NumPy's ``where``, switching to :func:`keep_where` when one side is
  +0.0 and the mask is large: the common case in backward rules.
- :func:`relu`: NumPy's ``clip(x, 0, inf)`` in one pass, where the plain form makes two
  (a comparison, then a ``where``), used only where a check at import shows it gives PyTorch's bits
  (``-0.0`` and NaN of either sign kept), which plain ``maximum`` does not.
- :func:`threshold_grad`: ReLU's backward with the comparison made a slice at a time, so
  the mask costs at most 64 KB instead of a byte per element, and written into the
  incoming gradient when the engine says nothing else holds it (``autograd/buffers.py``).
"""

from __future__ import annotations

import math

from chainrule._backend import xp

__all__ = ["keep_where", "relu", "threshold_grad", "where"]

_INT_OF_SIZE = {2: xp.int16, 4: xp.int32, 8: xp.int64}


def keep_where(mask, x):
    """``x`` where ``mask`` is true, +0.0 elsewhere: ``where(mask, x, 0.0)`` exactly, bit
    for bit: the float's bit pattern as an integer times the mask's 0 or 1."""
    itype = _INT_OF_SIZE[x.dtype.itemsize]
    return xp.multiply(x.view(itype), mask, dtype=itype).view(x.dtype)


def _is_plus_zero(v) -> bool:
    return isinstance(v, int | float) and v == 0 and math.copysign(1.0, v) > 0


def _selectable(zero, values, cond) -> bool:
    """Whether ``where`` can keep ``values`` with the bit select: the other side is +0.0
    and ``values`` a float array of the condition's shape."""
    return (
        _is_plus_zero(zero)
        and type(values) is xp.ndarray
        and values.shape == cond.shape
        and values.dtype.kind == "f"
        and values.dtype.itemsize in _INT_OF_SIZE
    )


def where(cond, a, b):
    """``xp.where(cond, a, b)``, by the bit select when one side is +0.0, the other a
    float array of the condition's shape, and the condition large (below 1024 elements
    NumPy's where is the cheaper of the two)."""
    if type(cond) is xp.ndarray and cond.dtype == xp.bool_ and cond.size >= 1024:
        if _selectable(b, a, cond):
            return keep_where(cond, a)
        if _selectable(a, b, cond):
            return keep_where(~cond, b)
    return xp.where(cond, a, b)


def _bits(a):
    return a.view(_INT_OF_SIZE[a.dtype.itemsize])


def clip_gives_relu(clip, plain) -> bool:
    """Whether ``clip(x, 0.0, inf)`` is ``plain(x)`` bit for bit on this NumPy, on the
    special values (zeros and NaNs of both signs, infinities, a denormal), in every float
    dtype, through a vectorised body and a scalar tail, contiguous or not."""
    special = [-0.0, 0.0, math.nan, -math.nan, -1.0, -math.inf, math.inf, 2.5, 1e-45, -1e-45]
    try:
        for dtype in (xp.float16, xp.float32, xp.float64):
            base = xp.resize(xp.asarray(special, dtype=dtype), 203)
            for x in (base, base[1:], base[::3]):
                if not xp.array_equal(_bits(clip(x, 0.0, math.inf)), _bits(plain(x))):
                    return False
    except (TypeError, ValueError):  # pragma: no cover - an array module without clip
        return False
    return True


try:  # the ufunc itself: np.clip's argument handling costs more than a small array's pass
    from numpy._core.umath import clip as _clip
except ImportError:  # pragma: no cover - other NumPy layouts
    _clip = getattr(xp, "clip", None)


def relu(plain):
    """The fastest function with ``plain``'s bits on floats: one pass of NumPy's clip
    when it passes :func:`clip_gives_relu` here, else ``plain`` itself. (The result keeps
    ``plain`` as its ``.plain`` attribute, for the tests.)"""
    if _clip is None or not clip_gives_relu(_clip, plain):
        return plain

    def relu(x):
        return _clip(x, 0.0, math.inf) if x.dtype.kind == "f" else plain(x)

    relu.plain = plain
    return relu


_SLICE = 1 << 16


def threshold_grad(g, out, overwrite=False):
    """``where(out == 0, 0.0, g)`` (ReLU's backward from its output), bit for bit, with
    the comparison made a slice at a time; with ``overwrite`` the result is written into
    ``g`` itself (the caller owns it), and nothing of g's size is allocated."""
    if g.dtype.itemsize not in _INT_OF_SIZE or g.shape != out.shape:
        return where(xp.equal(out, 0), 0.0, g)
    if g.size <= _SLICE or g.strides != out.strides:
        return keep_where(xp.not_equal(out, 0), g)
    res = g if overwrite else xp.empty_like(g)  # g's layout, so the three flatten alike
    gf, xf, of = g.ravel(order="K"), out.ravel(order="K"), res.ravel(order="K")
    if gf.base is None or xf.base is None or of.base is None:  # not dense: ravel copied
        return keep_where(xp.not_equal(out, 0), g)
    itype = _INT_OF_SIZE[g.dtype.itemsize]
    gi, oi = gf.view(itype), of.view(itype)
    mask = xp.empty(_SLICE, dtype=bool)
    for s in range(0, g.size, _SLICE):
        m = xp.not_equal(xf[s : s + _SLICE], 0, out=mask[: min(_SLICE, g.size - s)])
        xp.multiply(gi[s : s + _SLICE], m, out=oi[s : s + _SLICE], dtype=itype)
    return res
