"""Randomness: ``cr.Generator`` with PyTorch's methods, ``generator=`` everywhere, and the
random factories (``*_like``, ``randperm``, ``multinomial``, ``normal``, ``bernoulli``).

chainrule's streams are not PyTorch's, so values are checked against what NumPy's PCG64
gives for the seed (the same on every machine) and against the distributions, and shapes,
dtypes, gradients and errors against torch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


def _pcg(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _same_kind(mine: cr.Tensor, theirs: torch.Tensor) -> None:
    assert tuple(mine.shape) == tuple(theirs.shape)
    assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "cr.")
    assert mine.requires_grad == theirs.requires_grad


# --------------------------------------------------------------------- Generator
def test_generator_methods_as_pytorch():
    mine, theirs = cr.Generator(), torch.Generator()
    assert mine.initial_seed() == theirs.initial_seed()  # PyTorch's fixed starting seed
    assert mine.manual_seed(3) is mine and theirs.manual_seed(3) is theirs
    assert mine.initial_seed() == theirs.initial_seed() == 3
    for s in (-1, -(2**63), 2**64 - 1, np.int64(5)):
        assert mine.manual_seed(s).initial_seed() == theirs.manual_seed(int(s)).initial_seed()
    assert cr.manual_seed(-5).initial_seed() == torch.manual_seed(-5).initial_seed()
    s = mine.seed()
    assert isinstance(s, int) and 0 <= s < 2**64 and mine.initial_seed() == s
    assert mine.device == cr.device("cpu") and str(theirs.device) == "cpu"
    for bad in (1.5, "a", True, None):
        with pytest.raises((TypeError, RuntimeError)):
            theirs.manual_seed(bad)
        with pytest.raises(TypeError, match="integer"):
            mine.manual_seed(bad)
    for bad in (2**64, -(2**63) - 1):
        with pytest.raises((ValueError, RuntimeError)):
            theirs.manual_seed(bad)
        with pytest.raises(ValueError, match="seed"):
            mine.manual_seed(bad)
    with pytest.raises(RuntimeError):
        torch.Generator(device="cuda")
    with pytest.raises(RuntimeError, match="Generator: chainrule runs on the CPU only"):
        cr.Generator(device="cuda")


def test_a_seed_gives_pcg64s_numbers_on_every_machine():
    g = cr.Generator().manual_seed(7)
    ref = _pcg(7)
    np.testing.assert_array_equal(
        cr.randn(5, generator=g).numpy(), ref.standard_normal((5,)).astype(np.float32)
    )
    np.testing.assert_array_equal(
        cr.rand(2, 3, generator=g, dtype=cr.float64).numpy(), ref.random((2, 3))
    )
    np.testing.assert_array_equal(
        cr.randint(3, 9, (4,), generator=g).numpy(), ref.integers(3, 9, (4,))
    )
    np.testing.assert_array_equal(cr.randperm(6, generator=g).numpy(), ref.permutation(6))
    cr.manual_seed(11)
    np.testing.assert_array_equal(
        cr.randn(3).numpy(), _pcg(11).standard_normal((3,)).astype(np.float32)
    )
    assert cr.initial_seed() == 11 and cr.default_generator.initial_seed() == 11


def test_state_round_trip_and_bad_states():
    for gen in (cr.Generator().manual_seed(4), cr.default_generator):
        cr.randn(3, generator=gen)  # advance it
        state = gen.get_state()
        assert state.dtype is cr.uint8 and state.ndim == 1
        first = cr.randn(4, generator=gen).numpy()
        assert gen.set_state(state) is gen
        np.testing.assert_array_equal(cr.randn(4, generator=gen).numpy(), first)
    # The seed is part of the state, as in PyTorch.
    a, b = cr.Generator().manual_seed(1), cr.Generator().manual_seed(2)
    b.set_state(a.get_state())
    assert b.initial_seed() == 1
    theirs = torch.Generator()
    with pytest.raises(RuntimeError):
        theirs.set_state(torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="bytes"):
        a.set_state(cr.zeros(3, dtype=cr.uint8))
    with pytest.raises(TypeError):
        theirs.set_state([1, 2])
    with pytest.raises(TypeError, match="uint8 tensor"):
        a.set_state([1, 2])
    with pytest.raises(TypeError, match="float32"):
        a.set_state(cr.zeros(45))


def test_a_generator_leaves_the_librarys_stream_alone():
    cr.manual_seed(0)
    expected = cr.randn(3).numpy()
    cr.manual_seed(0)
    g = cr.Generator().manual_seed(0)
    for draw in (
        lambda: cr.randn(2, generator=g),
        lambda: cr.rand(2, generator=g),
        lambda: cr.randint(5, (2,), generator=g),
        lambda: cr.randperm(3, generator=g),
        lambda: cr.multinomial(cr.ones(3), 2, generator=g),
        lambda: cr.normal(0.0, 1.0, (2,), generator=g),
        lambda: cr.normal(cr.zeros(2), generator=g),
        lambda: cr.bernoulli(cr.full((2,), 0.5), generator=g),
        lambda: cr.randn_like(cr.ones(2), generator=g),
        lambda: cr.rand_like(cr.ones(2), generator=g),
        lambda: cr.randint_like(cr.ones(2), 4, generator=g),
        lambda: cr.empty(2).normal_(generator=g),
        lambda: cr.empty(2).uniform_(generator=g),
        lambda: cr.empty(2).bernoulli_(0.5, generator=g),
        lambda: nn.init.kaiming_uniform_(cr.empty(2, 2), generator=g),
    ):
        draw()
    np.testing.assert_array_equal(cr.randn(3).numpy(), expected)
    with pytest.raises(TypeError, match=r"cr\.Generator"):
        cr.randn(2, generator=3)


def test_the_same_generator_seed_reproduces_every_draw():
    def draws(seed):
        g = cr.Generator().manual_seed(seed)
        return [
            cr.randn(3, generator=g),
            cr.multinomial(cr.tensor([0.2, 0.3, 0.5]), 5, True, generator=g),
            cr.multinomial(cr.tensor([[0.2, 0.3, 0.5]]), 3, generator=g),
            cr.normal(cr.zeros(3), cr.ones(3), generator=g),
            cr.bernoulli(cr.full((4,), 0.3), generator=g),
            cr.empty(3).uniform_(-1, 1, generator=g),
        ]

    for a, b in zip(draws(9), draws(9)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(draws(9), draws(10)))


# --------------------------------------------------------------------- factories
def test_randint_in_pytorchs_forms():
    for args, kwargs in [
        ((10, (3,)), {}),
        ((3, 10, (2, 2)), {}),
        ((10,), {"size": (3,)}),
        ((), {"high": 4, "size": (5,)}),
        ((0, 10, (2,)), {"dtype": cr.float32}),
        ((0, 10, (2,)), {"dtype": cr.float32, "requires_grad": True}),
    ]:
        targs = kwargs | ({"dtype": torch.float32} if "dtype" in kwargs else {})
        mine, theirs = cr.randint(*args, **kwargs), torch.randint(*args, **targs)
        _same_kind(mine, theirs)
        low = args[0] if len(args) == 3 else 0
        high = args[1] if len(args) == 3 else (args[0] if args else kwargs["high"])
        assert mine.numpy().min() >= low and mine.numpy().max() < high
    for args, kwargs, kind in [
        ((10,), {}, TypeError),
        ((10,), {"size": 3}, TypeError),
        ((5, 3, (2,)), {}, ValueError),
        ((0, 10.5, (2,)), {}, TypeError),
        ((0, 10, (2,)), {"requires_grad": True}, RuntimeError),
    ]:
        with pytest.raises((TypeError, RuntimeError)):
            torch.randint(*args, **kwargs)
        with pytest.raises(kind):
            cr.randint(*args, **kwargs)


def test_randperm():
    for n in (0, 1, 7):
        mine, theirs = cr.randperm(n), torch.randperm(n)
        _same_kind(mine, theirs)
        assert sorted(mine.tolist()) == list(range(n))
    _same_kind(cr.randperm(4, dtype=cr.float32), torch.randperm(4, dtype=torch.float32))
    with pytest.raises(RuntimeError):
        torch.randperm(-1)
    with pytest.raises(ValueError, match="non-negative"):
        cr.randperm(-1)
    with pytest.raises(RuntimeError):
        torch.randperm(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating"):
        cr.randperm(4, requires_grad=True)


def test_like_factories():
    ints, floats = [[1, 2, 3], [4, 5, 6]], [[1.0, 2.0], [3.0, 4.0]]
    cases = [
        ("randn_like", floats, (), {}),
        ("randn_like", ints, (), {"dtype": "float"}),
        ("randn_like", floats, (), {"dtype": "double", "requires_grad": True}),
        ("rand_like", floats, (), {}),
        ("rand_like", ints, (), {"dtype": "float"}),
        ("randint_like", ints, (5,), {}),
        ("randint_like", floats, (5,), {}),
        ("randint_like", ints, (3, 5), {}),
        ("randint_like", ints, (3, 5), {"dtype": "double"}),
    ]
    for name, data, args, kwargs in cases:
        mk = {k: getattr(cr, v) if k == "dtype" else v for k, v in kwargs.items()}
        tk = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
        mine = getattr(cr, name)(cr.tensor(data), *args, **mk)
        _same_kind(mine, getattr(torch, name)(torch.tensor(data), *args, **tk))
        if name == "rand_like":
            assert mine.numpy().min() >= 0 and mine.numpy().max() < 1
        if name == "randint_like":
            lo, hi = (0, args[0]) if len(args) == 1 else args
            assert lo <= mine.numpy().min() and mine.numpy().max() < hi
    for name in ("randn_like", "rand_like"):
        with pytest.raises(NotImplementedError):
            getattr(torch, name)(torch.tensor(ints))
        with pytest.raises(TypeError, match=f"{name}: .*floating dtype, got cr.int64"):
            getattr(cr, name)(cr.tensor(ints))
    for L in (cr, torch):
        with pytest.raises(TypeError):
            L.randn_like([1.0, 2.0])


# --------------------------------------------------------------------- multinomial
def test_multinomial_shapes_dtypes_and_errors_as_pytorch():
    p = [0.1, 0.0, 0.9]
    for data, k, repl in [(p, 2, False), (p, 3, False), (p, 5, True), ([[1.0, 2.0]] * 3, 2, False)]:
        mine = cr.multinomial(cr.tensor(data), k, repl)
        theirs = torch.multinomial(torch.tensor(data), k, repl)
        _same_kind(mine, theirs)
        _same_kind(cr.tensor(data).multinomial(k, repl), theirs)
    # The weight-0 category is drawn only when nothing else is left, as in PyTorch.
    assert cr.multinomial(cr.tensor(p), 3).tolist()[2] == 1
    bad = [
        (p, 4, False, ValueError),
        (p, 0, True, ValueError),
        ([-1.0, 2.0], 1, False, ValueError),
        ([0.0, 0.0], 1, False, ValueError),
        ([float("nan"), 1.0], 1, False, ValueError),
        ([float("inf"), 1.0], 1, False, ValueError),
        ([1, 2], 1, False, TypeError),
        (1.0, 1, False, ValueError),
        ([[[1.0]]], 1, False, ValueError),
    ]
    for data, k, repl, kind in bad:
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.tensor(data), k, repl)
        with pytest.raises(kind, match="multinomial"):
            cr.multinomial(cr.tensor(data), k, repl)


def test_multinomial_with_replacement_follows_the_weights():
    w = np.array([1.0, 0.0, 3.0, 6.0])
    g = cr.Generator().manual_seed(1)
    n = 40_000
    draws = cr.multinomial(cr.tensor(w, dtype=cr.float32), n, True, generator=g).numpy()
    freq = np.bincount(draws, minlength=4) / n
    expected = w / w.sum()
    assert freq[1] == 0
    # Each frequency within 5 binomial standard deviations of its probability.
    assert np.all(np.abs(freq - expected) <= 5 * np.sqrt(expected * (1 - expected) / n))


def test_multinomial_without_replacement_draws_one_after_another():
    w = np.array([1.0, 2.0, 3.0, 4.0])
    p = w / w.sum()
    g = cr.Generator().manual_seed(2)
    n = 20_000
    rows = cr.tensor(np.tile(w, (n, 1)))
    pairs = cr.multinomial(rows, 2, generator=g).numpy()
    assert (pairs[:, 0] != pairs[:, 1]).all()
    counts = {}
    for a, b in pairs:
        counts[(a, b)] = counts.get((a, b), 0) + 1
    for a, b in itertools.permutations(range(4), 2):
        exact = p[a] * p[b] / (1 - p[a])  # first a, then b from what is left
        sd = np.sqrt(exact * (1 - exact) / n)
        assert abs(counts.get((a, b), 0) / n - exact) <= 5 * sd, (a, b)


# --------------------------------------------------------------------- normal, bernoulli
def test_normal_in_pytorchs_four_forms():
    m = [0.0, 1.0, 2.0]
    forms = [
        (lambda L: (L.tensor(m, requires_grad=True), L.ones(3, requires_grad=True)), {}),
        (lambda L: (L.tensor(m, requires_grad=True), 2.0), {}),
        (lambda L: (0.5, L.ones(3, requires_grad=True)), {}),
        (lambda L: (L.zeros(2, 1), L.ones(3)), {}),
        (lambda L: (L.tensor(m, dtype=L.float64), L.ones(3)), {}),
        (lambda L: (0.0, 1.0, (2, 3)), {}),
        (lambda L: (2, 3, (4,)), {}),
    ]
    for make, kwargs in forms:
        mine, theirs = cr.normal(*make(cr), **kwargs), torch.normal(*make(torch), **kwargs)
        _same_kind(mine, theirs)
    _same_kind(
        cr.normal(0.0, 1.0, (2,), dtype=cr.float64),
        torch.normal(0.0, 1.0, size=(2,), dtype=torch.float64),
    )
    for make, kind in [
        (lambda L: (L.zeros(3), L.ones(2)), ValueError),
        (lambda L: (L.zeros(3), -1.0), ValueError),
        (lambda L: (L.zeros(3), -L.ones(3)), ValueError),
        (lambda L: (0.0, 1.0), TypeError),
    ]:
        with pytest.raises((RuntimeError, TypeError)):
            torch.normal(*make(torch))
        with pytest.raises(kind, match="normal"):
            cr.normal(*make(cr))
    with pytest.raises(NotImplementedError):
        torch.normal(torch.zeros(2, dtype=torch.int64), torch.ones(2, dtype=torch.int64))
    with pytest.raises(TypeError, match="floating"):
        cr.normal(cr.zeros(2, dtype=cr.int64), cr.ones(2, dtype=cr.int64))


def test_normal_and_bernoulli_have_pytorchs_zero_gradient():
    def run(L, draw):
        mean = L.tensor([0.0, 1.0], dtype=L.float64, requires_grad=True)
        std = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
        out = draw(L, mean, std)
        out.backward(L.tensor([3.0, -1.0], dtype=L.float64))
        return out, mean.grad, std.grad

    for draw in (
        lambda L, m, s: L.normal(m, s),
        lambda L, m, s: L.normal(m, 1.0),
        lambda L, m, s: L.normal(0.0, s),
        lambda L, m, s: L.bernoulli(s / 4),
        lambda L, m, s: (s / 4).bernoulli(),
    ):
        mine, theirs = run(cr, draw), run(torch, draw)
        _same_kind(mine[0], theirs[0])
        for a, b in zip(mine[1:], theirs[1:]):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The reparameterised sample has the gradients the note promises.
    std = cr.tensor([1.0, 2.0], requires_grad=True)
    noise = cr.randn_like(std)
    (std * noise).sum().backward()
    np.testing.assert_array_equal(std.grad.numpy(), noise.numpy())


def test_normal_draws_follow_the_distribution():
    g = cr.Generator().manual_seed(5)
    x = cr.normal(cr.full((50_000,), 3.0, dtype=cr.float64), 2.0, generator=g).numpy()
    assert abs(x.mean() - 3.0) < 5 * 2.0 / np.sqrt(x.size)
    assert abs(x.std() - 2.0) < 0.05
    t = cr.empty(50_000, dtype=cr.float64).normal_(-1.0, 0.5, generator=g).numpy()
    assert abs(t.mean() + 1.0) < 5 * 0.5 / np.sqrt(t.size)


def test_bernoulli():
    g = cr.Generator().manual_seed(6)
    probs = cr.tensor([0.0, 1.0, 0.25, 0.75], dtype=cr.float64)
    draws = np.stack([cr.bernoulli(probs, generator=g).numpy() for _ in range(8000)])
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_array_equal(draws[:, :2], np.tile([0.0, 1.0], (8000, 1)))
    sd = np.sqrt(0.25 * 0.75 / 8000)
    np.testing.assert_allclose(draws[:, 2:].mean(0), [0.25, 0.75], atol=5 * sd)
    _same_kind(cr.bernoulli(cr.ones(3), 0.5), torch.bernoulli(torch.ones(3), 0.5))
    _same_kind(cr.ones(3).bernoulli(), torch.ones(3).bernoulli())
    for L in (cr, torch):
        t = L.zeros(4)
        assert t.bernoulli_(1.0) is t and t.tolist() == [1.0] * 4
        assert t.bernoulli_(L.zeros(4)).tolist() == [0.0] * 4
    for make, p in [(lambda L: L.tensor([0.0, 2.0]), None), (lambda L: L.ones(2), 1.5)]:
        with pytest.raises(RuntimeError):
            torch.bernoulli(make(torch), *([] if p is None else [p]))
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            cr.bernoulli(make(cr), p)
    with pytest.raises(NotImplementedError):
        torch.bernoulli(torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="floating"):
        cr.bernoulli(cr.tensor([0, 1]))


def test_in_place_draws_check_their_arguments_as_pytorch():
    for call, kind in [
        (lambda L: L.empty(3).normal_(0, -1), ValueError),
        (lambda L: L.empty(3).uniform_(2, 1), ValueError),
        (lambda L: L.zeros(3, dtype=L.int64).normal_(), TypeError),
        (lambda L: L.zeros(3, dtype=L.int64).uniform_(), TypeError),
        (lambda L: L.randn(2, dtype=L.int64), TypeError),
        (lambda L: L.rand(2, dtype=L.int64), TypeError),
    ]:
        with pytest.raises((RuntimeError, NotImplementedError)):
            call(torch)
        with pytest.raises(kind):
            call(cr)
