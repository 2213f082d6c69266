"""``SweepTable``: the results of a sweep, one row per run, and their summary over seeds.

A row holds the run's name, its status (``"done"`` or ``"failed"``), the swept options'
values, its seed, the final metrics (``val_*`` on the validation split at the end of
training, ``test_*`` on the test split, evaluated once), the best epoch's validation
metrics (``best_val_*``, ``best_epoch``), the final training loss (``train_loss``), the
epochs, the seconds spent training, and for a failed run its ``error``.

The summary groups the runs that differ only in their seed: per configuration, how many
seeds finished and failed, and the mean and standard deviation (with Bessel's
correction, over the finished seeds; undefined for one seed) of every final ``val_*`` and
``test_*`` metric. The best configuration is the one with the best mean of the sweep's
selection metric (the validation accuracy where there is one, else the validation loss;
the training loss only when no validation split was held out), never a test metric.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from chainrule.io import atomic_write_bytes

__all__ = ["SweepTable", "selection_metric"]


def selection_metric(rows: Sequence[dict]) -> tuple[str, bool]:
    """The column that chooses the best configuration, and whether higher is better."""
    keys = {k for row in rows for k in row}
    if "val_accuracy" in keys:
        return "val_accuracy", True
    if "val_loss" in keys:
        return "val_loss", False
    return "train_loss", False


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(values) / n
    if n == 1:
        return mean, math.nan
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


class SweepTable(Sequence):
    """The rows of a sweep (a sequence of dicts, in the grid's order).

    Parameters
    ----------
    rows : list of dict
        One per run (see the module's docstring for the keys).
    options : list of str
        The swept options (the grid's keys, ``seed`` excluded), in the grid's order.
    """

    def __init__(self, rows: Sequence[dict], options: Sequence[str]) -> None:
        self.rows = [dict(r) for r in rows]
        self.options = [o for o in options if o != "seed"]
        self.metric, self.maximize = selection_metric(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    @property
    def columns(self) -> list[str]:
        """Every key of any row, in first-seen order."""
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(k for k in row if k != "traceback"))
        return list(seen)

    def column(self, name: str) -> list:
        """The values of one column (None where a row has none)."""
        return [row.get(name) for row in self.rows]

    @property
    def done(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") == "done"]

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") == "failed"]

    def summary(self) -> list[dict]:
        """One row per configuration (the swept options without the seed), in the grid's
        order: ``seeds`` finished, ``failed``, and ``METRIC_mean``, ``METRIC_std`` of
        each final validation and test metric over the finished seeds."""
        groups: dict[tuple, list[dict]] = {}
        for row in self.rows:
            key = tuple(json.dumps(row.get(o)) for o in self.options)
            groups.setdefault(key, []).append(row)
        finals = [c for c in self.columns if c.startswith(("val_", "test_"))]
        if self.metric == "train_loss":
            finals.insert(0, "train_loss")
        out = []
        for rows in groups.values():
            done = [r for r in rows if r.get("status") == "done"]
            entry = {o: rows[0].get(o) for o in self.options}
            entry["seeds"] = len(done)
            entry["failed"] = len(rows) - len(done)
            for name in finals:
                values = [float(r[name]) for r in done if r.get(name) is not None]
                entry[f"{name}_mean"], entry[f"{name}_std"] = _mean_std(values)
            out.append(entry)
        return out

    def best(self, summary: list[dict] | None = None) -> dict | None:
        """The summary row with the best mean selection metric, or None when no run has
        finished."""
        key = f"{self.metric}_mean"
        ranked = [
            s
            for s in (summary if summary is not None else self.summary())
            if s["seeds"] and not math.isnan(s.get(key, math.nan))
        ]
        if not ranked:
            return None
        return (max if self.maximize else min)(ranked, key=lambda s: s[key])

    def describe(self, entry: dict) -> str:
        """A configuration as ``lr=0.1 optimizer=sgd``."""
        return " ".join(f"{o}={_text(entry.get(o))}" for o in self.options) or "(one)"

    def to_csv(self) -> str:
        """The rows as CSV text (the columns of :attr:`columns`)."""
        return _csv(self.rows, self.columns)

    def summary_csv(self) -> str:
        summary = self.summary()
        columns = list(summary[0]) if summary else []
        return _csv(summary, columns)

    def write(self, out, sweep: dict | None = None) -> list[Path]:
        """Write ``results.csv``, ``summary.csv`` and ``results.json`` (the sweep's
        description, the rows, the summary and the best configuration) into ``out``,
        each atomically. Returns the paths."""
        out = Path(out)
        summary = self.summary()
        document = {
            "sweep": sweep or {},
            "metric": self.metric,
            "maximize": self.maximize,
            "runs": self.rows,
            "summary": summary,
            "best": self.best(summary),
        }
        paths = [out / "results.csv", out / "summary.csv", out / "results.json"]
        atomic_write_bytes(paths[0], self.to_csv().encode())
        atomic_write_bytes(paths[1], self.summary_csv().encode())
        atomic_write_bytes(paths[2], json.dumps(_finite(document), indent=1).encode())
        return paths

    def __str__(self) -> str:
        summary = self.summary()
        names = [c[: -len("_mean")] for c in (summary[0] if summary else {}) if c.endswith("_mean")]
        header = [*self.options, "seeds", *names]
        lines = [header]
        for entry in summary:
            cells = [_text(entry[o]) for o in self.options]
            cells.append(
                f"{entry['seeds']}" + (f" ({entry['failed']} failed)" if entry["failed"] else "")
            )
            for name in names:
                mean, std = entry[f"{name}_mean"], entry[f"{name}_std"]
                cells.append(_number(mean) + ("" if math.isnan(std) else f" ± {std:.4f}"))
            lines.append(cells)
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
        text = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
        best = self.best(summary)
        if best is not None:
            text.append(
                f"best ({self.metric}, {'highest' if self.maximize else 'lowest'} mean): "
                f"{self.describe(best)}"
            )
        return "\n".join(text)

    def __repr__(self) -> str:
        return (
            f"SweepTable({len(self.rows)} runs, {len(self.done)} done, "
            f"{len(self.failed)} failed; options {', '.join(self.options)})"
        )

    def to_pandas(self):
        """The rows as a pandas DataFrame (pandas must be installed)."""
        import pandas

        return pandas.DataFrame(self.rows, columns=self.columns)


def _text(value) -> str:
    """An option's value as the command line writes it."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "default" if value is None else str(value)


def _csv(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return buffer.getvalue()


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)  # every bit, so that runs compare exactly from the file
    return _text(value) if isinstance(value, list | tuple | bool) else value


def _finite(value):
    """``value`` with NaN and infinities as None, so that the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
