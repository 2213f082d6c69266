r"""L-BFGS: a quasi-Newton method that needs the loss again, through a closure.

Each ``step(closure)`` runs up to ``max_iter`` iterations of L-BFGS on the flattened
parameters, calling ``closure()`` (which zeroes the gradients, computes the loss,
back-propagates and returns the loss) whenever it needs the loss and gradient at a new
point. PyTorch's algorithm (after minFunc), iteration for iteration, so trajectories agree
with ``torch.optim.LBFGS`` in float64::

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    optimizer = cr.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    for _ in range(10):
        optimizer.step(closure)
"""

from __future__ import annotations

import copy
import math

import numpy as np

from chainrule._backend import xp
from chainrule.autograd.grad_mode import enable_grad
from chainrule.optim.line_search import strong_wolfe
from chainrule.optim.optimizer import Optimizer, check, hyperparameters

__all__ = ["LBFGS", "two_loop_direction"]


def two_loop_direction(grad, old_dirs: list, old_stps: list, ro: list, H_diag, al: list):
    r"""The L-BFGS direction :math:`d = -H g` by the two-loop recursion (Nocedal 1980),
    with the curvature pairs :math:`y_i` (``old_dirs``: gradient changes), :math:`s_i`
    (``old_stps``: steps), :math:`\rho_i = 1 / y_i^\top s_i` (``ro``), oldest first, and the
    initial inverse Hessian :math:`H_0 = \gamma I` (``H_diag``
    :math:`= y^\top s / y^\top y` of the newest pair):

    .. code-block:: text

        q ← -g
        for i = k-1 … 0:   α_i ← ρ_i s_iᵀ q;    q ← q - α_i y_i
        r ← γ q
        for i = 0 … k-1:   β_i ← ρ_i y_iᵀ r;    r ← r + (α_i - β_i) s_i
        d ← r

    ``al`` receives the :math:`\alpha_i` (PyTorch keeps them in the state).
    """
    q = -grad
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q += -al[i] * old_dirs[i]
    r = q * H_diag
    for i in range(len(old_dirs)):
        be_i = old_dirs[i].dot(r) * ro[i]
        r += (al[i] - be_i) * old_stps[i]
    return r


