r"""Schedules driven by something other than the epoch number: ``ReduceLROnPlateau``
(a monitored metric) and ``SequentialLR`` (other schedules, one after another).

Exported from :mod:`chainrule.optim.lr_scheduler`, where PyTorch users look for them.
"""

from __future__ import annotations

import math
import warnings
from bisect import bisect_right

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.scheduler import EPOCH_DEPRECATION_WARNING, LRScheduler, check_optimizer

__all__ = ["ReduceLROnPlateau", "SequentialLR"]


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply the rate by ``factor`` when a metric has stopped improving.

    Call ``step(metric)`` once per epoch with the monitored value (a validation loss, say).
    With ``best`` the best value so far, a value counts as an improvement when

    .. code-block:: text

        mode='min', threshold_mode='rel':  value < best * (1 - threshold)
        mode='min', threshold_mode='abs':  value < best - threshold
        mode='max', threshold_mode='rel':  value > best * (1 + threshold)
        mode='max', threshold_mode='abs':  value > best + threshold

    Each epoch without one is a bad epoch; once more than ``patience`` of them have come
    in a row, every group's rate becomes :math:`\max(\gamma\cdot\text{factor},
    \text{min\_lr})` (the change is skipped when it is not larger than ``eps``), the count
    starts again, and the next ``cooldown`` epochs are not counted as bad. The first
    value is always an improvement (``best`` starts at :math:`\pm\infty`).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        self.factor = factor
        check_optimizer(self, optimizer)
        self.optimizer = optimizer
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(
                    f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}"
                )
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _reset(self) -> None:
        """Forget the best value, the bad epochs and the cooldown."""
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record the metric of one more epoch (a number or a one-element tensor) and
        reduce the rates if it has not improved for more than ``patience`` epochs."""
        current = float(metrics)
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # epochs in cooldown are not counted as bad
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The optimizer has {len(groups)} param groups but ReduceLROnPlateau was "
                    f"given {len(self.min_lrs)} min_lrs (a group was added since?); set "
                    "scheduler.min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, floor in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, floor)
            if old - new > self.eps:
                group["lr"] = new

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        """Whether ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


class SequentialLR(LRScheduler):
    r"""Run ``schedulers`` one after another, switching at the ``milestones`` (epoch
    numbers, one fewer than schedules): schedule :math:`k` runs from milestone
    :math:`k - 1` on. At a milestone the next schedule starts from its own epoch 0, from
    the groups' initial rates (through its closed form where it has one). Every schedule
    must drive this same optimizer; build them first, then this.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler, but got no scheduler.")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"{name} at index {i} should have `optimizer` as its attribute.")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"{name} does not support `ReduceLROnPlateau` scheduler as it requires "
                    "additional kwargs to be specified when calling `step`, but got one at "
                    f"index {i} in the given schedulers sequence."
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"{name} expects all schedulers to belong to the same optimizer, but got "
                    f"scheduler {type(scheduler).__name__} at index {i} with another optimizer"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # back to where every schedule started
            group["lr"] = group["initial_lr"]
        self.recursive_undo()  # each schedule's constructor took a step: take it back
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched=None) -> None:
        """Take back the step each (nested) schedule's constructor took."""
        target = self if sched is None else sched
        if hasattr(target, "_schedulers"):
            for inner in target._schedulers:
                self.recursive_undo(inner)
        elif hasattr(target, "last_epoch"):
            target.last_epoch -= 1

    def step(self) -> None:
        """Advance one epoch, in the schedule that runs at the new epoch."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)  # a milestone: the next schedule starts at its epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        """This schedule's state, with each inner schedule's state_dict in ``_schedulers``."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore this schedule and each inner one; on any error nothing has changed."""
        self._check_state(state_dict)
        inner = state_dict["_schedulers"]
        if len(inner) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: the state has {len(inner)} schedules, "
                f"this one {len(self._schedulers)}"
            )
        backups = [dict(s.__dict__) for s in self._schedulers]
        try:
            for scheduler, saved in zip(self._schedulers, inner):
                scheduler.load_state_dict(saved)
        except Exception:
            for scheduler, backup in zip(self._schedulers, backups):
                scheduler.__dict__.clear()
                scheduler.__dict__.update(backup)
            raise
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
