r"""What counts as unhealthy: the thresholds, their measurements, the verdicts' priority and
the remedies.

Each threshold was chosen from measurements, not guessed. The networks below were built
and run once (forward and backward, mean cross-entropy) on 256 samples of the bundled
digits (64 inputs, 10 classes), seeds 0 and 1; ``x10`` is ten hidden layers of width 32,
"default" PyTorch's initialisation, He ``kaiming_normal_(nonlinearity='relu')`` with zero
biases. The columns: the smallest ratio, over the layers, of a layer's weight-gradient
norm to the output layer's (``grad_rel``); the same for the norm of the gradient
reaching the layer's output, :math:`\partial L/\partial a` (``act_grad_rel``, smallest
and largest); the largest gradient-to-weight norm ratio; the largest fraction of
saturated outputs; the largest fraction of dead units in a hidden layer; the verdict::

    network                   grad_rel     act_grad min  act_grad max   ratio      sat.       dead       verdict
    sigmoid x10, default      4e-9 - 9e-9  1e-8 - 2e-8   1.0            0.17       0          0          vanishing
    sigmoid x4, default       7e-4 - 1e-3  1.6e-3        1.0            0.16-0.18  0          0          (borderline)
    sigmoid 128-64, default   2e-2 - 3e-2  8e-2          1.0            0.18-0.32  0          0          healthy
    tanh x10, default         2e-2 - 5e-2  3e-3 - 7e-3   1.0            0.02       0          0          healthy
    relu x10, default         1.2e-3       2e-4          1.0            0.014      0          0.56-0.66  vanishing
    relu x10, He              0.67-0.77    1.0           1.3-1.4        0.06       0          0.16-0.28  healthy
    relu x10, He + BN         0.16-0.18    1.0           14-16          0.25       0          0          healthy
    relu x10, default + BN    0.09-0.10    0.57-0.60     16-18          0.65-0.67  0          0          healthy
    relu 128-64, default      1.0          0.22-0.25     1.0            0.03-0.04  0          0.06-0.17  healthy
    linear x10, N(0, 3^2)     0.84         1.0           1.6e12-2e12    5e10       0          0          exploding
    relu x10, N(0, 3^2)       0.47-0.73    1.0           7.5e10-7.7e10  1.9e9      0          0.16-0.28  exploding
    relu x3, N(0, 3^2)        1.0          1.0           2.6e3          23-85      0          0.09-0.19  exploding
    tanh x3 (64), N(0, 1)     1.0          1.0           35-37          0.07-0.08  0.70-0.73  0          saturated
    tanh 64, N(0, 1)          0.91-1.0     1.0           8.1-8.6        0.10-0.12  0.47-0.54  0          saturated
    tanh x3 (64), N(0, 0.3^2) 1.0          1.0           4.1            0.19-0.20  0.11-0.15  0          healthy
    relu x3, bias -0.3 to -5  undefined    0             1.0            0          0          1.0        dead
    relu x10, zeros           undefined    0             1.0            undefined  0          1.0        symmetric
    relu x3, constant 0.1     3e-7         3.5e-8        1.0            2.0        0          0          symmetric

(``grad_rel`` is undefined where the output layer's weight gradient is 0: its inputs are
all dead. Over five seeds and batches of 32 to 256 samples, the He network's deepest
layers had up to 44 % dead units.)

From these:

* ``vanishing_ratio = 1e-3``: a layer is *vanishing* when its weight-gradient norm, or
  the norm of :math:`\partial L/\partial a` reaching it, is below a thousandth of the
  output layer's. The ten-layer sigmoid network is at 1e-8 (each sigmoid multiplies the
  gradient by at most 1/4); ordinary networks stay above 2e-2, and He-initialised ReLU
  networks near 1. Trained with SGD (lr 0.1, 15 epochs), the first layer of sigmoid x4
  moved by 0.4 % of its norm against 14 % for the last layer, that of sigmoid x10 by
  2e-7 %; the He network reached 0.90 test accuracy, relu x10 with the default
  initialisation stayed at chance (0.08).
* ``exploding_ratio = 10``: a gradient-to-weight norm ratio above 10 means one step of
  learning rate 0.1 would more than double the weights. Healthy networks measured at most
  0.7; N(0, 3²) networks 23 and more (5e10 for ten layers).
* ``exploding_growth = 1e3``: :math:`\partial L/\partial a` growing toward the input by
  more than a thousandfold. With N(0, 3²) weights it grows 17x per layer (3·√32); batch
  normalisation, healthy, makes it grow 14-16x over ten layers, saturated tanh 37x. The
  weight gradients alone do not show explosion: with N(0, 3²) they are all about 1e12,
  equal across layers, because activations grow forward as fast as :math:`\partial
  L/\partial a` grows backward.
* ``saturation_margin = 0.01`` and ``saturated_fraction = 0.25``: a sigmoid or tanh
  output within 0.01 of an asymptote (sigmoid below 0.01 or above 0.99, :math:`|z| >
  4.6`; :math:`|\tanh| > 0.99`, :math:`|z| > 2.65`) passes back less than 4 % (sigmoid)
  or 2 % (tanh) of its largest derivative. A layer is *saturated* when more than a quarter
  of its outputs are: 0.47-0.73 with N(0, 1) weights into tanh, at most 0.15 with
  N(0, 0.3²), 0 with default initialisation.
* ``dead_fraction = 0.7``: a unit is dead when its ReLU output is 0 for every sample of
  the batch; a layer is *dead* when more than 70 % of its units are. Healthy He networks
  of width 32 reach 44 % in their deepest layers (their inputs, all non-negative, become
  alike), a large negative bias 100 %.
* ``symmetry_atol = 0``: hidden units are *symmetric* when their incoming weights and
  bias are identical (within ``symmetry_atol``); random initialisation never makes two
  equal, zero or constant initialisation makes all of them equal.

Non-finite gradients (or activations) are always *exploding*, at the first layer where
they appear.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["PRIORITY", "REMEDIES", "Thresholds", "layer_findings"]

# The whole network's verdict is the first of these that any layer shows. A cause comes
# before the symptom it produces: symmetric weights are a property of the initialisation
# alone and no learning undoes them (and random initialisation is the first remedy of
# everything else); exploding next, as the most urgent (the next steps overflow); dead
# and saturated units are two causes of vanishing gradients, so they come before it, dead
# first because a dead unit's gradient is exactly 0 (it cannot recover) while a saturated
# one's is only small.
PRIORITY = ("symmetric", "exploding", "dead", "saturated", "vanishing", "healthy")

REMEDIES = {
    "symmetric": [
        "initialise the weights randomly (nn.init.xavier_uniform_ / kaiming_normal_), "
        "never all zero or constant: identical units get identical gradients and stay identical",
    ],
    "exploding": [
        "clip the gradients (clip_grad_norm, --clip-grad-norm)",
        "use a smaller learning rate",
        "initialise with Xavier/He variance (nn.init.xavier_normal_, kaiming_normal_) "
        "instead of large weights",
        "add batch normalisation (nn.BatchNorm1d) before the activations",
    ],
    "dead": [
        "use a smaller learning rate (one large step can push a ReLU's input below 0 for every sample)",
        "initialise biases at 0 (or slightly positive), not negative, and weights with He's variance",
        "use LeakyReLU or ELU, whose gradient is never exactly 0",
        "add batch normalisation before the activations",
    ],
    "saturated": [
        "initialise with Xavier's variance (nn.init.xavier_normal_) so pre-activations stay near 0",
        "normalise the inputs and add batch normalisation before the activations",
        "use a ReLU-family activation, which does not saturate for positive inputs",
    ],
    "vanishing": [
        "use ReLU-family activations (derivative 1 for positive inputs, not at most 1/4 as sigmoid)",
        "initialise with Xavier (tanh, sigmoid) or He (ReLU) variance",
        "add batch normalisation before the activations",
    ],
    "healthy": [],
}


@dataclass(frozen=True)
class Thresholds:
    """The bounds of :func:`~chainrule.diagnostics.gradient_flow`'s verdicts; the module
    docstring gives the measurements behind each default. Pass a ``Thresholds`` or a dict
    of the fields to change (``{"dead_fraction": 0.5}``)."""

    vanishing_ratio: float = 1e-3
    exploding_ratio: float = 10.0
    exploding_growth: float = 1e3
    saturation_margin: float = 0.01
    saturated_fraction: float = 0.25
    dead_fraction: float = 0.7
    symmetry_atol: float = 0.0

    @classmethod
    def of(cls, value) -> Thresholds:
        """``value`` (None, a Thresholds or a dict of fields) as a Thresholds."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(
                    f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
                )
            return dataclasses.replace(cls(), **{k: float(v) for k, v in value.items()})
        raise TypeError(
            f"thresholds must be None, a dict or a Thresholds, got {type(value).__name__}"
        )

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _g(x: float) -> str:
    return f"{x:.3g}"


