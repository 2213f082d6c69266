r"""Cyclic learning-rate schedules: ``OneCycleLR`` and ``CosineAnnealingWarmRestarts``.

Both are stepped once per batch in typical use and are not chainable: each computes the
rate from the epoch (or batch) number and its own bounds, ignoring the current rate.
Exported from :mod:`chainrule.optim.lr_scheduler`, where PyTorch users look for them.
"""

from __future__ import annotations

import math

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.scheduler import LRScheduler, check_optimizer, per_group

__all__ = ["CosineAnnealingWarmRestarts", "OneCycleLR"]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017):

    .. math::
        \gamma_t = \eta_{min} + \tfrac12(\gamma_0 - \eta_{min})
                   \bigl(1 + \cos(\pi\, T_{cur} / T_i)\bigr)

    :math:`T_{cur}` counts the epochs since the last restart and :math:`T_i` is the
    length of the current cycle: the first has ``T_0`` epochs, each next one ``T_mult``
    times as many. At a restart the rate jumps back to :math:`\gamma_0`.

    ``step()`` advances one epoch; ``step(epoch)`` jumps to ``epoch``, which may be
    fractional (``step(epoch + i / iters)`` per batch), with the cycle found in closed
    form: for ``T_mult > 1`` the cycle number is
    :math:`n = \lfloor\log_{T_{mult}}(\text{epoch}\,(T_{mult} - 1)/T_0 + 1)\rfloor`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, float | int):
            raise ValueError(
                f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}"
            )
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lo = self.eta_min
        return [
            lo + (base - lo) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (an int or a fraction: not deprecated here)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:  # a restart
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    # cycles 0..n-1 last T_0 (T_mult^n - 1) / (T_mult - 1) epochs in all
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current()


_PHASE_KEYS = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin 2017): the rate rises from ``max_lr / div_factor``
    to ``max_lr``, then falls to ``initial_lr / final_div_factor``, far below where it
    started; the momentum moves the opposite way. Step it once per batch, ``total_steps``
    times (or ``epochs * steps_per_epoch``).

    Phases, with :math:`T` = ``total_steps`` and :math:`p` = ``pct_start`` (each phase
    anneals from its start value to its end value as its own fraction goes 0 to 1):

    .. code-block:: text

        two phases (default, fastai's):  steps 0 .. pT-1       initial_lr -> max_lr
                                         steps pT-1 .. T-1     max_lr -> min_lr
        three_phase=True (the paper's):  steps 0 .. pT-1       initial_lr -> max_lr
                                         steps pT-1 .. 2pT-2   max_lr -> initial_lr
                                         steps 2pT-2 .. T-1    initial_lr -> min_lr

    Annealing from :math:`a` to :math:`b` at fraction :math:`x` of a phase:
    ``'cos'``: :math:`b + (a - b)(1 + \cos\pi x)/2`; ``'linear'``: :math:`a + (b - a)x`.

    With ``cycle_momentum`` the momentum follows the same phases between
    ``max_momentum`` (where the rate is low) and ``base_momentum`` (at ``max_lr``): an
    optimizer with ``betas`` (Adam, AdamW, NAdam) gets :math:`\beta_1` cycled, one with
    ``momentum`` (SGD, RMSprop) its momentum. The schedule writes ``initial_lr``,
    ``max_lr``, ``min_lr``, ``max_momentum`` and ``base_momentum`` into each group.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(self, optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(
                    f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}"
                )
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._anneal_func_type = anneal_strategy
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            phases = [
                (rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (
                    float(2 * pct_start * self.total_steps) - 2,
                    "max_lr",
                    "initial_lr",
                    "base_momentum",
                    "max_momentum",
                ),
                (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            phases = [
                (rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self._schedule_phases = [dict(zip(_PHASE_KEYS, phase)) for phase in phases]

        max_lrs = per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            highs = per_group("max_momentum", optimizer, max_momentum)
            lows = per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for high, low, group in zip(highs, lows, optimizer.param_groups):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == last:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                        self._set_momentum(group, momentum)
                    break
                start = end
        return lrs
