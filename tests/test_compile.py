"""``cr.compile``: a replayed step gives the eager step's bits, re-records when what it
assumed changes, and runs eagerly (loudly) when it cannot be replayed.

Every comparison runs two copies of the same step from the same weights and the same
random state: one eager, one compiled. A test also checks that replays happened, so
that a compiled step that quietly ran eagerly all along fails.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.bench.cases import CASES
from chainrule.errors import LabelError

RNG = np.random.default_rng(7)


def _batches(shape, n=5, classes=3, count=6):
    out = []
    for _ in range(count):
        x = cr.tensor(RNG.standard_normal((n, *shape)).astype(np.float32))
        out.append((x, cr.tensor(RNG.integers(0, classes, n))))
    return out


def _model(kind):
    if kind == "mlp-dropout":
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    if kind == "bn1d":
        return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    if kind == "inplace-relu":
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(inplace=True), nn.Linear(16, 3))
    return nn.Sequential(  # a CNN with batch norm, pooling and dropout
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 3),
    )


OPTIMIZERS = {
    "sgd": lambda p: cr.optim.SGD(p, lr=0.1),
    "sgd-nesterov-wd": lambda p: cr.optim.SGD(
        p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3
    ),
    "adam": lambda p: cr.optim.Adam(p, lr=0.01),
    "adamw-amsgrad": lambda p: cr.optim.AdamW(p, lr=0.01, amsgrad=True),
    "nadam": lambda p: cr.optim.NAdam(p, lr=0.01),
    "rmsprop-centered": lambda p: cr.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: cr.optim.Adagrad(p, lr=0.05),
    "adadelta": lambda p: cr.optim.Adadelta(p),
}


def _training(kind, optimizer="sgd", loss_fn=None):
    cr.manual_seed(0)
    model = _model(kind)
    opt = OPTIMIZERS[optimizer](model.parameters())
    loss_fn = loss_fn or nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


def _same_state(m1, m2):
    for (name, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), name
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert np.array_equal(a.grad.numpy(), b.grad.numpy())


def _run_both(kind, optimizer, modes=("train", "eval", "train")):
    shape = (1, 8, 8) if kind == "cnn" else (8,)
    data = _batches(shape)
    m1, _, eager = _training(kind, optimizer)
    m2, _, step = _training(kind, optimizer)
    compiled = cr.compile(step, fullgraph=True)
    losses = []
    for model, fn in ((m1, eager), (m2, compiled)):
        cr.manual_seed(1)
        out = []
        for mode in modes:
            getattr(model, mode)()
            out += [fn(x, y).numpy().copy() for x, y in data]
        losses.append(out)
    for a, b in zip(*losses):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    _same_state(m1, m2)
    return compiled


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_mlp_with_dropout_replays_bit_for_bit_with_every_optimizer(optimizer):
    compiled = _run_both("mlp-dropout", optimizer)
    # train and eval are recorded once each (two calls apiece), the rest replays
    assert compiled.recordings == 4 and compiled.replays == 14


@pytest.mark.parametrize("optimizer", ["sgd-nesterov-wd", "adam", "rmsprop-centered"])
@pytest.mark.parametrize("kind", ["bn1d", "cnn", "inplace-relu"])
def test_batch_norm_cnn_and_inplace_relu_replay_bit_for_bit(kind, optimizer):
    compiled = _run_both(kind, optimizer)
    assert compiled.reason is None and compiled.replays == 14


@pytest.mark.parametrize("case", [c for c in CASES if c.kind != "mlp-infer"], ids=str)
def test_every_bench_case_replays_bit_for_bit(case):
    eager, step = case.chainrule_step(), case.chainrule_step()
    compiled = cr.compile(step, fullgraph=True)
    for _ in range(4):
        a, b = eager(), compiled()
        for x, y in zip(a if isinstance(a, tuple) else [a], b if isinstance(b, tuple) else [b]):
            assert np.array_equal(x.numpy(), y.numpy())
    assert compiled.replays == 2
    if case.kind != "graph":
        _same_state(eager.model, step.model)


def test_inference_of_a_compiled_module_under_no_grad():
    cr.manual_seed(0)
    model = _model("bn1d").eval()
    compiled = cr.compile(model)
    with cr.no_grad():
        for x, _ in _batches((8,), count=4):
            assert np.array_equal(compiled(x).numpy(), model(x).numpy())
    assert compiled.replays == 2
    assert list(compiled.parameters()) == list(model.parameters())  # attributes pass through


def test_the_manual_sgd_loop_of_the_tutorials_replays():
    def make():
        cr.manual_seed(0)
        w = cr.randn(3, 2, requires_grad=True)

        def step(x, y):
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            with cr.no_grad():
                for p in [w]:  # the tutorials' loop over model.parameters()
                    p -= 0.1 * p.grad
                    p.grad = None
            return loss

        return w, step

    (w1, eager), (w2, step) = make(), make()
    compiled = cr.compile(step, fullgraph=True)
    for _ in range(5):
        x, y = cr.tensor(RNG.standard_normal((4, 3))), cr.tensor(RNG.standard_normal((4, 2)))
        x, y = x.float(), y.float()
        assert np.array_equal(eager(x, y).numpy(), compiled(x, y).numpy())
    assert np.array_equal(w1.detach().numpy(), w2.detach().numpy()) and w2.grad is None
    assert compiled.replays == 3


def test_decorator_forms():
    @cr.compile
    def a(x):
        with cr.no_grad():
            return x * 2

    @cr.compile(fullgraph=True)
    def b(x):
        with cr.no_grad():
            return x + 1

    def c(x):
        return x

    x = cr.ones(3)
    for _ in range(3):
        assert a(x).tolist() == [2.0] * 3 and b(x).tolist() == [2.0] * 3
    assert a.replays == b.replays == 1 and b.fullgraph
    assert cr.compile(c, disable=True) is c
    with pytest.raises(TypeError, match="function or a module"):
        cr.compile(3)


# ------------------------------------------------------------------ guards
def _twins(kind="bn1d", optimizer="sgd-nesterov-wd"):
    m1, o1, eager = _training(kind, optimizer)
    m2, o2, step = _training(kind, optimizer)
    return (m1, o1, eager), (m2, o2, cr.compile(step, fullgraph=True))


def _agree(eager, compiled, batches):
    for x, y in batches:
        assert np.array_equal(eager(x, y).numpy(), compiled(x, y).numpy())


def test_a_new_batch_size_records_again_and_both_programs_are_kept():
    (m1, _, eager), (m2, _, compiled) = _twins()
    big, small = _batches((8,), n=5, count=3), _batches((8,), n=2, count=3)
    _agree(eager, compiled, big + small + big + small)
    assert compiled.recordings == 4 and compiled.replays == 8
    _same_state(m1, m2)


def test_a_new_dtype_records_again():
    def make():
        cr.manual_seed(0)
        w = cr.randn(3, requires_grad=True)

        def step(x):
            (x * w).tanh().sum().backward()
            g = w.grad
            w.grad = None
            return g

        return step

    eager, compiled = make(), cr.compile(make(), fullgraph=True)
    for dtype in (np.float32, np.float64, np.float32):
        for _ in range(3):
            x = cr.tensor(RNG.standard_normal(3).astype(dtype))
            a, b = eager(x), compiled(x)
            assert a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())
    assert compiled.recordings == 4 and compiled.replays == 5


def test_grad_mode_is_part_of_what_a_recording_assumes():
    cr.manual_seed(0)
    model = _model("mlp-dropout").eval()
    compiled = cr.compile(model)
    x = _batches((8,), count=1)[0][0]
    with cr.no_grad():
        compiled(x), compiled(x), compiled(x)
    assert compiled.replays == 1
    with pytest.warns(RuntimeWarning, match="runs no backward"):
        out = compiled(x)  # with grad mode on, the forward's graph would escape the step
    assert out.requires_grad and compiled.reason is not None


def test_train_and_eval_are_guarded():
    (m1, _, eager), (m2, _, compiled) = _twins()
    batches = _batches((8,), count=3)
    for model, fn in ((m1, eager), (m2, compiled)):
        cr.manual_seed(3)
        for mode in ("train", "eval", "train", "eval"):
            getattr(model, mode)()
            for x, y in batches:
                fn(x, y)
    _same_state(m1, m2)
    assert compiled.recordings == 4 and compiled.replays == 8


def test_a_replaced_parameter_records_again():
    (m1, _, eager), (m2, _, compiled) = _twins(optimizer="sgd")
    batches = _batches((8,), count=3)
    _agree(eager, compiled, batches)
    for m in (m1, m2):
        m[0].weight = nn.Parameter(cr.full((16, 8), 0.01))
    # the optimizers still hold the old weight, as PyTorch's would: only the forward changes
    _agree(eager, compiled, batches)
    assert compiled.recordings == 4
    _same_state(m1, m2)


def test_a_frozen_parameter_records_again():
    (m1, _, eager), (m2, _, compiled) = _twins()
    batches = _batches((8,), count=3)
    _agree(eager, compiled, batches)
    for m in (m1, m2):
        m[0].weight.requires_grad_(False)
        m[0].weight.grad = None
    _agree(eager, compiled, batches)
    assert compiled.recordings == 4 and m2[0].weight.grad is None
    _same_state(m1, m2)


def test_a_changed_learning_rate_records_again():
    (m1, o1, eager), (m2, o2, compiled) = _twins()
    batches = _batches((8,), count=4)
    _agree(eager, compiled, batches)
    for o in (o1, o2):
        o.param_groups[0]["lr"] = 0.5
        o.param_groups[0]["momentum"] = 0.1
    _agree(eager, compiled, batches)
    assert compiled.recordings == 4 and compiled.replays == 4
    _same_state(m1, m2)


def test_a_rebound_global_tensor_records_again():
    namespace: dict = {}
    exec(
        "import chainrule as cr\n"
        "w = cr.ones(3, requires_grad=True)\n"
        "def step(x):\n"
        "    (x * w).sum().backward()\n"
        "    g = w.grad\n"
        "    w.grad = None\n"
        "    return g\n",
        namespace,
    )
    compiled = cr.compile(namespace["step"], fullgraph=True)
    x = cr.tensor([1.0, 2.0, 3.0])
    for _ in range(3):
        assert compiled(x).tolist() == [1.0, 2.0, 3.0]
    namespace["w"] = cr.ones(3, requires_grad=True)
    y = cr.tensor([4.0, 5.0, 6.0])
    for _ in range(3):
        assert compiled(y).tolist() == [4.0, 5.0, 6.0]
    assert namespace["w"].grad is None and compiled.recordings == 4


def test_the_same_tensor_passed_twice_is_not_confused_with_two():
    def f(a, b):
        with cr.no_grad():
            return a * 2 + b

    compiled = cr.compile(f, fullgraph=True)
    x, y = cr.tensor([1.0, 2.0]), cr.tensor([10.0, 20.0])
    for _ in range(3):
        assert compiled(x, x).tolist() == [3.0, 6.0]
    for _ in range(3):
        assert compiled(x, y).tolist() == [12.0, 24.0]
    assert compiled.recordings == 4


def test_labels_out_of_range_raise_on_a_replay_as_they_do_eagerly():
    (_, _, eager), (_, _, compiled) = _twins()
    batches = _batches((8,), count=3)
    _agree(eager, compiled, batches)
    x = batches[0][0]
    bad = cr.tensor([0, 1, 2, 3, 0])
    with pytest.raises(LabelError) as eager_error:
        eager(x, bad)
    with pytest.raises(LabelError) as replay_error:
        compiled(x, bad)
    assert str(replay_error.value) == str(eager_error.value)


def test_a_label_to_ignore_appearing_later_records_again():
    loss = nn.CrossEntropyLoss(ignore_index=2)
    m1, _, eager = _training("mlp-dropout", "adam", loss)
    m2, _, step = _training("mlp-dropout", "adam", loss)
    compiled = cr.compile(step, fullgraph=True)
    x = _batches((8,), count=1)[0][0]
    plain, ignoring = cr.tensor([0, 1, 0, 1, 0]), cr.tensor([0, 2, 1, 2, 0])
    cr.manual_seed(5)
    a = [eager(x, y).numpy().copy() for y in (plain,) * 3 + (ignoring,) * 3 + (plain,) * 2]
    cr.manual_seed(5)
    b = [compiled(x, y).numpy().copy() for y in (plain,) * 3 + (ignoring,) * 3 + (plain,) * 2]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert compiled.replays >= 3
    _same_state(m1, m2)


# ------------------------------------------------------------------ refusals
class Square(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def _refusals():
    w = cr.ones(3, requires_grad=True)

    def reads_item(x):
        loss = (x * w).sum()
        loss.backward()
        return loss.item()

    def branches_on_data(x):
        loss = (x * w).sum()
        if loss > 0:
            loss = loss * 2
        loss.backward()
        return loss

    def custom_function(x):
        loss = Square.apply(x * w).sum()
        loss.backward()
        return loss

    def tensor_hook(x):
        y = x * w
        y.register_hook(lambda g: g * 2)
        y.sum().backward()
        return w.grad

    def create_graph(x):
        (g,) = cr.autograd.grad((x * w * w).sum(), w, create_graph=True)
        return g.sum()

    def numpy_glue(x):
        z = cr.tensor(np.tanh(x.numpy()))
        (z * w).sum().backward()
        return w.grad

    def closure(x):
        opt = cr.optim.SGD([w], lr=0.1)

        def again():
            opt.zero_grad()
            loss = (x * w).sum()
            loss.backward()
            return loss

        return opt.step(again)

    def forward_hook(x):
        layer = nn.Linear(3, 1)
        layer.register_forward_hook(lambda m, i, o: None)
        layer(x).sum().backward()
        return layer.weight.grad

    return {
        "reads_item": (reads_item, "reads a tensor's values"),
        "branches_on_data": (branches_on_data, "reads a tensor's values"),
        "custom_function": (custom_function, "custom Function"),
        "tensor_hook": (tensor_hook, "gradient hook"),
        "create_graph": (create_graph, "create_graph"),
        "numpy_glue": (numpy_glue, "reads a tensor's values"),
        "closure": (closure, "closure"),
        "forward_hook": (forward_hook, "forward hooks"),
    }


@pytest.mark.parametrize("name", sorted(_refusals()))
def test_a_step_that_cannot_be_replayed_warns_and_runs_eagerly(name):
    fn, reason = _refusals()[name]
    compiled = cr.compile(fn)
    x = cr.tensor([1.0, -2.0, 3.0])
    with pytest.warns(RuntimeWarning, match=reason):
        compiled(x)
    assert reason in compiled.reason and __file__ in compiled.reason  # where, in user code
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once; later calls run eagerly and quietly
        compiled(x), compiled(x)
    assert compiled.replays == 0


def test_fullgraph_raises_after_running_the_call_eagerly():
    w = cr.ones(2, requires_grad=True)

    def step(x):
        loss = (x * w).sum()
        loss.backward()
        return loss.item()

    compiled = cr.compile(step, fullgraph=True)
    with pytest.raises(RuntimeError, match=r"cannot be replayed.*item\(\)"):
        compiled(cr.tensor([1.0, 2.0]))
    assert w.grad.tolist() == [1.0, 2.0]


def test_python_state_the_step_changes_is_never_replayed():
    w = cr.ones(2, requires_grad=True)
    calls = []

    def step(x):
        calls.append(1)  # Python state: the guard on the list's items sees it grow
        w.grad = None
        extra = cr.from_numpy(np.full(2, float(len(calls))))
        (x * w * extra).sum().backward()
        return w.grad

    compiled = cr.compile(step, cache_size=2)
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    with pytest.warns(RuntimeWarning, match="never replayed"):
        for n in range(1, 13):
            assert compiled(x).tolist() == [1.0 * n, 2.0 * n]  # eager, and right
    assert compiled.replays == 0


def test_a_replayed_result_has_no_graph():
    _, (_, _, compiled) = _twins()
    x, y = _batches((8,), count=1)[0]
    out = [compiled(x, y) for _ in range(3)]
    assert out[0].grad_fn is not None and out[2].grad_fn is None
    assert not out[2].requires_grad


def test_gradient_clipping_in_the_step_is_replayed():
    def make(clip):
        m, opt, _ = _training("bn1d", "adam")
        loss_fn = nn.CrossEntropyLoss()

        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(m(x), y)
            loss.backward()
            norm = clip(m.parameters())
            opt.step()
            return loss, norm

        return m, step

    for clip in (
        lambda p: nn.utils.clip_grad_norm_(p, 0.05),
        lambda p: nn.utils.clip_grad_value_(p, 0.01),
    ):
        (m1, eager), (m2, step) = make(clip), make(clip)
        compiled = cr.compile(step, fullgraph=True)
        for x, y in _batches((8,), count=5):
            a, b = eager(x, y), compiled(x, y)
            assert np.array_equal(a[0].numpy(), b[0].numpy())
            assert (a[1] is None and b[1] is None) or np.array_equal(a[1].numpy(), b[1].numpy())
        assert compiled.replays == 3
        _same_state(m1, m2)


def test_a_scheduler_or_a_mode_change_inside_the_step_is_refused():
    model, opt, _ = _training("bn1d", "sgd")
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loss_fn = nn.CrossEntropyLoss()

    def with_scheduler(x, y):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        sched.step()

    def with_train(x, y):
        model.train()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    x, y = _batches((8,), count=1)[0]
    for fn, reason in ((with_scheduler, "hyperparameters of SGD"), (with_train, "train()")):
        compiled = cr.compile(fn)
        with pytest.warns(RuntimeWarning, match=reason):
            compiled(x, y)
    assert opt.param_groups[0]["lr"] == 0.1 * 0.5


def test_a_leaf_made_inside_the_step_is_refused_with_the_reason():
    def step(x):
        z = cr.zeros(3, requires_grad=True)
        (x * z).sum().backward()
        return z.grad

    compiled = cr.compile(step)
    with pytest.warns(RuntimeWarning, match="makes a tensor that requires grad"):
        assert compiled(cr.tensor([1.0, 2.0, 3.0])).tolist() == [1.0, 2.0, 3.0]


# ------------------------------------------------------------------ what a replay must not miss
def test_a_batch_in_a_list_or_a_dict_replays():
    (m1, _, eager), (m2, _, step) = _twins()
    compiled = cr.compile(lambda batch: step(*batch["xy"]), fullgraph=True)
    for x, y in _batches((8,), count=4):
        assert np.array_equal(eager(x, y).numpy(), compiled({"xy": [x, y]}).numpy())
    assert compiled.replays == 2
    _same_state(m1, m2)


@pytest.mark.parametrize(
    "pick",
    [
        lambda out, y: out[cr.arange(len(y)), y],
        lambda out, y: out[y > 0],
        lambda out, y: out.topk(1, 1)[0],
    ],
    ids=["index-tensors", "mask", "topk"],
)
def test_indices_and_masks_from_the_data_are_refused(pick):
    model, opt, _ = _training("bn1d", "sgd")

    def step(x, y):
        opt.zero_grad()
        loss = -pick(model(x).log_softmax(1), y).mean()
        loss.backward()
        opt.step()
        return loss

    compiled = cr.compile(step)
    with pytest.warns(RuntimeWarning, match="tensors or arrays inside|depends on the values"):
        for x, y in _batches((8,), count=2):
            compiled(x, y)
    assert compiled.replays == 0


def test_python_numbers_and_tensors_it_names_are_guarded():
    class Trainer:
        def __init__(self):
            self.w = cr.ones(2, requires_grad=True)
            self.lr = 0.5
            self.opt = cr.optim.SGD([self.w], lr=0.1)
            self.sched = cr.optim.lr_scheduler.StepLR(self.opt, 1, 0.1)

        def step(self, x):
            self.w.grad = None
            (self.w * x).sum().backward()
            with cr.no_grad():
                self.w.sub_(self.lr * self.opt.param_groups[0]["lr"] * self.w.grad)
            return self.w * 1.0

    eager, compiled = Trainer(), Trainer()
    run = cr.compile(compiled.step, fullgraph=True)
    x = cr.tensor([1.0, 2.0])
    for change in (None, "lr", "sched", "w", None):
        for t in (eager, compiled):
            if change == "lr":
                t.lr = 0.25
            elif change == "sched":
                t.sched.step()
            elif change == "w":
                t.w = cr.full((2,), 3.0, requires_grad=True)
        for _ in range(3):
            assert np.array_equal(eager.step(x).numpy(), run(x).numpy())
    assert run.replays == 7 and run.recordings == 8


def test_a_tensor_in_a_named_dict_or_object_is_guarded():
    state = {"w": cr.ones(2, requires_grad=True), "scale": 2.0}

    def step(x):
        w = state["w"]
        w.grad = None
        (w * x * state["scale"]).sum().backward()
        return w.grad

    compiled = cr.compile(step, fullgraph=True)
    for w, scale in ((1.0, 2.0), (5.0, 2.0), (5.0, 3.0)):
        state["w"], state["scale"] = cr.full((2,), w, requires_grad=True), scale
        for _ in range(3):
            assert compiled(cr.tensor([1.0, 2.0])).tolist() == [scale, 2 * scale]
    assert compiled.replays == 3

    class Holder:
        pass

    holder = Holder()
    holder.w = cr.ones(2, requires_grad=True)

    def through_attribute(x):
        w = holder.w
        w.grad = None
        (w * x).sum().backward()
        return w.grad

    compiled = cr.compile(through_attribute, fullgraph=True)
    compiled(cr.ones(2)), compiled(cr.ones(2)), compiled(cr.ones(2))
    holder.w = cr.full((2,), 5.0, requires_grad=True)
    assert compiled(cr.tensor([2.0, 2.0])).tolist() == [2.0, 2.0]
    assert holder.w.grad.tolist() == [2.0, 2.0] and compiled.replays == 1


def test_a_tensor_deeper_than_the_guards_follow_is_refused():
    class Holder:
        pass

    def make_holder():
        holder = Holder()
        holder.w = cr.ones(2, requires_grad=True)
        return holder

    holders = [[[[[[[make_holder()]]]]]]]

    def step(x):
        w = holders[0][0][0][0][0][0][0].w  # deeper than the guards follow
        w.grad = None
        (w * x).sum().backward()
        return w.grad

    compiled = cr.compile(step)
    with pytest.warns(RuntimeWarning, match="levels deep"):
        compiled(cr.ones(2)), compiled(cr.ones(2))


def test_manual_seed_inside_the_step_is_replayed():
    def make():
        cr.manual_seed(0)
        model = _model("mlp-dropout")

        def step(x):
            cr.manual_seed(123)
            with cr.no_grad():
                return model(x) + cr.rand(1)

        return step

    eager, compiled = make(), cr.compile(make(), fullgraph=True)
    for x, _ in _batches((8,), count=4):
        cr.manual_seed(9)  # the stream outside the step does not matter
        assert np.array_equal(eager(x).numpy(), compiled(x).numpy())
    assert compiled.replays == 2


def test_a_failed_check_on_a_replay_leaves_the_eager_state():
    def make():
        w = cr.ones(3, requires_grad=True)

        def step(x, y):
            w.grad = None
            (w * x).sum().backward()  # runs before the loss that checks the labels
            loss = nn.functional.cross_entropy((w * x)[None], y)
            loss.backward()
            return loss

        return w, step

    (w1, eager), (w2, step) = make(), make()
    compiled = cr.compile(step, fullgraph=True)
    x = cr.tensor([1.0, 2.0, 3.0])
    for _ in range(3):
        eager(x, cr.tensor([1])), compiled(x, cr.tensor([1]))
    for fn in (eager, compiled):
        with pytest.raises(LabelError):
            fn(x, cr.tensor([7]))
    assert np.array_equal(w1.grad.numpy(), w2.grad.numpy())


def test_train_then_eval_on_the_first_calls_still_replays():
    (m1, _, eager), (m2, _, compiled) = _twins()
    batches = _batches((8,), count=2)
    for _ in range(3):
        for mode in ("train", "eval"):
            for model, fn in ((m1, eager), (m2, compiled)):
                getattr(model, mode)()
                for x, y in batches:
                    fn(x, y)
    _same_state(m1, m2)
    assert compiled.replays == 8


def test_a_python_argument_that_changes_every_call_gives_up_with_a_warning():
    w = cr.ones(2, requires_grad=True)

    def step(x, scale):
        w.grad = None
        (w * x * scale).sum().backward()
        return w.grad

    compiled = cr.compile(step, cache_size=2)
    with pytest.warns(RuntimeWarning, match="never replayed"):
        for i in range(10):
            assert compiled(cr.ones(2), float(i)).tolist() == [float(i)] * 2
    assert len(compiled.pending) == 0 and compiled.reason is not None


def test_config_in_classes_modules_properties_sets_and_deques_is_guarded():
    import collections
    import types

    class CFG:
        scale = 1.0

    config = types.ModuleType("config")
    config.scale = 1.0

    class Trainer:
        base = 1.0

        @property
        def scale(self):
            return self.base * 2

    trainer = Trainer()
    frozen = {"a"}
    queue = collections.deque([1.0])
    reads = {
        "class": (lambda: CFG.scale, lambda: setattr(CFG, "scale", 3.0)),
        "module": (lambda: config.scale, lambda: setattr(config, "scale", 3.0)),
        "property": (lambda: trainer.scale, lambda: setattr(trainer, "base", 3.0)),
        "set": (lambda: 3.0 if "b" in frozen else 1.0, lambda: frozen.add("b")),
        "deque": (lambda: float(len(queue)), lambda: queue.append(2.0)),
    }

    def make(read):
        w = cr.ones(2, requires_grad=True)

        def step(x):
            w.grad = None
            (x * w * read()).sum().backward()
            return w.grad

        return step

    for name, (read, change) in reads.items():
        compiled = cr.compile(make(read), fullgraph=True)
        x = cr.ones(2)
        for _ in range(3):
            before = compiled(x).tolist()
        change()
        after = read()
        assert compiled(x).tolist() == [after, after] != before, name


def test_the_tutorials_train_step_with_model_and_optimizer_as_arguments_replays():
    (m1, o1, _), (m2, o2, _) = _training("bn1d", "sgd"), _training("bn1d", "sgd")
    loss_fn = nn.CrossEntropyLoss()

    def train_step(model, optimizer, loss_fn, x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    compiled = cr.compile(train_step, fullgraph=True)
    for x, y in _batches((8,), count=5):
        a, b = train_step(m1, o1, loss_fn, x, y), compiled(m2, o2, loss_fn, x, y)
        assert np.array_equal(a.numpy(), b.numpy())
    assert compiled.replays == 3
    _same_state(m1, m2)


def test_a_container_too_large_to_guard_is_refused():
    settings = {f"k{i}": float(i) for i in range(600)}
    w = cr.ones(2, requires_grad=True)

    def step(x):
        (x * w * settings["k1"]).sum().backward()

    with pytest.warns(RuntimeWarning, match="a dict of 600 items"):
        cr.compile(step)(cr.ones(2))


def test_class_defaults_behind_containers_and_arguments_and_rebound_defaults_are_guarded():
    class Sub:
        scale = 1.0

    class Config:
        def __init__(self):
            self.sub = Sub()

    configs = {"main": Config()}
    w = cr.ones(3, requires_grad=True)

    def through_container(x):
        w.grad = None
        (x * w * configs["main"].sub.scale).sum().backward()
        return w.grad

    def through_argument(x, cfg):
        w.grad = None
        (x * w * cfg.sub.scale).sum().backward()
        return w.grad

    def through_default(x, scale=1.0):
        w.grad = None
        (x * w * scale).sum().backward()
        return w.grad

    x, cfg = cr.ones(3), Config()
    steps = {
        "container": (cr.compile(through_container, fullgraph=True), ()),
        "argument": (cr.compile(through_argument, fullgraph=True), (cfg,)),
        "default": (cr.compile(through_default, fullgraph=True), ()),
    }
    for _name, (compiled, extra) in steps.items():
        for _ in range(3):
            assert compiled(x, *extra).tolist() == [1.0] * 3
    Sub.scale = 2.0
    through_default.__defaults__ = (2.0,)
    for name, (compiled, extra) in steps.items():
        assert compiled(x, *extra).tolist() == [2.0] * 3, name
        assert compiled.replays >= 1, name