def layer_findings(row, t: Thresholds, hidden: bool) -> list[tuple[str, str]]:
    """``(verdict, the numbers that triggered it)`` for every threshold ``row`` crosses
    (``row`` a :class:`~chainrule.diagnostics.LayerStats` with its relative norms set);
    ``hidden``: whether the layer's units are hidden units (not the outputs)."""
    found = []
    if not row.finite:
        found.append(("exploding", "non-finite values (nan or inf) in its gradients or outputs"))
    if hidden and row.distinct_units is not None and row.distinct_units < row.units:
        found.append(
            (
                "symmetric",
                f"only {row.distinct_units} distinct of {row.units} units (identical incoming "
                "weights and bias)",
            )
        )
    if row.ratio is not None and row.ratio > t.exploding_ratio:
        found.append(
            (
                "exploding",
                f"gradient/weight norm ratio {_g(row.ratio)} (above {_g(t.exploding_ratio)})",
            )
        )
    if row.act_grad_rel is not None and row.act_grad_rel > t.exploding_growth:
        found.append(
            (
                "exploding",
                f"∂L/∂a is {_g(row.act_grad_rel)}x the output layer's (above "
                f"{_g(t.exploding_growth)}x)",
            )
        )
    if row.activation is not None and row.dead > t.dead_fraction:
        found.append(
            (
                "dead",
                f"{row.dead:.0%} of units output 0 for every sample (above {t.dead_fraction:.0%})",
            )
        )
    if row.saturated > t.saturated_fraction:
        found.append(
            (
                "saturated",
                f"{row.saturated:.0%} of outputs within {_g(t.saturation_margin)} of an "
                f"asymptote (above {t.saturated_fraction:.0%})",
            )
        )
    if row.grad_rel is not None and row.grad_rel < t.vanishing_ratio:
        found.append(
            (
                "vanishing",
                f"weight-gradient norm {_g(row.grad_norm)} is {_g(row.grad_rel)} of the output "
                f"layer's (below {_g(t.vanishing_ratio)})",
            )
        )
    elif row.act_grad_rel is not None and row.act_grad_rel < t.vanishing_ratio:
        found.append(
            (
                "vanishing",
                f"∂L/∂a norm is {_g(row.act_grad_rel)} of the output layer's (below "
                f"{_g(t.vanishing_ratio)})",
            )
        )
    return found
