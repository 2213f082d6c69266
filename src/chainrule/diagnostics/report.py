"""``FlowReport``: what :func:`~chainrule.diagnostics.gradient_flow` found, as a table, a
dict, a plot and an HTML table."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from chainrule.diagnostics.thresholds import PRIORITY, Thresholds

__all__ = ["FlowReport", "LayerStats"]


def _png_bytes(fig) -> bytes:
    """The pyplot figure ``fig`` as PNG bytes (110 dpi); closes it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


@dataclass
class LayerStats:
    """One row of a :class:`FlowReport`: a module that owns parameters.

    ``grad_norm``/``weight_norm``: norms of its weight's gradient and of the weight (of all
    its own parameters when it has no ``weight``); ``ratio`` their quotient (None for a
    zero weight). ``act_mean``/``act_std``/``act_grad_norm``: mean and standard deviation of
    its activation (the output of the activation module that follows it, else its own
    output) and the norm of :math:`\\partial L/\\partial a` reaching that activation.
    ``saturated``: the fraction of the activation's values within the saturation margin of
    a sigmoid's or tanh's asymptote; ``dead``: the fraction of units (features along
    dimension 1) that are 0 for every sample. ``units``/``distinct_units``: the layer's
    output units and how many differ (None where the weight has one entry per unit, as in
    batch norm). ``grad_rel``/``act_grad_rel``: ``grad_norm`` and ``act_grad_norm`` over the
    output layer's. ``verdict`` and ``evidence``: this layer's own finding and its numbers.
    """

    name: str
    kind: str
    activation: str | None
    units: int
    distinct_units: int | None
    grad_norm: float | None
    weight_norm: float
    ratio: float | None
    act_mean: float
    act_std: float
    act_grad_norm: float | None
    saturated: float
    dead: float
    finite: bool = True
    grad_rel: float | None = None
    act_grad_rel: float | None = None
    verdict: str = "healthy"
    evidence: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: _plain(v) for k, v in dataclasses.asdict(self).items()}


