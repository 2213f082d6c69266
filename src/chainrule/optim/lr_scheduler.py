r"""Learning-rate schedules: ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``LinearLR``.

Call ``scheduler.step()`` once per epoch, after ``optimizer.step()``. Each schedule
updates every group's ``lr`` from its current value (PyTorch's "chainable" form, so the
sequence of rates matches PyTorch's to the last bit); the closed form is given in each
docstring. ``get_last_lr()`` returns the rates just set.
"""

from __future__ import annotations

import math

from chainrule.optim.optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LinearLR", "StepLR"]


def _kind(value):
    """What a schedule's state entry must stay across a save: a number (int or float), a
    flag, or a list of that many numbers."""
    if isinstance(value, bool) or value is None:
        return type(value)
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list) and all(_kind(v) == "number" for v in value):
        return ("numbers", len(value))
    return type(value)


class LRScheduler:
    """Base class: remembers each group's initial rate, counts epochs, sets rates."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not in param_groups[{i}]: resuming a schedule with "
                        "last_epoch >= 0 needs the optimizer's saved state"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial = True
        self._step_count = 0
        self.step()
        self._initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's learning rate."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything but the optimizer (which has its own state_dict)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` returned for a schedule of the same class:
        the same entries, each a number, a flag or a list of numbers as here (checked
        before anything changes)."""
        own = self.state_dict()
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or state_dict.keys() != own.keys():
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else state_dict
            raise ValueError(f"{name}: expected the entries {sorted(own)}, got {got!r}")
        for key, value in state_dict.items():
            if _kind(value) != _kind(own[key]):
                raise ValueError(f"{name}: {key!r} is {value!r}, not like {own[key]!r}")
        self.__dict__.update(state_dict)


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


class ExponentialLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` every epoch: :math:`\gamma_t = \gamma_0\,\mathrm{gamma}^t`."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


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
        if self._initial:
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
        if self._initial or t > n:
            return self._current()
        return [lr * (1.0 + (e - s) / (n * s + (t - 1) * (e - s))) for lr in self._current()]
