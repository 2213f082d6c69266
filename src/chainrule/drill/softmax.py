r"""Softmax drills: softmax with cross-entropy and its gradient :math:`a - y`, one row of
the softmax Jacobian, and TensorFlow's ``reduce_mean`` form of the cross-entropy.

Keys: the softmax from ``F.softmax``, losses from ``nn.CrossEntropyLoss`` and
``F.categorical_cross_entropy``, gradients from autograd. The worked solutions take their
gradients from ``cr.explain``'s trace of the same computation.
"""

from __future__ import annotations

import numpy as np

from chainrule import autograd, nn
from chainrule.drill.core import Draft, Numbers, Quantity, SolutionStep, fmt
from chainrule.drill.registry import register
from chainrule.drill.tracing import TraceReader
from chainrule.nn import functional as F
from chainrule.tensor import tensor

__all__ = ["reduce_mean", "softmax_ce", "softmax_jacobian"]

SECTION = "Activations, softmax and cross-entropy"
FROM_TRACE = "The gradient below is the one cr.explain records for this computation."
# the softmax of the 3 logits, the first quantity of both softmax drills
_SOFTMAX_A = Quantity("a", "a = softmax(z)", (3,), "a_i = e^(z_i) / (e^(z_0) + e^(z_1) + e^(z_2)).")


def _softmax_lines(z: np.ndarray) -> tuple[list[str], np.ndarray]:
    e = np.exp(z)
    a = e / e.sum()
    return [
        "a_i = e^(z_i) / Σ_k e^(z_k)",
        f"e^(z) = {fmt(e)}, Σ_k e^(z_k) = {fmt(e.sum())}",
        f"a = {fmt(e)} / {fmt(e.sum())} = {fmt(a)}",
    ], a


