"""``cr.compile`` and the library's value-dependent code: checks of argument values and
decisions taken from the data (``embedding``'s padding, ``max_norm``, the range checks
of indices and targets) run again on every replayed call, as they do eagerly.

Each test runs an eager and a compiled copy of one small step from the same weights on
the same inputs, where the first two calls (which record) take one branch and later
calls another, or bring bad input, and compares results, parameters and gradients bit
for bit, or the exception's type and message.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

RNG = np.random.default_rng(19)


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as err:  # compared with the eager step's
        return "error", (type(err), str(err))


def _arrays(value):
    if isinstance(value, tuple | list):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, cr.Tensor):
        return [value.detach().numpy()]
    return [value]


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True) and np.asarray(a).dtype == np.asarray(b).dtype
    return a == b


def check(make, step, calls, *, replays=True, refused=False):
    """Run ``step(model, opt, *args)`` eagerly and compiled, from the same ``make()``, on
    each argument tuple of ``calls``; everything must agree bit for bit. Returns the
    compiled step."""
    model = make()
    twin = copy.deepcopy(model)
    opt = cr.optim.SGD(model.parameters(), lr=0.1) if list(model.parameters()) else None
    opt2 = cr.optim.SGD(twin.parameters(), lr=0.1) if opt is not None else None

    def eager(*args):
        return step(model, opt, *args)

    compiled = cr.compile(lambda *args: step(twin, opt2, *args))
    with warnings.catch_warnings():
        # A refused step fails the test, unless it is known to be refused (``refused``).
        warnings.simplefilter("ignore" if refused else "error")
        for k, args in enumerate(calls):
            kind, want = _outcome(eager, *args)
            kind2, got = _outcome(compiled, *args)
            assert kind == kind2, (k, want, got)
            if kind == "error":
                assert want == got, k
            else:
                assert all(_same(a, b) for a, b in zip(_arrays(want), _arrays(got))), k
            for p, q in zip(model.parameters(), twin.parameters()):
                assert np.array_equal(p.detach().numpy(), q.detach().numpy()), k
                if kind == "error":
                    # A guard (class labels) raises before the replayed zero_grad, the
                    # eager step after it: the gradients may differ then.
                    continue
                assert (p.grad is None) == (q.grad is None), k
                if p.grad is not None:
                    assert np.array_equal(p.grad.numpy(), q.grad.numpy()), k
    if replays:
        assert compiled.replays > 0
    return compiled


def _train(loss_of):
    """A step: zero_grad, loss_of(model, *args), backward, SGD step; returns the loss."""

    def step(model, opt, *args):
        opt.zero_grad()
        loss = loss_of(model, *args)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def _ints(values):
    return cr.tensor(np.asarray(values, dtype=np.int64))


# --------------------------------------------------------------------------- embedding
def _embedding(**options):
    def make():
        cr.manual_seed(0)
        return nn.Embedding(6, 3, **options)

    return make


def _emb_loss(m, i):
    e = m(i)
    return (e**2 + e).sum()


EMB_STEP = _train(_emb_loss)


def test_embedding_padding_idx_appears_after_recording():
    no_pad, pad = _ints([[1, 2], [3, 4]]), _ints([[1, 0], [0, 4]])
    c = check(
        _embedding(padding_idx=0),
        EMB_STEP,
        [(no_pad,), (no_pad,), (pad,), (pad,), (pad,), (no_pad,), (no_pad,)],
    )
    assert c.replays >= 2


def test_embedding_padding_idx_disappears_after_recording():
    no_pad, pad = _ints([[1, 2], [3, 4]]), _ints([[1, 0], [0, 4]])
    check(_embedding(padding_idx=0), EMB_STEP, [(pad,), (pad,), (no_pad,), (no_pad,), (pad,)])


def test_embedding_max_norm_renorms_on_replay():
    calls = [(_ints([[1, 2]]),), (_ints([[1, 2]]),), (_ints([[3, 4]]),), (_ints([[5, 0]]),)]
    check(_embedding(max_norm=0.5), EMB_STEP, calls * 2)


def test_embedding_scale_grad_by_freq_replays():
    calls = [(_ints([1, 1, 2]),), (_ints([1, 2, 3]),), (_ints([4, 4, 4]),), (_ints([0, 5, 0]),)]
    check(_embedding(scale_grad_by_freq=True), EMB_STEP, calls * 2)


def test_embedding_index_out_of_range_raises_on_replay():
    good, bad = _ints([[1, 2]]), _ints([[1, 6]])
    check(_embedding(), EMB_STEP, [(good,), (good,), (good,), (bad,), (good,), (_ints([[-1, 0]]),)])


def test_one_hot_range_and_inferred_classes():
    def step(model, opt, i):
        return F.one_hot(i, 4)

    calls = [(_ints([0, 1]),), (_ints([2, 3]),), (_ints([3, 0]),), (_ints([1, 4]),)]
    check(lambda: nn.Identity(), step, [*calls, (_ints([-1, 0]),), (_ints([1, 1]),)])

    def inferred(model, opt, i):
        return F.one_hot(i)

    calls = [(_ints([0, 1]),), (_ints([1, 0]),), (_ints([1, 1]),), (_ints([2, 0]),)]
    check(lambda: nn.Identity(), inferred, [*calls, (_ints([0, 1]),), (_ints([0, 1]),)])


# --------------------------------------------------------------------------- indexing
class _Table(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        cr.manual_seed(1)
        self.weight = nn.Parameter(cr.randn(3, 5))


def _index_calls(first, later, bad):
    a, b, c = _ints(first), _ints(later), _ints(bad)
    return [(a,), (a,), (b,), (b,), (c,), (a,)]


def test_gather_uses_each_calls_index_and_checks_its_range():
    step = _train(lambda m, i: (cr.gather(m.weight, 1, i) ** 2).sum())
    check(_Table, step, _index_calls([[0], [1], [2]], [[4], [3], [0]], [[5], [0], [0]]))


def test_index_select_uses_each_calls_index_and_checks_its_range():
    step = _train(lambda m, i: (cr.index_select(m.weight, 1, i) ** 2).sum())
    check(_Table, step, _index_calls([0, 1], [4, 2], [1, 5]))
    step0 = _train(lambda m, i: (cr.index_select(m.weight, 0, i) ** 2).sum())
    check(_Table, step0, _index_calls([0, 1], [2, 2], [-4, 0]))


def test_scatter_checks_its_range_on_replay():
    def step(model, opt, i):
        return cr.scatter(cr.zeros(3, 5), 1, i, cr.ones(3, 1))

    # scatter builds its mask with NumPy: the step is refused (runs eagerly), loudly.
    calls = _index_calls([[0], [1], [2]], [[4], [3], [0]], [[5], [0], [0]])
    check(lambda: nn.Identity(), step, calls, replays=False, refused=True)


# --------------------------------------------------------------------------- losses
def _linear():
    cr.manual_seed(2)
    return nn.Linear(4, 3)


X = cr.tensor(RNG.standard_normal((5, 4)).astype(np.float32))


def _floats(values):
    return cr.tensor(np.asarray(values, dtype=np.float32))


def test_binary_cross_entropy_checks_targets_and_inputs_on_replay():
    step = _train(lambda m, t: F.binary_cross_entropy(cr.sigmoid(m(X)), t))
    good = _floats(RNG.uniform(0, 1, (5, 3)))
    bad = good.clone()
    bad[0, 0] = 1.5
    nan = good.clone()
    nan[1, 2] = float("nan")
    check(_linear, step, [(good,), (good,), (good,), (bad,), (good,), (nan,)])
    # An input outside [0, 1], made inside the step: checked on replay too.
    step2 = _train(lambda m, t, s: F.binary_cross_entropy(cr.sigmoid(m(X)) * s, t))
    one, two = _floats(1.0), _floats(2.0)
    check(_linear, step2, [(good, one), (good, one), (good, one), (good, two), (good, one)])


def test_hinge_targets_checked_on_replay():
    from chainrule.nn.loss.margin import hinge_loss

    step = _train(lambda m, t: hinge_loss(m(X), t))
    good = _floats(RNG.choice([-1.0, 1.0], (5, 3)))
    bad = good.clone()
    bad[2, 1] = 0.0
    check(_linear, step, [(good,), (good,), (good,), (bad,), (good,)])


def test_nll_loss_replays_and_follows_ignored_targets():
    def loss(m, t, w):
        return F.nll_loss(F.log_softmax(m(X), 1), t, weight=w, ignore_index=1)

    step = _train(loss)
    w = _floats([0.5, 2.0, 1.0])
    a, b, c = _ints([0, 2, 2, 0, 2]), _ints([0, 1, 2, 1, 0]), _ints([2, 2, 0, 0, 0])
    bad = _ints([0, 3, 0, 0, 0])
    # No ignored target: replays, with each call's total weight; bad labels raise.
    compiled = check(_linear, step, [(a, w), (a, w), (c, w), (bad, w), (a, w), (c, w)])
    assert compiled.replays >= 3
    # Ignored targets appear after recording: recorded again (masked_fill of a number
    # is then refused, loudly), the numbers still the eager ones.
    calls = [(a, w), (a, w), (c, w), (b, w), (b, w), (b, w), (bad, w), (a, w), (c, w)]
    check(_linear, step, calls, replays=False, refused=True)
    plain = _train(lambda m, t: F.nll_loss(F.log_softmax(m(X), 1), t))
    check(_linear, plain, [(a,), (c,), (a,), (bad,), (c,)])


def test_cross_entropy_and_categorical_labels_checked_on_replay():
    a, b, bad = _ints([0, 2, 2, 0, 2]), _ints([1, 1, 2, 1, 0]), _ints([0, 1, 2, 3, 0])
    step = _train(lambda m, t: F.cross_entropy(m(X), t))
    check(_linear, step, [(a,), (a,), (b,), (bad,), (b,)])
    cat = _train(lambda m, t: F.categorical_cross_entropy(F.softmax(m(X), 1), t))
    check(_linear, cat, [(a,), (b,), (a,), (bad,), (b,), (_ints([0, 0, 0, 0, -1]),)])