def _plain(v):
    """A JSON value: non-finite floats as the strings 'nan', 'inf', '-inf'."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _fmt(v, spec: str = ".2e") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, spec)


_EVIDENCE_SHOWN = 4  # lines of evidence in the summary; .evidence keeps all

_COLUMNS = (
    ("layer", lambda r: r.name or "(model)"),
    ("kind", lambda r: r.kind + (f"+{r.activation}" if r.activation else "")),
    ("verdict", lambda r: r.verdict),
    ("|grad W|", lambda r: _fmt(r.grad_norm)),
    ("|W|", lambda r: _fmt(r.weight_norm, ".3g")),
    ("ratio", lambda r: _fmt(r.ratio)),
    ("grad/last", lambda r: _fmt(r.grad_rel)),
    ("|dL/da|", lambda r: _fmt(r.act_grad_norm)),
    ("act mean", lambda r: _fmt(r.act_mean, ".3f")),
    ("act std", lambda r: _fmt(r.act_std, ".3f")),
    ("saturated", lambda r: f"{r.saturated:.0%}"),
    ("dead", lambda r: f"{r.dead:.0%}"),
    (
        "units",
        lambda r: f"{r.distinct_units}/{r.units}" if r.distinct_units is not None else f"{r.units}",
    ),
)


@dataclass
class FlowReport:
    """The gradient flow of one batch: a verdict for the network and a row per layer.

    ``verdict``: the first of :data:`~chainrule.diagnostics.PRIORITY` that any layer shows;
    ``evidence``: the numbers that triggered it, layer by layer; ``remedies``: what the
    fundamentals suggest for it; ``findings``: every verdict any layer shows, with its
    evidence; ``layers``: the rows, in forward order; ``first_nonfinite``: the layer where
    non-finite values first appear (None when all are finite); ``loss``: the batch's loss.
    """

    verdict: str
    layers: list[LayerStats]
    remedies: list[str]
    evidence: list[str]
    findings: dict
    thresholds: Thresholds
    loss: float
    first_nonfinite: str | None = None

    def to_dict(self) -> dict:
        """Everything, JSON-serialisable (non-finite numbers as 'nan'/'inf' strings)."""
        return {
            "verdict": self.verdict,
            "remedies": list(self.remedies),
            "evidence": list(self.evidence),
            "findings": {k: list(v) for k, v in self.findings.items()},
            "priority": list(PRIORITY),
            "first_nonfinite": self.first_nonfinite,
            "loss": _plain(float(self.loss)),
            "thresholds": self.thresholds.as_dict(),
            "layers": [r.to_dict() for r in self.layers],
        }

    # ----------------------------------------------------------------- text
    def summary(self) -> str:
        lines = [f"gradient flow: {self.verdict} (loss {_fmt(float(self.loss), '.4g')})"]
        shown = self.evidence[:_EVIDENCE_SHOWN]
        lines += [f"  because {e}" for e in shown]
        if len(self.evidence) > len(shown):
            lines.append(f"  ... and {len(self.evidence) - len(shown)} more (see .evidence)")
        others = [v for v in self.findings if v != self.verdict]
        if others:
            lines.append(f"  also seen: {', '.join(others)} (see the layer verdicts)")
        lines += [f"  remedy: {r}" for r in self.remedies]
        return "\n".join(lines)

    def table(self) -> str:
        """The rows as a plain-text table."""
        head = [c for c, _ in _COLUMNS]
        cells = [[fn(r) for _, fn in _COLUMNS] for r in self.layers]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
        line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
        out = [line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
        return "\n".join(out)

    def __str__(self) -> str:
        return f"{self.summary()}\n\n{self._rich_table() or self.table()}\n"

    def _rich_table(self) -> str | None:
        """The table drawn by rich, when it is installed (plain text otherwise)."""
        try:
            from rich import box
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            return None
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for c, _ in _COLUMNS:
            table.add_column(c, justify="left" if c in ("layer", "kind", "verdict") else "right")
        for r in self.layers:
            table.add_row(*(fn(r) for _, fn in _COLUMNS))
        buffer = io.StringIO()
        Console(file=buffer, width=200, color_system=None, force_terminal=False).print(table)
        return buffer.getvalue().rstrip()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c, _ in _COLUMNS)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(fn(r))}</td>" for _, fn in _COLUMNS) + "</tr>"
            for r in self.layers
        )
        items = "".join(f"<li>{html.escape(x)}</li>" for x in self.evidence + self.remedies)
        png = base64.b64encode(self._png()).decode()
        return (
            f"<p><b>gradient flow: {html.escape(self.verdict)}</b></p><ul>{items}</ul>"
            f"<table><tr>{head}</tr>{rows}</table>"
            f'<img src="data:image/png;base64,{png}" alt="gradient flow plot"/>'
        )

    # ----------------------------------------------------------------- plot
    def plot(self, path, title: str | None = None) -> Path:
        """Draw the per-layer gradient norms (log scale) and activation statistics into a
        PNG at ``path``, written atomically. Returns the path."""
        from chainrule.io import atomic_write_bytes

        path = Path(path)
        atomic_write_bytes(path, self._png(title))
        return path

    def _png(self, title: str | None = None) -> bytes:
        return _png_bytes(self._figure(title))

    def _figure(self, title: str | None = None):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [r.name or "(model)" for r in self.layers]
        xs = list(range(len(names)))
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))

        def positive(values):
            return [v if v is not None and math.isfinite(v) and v > 0 else math.nan for v in values]

        ax1.plot(
            xs,
            positive([r.grad_norm for r in self.layers]),
            "o-",
            label="|∂L/∂W| (weight gradient)",
        )
        ax1.plot(
            xs,
            positive([r.act_grad_norm for r in self.layers]),
            "s--",
            label="|∂L/∂a| (reaching the output)",
        )
        ax1.plot(xs, positive([r.weight_norm for r in self.layers]), "^:", label="|W|", alpha=0.6)
        ax1.set_yscale("log")
        ax1.set_xlabel("layer (forward order)")
        ax1.set_ylabel("norm (log scale)")
        ax1.set_title("gradient norms per layer")
        ax1.legend(fontsize=8)
        ax1.grid(alpha=0.3, which="both")

        means = [r.act_mean for r in self.layers]
        stds = [r.act_std for r in self.layers]
        ax2.errorbar(xs, means, yerr=stds, fmt="o-", capsize=3, label="activation mean ± std")
        ax2.set_xlabel("layer (forward order)")
        spread = max(
            (abs(m) + sd for m, sd in zip(means, stds) if math.isfinite(m + sd)), default=0
        )
        if spread > 100:  # activations growing layer by layer: show every order of magnitude
            ax2.set_yscale("symlog", linthresh=1.0)
            top = math.ceil(math.log10(spread))
            step = max(1, top // 4)
            ups = [10.0**k for k in range(step, top + 1, step)]
            ax2.set_yticks([-u for u in reversed(ups)] + [0.0] + ups)
            ax2.set_ylabel("activation value (symmetric log scale)")
        else:
            ax2.set_ylabel("activation value")
        ax2.set_title("activations, and saturated / dead fractions")
        ax2.grid(alpha=0.3)
        frac = ax2.twinx()
        frac.bar(
            [x - 0.15 for x in xs],
            [r.saturated for r in self.layers],
            0.3,
            alpha=0.35,
            color="tab:red",
            label="saturated fraction",
        )
        frac.bar(
            [x + 0.15 for x in xs],
            [r.dead for r in self.layers],
            0.3,
            alpha=0.35,
            color="tab:gray",
            label="dead fraction",
        )
        frac.set_ylim(0, 1)
        frac.set_ylabel("fraction of outputs / units")
        handles = ax2.get_legend_handles_labels()
        more = frac.get_legend_handles_labels()
        ax2.legend(handles[0] + more[0], handles[1] + more[1], fontsize=8, loc="best")
        for ax in (ax1, ax2):
            ax.set_xticks(xs)
            ax.set_xticklabels(
                names,
                rotation=45 if len(names) > 6 else 0,
                ha="right" if len(names) > 6 else "center",
                fontsize=8,
            )
        fig.suptitle(title or f"gradient flow: {self.verdict}")
        fig.tight_layout()
        return fig
