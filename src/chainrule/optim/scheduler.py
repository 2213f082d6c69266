r"""``LRScheduler``: the base of every learning-rate schedule (PyTorch's protocol).

A schedule owns an optimizer and sets each parameter group's ``lr``. Construction
records each group's starting rate as ``initial_lr`` (the schedule's ``base_lrs``) and
takes the first step, to epoch 0. Each ``step()`` advances ``last_epoch`` by one and asks
the subclass's ``get_lr`` for the new rates.

Most schedules are written in PyTorch's *chainable* form: ``get_lr`` updates the rate
from its current value (``lr * gamma``), not from a closed formula of the epoch, so two
schedules applied to one optimizer compose, and the sequence of rates is PyTorch's to the
last bit. Where PyTorch also has a closed form (``_get_closed_form_lr``, from
``base_lrs`` and ``last_epoch``), it is used when an epoch is given explicitly, as
``SequentialLR`` does at its milestones.

Call ``scheduler.step()`` once per epoch (per batch for ``OneCycleLR``), after
``optimizer.step()``. ``get_last_lr()`` returns the rates just set.
"""

from __future__ import annotations

import warnings

from chainrule.optim.optimizer import Optimizer

__all__ = ["EPOCH_DEPRECATION_WARNING", "LRScheduler", "check_optimizer", "per_group"]

EPOCH_DEPRECATION_WARNING = (
    "scheduler.step(epoch) is deprecated (as in PyTorch): call scheduler.step() without an "
    "epoch. With an epoch, the schedule's closed form is used where it has one, instead "
    "of the chainable form."
)


class LRScheduler:
    """Base class: remembers each group's initial rate, counts epochs, sets rates.

    Subclasses define ``get_lr()`` (the rates at ``self.last_epoch``, usually computed
    from the current ``group["lr"]``) and may define ``_get_closed_form_lr()``.
    ``self._is_initial`` is True during the step taken by the constructor.
    """

    _is_initial = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        check_optimizer(self, optimizer)
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
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the constructor's step (to epoch 0)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set every group's learning rate. ``epoch`` (deprecated,
        as in PyTorch) jumps to that epoch, through the closed form where there is one."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
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
        before anything changes). The optimizer is restored apart."""
        self._check_state(state_dict)
        self.__dict__.update(state_dict)

    def _check_state(self, state_dict) -> None:
        """Raise ValueError unless ``state_dict`` has this schedule's entries, each of the
        same kind as here."""
        own = self.state_dict()
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or state_dict.keys() != own.keys():
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else state_dict
            raise ValueError(f"{name}: expected the entries {sorted(own)}, got {got!r}")
        for key, value in state_dict.items():
            if _kind(value) != _kind(own[key]):
                raise ValueError(f"{name}: {key!r} is {value!r}, not like {own[key]!r}")


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


def check_optimizer(schedule, optimizer) -> None:
    """Raise TypeError unless ``optimizer`` is an Optimizer."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{type(schedule).__name__} needs an Optimizer, got {type(optimizer).__name__}"
        )


def per_group(name: str, optimizer: Optimizer, value) -> list:
    """``value`` once per parameter group: a list or tuple must have one entry per group,
    a single value is repeated."""
    if isinstance(value, list | tuple):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. {name} has "
                f"{len(value)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return list(value)
    return [value] * len(optimizer.param_groups)
