r"""The strong-Wolfe line search that :class:`~chainrule.optim.LBFGS` uses
(``line_search_fn='strong_wolfe'``): PyTorch's, itself ported from minFunc's.

Along a descent direction :math:`d` from :math:`x` (loss :math:`f`, directional derivative
:math:`g^\top d < 0`), a step :math:`t` satisfies the strong Wolfe conditions when

.. math::
    f(x + t d) \le f(x) + c_1 t\, g^\top d \quad\text{(sufficient decrease, Armijo)}, \qquad
    |\nabla f(x + t d)^\top d| \le c_2 |g^\top d| \quad\text{(curvature)},

with :math:`0 < c_1 < c_2 < 1` (here :math:`10^{-4}` and :math:`0.9`). The search first
*brackets*: it grows :math:`t` (extrapolating by cubic interpolation, between
:math:`1.01\,t` and :math:`10\,t`) until an interval must contain such a point; then it
*zooms*: cubic interpolation inside the bracket, kept at least a tenth of the bracket away
from its ends when progress stalls, until the conditions hold, the bracket is shorter than
``tolerance_change`` (in :math:`\max|t d|`), or ``max_ls`` evaluations are spent.
"""

from __future__ import annotations

from chainrule._backend import xp

__all__ = ["cubic_interpolate", "strong_wolfe"]


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    r"""The minimiser of the cubic through :math:`(x_1, f_1)` and :math:`(x_2, f_2)` with
    slopes :math:`g_1, g_2`, clipped to ``bounds`` (default: the interval between
    :math:`x_1` and :math:`x_2`); the interval's midpoint when the cubic has no minimum:

    .. code-block:: text

        d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2)
        d2 = √(d1² - g1 g2)                      (no real root: the midpoint)
        x* = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)     (for x1 ≤ x2)
    """
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = xp.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, lo), hi)
    return (lo + hi) / 2.0


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Search along ``d`` from ``x`` (loss ``f``, gradient ``g``, ``gtd`` = gᵀd) for a
    step satisfying the strong Wolfe conditions, starting from ``t``.
    ``obj_func(x, t, d)`` returns the loss and the gradient at ``x + t d``.

    Returns ``(f_new, g_new, t, evaluations)``: the loss and gradient at the accepted
    step, the step, and the number of calls of ``obj_func``.
    """
    d_norm = xp.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # 1. bracket: an interval [t_prev, t] that contains an acceptable step, or t itself
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:  # both conditions hold at t
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:  # the slope turned: a minimum lies between
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # still descending: extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:  # out of evaluations while extrapolating
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # 2. zoom: shrink the bracket until a point in it satisfies both conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # A trial too close to an end of the bracket makes little progress: after one such
        # trial (or one at or past an end), move it a tenth of the bracket inside.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # not a sufficient decrease, or not below the low end: t becomes the high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the minimum lies on the other side of t: the old low end becomes the high
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
