"""``sweep.png``: what a sweep found, in one figure.

Top row, one panel per swept option: the selection metric (final, on the validation
split) against the option's values, a line per combination of the other options (the
best of them when there are more than six), each point the mean over the finished seeds
with an error bar of one standard deviation. Bottom row: the training curves of the best
configuration, one colour per seed, training solid and validation dashed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from chainrule.train.history import save_png
from chainrule.train.sweep_table import SweepTable, _text

__all__ = ["plot_sweep", "sweep_figure"]

# More lines than this in one panel are unreadable: then only the best is drawn.
MAX_SERIES = 6

_NAMES = {
    "val_accuracy": "validation accuracy",
    "val_loss": "validation loss",
    "train_loss": "training loss",
}


def _numeric(values: list) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _axis(ax, option: str, values: list):
    """x positions of ``values``: the values themselves (log-spaced when they span a
    decade or more), or evenly spaced categories with the values as tick labels."""
    if _numeric(values) and len(values) > 1:
        if min(values) > 0 and max(values) / min(values) >= 10:
            ax.set_xscale("log")
        ax.set_xticks(values)
        ax.set_xticklabels([_text(v) for v in values])
        ax.minorticks_off()
        return list(values), 0.0
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels([_text(v) for v in values])
    ax.set_xlim(-0.5, len(values) - 0.5)
    return list(range(len(values))), 0.08


def _option_panel(ax, table: SweepTable, summary: list[dict], option: str) -> None:
    metric = table.metric
    values = list(dict.fromkeys(json.dumps(s[option]) for s in summary))
    values = [json.loads(v) for v in values]
    xs, shift = _axis(ax, option, values)
    others = [o for o in table.options if o != option]
    series: dict[str, list[dict]] = {}
    for s in summary:
        # With one other option its name is the legend's title; the values suffice.
        label = " ".join(_text(s[o]) if len(others) == 1 else f"{o}={_text(s[o])}" for o in others)
        series.setdefault(label, []).append(s)
    if len(series) > MAX_SERIES:  # the best over the other options, per value
        best = []
        for v in values:
            same = [s for s in summary if s[option] == v and s["seeds"]]
            pick = table.best(same)
            if pick is not None:
                best.append(pick)
        series = {"best over the other options": best}
    top = table.best(summary)
    star_x = None
    for j, (label, entries) in enumerate(series.items()):
        offset = (j - (len(series) - 1) / 2) * shift
        if top is not None and any(s is top for s in entries):
            star_x = xs[values.index(top[option])] + offset  # on its own series' point
        points = [
            (xs[values.index(s[option])] + offset, s[f"{metric}_mean"], s[f"{metric}_std"])
            for s in entries
            if s["seeds"] and not math.isnan(s[f"{metric}_mean"])
        ]
        if not points:
            continue
        x, y, err = zip(*points)
        ax.errorbar(
            x,
            y,
            yerr=[0.0 if math.isnan(e) else e for e in err],
            marker="o",
            markersize=4,
            capsize=3,
            label=label or None,
        )
    if top is not None:
        if star_x is None:  # the best's series was not drawn (more than MAX_SERIES)
            star_x = xs[values.index(top[option])]
        ax.plot(
            [star_x],
            [top[f"{metric}_mean"]],
            marker="*",
            markersize=16,
            markerfacecolor="none",
            markeredgecolor="black",
            markeredgewidth=1.2,
            linestyle="none",
            zorder=5,
            label="best configuration",
        )
    ax.set_xlabel(option)
    ax.set_ylabel(f"final {_NAMES.get(metric, metric)}")
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize="x-small",
        title=(others[0] if len(others) == 1 else None),
        title_fontsize="x-small",
    )


def _curves(axes, table: SweepTable, best: dict, runs: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    rows = [
        r
        for r in table.done
        if all(json.dumps(r.get(o)) == json.dumps(best[o]) for o in table.options)
    ]
    panels = [("loss", "loss", "val_loss")]
    if table.metric == "val_accuracy":
        panels.append(("accuracy", "accuracy", "val_accuracy"))
    for ax, (label, train_key, val_key) in zip(axes, panels):
        seen: set[int] = set()
        for k, row in enumerate(rows):
            path = runs / row["run"] / "history.json"
            if not path.exists():
                continue
            records = json.loads(path.read_text())
            epochs = [r["epoch"] for r in records]
            seen.update(epochs)
            # Markers where there are few epochs: a curve of one epoch is one point.
            style = {"color": f"C{k % 10}", "marker": "o" if len(epochs) <= 30 else None}
            ax.plot(
                epochs,
                [r.get(train_key, math.nan) for r in records],
                markersize=3,
                label=f"seed {row['seed']}, training",
                **style,
            )
            if any(val_key in r for r in records):
                ax.plot(
                    epochs,
                    [r.get(val_key, math.nan) for r in records],
                    linestyle="--",
                    markersize=4,
                    markerfacecolor="white",  # hollow: told apart from training at one epoch
                    label=f"seed {row['seed']}, validation",
                    **style,
                )
        ax.set_xlabel("epoch")
        if 0 < len(seen) <= 12:  # every epoch a tick (one epoch alone gets no fractions)
            ax.set_xticks(sorted(seen))
            if len(seen) == 1:
                ax.set_xlim(min(seen) - 0.5, min(seen) + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_title(f"{label} of the best configuration, {table.describe(best)}", fontsize="small")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="x-small")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)


def sweep_figure(table: SweepTable, runs):
    """The figure of ``table`` (a matplotlib Figure; ``runs`` is the folder of the runs'
    folders, where their histories are). Close it with ``matplotlib.pyplot.close``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = table.summary()
    columns = max(len(table.options), 2)
    fig, axes = plt.subplots(2, columns, figsize=(4.6 * columns, 7.6), squeeze=False)
    for ax, option in zip(axes[0], table.options):
        _option_panel(ax, table, summary, option)
    for ax in axes[0][len(table.options) :]:
        ax.set_visible(False)
    best = table.best(summary)
    if best is not None:
        _curves(list(axes[1]), table, best, Path(runs))
    seeds = sorted({s["seeds"] for s in summary if s["seeds"]})
    spread = (
        "no error bars: one seed per configuration"
        if seeds == [1]
        else "mean ± one standard deviation over seeds"
    )
    fig.suptitle(
        f"{len(table.done)} of {len(table)} runs finished; "
        f"{_NAMES.get(table.metric, table.metric)}: {spread}",
        fontsize="medium",
    )
    fig.tight_layout()
    return fig


def plot_sweep(table: SweepTable, runs, path) -> Path:
    """Draw :func:`sweep_figure` into a PNG at ``path`` (written atomically). Returns the
    path."""
    return save_png(sweep_figure(table, runs), path, dpi=100)