# ----------------------------------------------------------------------------- softmax-ce
@register("softmax-ce", "Softmax, cross-entropy, and dC/dz = a - y", SECTION)
def softmax_ce(n: Numbers) -> Draft:
    """Softmax of 3 logits, the cross-entropy for a label, and its gradient."""
    inputs = {"z": n.values(3, -2, 2, avoid=()), "label": n.integer(0, 3)}
    c = inputs["label"]
    z = tensor(inputs["z"][None, :], requires_grad=True)
    label = tensor(np.array([c]))
    loss = nn.CrossEntropyLoss()(z, label)
    (grad,) = autograd.grad(loss, z)
    key = {
        "a": F.softmax(z, dim=1).numpy()[0],
        "C": loss.item(),
        "dC_dz": grad.numpy()[0],
    }
    question = (
        f"Three logits z go through a softmax, a_i = e^(z_i) / Σ_k e^(z_k), and the "
        f"cross-entropy C = -Σ_i y_i ln a_i scores them against the one-hot label y of class "
        f"{c} (classes 0, 1, 2). Compute a, C and the gradient dC/dz."
    )
    quantities = [
        _SOFTMAX_A,
        Quantity(
            "C",
            "C = -Σ_i y_i ln a_i",
            (),
            f"y is 0 except y_{c} = 1, so C = -ln a_{c}.",
        ),
        Quantity(
            "dC_dz",
            "dC/dz, one entry per logit",
            (3,),
            "With ∂a_i/∂z_i = a_i(1 - a_i) and ∂a_j/∂z_i = -a_i a_j, the sum collapses: "
            "dC/dz_i = a_i - y_i.",
        ),
    ]

    def solve() -> list[SolutionStep]:
        z = tensor(inputs["z"][None, :], requires_grad=True)
        loss = F.cross_entropy(z, tensor(np.array([c])))
        r = TraceReader(loss, {"z": z})
        soft, a = _softmax_lines(inputs["z"])
        y = np.eye(3)[c]
        grad = r.sent(loss, z)[0]
        return [
            SolutionStep("Softmax", soft, {"a": a}),
            SolutionStep(
                "Cross-entropy",
                [
                    f"y = {fmt(y)} (one-hot, class {c}), so only one term of -Σ_i y_i ln a_i "
                    "survives:",
                    f"C = -ln a_{c} = -ln({fmt(a[c])}) = {fmt(loss.item())}",
                ],
                {"C": loss.item()},
            ),
            SolutionStep(
                "The gradient dC/dz",
                [
                    "Chain rule through the softmax: dC/dz_i = Σ_j (-y_j / a_j) ∂a_j/∂z_i with "
                    "∂a_i/∂z_i = a_i(1 - a_i) and ∂a_j/∂z_i = -a_i a_j (j ≠ i), so",
                    "dC/dz_i = -y_i(1 - a_i) + Σ_(j≠i) y_j a_i = a_i Σ_j y_j - y_i = a_i - y_i.",
                    FROM_TRACE,
                    f"dC/dz = a - y = {fmt(a)} - {fmt(y)} = {fmt(grad)}",
                ],
                {"dC_dz": grad},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- jacobian
@register("softmax-jacobian", "Entries of the softmax Jacobian", SECTION)
def softmax_jacobian(n: Numbers) -> Draft:
    """One diagonal and one off-diagonal entry of ∂a/∂z for 3 logits."""
    i = n.integer(0, 3)
    j = (i + n.integer(1, 3)) % 3
    inputs = {"z": n.values(3, -2, 2, avoid=()), "i": i, "j": j}
    z = tensor(inputs["z"], requires_grad=True)
    a = F.softmax(z, dim=0)
    (row,) = autograd.grad(a[i], z)  # row i of the Jacobian: ∂a_i/∂z
    key = {"a": a.detach().numpy(), "diag": row.numpy()[i], "off_diag": row.numpy()[j]}
    question = (
        f"For the logits z (indices 0, 1, 2) and a = softmax(z), compute a and two entries "
        f"of the Jacobian ∂a/∂z: the diagonal entry ∂a_{i}/∂z_{i} and the off-diagonal "
        f"entry ∂a_{i}/∂z_{j}."
    )
    quantities = [
        _SOFTMAX_A,
        Quantity(
            "diag",
            f"∂a_{i}/∂z_{i}",
            (),
            "Differentiate e^(z_i)/S with S = Σ_k e^(z_k): the quotient rule gives a_i(1 - a_i).",
        ),
        Quantity(
            "off_diag",
            f"∂a_{i}/∂z_{j}",
            (),
            "Only S depends on z_j (j ≠ i): ∂a_i/∂z_j = -e^(z_i) e^(z_j)/S² = -a_i a_j.",
        ),
    ]

    def solve() -> list[SolutionStep]:
        z = tensor(inputs["z"], requires_grad=True)
        a = F.softmax(z, dim=0)
        r = TraceReader(a[i], {"z": z})
        row = r.sent(a, z)
        soft, av = _softmax_lines(inputs["z"])
        jac = (
            f"∂a_i/∂z_j = a_i(δ_ij - a_j). {FROM_TRACE} Row {i}, ∂a_{i}/∂z = a_{i}(e_{i} - a) "
            f"= {fmt(row)}."
        )
        return [
            SolutionStep("Softmax", soft, {"a": av}),
            SolutionStep(
                "The diagonal entry",
                [
                    jac,
                    f"∂a_{i}/∂z_{i} = a_{i}(1 - a_{i}) = {fmt(av[i])} × {fmt(1 - av[i])} = "
                    f"{fmt(row[i])}",
                ],
                {"diag": row[i]},
            ),
            SolutionStep(
                "The off-diagonal entry",
                [
                    f"∂a_{i}/∂z_{j} = -a_{i} a_{j} = -{fmt(av[i])} × {fmt(av[j])} = {fmt(row[j])}",
                    "Each row of the Jacobian sums to 0 (a_i(1 - Σ_j a_j) = 0): adding the same "
                    "number to every logit leaves the softmax unchanged.",
                ],
                {"off_diag": row[j]},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)


# ----------------------------------------------------------------------------- reduce_mean
def _probabilities(n: Numbers, rows: int, cols: int) -> np.ndarray:
    """Rows of 2-decimal probabilities that sum to 1, none below 0.05."""
    out = np.empty((rows, cols))
    for r in range(rows):
        while True:
            w = n.values(cols, 0.1, 1.0, avoid=())
            row = np.round(w / w.sum(), 2)
            row[-1] = round(1.0 - row[:-1].sum(), 2)
            if row.min() >= 0.05:
                out[r] = row
                break
    return out


@register(
    "reduce-mean", "TensorFlow's reduce_mean cross-entropy versus the per-sample mean", SECTION
)
def reduce_mean(n: Numbers) -> Draft:
    """A batch of 2 samples and 2 classes: the two ways of averaging the cross-entropy."""
    inputs = {"p": _probabilities(n, 2, 2), "labels": np.array([n.integer(0, 2) for _ in "ab"])}
    p = tensor(inputs["p"])
    labels = tensor(inputs["labels"])
    onehot = tensor(np.eye(2)[inputs["labels"]])
    key = {
        "per_sample": F.categorical_cross_entropy(p, labels, reduction="none").numpy(),
        "batch_mean": F.categorical_cross_entropy(p, labels).item(),
        # TensorFlow's line (docs/fundamentals.md §3):
        # -reduce_mean(y_ * log(clip_by_value(y, 1e-10, 1.0)))
        "reduce_mean": (-(onehot * p.clamp(1e-10, 1.0).log()).mean()).item(),
    }
    question = (
        "A batch of m = 2 samples and n = 2 classes: p holds each sample's predicted "
        "probabilities (a row per sample), labels the true classes (y is their one-hot "
        "matrix). Compute each sample's cross-entropy C_s = -Σ_c y_(s,c) ln p_(s,c), their "
        "mean over the batch, and TensorFlow's form "
        "-reduce_mean(y * log(clip(p, 1e-10, 1))), which averages over every entry of the "
        "matrix."
    )
    quantities = [
        Quantity("per_sample", "C_s for each sample", (2,), "C_s = -ln p_(s, label_s)."),
        Quantity("batch_mean", "the mean of C_s over the batch", (), "(C_0 + C_1) / m."),
        Quantity(
            "reduce_mean",
            "the reduce_mean form",
            (),
            "reduce_mean divides the sum of all m·n = 4 entries of -y ⊙ log p by m·n, not by m.",
        ),
    ]

    def solve() -> list[SolutionStep]:
        pr, lab = inputs["p"], inputs["labels"]
        picked = pr[np.arange(2), lab]
        per = -np.log(picked)
        mean = per.mean()
        total = -(np.eye(2)[lab] * np.log(np.clip(pr, 1e-10, 1.0))).sum()
        return [
            SolutionStep(
                "Per-sample cross-entropy",
                [
                    "y is one-hot, so each row keeps one term: C_s = -ln p_(s, label_s).",
                    *(
                        f"C_{s} = -ln p_({s},{lab[s]}) = -ln({fmt(picked[s])}) = {fmt(per[s])}"
                        for s in range(2)
                    ),
                    f"C = {fmt(per)}",
                ],
                {"per_sample": per},
            ),
            SolutionStep(
                "Mean over the samples",
                [f"(C_0 + C_1) / 2 = ({fmt(per[0])} + {fmt(per[1])}) / 2 = {fmt(mean)}"],
                {"batch_mean": mean},
            ),
            SolutionStep(
                "TensorFlow's reduce_mean",
                [
                    "reduce_mean averages all m·n = 4 entries of -y ⊙ log(clip(p, 1e-10, 1)); "
                    "only the m = 2 true-class entries are non-zero (the clip only keeps log "
                    "away from 0):",
                    f"{fmt(total)} / 4 = {fmt(total / 4)}: the batch mean divided by the number "
                    "of classes, n = 2.",
                    "Its gradient shrinks by the same factor: -1/(m n p) instead of -1/(m p) "
                    "for a true-class entry, so a learning rate tuned for one form is n times "
                    "too small or too large for the other.",
                ],
                {"reduce_mean": total / 4},
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)
