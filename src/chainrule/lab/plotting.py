"""Figures for the lab: one look for all of them, without pyplot's global state.

Figures are made with :class:`matplotlib.figure.Figure` and the Agg canvas directly, so
experiments can plot in worker processes and threads without a display and without
figures leaking between calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["COLORS", "figure", "integer_ticks", "numbered", "save"]

#: A colour per series that stays apart in print and for the common colour blindnesses
#: (Okabe and Ito's palette), then matplotlib's defaults.
COLORS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.3, **kw):
    """A figure of ``nrows x ncols`` panels, each about ``width x height`` inches.

    Returns ``(fig, axes)`` with ``axes`` a flat list.
    """
    from cycler import cycler

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    flat = [ax for row in axes for ax in row]
    for ax in flat:
        ax.set_prop_cycle(cycler(color=COLORS))
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.title.set_fontsize(10)
        ax.xaxis.label.set_fontsize(9)
        ax.yaxis.label.set_fontsize(9)
    return fig, flat


def integer_ticks(ax) -> None:
    """Whole numbers only on the x axis (epochs, steps, layers)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def numbered(ax, values, fmt: str = "o-", log: bool = False, **style):
    """``values`` against 1, 2, ... (layers, epochs), as dots joined by lines (marker size
    3 unless ``style`` says otherwise); ``log``: a log y axis."""
    draw = ax.semilogy if log else ax.plot
    return draw(np.arange(1, len(values) + 1), values, fmt, **{"ms": 3, **style})


def save(fig: Figure, out_dir, name: str) -> Path:
    """Write ``fig`` as ``out_dir/name.png`` and return the path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110)
    return path
