"""The benchmark cases. Each builds one step (a training step, an inference pass or a
small graph's forward and backward) three ways from the same starting weights: with
chainrule, with hand-written NumPy (``reference.py``), and with PyTorch (passed in as a
module, so nothing here imports it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule.bench import reference

__all__ = ["CASES", "Case"]


@dataclass
class Case:
    name: str
    kind: str  # mlp, mlp-infer, cnn, graph
    batch: int
    sizes: tuple = ()
    optimizer: str = "sgd"
    quick: bool = True

    @property
    def lr(self) -> float:
        return 0.01 if self.optimizer == "sgd" else 1e-3

    # ----------------------------------------------------------------- data and weights
    def data(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        if self.kind == "cnn":
            x = rng.standard_normal((self.batch, 1, 28, 28)).astype(np.float32)
        elif self.kind == "graph":
            shapes = [(32, 64), (64, 64), (64,), (32, 64)]  # x, W, b, c
            return [rng.standard_normal(s).astype(np.float32) for s in shapes], None
        else:
            x = rng.standard_normal((self.batch, self.sizes[0])).astype(np.float32)
        return x, rng.integers(0, 10, self.batch)

    def weights(self, seed: int = 1) -> list:
        """PyTorch-style initial weights and biases (U(-1/sqrt(fan_in), 1/sqrt(fan_in)))."""
        rng = np.random.default_rng(seed)
        shapes = []
        if self.kind == "cnn":
            shapes = [(8, 1, 3, 3), (8,), (16, 8, 3, 3), (16,), (10, 16 * 5 * 5), (10,)]
        else:
            for fan_in, fan_out in zip(self.sizes, self.sizes[1:]):
                shapes += [(fan_out, fan_in), (fan_out,)]
        out, fan = [], None
        for s in shapes:
            if len(s) > 1:
                fan = math.prod(s[1:])
            bound = 1 / math.sqrt(fan)
            out.append(rng.uniform(-bound, bound, s).astype(np.float32))
        return out

    # ----------------------------------------------------------------- FLOPs
    def flops(self) -> float:
        """Multiply-adds x 2 of the matrix products in one step (what the BLAS rate bounds)."""
        b = self.batch
        if self.kind == "graph":
            return 0.0
        if self.kind == "cnn":
            conv1, conv2, fc = 8 * 9 * 26 * 26, 16 * 72 * 11 * 11, 400 * 10
            return 2.0 * b * (2 * conv1 + 3 * conv2 + 3 * fc)
        layers = [i * o for i, o in zip(self.sizes, self.sizes[1:])]
        if self.kind == "mlp-infer":
            return 2.0 * b * sum(layers)
        return 2.0 * b * (2 * sum(layers) + sum(layers[1:]))  # forward, weight grads, input grads

    # ----------------------------------------------------------------- the three builds
    def model(self, lib):
        """The case's network in ``lib`` (chainrule or torch: the same code builds both),
        with the weights of :meth:`weights`."""
        nn = lib.nn
        if self.kind == "cnn":
            model = nn.Sequential(
                nn.Conv2d(1, 8, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(400, 10),
            )
        else:
            layers = []
            for fan_in, fan_out in zip(self.sizes, self.sizes[1:]):
                layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
            model = nn.Sequential(*layers[:-1])
        with lib.no_grad():
            for p, w in zip(model.parameters(), self.weights()):
                p.copy_(lib.tensor(w))
        return model

    def step(self, lib):
        """One step in ``lib``, chainrule or torch: the same code runs in both, since
        chainrule speaks PyTorch's API."""
        if self.kind == "graph":
            x, w, b, c = (lib.tensor(v, requires_grad=True) for v in self.data()[0])

            def graph():  # five ops: a tiny layer, (x @ W + b).tanh() * c, averaged
                ((x @ w + b).tanh() * c).mean().backward()
                grads = (x.grad, w.grad, b.grad, c.grad)
                x.grad = w.grad = b.grad = c.grad = None
                return grads

            return graph
        model = self.model(lib)
        x, y = (lib.tensor(a) for a in self.data())
        if self.kind == "mlp-infer":

            def infer():
                with lib.no_grad():
                    return model(x)

            return infer
        opt = (
            lib.optim.SGD(model.parameters(), lr=self.lr, momentum=0.9)
            if self.optimizer == "sgd"
            else lib.optim.Adam(model.parameters(), lr=self.lr)
        )
        loss_fn = lib.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step.model = model
        return step

    def chainrule_step(self):
        return self.step(cr)

    def torch_step(self, torch):
        return self.step(torch)

    def numpy_step(self):
        if self.kind == "graph":
            x, w, b, c = self.data()[0]

            def graph():
                t = np.tanh(x @ w + b)
                loss = (t * c).mean()
                scale = 1.0 / t.size
                gh = c * scale * (1 - t * t)
                return loss, (gh @ w.T, x.T @ gh, gh.sum(0), t * scale)

            return graph
        x, y = self.data()
        params = self.weights()
        if self.kind == "cnn":
            step = reference.CNNStep(params, self.lr)
            fn = lambda: step(x, y)  # noqa: E731
            fn.params = step.params
            return fn
        mlp = reference.MLPStep(params[0::2], params[1::2], self.optimizer, self.lr)
        if self.kind == "mlp-infer":
            return lambda: mlp.infer(x)
        fn = lambda: mlp(x, y)  # noqa: E731
        fn.params = mlp.w + mlp.b
        return fn


MLP = (784, 512, 256, 10)
CASES = [
    Case("mlp-sgd-b32", "mlp", 32, MLP, "sgd"),
    Case("mlp-sgd-b128", "mlp", 128, MLP, "sgd"),
    Case("mlp-sgd-b512", "mlp", 512, MLP, "sgd"),
    Case("mlp-adam-b32", "mlp", 32, MLP, "adam", quick=False),
    Case("mlp-adam-b128", "mlp", 128, MLP, "adam", quick=False),
    Case("mlp-adam-b512", "mlp", 512, MLP, "adam", quick=False),
    Case("deep-narrow-b32", "mlp", 32, (64,) * 21 + (10,), "sgd"),
    Case("lenet-b64", "cnn", 64),
    Case("graph-5op", "graph", 1),
    Case("mlp-infer-b128", "mlp-infer", 128, MLP),
]
