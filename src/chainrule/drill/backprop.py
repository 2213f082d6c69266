r"""Backpropagation drills: the residuals of a 2-2-1 network, and the chain of
sigmoid derivatives that makes gradients vanish.

The key of each exercise is what chainrule's engine computes (``autograd.grad`` and
``.grad``); the worked solution reads every gradient it prints from ``cr.explain``'s
trace of the same computation (a separate walk of the graph), so the two cannot
disagree without a test noticing.
"""

from __future__ import annotations

import numpy as np

from chainrule import autograd
from chainrule.drill.core import Draft, Numbers, Quantity, SolutionStep, fmt, par
from chainrule.drill.registry import register
from chainrule.drill.tracing import TraceReader
from chainrule.nn import functional as F
from chainrule.tensor import tensor

__all__ = ["backprop_221", "sigmoid_chain"]

FROM_TRACE = (
    "Every gradient below is the one cr.explain records at that node of this computation "
    "(the engine's backward pass, node by node)."
)


# ----------------------------------------------------------------------------- 2-2-1
def _network(inputs: dict):
    """The 2-2-1 network on one sample, float64, from functionals so that every
    intermediate tensor is at hand: ``(params, (z1, a1, z2, loss))``."""
    p = {k: tensor(inputs[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")}
    x = tensor(inputs["x"][None, :])  # one sample, as a row
    t = tensor(np.array([[inputs["t"]]]))
    z1 = F.linear(x, p["W1"], p["b1"])
    a1 = z1.sigmoid()
    z2 = F.linear(a1, p["W2"], p["b2"])
    loss = 0.5 * ((z2 - t) ** 2).sum()
    return p, (z1, a1, z2, loss)


_Q221 = [
    Quantity(
        "a1",
        "a1 = σ(z1), the hidden activations",
        (2,),
        "z1 = W1 x + b1, i.e. z1[i] = W1[i, 0] x[0] + W1[i, 1] x[1] + b1[i]; then "
        "σ(z) = 1/(1 + e^(-z)).",
    ),
    Quantity(
        "y_hat",
        "ŷ = z2 = W2 a1 + b2, the output",
        (),
        "ŷ = W2[0, 0] a1[0] + W2[0, 1] a1[1] + b2: the output unit has no activation.",
    ),
    Quantity(
        "delta2",
        "δ2 = ∂L/∂z2, the output residual",
        (),
        "L = ½(ŷ - t)² and ŷ = z2, so ∂L/∂z2 = ŷ - t.",
    ),
    Quantity(
        "dL_dW2",
        "∂L/∂W2, shaped like W2",
        (1, 2),
        "∂L/∂W2 = δ2 a1ᵀ, the residual times the layer's input: entry [0, j] is δ2 a1[j].",
    ),
    Quantity(
        "delta1",
        "δ1 = ∂L/∂z1, the hidden residuals",
        (2,),
        "δ1 = (W2ᵀ δ2) ⊙ σ'(z1) with σ'(z1) = a1 ⊙ (1 - a1): δ1[i] = W2[0, i] δ2 a1[i] (1 - a1[i]).",
    ),
    Quantity(
        "dL_dW1",
        "∂L/∂W1, shaped like W1",
        (2, 2),
        "∂L/∂W1 = δ1 xᵀ: entry [i, j] is δ1[i] x[j].",
    ),
]


@register("backprop-221", "Backpropagation through a 2-2-1 network", "Backpropagation")
def backprop_221(n: Numbers) -> Draft:
    """A 2-2-1 network (docs/fundamentals.md §1): sigmoid hidden units, linear output, L2 loss."""
    while True:
        inputs = {
            "x": n.values(2, -1, 1),
            "t": n.value(0, 1, avoid=()),
            "W1": n.values((2, 2), -1, 1),
            "b1": n.values(2, -0.5, 0.5),
            "W2": n.values((1, 2), -1, 1),
            "b2": n.values(1, -0.5, 0.5),
        }
        p, (z1, a1, z2, loss) = _network(inputs)
        # ŷ - t is a difference: keep it clear of the rounding of ŷ done by hand
        if abs(z2.item() - inputs["t"]) >= 0.1:
            break
    dz2, dz1 = autograd.grad(loss, [z2, z1], retain_graph=True)
    loss.backward()
    key = {
        "a1": a1.numpy()[0],
        "y_hat": z2.numpy()[0, 0],
        "delta2": dz2.numpy()[0, 0],
        "delta1": dz1.numpy()[0],
        "dL_dW2": p["W2"].grad.numpy(),
        "dL_dW1": p["W1"].grad.numpy(),
    }
    question = (
        "A network with 2 inputs, 2 sigmoid hidden units and 1 linear output: z1 = W1 x + b1, "
        "a1 = σ(z1), ŷ = z2 = W2 a1 + b2, trained with the squared loss L = ½(ŷ - t)² of "
        "one sample (x, t). W[i, j] is the weight from unit j of the layer below to unit i. "
        "Run the forward pass, then backpropagate, layer by layer from the output: the output "
        "residual δ2 = ∂L/∂z2, ∂L/∂W2, the hidden residuals δ1 = ∂L/∂z1, and ∂L/∂W1."
    )

    def solve() -> list[SolutionStep]:
        p, (z1, a1, z2, loss) = _network(inputs)
        r = TraceReader(loss, p)
        x, t, w2 = inputs["x"], inputs["t"], inputs["W2"][0]
        z, a, y = z1.numpy()[0], a1.numpy()[0], z2.item()
        d2 = r.grad(z2)[0, 0]
        g_w2, g_a1 = r.grad(p["W2"]), r.sent(z2, a1)[0]
        d1, g_w1 = r.sent(a1, z1)[0], r.grad(p["W1"])
        slope = a * (1 - a)
        return [
            SolutionStep(
                "Forward pass",
                [
                    f"z1 = W1 x + b1 = {fmt(z)}",
                    f"a1 = σ(z1) = 1/(1 + e^(-z1)) = {fmt(a)}",
                    f"ŷ = z2 = W2 a1 + b2 = {fmt(y)}",
                    f"L = ½(ŷ - t)² = ½({fmt(y)} - {fmt(t)})² = {fmt(loss.item())}",
                ],
                {"a1": a, "y_hat": y},
            ),
            SolutionStep(
                "Output residual",
                [
                    FROM_TRACE,
                    "The output is linear (ŷ = z2), so δ2 = ∂L/∂z2 = ∂L/∂ŷ = ŷ - t.",
                    f"δ2 = {fmt(y)} - {fmt(t)} = {fmt(d2)}",
                ],
                {"delta2": d2},
            ),
            SolutionStep(
                "Gradient of the output weights",
                [
                    "∂L/∂W2 = δ2 a1ᵀ (the residual times the layer's input): entry [0, j] = δ2 a1[j].",
                    f"∂L/∂W2 = {fmt(d2)} × {fmt(a)} = {fmt(g_w2)}; ∂L/∂b2 = δ2 = {fmt(d2)}",
                ],
                {"dL_dW2": g_w2},
            ),
            SolutionStep(
                "Back through W2",
                [
                    "∂L/∂a1 = W2ᵀ δ2: entry i = W2[0, i] δ2.",
                    f"∂L/∂a1 = {fmt(w2)} × {par(d2)} = {fmt(g_a1)}",
                ],
                also={"∂L/∂a1": g_a1},
            ),
            SolutionStep(
                "Hidden residuals",
                [
                    "δ1 = ∂L/∂a1 ⊙ σ'(z1), with σ'(z1) = a1 ⊙ (1 - a1) (never more than 1/4).",
                    f"σ'(z1) = {fmt(a)} ⊙ {fmt(1 - a)} = {fmt(slope)}",
                    f"δ1 = {fmt(g_a1)} ⊙ {fmt(slope)} = {fmt(d1)}",
                ],
                {"delta1": d1},
                also={"σ'(z1)": slope},
            ),
            SolutionStep(
                "Gradient of the hidden weights",
                [
                    "∂L/∂W1 = δ1 xᵀ: entry [i, j] = δ1[i] x[j].",
                    f"∂L/∂W1 = {fmt(d1)}ᵀ × {fmt(x)} = {fmt(g_w1)}; ∂L/∂b1 = δ1",
                ],
                {"dL_dW1": g_w1},
            ),
        ]

    return Draft(question, inputs, _Q221, key, solve)


# ----------------------------------------------------------------------------- sigmoid chain
def _chain(inputs: dict):
    """a0 = x; z_l = w_l a_(l-1), a_l = σ(z_l): ``(x, [z_l], [a_l])``, float64."""
    x = tensor(np.asarray(inputs["x"], np.float64), requires_grad=True)
    zs, acts, a = [], [], x
    for w in inputs["w"]:
        z = float(w) * a
        a = z.sigmoid()
        zs.append(z)
        acts.append(a)
    return x, zs, acts


@register(
    "sigmoid-chain",
    "The chain of sigmoid derivatives through k layers",
    "Vanishing and exploding gradients",
)
def sigmoid_chain(n: Numbers) -> Draft:
    """k one-unit sigmoid layers: ∂a_k/∂x is a product of k factors w_l σ'(z_l)."""
    k = n.pick((3, 4))
    inputs = {"x": n.value(-1, 1), "w": n.values(k, -2, 2, gap=0.5)}
    x, zs, acts = _chain(inputs)
    slopes = [autograd.grad(a, z, retain_graph=True)[0].item() for a, z in zip(acts, zs)]
    (dx,) = autograd.grad(acts[-1], x)
    key = {"a": [a.item() for a in acts], "sigma_prime": slopes, "da_dx": dx.item()}
    question = (
        f"A chain of {k} one-unit sigmoid layers: a0 = x, z_l = w_l a_(l-1), a_l = σ(z_l) for "
        f"l = 1..{k}. Compute the activations, the local derivatives σ'(z_l), and the "
        f"gradient of the last activation with respect to the input, ∂a{k}/∂x, by the chain "
        "rule. How small is it, and why?"
    )
    quantities = [
        Quantity(
            "a",
            f"the activations a1..a{k}",
            (k,),
            "z_l = w_l a_(l-1) with a0 = x, then a_l = σ(z_l) = 1/(1 + e^(-z_l)).",
        ),
        Quantity(
            "sigma_prime",
            f"σ'(z1)..σ'(z{k})",
            (k,),
            "σ'(z) = σ(z)(1 - σ(z)) = a_l (1 - a_l): no more than 1/4.",
        ),
        Quantity(
            "da_dx",
            f"∂a{k}/∂x",
            (),
            f"∂a{k}/∂x = Π_l w_l σ'(z_l): one factor w_l σ'(z_l) per layer.",
        ),
    ]

    def solve() -> list[SolutionStep]:
        x, zs, acts = _chain(inputs)
        r = TraceReader(acts[-1], {"x": x})
        w, a = inputs["w"], np.array([t.item() for t in acts])
        prev = [inputs["x"], *a[:-1]]
        forward = [
            f"z{i} = w{i} a{i - 1} = {fmt(w[i - 1])} × {par(prev[i - 1])} = {fmt(zs[i - 1].item())}, "
            f"a{i} = σ(z{i}) = {fmt(a[i - 1])}"
            for i in range(1, k + 1)
        ]
        slope = a * (1 - a)
        chain = [FROM_TRACE, f"∂a{k}/∂z{k} = σ'(z{k}) = {fmt(r.sent(acts[-1], zs[-1]))}"]
        for i in range(k, 0, -1):
            below = acts[i - 2] if i > 1 else x
            name = f"a{i - 1}" if i > 1 else "x"
            chain.append(
                f"∂a{k}/∂{name} = ∂a{k}/∂z{i} × w{i} = {fmt(r.grad(zs[i - 1]))} × {par(w[i - 1])}"
                f" = {fmt(r.sent(zs[i - 1], below))}"
            )
            if i > 1:
                chain.append(
                    f"∂a{k}/∂z{i - 1} = ∂a{k}/∂a{i - 1} × σ'(z{i - 1}) = "
                    f"{fmt(r.grad(acts[i - 2]))} × {fmt(slope[i - 2])} = "
                    f"{fmt(r.sent(acts[i - 2], zs[i - 2]))}"
                )
        grad = r.grad(x)
        bound = np.prod(np.abs(w)) / 4.0**k
        return [
            SolutionStep("Forward pass", [*forward, f"a = {fmt(a)}"], {"a": a}),
            SolutionStep(
                "Local derivatives",
                [
                    "σ'(z) = σ(z)(1 - σ(z)), so σ'(z_l) = a_l (1 - a_l), largest (1/4) at z = 0.",
                    f"σ'(z) = {fmt(a)} ⊙ {fmt(1 - a)} = {fmt(slope)}",
                ],
                {"sigma_prime": slope},
            ),
            SolutionStep(
                "The chain rule, from the top down",
                [
                    *chain,
                    f"check, layer by layer: ∂a{k}/∂x = Π_l w_l σ'(z_l) = "
                    + " × ".join(par(f) for f in w * slope)
                    + f" = {fmt(grad)}",
                ],
                {"da_dx": grad},
            ),
            SolutionStep(
                "Why it vanishes",
                [
                    f"The sigmoid factors alone multiply to Π σ'(z_l) = {fmt(np.prod(slope))}.",
                    f"Since σ' ≤ 1/4, |∂a{k}/∂x| ≤ Π |w_l| / 4^{k} = {fmt(bound)}: each layer "
                    "shrinks the gradient unless its |w| exceeds 4, so the first layers of a "
                    "deep sigmoid network learn slowest.",
                ],
            ),
        ]

    return Draft(question, inputs, quantities, key, solve)
