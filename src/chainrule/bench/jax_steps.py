"""The benchmark cases written in JAX: each step a pure function under ``jax.jit``.

A training step is ``step(params, state, x, y) -> (params, state, loss)``: the loss and its
gradients by ``jax.value_and_grad``, then the optimizer's update (PyTorch's SGD with
momentum or Adam, line for line as ``chainrule.optim`` writes them), with the parameters
and the optimizer state donated so that XLA may update them in place, as a JAX user's
training loop would. The parameters are a list in the order of ``model.parameters()``,
each in PyTorch's layout (a linear weight is (out, in), a convolution's (out, in, kh, kw)),
starting from :meth:`Case.weights`; everything is float32.

This module imports JAX: only the JAX worker process (``jax_worker.py``) and the tests
import it, never ``chainrule bench``'s own process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["JaxCase", "Unfaithful", "build"]

MOMENTUM = 0.9
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


class Unfaithful(Exception):
    """The case cannot be written in JAX as the other implementations compute it."""


@dataclass
class JaxCase:
    """One case in JAX. ``loss_fn(params, x, y)`` is the mathematics and
    ``update(params, state, grads) -> (params, state)`` the optimizer's step; ``step`` is the
    jitted function the bench times (both in one); ``params``, ``state``, ``x``, ``y`` are
    its current inputs (device arrays; ``step`` donates the first two). ``run()`` advances
    by one step and waits for the result."""

    kind: str
    loss_fn: object
    step: object
    params: list
    state: object = None
    x: object = None
    y: object = None
    update: object = None

    def run(self):
        if self.kind == "graph":
            out = self.step(*self.params)
        elif self.kind == "mlp-infer":
            out = self.step(self.params, self.x)
        else:
            self.params, self.state, out = self.step(self.params, self.state, self.x, self.y)
        return jax.block_until_ready(out)


def _cross_entropy(z, y):
    """Mean softmax cross-entropy of logits ``z`` (N, C) and integer labels ``y``."""
    logp = jax.nn.log_softmax(z, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def _mlp_forward(params, x):
    h = x
    layers = len(params) // 2
    for i in range(layers):
        w, b = params[2 * i], params[2 * i + 1]
        h = h @ w.T + b
        if i < layers - 1:
            h = jax.nn.relu(h)
    return h


def _cnn_forward(params, x):
    w1, b1, w2, b2, w3, b3 = params
    dims = ("NCHW", "OIHW", "NCHW")

    def conv(h, w, b):
        out = jax.lax.conv_general_dilated(h, w, (1, 1), "VALID", dimension_numbers=dims)
        return out + b[None, :, None, None]

    def pool(h):  # 2 x 2 max pooling, stride 2, odd edges dropped (floor), as MaxPool2d(2)
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    h = pool(jax.nn.relu(conv(x, w1, b1)))
    h = pool(jax.nn.relu(conv(h, w2, b2)))
    h = h.reshape(h.shape[0], -1)
    return h @ w3.T + b3


def _sgd(params, state, grads, lr):
    """PyTorch's SGD with momentum 0.9: b <- 0.9 b + g (b = g on the first step: the state
    starts at zero, and 0.9 * 0 + g is g exactly), theta <- theta - lr b."""
    bufs = [MOMENTUM * b + g for b, g in zip(state, grads)]
    return [p - lr * b for p, b in zip(params, bufs)], bufs


def _adam(params, state, grads, lr):
    """PyTorch's Adam (chainrule.optim.adam_update): m <- m + (1 - b1)(g - m),
    v <- b2 v + (1 - b2) g^2, theta <- theta - (lr / c1) m / (sqrt(v) / sqrt(c2) + eps)."""
    m, v, t = state
    t = t + 1
    tf = t.astype(jnp.float32)
    c1 = 1 - BETA1**tf
    c2 = jnp.sqrt(1 - BETA2**tf)
    m = [a + (1 - BETA1) * (g - a) for a, g in zip(m, grads)]
    v = [BETA2 * a + (1 - BETA2) * g * g for a, g in zip(v, grads)]
    new = [p - (lr / c1) * a / (jnp.sqrt(b) / c2 + EPS) for p, a, b in zip(params, m, v)]
    return new, (m, v, t)


def build(case) -> JaxCase:
    """The JAX version of ``case`` (a :class:`chainrule.bench.cases.Case`), from the same
    weights and data as the chainrule, NumPy and PyTorch versions."""
    if case.kind == "graph":
        arrays = [jnp.asarray(a) for a in case.data()[0]]

        def loss_fn(x, w, b, c):
            return jnp.mean(jnp.tanh(x @ w + b) * c)

        step = jax.jit(jax.grad(loss_fn, argnums=(0, 1, 2, 3)))
        return JaxCase(case.kind, loss_fn, step, arrays)
    if case.kind not in ("mlp", "mlp-infer", "cnn"):
        raise Unfaithful(f"no JAX version of a {case.kind!r} case")
    x, y = case.data()
    params = [jnp.asarray(w) for w in case.weights()]
    x = jnp.asarray(x)
    y = jnp.asarray(np.asarray(y, dtype=np.int32))
    forward = _cnn_forward if case.kind == "cnn" else _mlp_forward
    if case.kind == "mlp-infer":
        return JaxCase(case.kind, None, jax.jit(forward), params, x=x)

    def loss_fn(params, x, y):
        return _cross_entropy(forward(params, x), y)

    if case.optimizer == "sgd":
        update, state = _sgd, [jnp.zeros_like(p) for p in params]
    elif case.optimizer == "adam":
        zeros = [jnp.zeros_like(p) for p in params]
        update, state = _adam, (zeros, [jnp.zeros_like(p) for p in params], jnp.int32(0))
    else:
        raise Unfaithful(f"no JAX version of the {case.optimizer!r} optimizer")
    update = partial(update, lr=case.lr)

    def train_step(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        params, state = update(params, state, grads)
        return params, state, loss

    step = jax.jit(train_step, donate_argnums=(0, 1))
    return JaxCase(case.kind, loss_fn, step, params, state, x, y, update)
