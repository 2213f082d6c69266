"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model's and the optimizer's state, the schedule's, the library's
random-generator state (dropout masks, anything drawn later), the number of finished
epochs and the history, with the seed of the data order (the loader's order depends only
on it and the epoch). Restoring all of it and continuing gives, bit for bit, the run that
never stopped; callbacks that choose (early stopping, best checkpoints) replay the
history, so they choose as they would have.
"""

from __future__ import annotations

from chainrule import random as _random
from chainrule.io import FormatError, load, save
from chainrule.train.history import History

__all__ = ["load_checkpoint", "restore", "save_checkpoint"]

KIND = "chainrule-training-checkpoint"


def save_checkpoint(
    path,
    model,
    optimizer=None,
    scheduler=None,
    epoch: int = 0,
    history=None,
    extra: dict | None = None,
) -> None:
    """Write a training checkpoint to ``path`` (atomically, see :func:`chainrule.save`)."""
    save(
        {
            "kind": KIND,
            "epoch": int(epoch),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": _random.get_rng_state(),
            "history": history.as_dict() if history is not None else None,
            "extra": extra or {},
        },
        path,
    )


def load_checkpoint(path, model, optimizer=None, scheduler=None) -> dict:
    """Restore a checkpoint into ``model`` (and ``optimizer``, ``scheduler``, and the
    library's generator). Returns ``{"epoch", "history", "extra"}``."""
    return restore(read(path), model, optimizer, scheduler, path)


# The entries of a checkpoint: what each holds, and a test of its form.
_ENTRIES = {
    "epoch": ("the number of finished epochs", lambda v: type(v) is int and v >= 0),
    "model": ("the model's state_dict", lambda v: isinstance(v, dict)),
    "optimizer": ("the optimizer's state_dict", lambda v: v is None or isinstance(v, dict)),
    "scheduler": ("the learning-rate schedule's state", lambda v: v is None or isinstance(v, dict)),
    "rng": ("the random generator's state", lambda v: isinstance(v, dict)),
    "history": ("the epochs' records", lambda v: v is None or History.is_dict(v)),
    "extra": ("the run's options", lambda v: isinstance(v, dict)),
}


def read(path) -> dict:
    """The checkpoint at ``path``, checked to be one, with every entry of the right
    form (a FormatError names the entry otherwise), not yet applied to anything."""
    state = load(path)
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise FormatError(f"{str(path)!r} is a chainrule file but not a training checkpoint")
    for key, (what, valid) in _ENTRIES.items():
        if key not in state:
            raise FormatError(
                f"the checkpoint {str(path)!r} has no {key!r} entry ({what}): it was not "
                "written whole by save_checkpoint"
            )
        if not valid(state[key]):
            text = repr(state[key])
            raise FormatError(
                f"the checkpoint {str(path)!r} has a malformed {key!r} entry ({what}): "
                + (text if len(text) <= 60 else text[:57] + "...")
            )
    return state


def restore(state: dict, model, optimizer=None, scheduler=None, path="the checkpoint") -> dict:
    """Apply a checkpoint read by :func:`read` (see :func:`load_checkpoint`)."""
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state["optimizer"] is None:
            raise FormatError(f"{str(path)!r} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        if state["scheduler"] is None:
            raise FormatError(f"{str(path)!r} holds no learning-rate schedule")
        scheduler.load_state_dict(state["scheduler"])
    _random.set_rng_state(state["rng"])
    history = History.from_dict(state["history"]) if state["history"] else History()
    return {"epoch": state["epoch"], "history": history, "extra": state["extra"]}
