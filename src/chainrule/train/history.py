"""``History``: what ``fit`` measured, epoch by epoch, and its plot."""

from __future__ import annotations

import io
import math
from pathlib import Path

from chainrule.io import atomic_write_bytes

__all__ = ["History", "save_png"]


def save_png(fig, path, dpi: int) -> Path:
    """Write the pyplot figure ``fig`` as a PNG at ``path`` (atomically: never
    half-written), close it and return the path."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


class History:
    """One record (a dict of numbers) per epoch: ``history["val_loss"]`` is the list of
    that metric over the epochs; ``history.records`` the raw records. ``history.steps``
    holds records taken within epochs (one dict each, with its ``step``), such as the
    gradient-flow reports of :class:`chainrule.diagnostics.FlowMonitor`. ``seed`` is the
    seed of the run's data order (see :func:`~chainrule.train.fit`), kept with the
    records so that a resumed run continues in the same order."""

    def __init__(
        self, records: list | None = None, steps: list | None = None, seed: int | None = None
    ) -> None:
        self.records: list[dict] = [dict(r) for r in records or []]
        self.steps: list[dict] = [dict(s) for s in steps or []]
        self.seed = seed

    def append(self, record: dict) -> None:
        self.records.append(dict(record))

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def __getitem__(self, name: str) -> list:
        if name not in self.keys():
            raise KeyError(
                f"history has no {name!r}; it has {', '.join(self.keys()) or 'nothing yet'}"
            )
        return [r.get(name, math.nan) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def last(self) -> dict:
        return dict(self.records[-1]) if self.records else {}

    def as_dict(self) -> dict:
        out = {"records": [dict(r) for r in self.records], "seed": self.seed}
        if self.steps:
            out["steps"] = [dict(s) for s in self.steps]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(data.get("records", []), data.get("steps", []), data.get("seed"))

    @staticmethod
    def is_dict(data) -> bool:
        """Whether ``data`` has the form :meth:`as_dict` gives (records: dicts of numbers;
        steps: dicts)."""
        if not isinstance(data, dict) or not data.keys() <= {"records", "steps", "seed"}:
            return False
        records, steps, seed = data.get("records", []), data.get("steps", []), data.get("seed")
        return (
            isinstance(records, list)
            and all(
                isinstance(r, dict)
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in r.values())
                for r in records
            )
            and isinstance(steps, list)
            and all(isinstance(s, dict) and type(s.get("step", 0)) is int for s in steps)
            and (seed is None or (type(seed) is int and seed >= 0))
        )

    def __repr__(self) -> str:
        return f"History({len(self)} epochs: {', '.join(self.keys())})"

    def plot(self, path, title: str | None = None, test: dict | None = None) -> Path:
        """Draw the loss curves (and accuracy, and the learning rate, when recorded) into a
        PNG at ``path``, written atomically, with training and validation (``val_*``)
        labelled apart; ``test``, the final test metrics, is marked once at the last
        epoch. Returns the path."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = self.keys()
        panels = [("loss", [k for k in ("loss", "risk", "penalty", "val_loss") if k in keys])]
        if "accuracy" in keys or "val_accuracy" in keys:
            panels.append(("accuracy", [k for k in ("accuracy", "val_accuracy") if k in keys]))
        if "lr" in keys:
            panels.append(("learning rate", ["lr"]))
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
        epochs = self["epoch"] if "epoch" in keys else list(range(1, len(self) + 1))
        for ax, (label, names) in zip(axes[0], panels):
            for name in names:
                ax.plot(epochs, self[name], marker="o", markersize=3, label=_LABELS.get(name, name))
            if test and label in test:
                ax.plot(
                    [epochs[-1]],
                    [test[label]],
                    marker="*",
                    markersize=13,
                    linestyle="none",
                    color="black",
                    label=f"test {label} (once, after training)",
                )
            ax.set(xlabel="epoch", ylabel=label)
            ax.grid(alpha=0.3)
            shown = [v for n in names for v in self[n]] + (
                [test[label]] if test and label in test else []
            )
            if label == "loss" and all(v > 0 for v in shown if not math.isnan(v)):
                ax.set_yscale("log")
            ax.legend(fontsize="small")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return save_png(fig, path, dpi=110)


# How the plot names the history's keys: what was measured on which data.
_LABELS = {
    "loss": "training loss",
    "risk": "training risk (data loss)",
    "penalty": "penalty",
    "val_loss": "validation loss",
    "accuracy": "training accuracy",
    "val_accuracy": "validation accuracy",
    "lr": "learning rate",
}
