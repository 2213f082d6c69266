"""``FlowMonitor``: the gradient-flow report during training, every N steps."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from chainrule.diagnostics.flow import gradient_flow
from chainrule.diagnostics.report import _plain, _png_bytes
from chainrule.train.callbacks import Callback

__all__ = ["FlowMonitor", "FlowWarning"]


class FlowWarning(UserWarning):
    """Training turned unhealthy: the verdict, its numbers and the remedies."""


class FlowMonitor(Callback):
    """A :func:`chainrule.train.fit` callback: a gradient-flow report every ``every``
    steps, and one warning the first time the verdict is not ``healthy``.

    On the first batch and then every ``every`` batches, right after ``backward``, it runs
    :func:`~chainrule.diagnostics.gradient_flow` on that batch (which changes nothing, so
    the run is the same with or without it, bit for bit) and appends a record to
    ``history.steps``: ``step``, ``epoch``, ``verdict``, ``loss`` and, per layer,
    ``grad_norm`` and ``act_grad_norm``. ``reports`` keeps the full reports.

    Parameters
    ----------
    loss_fn : callable
        The loss, ``loss_fn(output, targets)`` (the data loss; a penalty is left out).
    every : int
        Steps between reports.
    thresholds : Thresholds or dict, optional
        Passed to :func:`~chainrule.diagnostics.gradient_flow`.
    warn : bool or callable
        True: a :class:`FlowWarning`; a callable receives the message instead (the command
        line prints it); False: silent.
    """

    def __init__(self, loss_fn, every: int = 50, thresholds=None, warn=True) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"FlowMonitor: every must be a positive integer, got {every!r}")
        self.loss_fn, self.every, self.thresholds, self.warn = loss_fn, every, thresholds, warn
        self.reports: list[tuple[int, object]] = []
        self.warned = False
        self.step = 0
        self.history = None

    def on_train_begin(self, state) -> None:
        self.history = state.history
        self.step = max((s.get("step", 0) for s in state.history.steps), default=0)

    def on_after_backward(self, state, inputs, targets, loss) -> None:
        self.step += 1
        if (self.step - 1) % self.every:
            return
        report = gradient_flow(state.model, self.loss_fn, inputs, targets, self.thresholds)
        self.reports.append((self.step, report))
        state.history.steps.append(
            {
                "step": self.step,
                "epoch": state.epoch + 1,
                "verdict": report.verdict,
                "loss": _plain(report.loss),
                "grad_norm": {r.name: _plain(r.grad_norm) for r in report.layers},
                "act_grad_norm": {r.name: _plain(r.act_grad_norm) for r in report.layers},
            }
        )
        if report.verdict != "healthy" and not self.warned and self.warn:
            self.warned = True
            message = (
                f"gradient flow turned {report.verdict} at step {self.step} (epoch "
                f"{state.epoch + 1}): {'; '.join(report.evidence[:3])}. Remedies: "
                f"{'; '.join(report.remedies)}"
            )
            if callable(self.warn):
                self.warn(message)
            else:
                warnings.warn(message, FlowWarning, stacklevel=2)

    def plot(self, path, title: str | None = None) -> Path:
        """Draw each layer's weight-gradient norm and :math:`|\\partial L/\\partial a|`
        over the training steps (log scale) into a PNG at ``path``. Returns the path."""
        from chainrule.io import atomic_write_bytes

        path = Path(path)
        atomic_write_bytes(path, _png_bytes(self._figure(title)))
        return path

    def _figure(self, title: str | None = None):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = self.history.steps if self.history is not None else []
        if not steps:
            raise ValueError("FlowMonitor.plot: no report was recorded yet")
        names = list(steps[0]["grad_norm"])
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        cmap = plt.get_cmap("viridis")
        for key, ax, label in (
            ("grad_norm", axes[0], "|∂L/∂W| (weight gradient)"),
            ("act_grad_norm", axes[1], "|∂L/∂a| (gradient reaching the output)"),
        ):
            for i, name in enumerate(names):
                xs = [s["step"] for s in steps]
                ys = [_positive(s[key].get(name)) for s in steps]
                color = cmap(i / max(len(names) - 1, 1))
                ax.plot(xs, ys, "-", color=color, label=f"layer {name}")
            ax.set_yscale("log")
            ax.set(xlabel="training step", ylabel=f"{label}, log scale")
            ax.grid(alpha=0.3, which="both")
        axes[0].set_title("weight-gradient norm per layer")
        axes[1].set_title("∂L/∂a norm per layer")
        axes[1].legend(fontsize=7, ncol=2 if len(names) > 6 else 1)
        verdicts = []
        for s in steps:
            if not verdicts or verdicts[-1][1] != s["verdict"]:
                verdicts.append((s["step"], s["verdict"]))
        fig.suptitle(
            title or "gradient flow: " + " → ".join(f"{v} (from step {k})" for k, v in verdicts[:4])
        )
        fig.tight_layout()
        return fig


def _positive(v) -> float:
    return v if isinstance(v, float) and math.isfinite(v) and v > 0 else math.nan
