"""Hand-written NumPy implementations of the benchmark cases: the same mathematics as
chainrule computes, written directly with NumPy and no framework, as a careful person
would write them by hand (in-place updates, no needless copies). They are the
benchmark's yardstick, not part of the library; a test checks that each computes the
same numbers as chainrule.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["CNNStep", "MLPStep", "softmax_xent_grad"]


def softmax_xent_grad(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of logits ``z`` and its gradient (softmax - onehot) / N."""
    n = len(y)
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = float((np.log(s[:, 0]) - shifted[np.arange(n), y]).mean())
    g = e / s
    g[np.arange(n), y] -= 1
    g /= n
    return loss, g


class _Optim:
    """SGD with momentum (PyTorch's form) or Adam, in place on lists of arrays."""

    def __init__(self, params: list, kind: str, lr: float) -> None:
        self.params, self.kind, self.lr, self.t = params, kind, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params] if kind == "adam" else None

    def step(self, grads: list) -> None:
        self.t += 1
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if self.kind == "sgd":
                m = self.m[i]
                if self.t == 1:
                    m[...] = g
                else:
                    m *= 0.9
                    m += g
                p -= self.lr * m
            else:
                m, v = self.m[i], self.v[i]
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * (g * g)
                c1, c2 = 1 - 0.9**self.t, np.sqrt(1 - 0.999**self.t)
                p -= (self.lr / c1) * (m / (np.sqrt(v) / c2 + 1e-8))


class MLPStep:
    """Linear-ReLU layers, softmax cross-entropy, backpropagation, optimizer step."""

    def __init__(self, weights: list, biases: list, optimizer: str, lr: float) -> None:
        self.w, self.b = weights, biases
        self.opt = _Optim(self.w + self.b, optimizer, lr)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        acts, pre = [x], []
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            h = acts[-1] @ w.T
            h += b
            if i < len(self.w) - 1:
                pre.append(h)
                acts.append(np.maximum(h, 0))
            else:
                return h, acts
        raise AssertionError

    def __call__(self, x: np.ndarray, y: np.ndarray) -> float:
        z, acts = self.forward(x)
        loss, g = softmax_xent_grad(z, y)
        gw, gb = [None] * len(self.w), [None] * len(self.w)
        for i in range(len(self.w) - 1, -1, -1):
            gw[i] = g.T @ acts[i]
            gb[i] = g.sum(axis=0)
            if i:
                g = g @ self.w[i]
                g *= acts[i] > 0
        self.opt.step(gw + gb)
        return loss

    def infer(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0]


def _im2col(x: np.ndarray, k: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C*k*k, OH*OW) for a k x k kernel, stride 1, no padding."""
    n, c = x.shape[:2]
    win = sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, OH, OW, k, k)
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * k * k, -1)


def _col2im(cols: np.ndarray, shape: tuple, k: int) -> np.ndarray:
    n, c, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    out = np.zeros(shape, dtype=cols.dtype)
    blocks = cols.reshape(n, c, k, k, oh, ow)
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + oh, j : j + ow] += blocks[:, :, i, j]
    return out


def _pool_fwd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling, stride 2 (odd edges dropped); returns the output and the argmax."""
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    blocks = x[:, :, : oh * 2, : ow * 2].reshape(n, c, oh, 2, ow, 2).transpose(0, 1, 2, 4, 3, 5)
    flat = blocks.reshape(n, c, oh, ow, 4)
    arg = flat.argmax(axis=-1)
    return np.take_along_axis(flat, arg[..., None], -1)[..., 0], arg


def _pool_bwd(g: np.ndarray, arg: np.ndarray, shape: tuple) -> np.ndarray:
    n, c = shape[:2]
    oh, ow = g.shape[2:]
    flat = np.zeros((n, c, oh, ow, 4), dtype=g.dtype)
    np.put_along_axis(flat, arg[..., None], g[..., None], -1)
    out = np.zeros(shape, dtype=g.dtype)
    out[:, :, : oh * 2, : ow * 2] = (
        flat.reshape(n, c, oh, ow, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * 2, ow * 2)
    )
    return out


def _conv_relu(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple:
    """A 3x3 convolution (stride 1, no padding) and ReLU: the columns, the pre-activation
    and the activation."""
    cols = _im2col(x, 3)
    h = w.reshape(len(w), -1) @ cols
    h += b[:, None]
    h = h.reshape(len(x), len(w), x.shape[2] - 2, x.shape[3] - 2)
    return cols, h, np.maximum(h, 0)


def _conv_relu_grads(ga: np.ndarray, h: np.ndarray, cols: np.ndarray, w: np.ndarray) -> tuple:
    """Back through :func:`_conv_relu` from ``ga``, the gradient at its activation (changed
    in place): the gradient at the pre-activation as (N, C_out, OH*OW), and the weights' and
    the bias's gradients."""
    ga *= h > 0
    g = ga.reshape(len(h), len(w), -1)
    gw = (g @ cols.transpose(0, 2, 1)).sum(0).reshape(w.shape)
    return g, gw, g.sum((0, 2))


class CNNStep:
    """conv 3x3 -> ReLU -> maxpool 2 -> conv 3x3 -> ReLU -> maxpool 2 -> linear, training."""

    def __init__(self, params: list, lr: float) -> None:
        self.params = params  # w1, b1, w2, b2, w3, b3
        self.opt = _Optim(params, "sgd", lr)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> float:
        w1, b1, w2, b2, w3, b3 = self.params
        n = len(x)
        c1, h1, a1 = _conv_relu(x, w1, b1)
        p1, arg1 = _pool_fwd(a1)
        c2, h2, a2 = _conv_relu(p1, w2, b2)
        p2, arg2 = _pool_fwd(a2)
        flat = p2.reshape(n, -1)
        z = flat @ w3.T
        z += b3
        loss, g = softmax_xent_grad(z, y)
        gw3, gb3 = g.T @ flat, g.sum(0)
        gp2 = (g @ w3).reshape(p2.shape)
        g2, gw2, gb2 = _conv_relu_grads(_pool_bwd(gp2, arg2, a2.shape), h2, c2, w2)
        gp1 = _col2im(w2.reshape(len(w2), -1).T @ g2, p1.shape, 3)
        _, gw1, gb1 = _conv_relu_grads(_pool_bwd(gp1, arg1, a1.shape), h1, c1, w1)
        self.opt.step([gw1, gb1, gw2, gb2, gw3, gb3])
        return loss