class LBFGS(Optimizer):
    r"""Limited-memory BFGS with PyTorch's arguments, defaults and iterations.

    Each iteration: the direction :math:`d` (steepest descent :math:`-g` at the very first
    iteration, else :func:`two_loop_direction` from the last ``history_size`` curvature
    pairs; a pair is kept only when :math:`y^\top s > 10^{-10}`), then a step :math:`t`:
    ``lr`` (the first iteration ever: :math:`\min(1, 1/\|g\|_1)\cdot` ``lr``), as is or
    refined by a line search satisfying the strong Wolfe conditions
    (``line_search_fn='strong_wolfe'``), and :math:`\theta \leftarrow \theta + t d`.

    Conventions
    -----------
    *Stopping*, within one ``step``: after ``max_iter`` iterations or ``max_eval`` closure
    calls (default ``max_iter * 5 // 4``); when :math:`\max|g| \le` ``tolerance_grad`` (also
    before the first iteration: then nothing moves); when the directional derivative
    :math:`g^\top d > -` ``tolerance_change``; when :math:`\max|t d|` or the change of the
    loss is at most ``tolerance_change``.

    *Without a line search* the closure is called once per iteration, except after the
    last one (its loss would be wasted in a stochastic setting): the loss returned is the
    one at the start of the step, as in PyTorch.

    *State*, kept across steps (on the first parameter, as PyTorch does): the curvature
    pairs, the last direction and step, the previous gradient and loss, and the counts
    ``func_evals`` and ``n_iter``. All parameters form one vector: one parameter group only.
    Memory: ``2 * history_size + 3`` vectors of the size of all parameters.
    """

    elementwise = False

    # Mirrors PyTorch's signature.
    def __init__(
        self,
        params,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, hyperparameters(locals()))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel = sum(p._array.size for p in self._params)

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        check(
            group["line_search_fn"] in (None, "strong_wolfe"),
            f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}",
        )
        for key in ("max_iter", "max_eval", "history_size"):
            value = group[key]
            check(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"LBFGS: {key} must be a positive integer, got {value!r}",
            )

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ----------------------------------------------------------- the flat vector
    def _gather_flat_grad(self):
        """All gradients as one vector (zeros for a parameter without one)."""
        parts = [
            p._grad._array.reshape(-1) if p._grad is not None else xp.zeros(p._array.size, p.dtype)
            for p in self._params
        ]
        return xp.concatenate(parts)

    def _add_grad(self, step_size, update) -> None:
        """θ ← θ + step_size · update, parameter by parameter (in place)."""
        offset = 0
        for p in self._params:
            n = p._array.size
            p._array += step_size * update[offset : offset + n].reshape(p._array.shape)
            p._bump_version()
            offset += n

    def _clone_param(self) -> list:
        return [p._array.copy() for p in self._params]

    def _set_param(self, values: list) -> None:
        for p, value in zip(self._params, values):
            p._array[...] = value
            p._bump_version()

    def _evaluate(self, closure) -> float:
        with enable_grad():
            return float(closure())

    def _directional_evaluate(self, closure, x: list, t, d):
        """Loss and gradient at x + t d; the parameters are put back to x afterwards."""
        self._add_grad(t, d)
        loss = self._evaluate(closure)
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ----------------------------------------------------------- the step
    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the model
        and returns the loss. Returns the loss at the start of the step."""
        if closure is None:
            raise TypeError(
                "LBFGS.step needs a closure that zeroes the gradients, computes the loss, "
                "calls backward() and returns the loss"
            )
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search_fn = group["history_size"], group["line_search_fn"]

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if xp.abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep only pairs of positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                if "al" not in state:
                    state["al"] = [None] * history_size
                d = two_loop_direction(flat_grad, old_dirs, old_stps, ro, H_diag, state["al"])

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # the step length: the first iteration ever is scaled by the gradient's size
            t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)  # the directional derivative
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:  # no evaluation after the last iteration
                    loss = self._evaluate(closure)
                    flat_grad = self._gather_flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # when to stop
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:  # no progress in the parameters
                break
            if abs(loss - prev_loss) < tolerance_change:  # nor in the loss
                break

        # Mirrors PyTorch's LBFGS state keys on purpose, so state_dict() names the same.
        state.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_flat_grad,
            prev_loss=prev_loss,
        )
        return orig_loss

    # ----------------------------------------------------------- state
    def state_dict(self) -> dict:
        """PyTorch's layout: the whole state under the first parameter's index; vectors
        and lists of vectors are copies."""
        sd = super().state_dict()
        sd["state"] = copy.deepcopy(sd["state"])
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state saved by :meth:`state_dict` for the same parameters; everything
        is checked (every vector has the parameters' total size) before anything changes."""
        name = "LBFGS.load_state_dict"
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("state"), dict):
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups'")
        saved = state_dict["state"]
        restored = None
        if saved:
            first = _first_index(state_dict, name)
            if set(saved) != {first}:
                raise ValueError(
                    f"{name}: LBFGS keeps its state under the first parameter ({first}), "
                    f"got state for {sorted(saved, key=str)}"
                )
            restored = self._checked(name, saved[first])
        super().load_state_dict({**state_dict, "state": {}})
        if restored:
            self.state = {self._params[0]: restored}

    def _checked(self, name: str, entries) -> dict:
        if not isinstance(entries, dict):
            raise ValueError(f"{name}: the state is not a dict")
        n, dtype = self._numel, self._params[0]._array.dtype

        def vector(key, value):
            arr = np.asarray(value)
            if arr.shape != (n,) or arr.dtype.kind != "f":
                raise ValueError(
                    f"{name}: {key} must be a floating-point vector of the parameters' total "
                    f"size {n}, got {arr.dtype} of shape {arr.shape}"
                )
            return xp.asarray(arr, dtype=dtype).copy()

        def number(key, value, *, integer=False):
            value = value.item() if hasattr(value, "item") else value
            ok = isinstance(value, int) if integer else isinstance(value, int | float)
            if not ok or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{name}: {key} is {value!r}, not a finite number")
            return value

        out = {}
        for key, value in entries.items():
            if key in ("func_evals", "n_iter"):
                out[key] = number(key, value, integer=True)
            elif key in ("d", "prev_flat_grad"):
                out[key] = vector(key, value)
            elif key in ("t", "H_diag", "prev_loss"):
                out[key] = number(key, value)
            elif key in ("old_dirs", "old_stps", "ro", "al"):
                if not isinstance(value, list | tuple):
                    raise ValueError(f"{name}: {key} must be a list, got {type(value).__name__}")
                if key in ("old_dirs", "old_stps"):
                    out[key] = [vector(f"{key}[{i}]", v) for i, v in enumerate(value)]
                else:
                    out[key] = [
                        None if v is None and key == "al" else number(f"{key}[{i}]", v)
                        for i, v in enumerate(value)
                    ]
            else:
                raise ValueError(f"{name}: unknown state entry {key!r}")
        pairs = [len(out.get(k, ())) for k in ("old_dirs", "old_stps", "ro")]
        if len(set(pairs)) != 1:
            raise ValueError(
                f"{name}: old_dirs, old_stps and ro must have one entry per curvature pair, "
                f"got {pairs[0]}, {pairs[1]} and {pairs[2]}"
            )
        return out


def _first_index(state_dict: dict, name: str):
    groups = state_dict.get("param_groups")
    try:
        return groups[0]["params"][0]
    except (TypeError, KeyError, IndexError):
        raise ValueError(f"{name}: 'param_groups' must list the parameters") from None
