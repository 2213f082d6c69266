r"""Learning-rate schedules with PyTorch's names, arguments and sequences of rates.

Call ``scheduler.step()`` once per epoch (``OneCycleLR``: once per batch), after
``optimizer.step()``; ``ReduceLROnPlateau.step(metric)`` takes the monitored value.
The schedules of this file are functions of the epoch: each updates every group's
``lr`` from its current value (PyTorch's "chainable" form, so the sequence of rates
matches PyTorch's to the last bit); the closed form is given in each docstring and used
when an epoch is given explicitly. The others live by family: the cyclic ones in
:mod:`chainrule.optim.lr_cycles`, those driven by a metric or by other schedules in
:mod:`chainrule.optim.lr_control`; the base class in :mod:`chainrule.optim.scheduler`.
``get_last_lr()`` returns the rates just set.
"""

from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable

from chainrule.optim.lr_control import ReduceLROnPlateau, SequentialLR
from chainrule.optim.lr_cycles import CosineAnnealingWarmRestarts, OneCycleLR
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.scheduler import LRScheduler

__all__ = [
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


class StepLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` every ``step_size`` epochs:
    :math:`\gamma_t = \gamma_0\, \mathrm{gamma}^{\lfloor t / \mathrm{step\_size}\rfloor}`."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` at each of the ``milestones`` (epoch numbers):
    :math:`\gamma_t = \gamma_0\,\mathrm{gamma}^{m(t)}`, :math:`m(t)` the number of
    milestones :math:`\le t`. A milestone listed twice multiplies by ``gamma**2``."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        if type(state.get("milestones")) is dict:  # a saved Counter comes back a dict
            state["milestones"] = Counter(state["milestones"])
        super().load_state_dict(state)


class LambdaLR(LRScheduler):
    r"""The initial rate times a factor that a function of the epoch gives:
    :math:`\gamma_t = \gamma_0\,\lambda(t)` (not chainable: it ignores the current rate).

    ``lr_lambda`` is one function for every group or a list with one per group.
    ``state_dict`` cannot store functions: it keeps the attributes of callable objects
    and None for plain functions and lambdas, as PyTorch does.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        groups = len(getattr(optimizer, "param_groups", ()))
        if isinstance(lr_lambda, list | tuple):
            if len(lr_lambda) != groups:
                raise ValueError(f"Expected {groups} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(f, types.FunctionType) else dict(f.__dict__) for f in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        self._check_state(state_dict)
        saved = state_dict["lr_lambdas"]
        if len(saved) != len(self.lr_lambdas) or not all(
            a is None or isinstance(a, dict) for a in saved
        ):
            raise ValueError(
                f"LambdaLR.load_state_dict: 'lr_lambdas' must hold {len(self.lr_lambdas)} "
                f"entries, each None or a dict of attributes, got {saved!r}"
            )
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        for f, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                f.__dict__.update(attributes)


class ExponentialLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` every epoch: :math:`\gamma_t = \gamma_0\,\mathrm{gamma}^t`."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine decay from the initial rate to ``eta_min`` over ``T_max`` epochs (then back
    up, periodically): :math:`\gamma_t = \eta_{min} + \tfrac12(\gamma_0 - \eta_{min})(1 +
    \cos(\pi t / T_{max}))`, computed recursively as PyTorch does."""

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and t > 0:
            return [
                lo + (base - lo) * (1 + math.cos(t * math.pi / T)) / 2 for base in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:
            return [
                lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                for lr, base in zip(self._current(), self.base_lrs)
            ]
        return [
            (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - lo) + lo
            for lr in self._current()
        ]

    def _get_closed_form_lr(self) -> list[float]:
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (base - lo) * (1 + math.cos(math.pi * t / T)) / 2 for base in self.base_lrs]


class LinearLR(LRScheduler):
    r"""Scale the rate linearly from ``start_factor`` to ``end_factor`` times the initial
    rate over ``total_iters`` epochs, then hold (warm-up):
    :math:`\gamma_t = \gamma_0(s + (e - s)\min(t, T)/T)`."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, e, n, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        if t == 0:
            return [lr * s for lr in self._current()]
        if self._is_initial or t > n:
            return self._current()
        return [lr * (1.0 + (e - s) / (n * s + (t - 1) * (e - s))) for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, n, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        return [base * (s + (e - s) * min(n, t) / n) for base in self.base_lrs]
