"""What the tests of PyTorch's public scripts share (``tests/test_script_*.py``).

Each of those tests writes one program, ``program(L)``, that makes the script's calls in
the script's order, and runs it with ``L`` bound to chainrule and then to torch. The data
are generated here, shaped as the script's (the scripts download MNIST or FashionMNIST,
or draw from torch's generator), and so are the starting weights: chainrule's random
streams are not PyTorch's, so a program lets the library draw, as the script does, and
then overwrites the draw with values from the test. What the two runs print and compute
must then agree to float32 rounding.
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch

import chainrule as cr

__all__ = [
    "Printout",
    "Shuffles",
    "assert_same_text",
    "both",
    "both_print",
    "image_dataset",
    "overwrite",
    "set_parameters",
]


def both(program, *args):
    """``program(cr, *args)`` and ``program(torch, *args)``, in that order."""
    return program(cr, *args), program(torch, *args)


def overwrite(L, tensor, values) -> None:
    """Write ``values`` (an array) into ``tensor`` in place, outside the graph: a random
    draw of the script replaced by the test's numbers."""
    with L.no_grad():
        tensor.copy_(L.tensor(np.asarray(values, dtype=np.float32)))


def set_parameters(L, model, seed: int = 0) -> None:
    """Give every parameter of ``model`` values drawn here, uniform in
    :math:`\\pm 1/\\sqrt{\\text{fan\\_in}}` like PyTorch's default initialisation, the same
    for both libraries (their parameters come in the same order, under the same names)."""
    rng = np.random.default_rng(seed)
    for _name, p in model.named_parameters():
        shape = tuple(p.shape)
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
        overwrite(L, p, rng.uniform(-1, 1, shape) / math.sqrt(fan_in))


def both_print(program, *args) -> tuple[str, str]:
    """What ``program(L, print, *args)`` prints under chainrule and under torch."""
    ours, theirs = Printout(), Printout()
    program(cr, ours, *args)
    program(torch, theirs, *args)
    return ours.text, theirs.text


def image_dataset(
    L,
    n: int,
    shape: tuple[int, ...],
    seed: int = 0,
    classes: int = 10,
    normalize: tuple[float, float] | None = None,
):
    """A stand-in for MNIST or FashionMNIST after ``ToTensor()``: ``n`` samples
    ``(image, label)``, each image a float32 tensor of ``shape`` in [0, 1] and each label
    a Python int below ``classes``. The images of a class share a pattern of lit pixels,
    with noise, so a model can learn them and its loss falls. ``normalize=(mean, std)``
    is torchvision's ``Normalize((mean,), (std,))`` after ``ToTensor()``."""
    rng = np.random.default_rng(seed)
    size = math.prod(shape)
    patterns = rng.random((classes, size)) < 0.2
    labels = rng.integers(0, classes, n)
    lit = patterns[labels] ^ (rng.random((n, size)) < 0.1)
    images = (lit * rng.uniform(0.5, 1.0, (n, size))).astype(np.float32).reshape(n, *shape)
    if normalize is not None:
        images = (images - np.float32(normalize[0])) / np.float32(normalize[1])

    class Images(L.utils.data.Dataset):
        def __len__(self) -> int:
            return n

        def __getitem__(self, i):
            return L.tensor(images[i]), int(labels[i])

    return Images()


class Printout:
    """A ``print`` for programs: keeps each line as ``print`` would write it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, *args, sep: str = " ") -> None:
        self.lines.append(sep.join(str(a) for a in args))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?(?![\w.])")
_ADDRESS = re.compile(r" object at 0x[0-9a-f]+")
_GRAD_FN = re.compile(r"grad_fn=<\w+>|<(?:\w+Backward\d*|AccumulateGrad) object")


def _unit(token: str) -> float:
    """One unit of the last digit printed: the rounding a printed value carries."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def assert_same_text(
    mine: str, theirs: str, *, rtol: float = 1e-5, atol: float = 0.0, grad_fn: bool = False
) -> None:
    """Two printouts agree: the same text around the numbers, and numbers that differ by
    at most float32 rounding (``rtol``, and ``atol`` for a value that is a small
    difference of large sums) plus one unit of the last digit printed (a value that
    rounding moved across a printing boundary).

    ``torch.`` reads as ``cr.`` (``torch.Size``, ``torch.float64``), memory addresses are
    left out, and so are ``grad_fn`` names unless ``grad_fn=True``: chainrule's graph
    has its own nodes where PyTorch has others (``docs/pytorch.md``).
    """

    def split(text: str):
        text = _ADDRESS.sub(" object", text.replace("torch.", "cr."))
        if not grad_fn:
            text = _GRAD_FN.sub("<grad_fn>", text)
        return _NUMBER.sub("#", text), _NUMBER.findall(text)

    (frame_m, numbers_m), (frame_t, numbers_t) = split(mine), split(theirs)
    assert frame_m == frame_t, f"\n{mine}\n!=\n{theirs}"
    assert len(numbers_m) == len(numbers_t)
    for a, b in zip(numbers_m, numbers_t):
        x, y = float(a), float(b)
        assert abs(x - y) <= atol + rtol * abs(y) + _unit(b) * 1.01, (
            f"{a} != {b} in\n{mine}\n{theirs}"
        )


class Shuffles:
    """``DataLoader(..., shuffle=True)`` in both libraries with one order.

    The two libraries draw their shuffles from their own generators, so the order of a
    shuffled epoch differs. chainrule's loaders record each order they draw
    (:meth:`chainrule_loader`); torch's then replay them, one per epoch in the same
    sequence, through a sampler (:meth:`torch_loader`). Everything else is each
    library's own DataLoader.
    """

    def __init__(self) -> None:
        self.orders: list[list[int]] = []

    def loader(self, L):
        return self.chainrule_loader() if L is cr else self.torch_loader()

    def chainrule_loader(self):
        record = self.orders

        class Recording(cr.utils.data.DataLoader):
            def order(self, epoch=None):
                order = super().order(epoch)
                if self.shuffle:
                    record.append(order.tolist())
                return order

        return Recording

    def torch_loader(self):
        record = self.orders

        class Replay(torch.utils.data.Sampler):
            def __init__(self, n: int) -> None:
                self.n = n

            def __iter__(self):
                order = record.pop(0)
                assert sorted(order) == list(range(self.n))
                return iter(order)

            def __len__(self) -> int:
                return self.n

        class Replaying(torch.utils.data.DataLoader):
            def __init__(self, dataset, batch_size=1, shuffle=False, **kwargs):
                if shuffle:
                    kwargs["sampler"] = Replay(len(dataset))
                super().__init__(dataset, batch_size=batch_size, **kwargs)

        return Replaying
