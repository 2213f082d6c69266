"""Training: fit, evaluate, callbacks, penalties, checkpoints, exact resume, and the
demo and train commands with their error paths."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, nn
from chainrule.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    ModelCheckpoint,
    TerminateOnNaN,
    accuracy,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
)


def _setup(dropout=0.0, seed=0):
    cr.manual_seed(seed)
    data = cr.data.load("moons", n=200, noise=0.15)
    layers = (
        [nn.Linear(2, 16), nn.Tanh()]
        + ([nn.Dropout(dropout)] if dropout else [])
        + [nn.Linear(16, 2)]
    )
    model = nn.Sequential(*layers)
    return data, model


def test_fit_calls_on_after_backward_between_backward_and_step():
    seen = []

    class Spy(Callback):
        def on_after_backward(self, state, inputs, targets, loss):
            w = state.model[0].weight
            seen.append((w.grad is not None, w.numpy().copy(), len(inputs), loss.item()))

    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2))
    x, y = cr.randn(6, 2), cr.tensor(np.array([0, 1, 0, 1, 1, 0]))
    opt = cr.optim.SGD(net.parameters(), lr=0.5)
    fit(
        net, nn.functional.cross_entropy, opt, (x, y), 1, batch_size=3, verbose=0, callbacks=[Spy()]
    )
    assert [s[0] for s in seen] == [True, True] and [s[2] for s in seen] == [3, 3]
    assert not np.array_equal(seen[0][1], seen[1][1])  # the step ran after the first call


def test_history_keeps_step_records_apart_from_epochs():
    h = cr.train.History([{"epoch": 1, "loss": 0.5}], steps=[{"step": 1, "verdict": "healthy"}])
    assert len(h) == 1 and h["loss"] == [0.5]
    again = cr.train.History.from_dict(h.as_dict())
    assert again.steps == [{"step": 1, "verdict": "healthy"}] and again.records == h.records
    assert "steps" not in cr.train.History([{"epoch": 1}]).as_dict()


def test_fit_lowers_the_loss_and_records_each_epoch():
    data, model = _setup()
    opt = cr.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.train,
        epochs=15,
        val_data=data.test,
        batch_size=16,
        seed=0,
        verbose=0,
    )
    assert len(history) == 15 and history["epoch"] == list(range(1, 16))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"} <= set(history.keys())


def test_fit_accepts_a_pair_of_arrays_and_prints_a_line_per_epoch(capsys):
    x, y = cr.data.synthetic.blobs(n=60)
    model = nn.Linear(2, 3)
    fit(
        model,
        nn.CrossEntropyLoss(),
        cr.optim.Adam(model.parameters(), lr=0.05),
        (x, y),
        epochs=2,
        verbose=1,
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1  loss") and "accuracy" in lines[0]


def test_penalty_is_recorded_apart_from_the_empirical_risk():
    data, model = _setup()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    lam = 0.01
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.train,
        epochs=2,
        batch_size=50,
        seed=0,
        verbose=0,
        penalty=lambda m: nn.functional.l2_penalty(m.parameters()) * lam,
    )
    for r in history.records:
        assert r["loss"] == pytest.approx(r["risk"] + r["penalty"], rel=1e-6) and r["penalty"] > 0


def test_clip_grad_norm_is_applied(monkeypatch):
    data, model = _setup()
    seen = []
    import chainrule.train.loop as loop

    monkeypatch.setattr(loop, "clip_grad_norm_", lambda params, max_norm: seen.append(max_norm))
    fit(
        model,
        nn.CrossEntropyLoss(),
        cr.optim.SGD(model.parameters(), lr=0.1),
        data.train,
        epochs=1,
        batch_size=50,
        clip_grad_norm=0.5,
        verbose=0,
    )
    assert seen == [0.5] * 3


def test_evaluate_restores_the_mode_and_uses_no_graph():
    data, model = _setup(dropout=0.5)
    model.train()
    result = evaluate(model, nn.CrossEntropyLoss(), data.test)
    assert model.training and set(result) == {"loss", "accuracy"}
    model.eval()
    again = evaluate(model, nn.CrossEntropyLoss(), data.test)
    assert not model.training and again == evaluate(
        model, nn.CrossEntropyLoss(), data.test
    )  # no dropout in eval


def test_accuracy_for_class_indices_and_signs():
    assert accuracy(cr.tensor([[0.1, 0.9], [0.8, 0.2]]), cr.tensor([1, 1])) == 0.5
    assert accuracy(cr.tensor([[0.5], [-2.0]]), cr.tensor([[1.0], [1.0]])) == 0.5
    assert accuracy(cr.tensor([0.5, 1.0]), cr.tensor([0.3, 0.9])) is None  # regression: undefined


# ------------------------------------------------------------------ callbacks
def test_callbacks_fire_in_order():
    events = []

    class Spy(Callback):
        def on_train_begin(self, state):
            events.append("begin")

        def on_epoch_end(self, state, record):
            events.append(record["epoch"])

        def on_train_end(self, state):
            events.append("end")

    data, model = _setup()
    fit(
        model,
        nn.CrossEntropyLoss(),
        cr.optim.SGD(model.parameters(), lr=0.1),
        data.train,
        epochs=3,
        callbacks=[Spy()],
        verbose=0,
    )
    assert events == ["begin", 1, 2, 3, "end"]


def test_early_stopping_stops_and_restores_the_best_weights():
    data, model = _setup()
    opt = cr.optim.SGD(model.parameters(), lr=0.0)  # nothing improves
    stop = EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.train,
        epochs=20,
        val_data=data.test,
        callbacks=[stop],
        verbose=0,
    )
    assert len(history) == 3 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    with pytest.raises(ValueError, match="cannot monitor 'val_f1'"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            opt,
            data.train,
            epochs=1,
            val_data=data.test,
            callbacks=[EarlyStopping("val_f1")],
            verbose=0,
        )


def test_checkpoint_and_log_callbacks_write_files(tmp_path):
    data, model = _setup()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    best = ModelCheckpoint(tmp_path / "best.chainrule", monitor="val_accuracy", save_best_only=True)
    every = ModelCheckpoint(tmp_path / "epoch{epoch}.chainrule")
    fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.train,
        epochs=3,
        val_data=data.test,
        verbose=0,
        callbacks=[best, every, CSVLogger(tmp_path / "h.csv"), JSONLogger(tmp_path / "h.json")],
    )
    assert every.saved == [str(tmp_path / f"epoch{e}.chainrule") for e in (1, 2, 3)]
    assert 1 <= len(best.saved) <= 3 and (tmp_path / "best.chainrule").exists()
    rows = (tmp_path / "h.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,loss,accuracy") and len(rows) == 4
    assert [r["epoch"] for r in json.loads((tmp_path / "h.json").read_text())] == [1, 2, 3]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_history_plot_writes_a_png(tmp_path):
    data, model = _setup()
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        cr.optim.SGD(model.parameters(), lr=0.1),
        data.train,
        epochs=2,
        val_data=data.test,
        verbose=0,
    )
    path = history.plot(tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ divergence
def test_terminate_on_nan_stops_at_the_bad_batch_and_keeps_the_last_good_checkpoint(
    tmp_path, capsys
):
    data, model = _setup()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=math.inf)  # epoch 3: lr inf
    epochs = []

    class Seen(Callback):
        def on_epoch_end(self, state, record):
            epochs.append(record["epoch"])

    stop = TerminateOnNaN()
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.train,
        6,
        scheduler=sched,
        batch_size=30,
        verbose=0,
        callbacks=[stop, ModelCheckpoint(tmp_path / "c.chainrule"), Seen()],
    )
    assert len(history) == 2 and epochs == [1, 2]  # epoch 3 abandoned, not recorded
    assert (stop.stopped["epoch"], stop.stopped["step"], stop.stopped["steps"]) == (3, 2, 5)
    assert not np.isfinite(stop.stopped["loss"])
    printed = capsys.readouterr().out
    assert printed.startswith(f"the loss became {stop.stopped['loss']} at epoch 3, step 2 of 5")
    assert "a smaller learning rate (this run used inf), gradient clipping" in printed
    kept = cr.load(tmp_path / "c.chainrule")
    assert kept["epoch"] == 2 and all(np.isfinite(v.numpy()).all() for v in kept["model"].values())


def test_terminate_on_nan_catches_weights_broken_by_an_epochs_last_step(tmp_path):
    """The loss of a batch is computed before its step: a step that leaves a weight nan at
    the end of an epoch is caught by checking the weights, before the epoch is saved."""
    data, model = _setup()

    class Sabotage(cr.optim.SGD):
        def step(self, closure=None):
            super().step(closure)
            model[0].weight._array[0, 0] = np.nan

    stop = TerminateOnNaN(verbose=False)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        Sabotage(model.parameters(), lr=0.1),
        data.train,
        3,
        batch_size=200,  # one step per epoch: the last
        callbacks=[stop, ModelCheckpoint(tmp_path / "c.chainrule")],
        verbose=0,
    )
    assert len(history) == 0 and not (tmp_path / "c.chainrule").exists()
    assert np.isfinite(stop.stopped["loss"]) and stop.stopped["step"] == 1
    assert stop.message.startswith("a weight of the model became inf or nan at epoch 1, step 1")


def test_train_with_a_huge_learning_rate_stops_and_says_why(tmp_path, capsys):
    assert cli.main(["train", "--lr", "1e30", "--epochs", "3", "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chainrule: training diverged: the loss became nan at epoch 1, step ")
    assert "no epoch finished, so no checkpoint was written" in err
    assert "a smaller --lr than 1e+30, --clip-grad-norm 1.0 (gradient clipping)" in err
    assert err.count("\n") == 1 and not (tmp_path / "a" / "checkpoint.chainrule").exists()
    later = ["--data", "xor", "--hidden", "8", "--schedule", "step", "--step-size", "2"]
    argv = ["train", *later, "--gamma", "1e30", "--epochs", "5", "--out", str(tmp_path / "b")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    ckpt = tmp_path / "b" / "checkpoint.chainrule"
    assert "at epoch 3, step 2 of 5; training stopped there and the last good checkpoint, " in err
    assert f"after epoch 2, is {ckpt}. Likely remedies: a smaller --lr than 1e+27" in err
    kept = cr.load(ckpt)
    assert kept["epoch"] == 2 and all(np.isfinite(v.numpy()).all() for v in kept["model"].values())


# ------------------------------------------------------------------ checkpoints and resume
def _train(epochs, ckpt=None, resume_from=None, seed=0):
    """Adam + cosine schedule + dropout, so that exact resumption needs every piece of state."""
    data, model = _setup(dropout=0.3, seed=seed)
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
    history, start = None, 0
    if resume_from is not None:
        state = load_checkpoint(resume_from, model, opt, sched)
        history, start = state["history"], state["epoch"]
    callbacks = [ModelCheckpoint(ckpt)] if ckpt else []
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.train,
        epochs=epochs,
        val_data=data.test,
        scheduler=sched,
        batch_size=16,
        seed=11,
        verbose=0,
        callbacks=callbacks,
        history=history,
        start_epoch=start,
    )
    return model, opt, history


def test_resuming_equals_training_straight_through_bit_for_bit(tmp_path):
    straight, straight_opt, straight_history = _train(8)
    _train(4, ckpt=tmp_path / "half.chainrule")
    resumed, resumed_opt, resumed_history = _train(
        8, resume_from=tmp_path / "half.chainrule", seed=99
    )
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), name
    sa, sb = straight_opt.state_dict(), resumed_opt.state_dict()
    for k in sa["state"]:
        for name in sa["state"][k]:
            assert np.array_equal(sa["state"][k][name], sb["state"][k][name])
    strip = [{k: v for k, v in r.items() if k != "time"} for r in straight_history.records]
    assert strip == [{k: v for k, v in r.items() if k != "time"} for r in resumed_history.records]


_SCHEDULES = {
    "none": lambda opt: None,
    "step": lambda opt: cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
    "exponential": lambda opt: cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8),
    "cosine": lambda opt: cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4),
    "linear": lambda opt: cr.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3),
}
# Each optimizer once, the other choices rotated among them: with and without a seed,
# dropout and batch norm (whose running statistics and batch counts are state too).
_MATRIX = [
    ("SGD", {"lr": 0.1}, "step", 0.0, False, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, "cosine", 0.3, True, 3),
    ("Adagrad", {"lr": 0.1}, "exponential", 0.3, False, None),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}, "linear", 0.0, True, None),
    ("Adam", {"lr": 0.01, "amsgrad": True}, "none", 0.3, True, None),
    ("AdamW", {"lr": 0.01}, "step", 0.3, False, 4),
    ("Adadelta", {}, "cosine", 0.0, True, None),
]


def _run(config, epochs, checkpoint=None, resume=None):
    name, options, schedule, dropout, batchnorm, seed = config
    cr.manual_seed(0 if resume is None else 99)  # a resumed run takes everything from the file
    data = cr.data.load("moons", n=96, noise=0.2)
    layers = [nn.Linear(2, 8)] + ([nn.BatchNorm1d(8)] if batchnorm else []) + [nn.Tanh()]
    layers += ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(8, 2)]
    model = nn.Sequential(*layers)
    opt = getattr(cr.optim, name)(model.parameters(), **options)
    sched = _SCHEDULES[schedule](opt)
    history, start = None, 0
    if resume is not None:
        state = load_checkpoint(resume, model, opt, sched)
        history, start = state["history"], state["epoch"]
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        data.train,
        epochs,
        val_data=data.test,
        callbacks=[ModelCheckpoint(checkpoint)] if checkpoint else [],
        scheduler=sched,
        batch_size=16,
        seed=seed,
        verbose=0,
        history=history,
        start_epoch=start,
    )
    return model, opt, history, cr.random.get_rng_state()


@pytest.mark.parametrize("config", _MATRIX, ids=[f"{c[0]}-{c[2]}-seed{c[5]}" for c in _MATRIX])
def test_resume_is_bit_exact_in_every_configuration(tmp_path, config):
    model, opt, history, rng = _run(config, 4)
    _run(config, 2, checkpoint=tmp_path / "half.chainrule")
    resumed, resumed_opt, resumed_history, resumed_rng = _run(
        config, 4, resume=tmp_path / "half.chainrule"
    )
    for (key, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), key
    for i, entries in opt.state_dict()["state"].items():
        for key, value in entries.items():
            np.testing.assert_array_equal(resumed_opt.state_dict()["state"][i][key], value)
    records = [{k: v for k, v in r.items() if k != "time"} for r in history.records]
    assert records == [{k: v for k, v in r.items() if k != "time"} for r in resumed_history.records]
    assert rng == resumed_rng  # the generator, too, is where the straight run left it


def test_early_stopping_and_best_checkpoints_resume_where_they_left_off(tmp_path):
    """Nothing improves (lr 0): the straight run stops after epoch 4 (best 1, patience 3)
    and saves its best checkpoint once; resumed after epoch 2, the callbacks replay the
    history, so the run still stops after epoch 4 and saves no new best; resumed after
    epoch 4, where it had stopped, it trains nothing more."""

    def train(epochs, resume=None):
        data, model = _setup()
        opt = cr.optim.SGD(model.parameters(), lr=0.0)
        history, start = None, 0
        if resume is not None:
            state = load_checkpoint(resume, model, opt)
            history, start = state["history"], state["epoch"]
        stop = EarlyStopping("val_loss", patience=3)
        best = ModelCheckpoint(tmp_path / "best.chainrule", save_best_only=True)
        every = ModelCheckpoint(tmp_path / "epoch{epoch}.chainrule")
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            opt,
            data.train,
            epochs,
            val_data=data.test,
            callbacks=[stop, best, every],
            verbose=0,
            history=history,
            start_epoch=start,
        )
        return len(history), stop.stopped_epoch, len(best.saved)

    assert train(10) == (4, 4, 1)
    assert train(10, resume=tmp_path / "epoch2.chainrule") == (4, 4, 0)
    # Resumed from the epoch where it stopped, it had finished: no fifth epoch.
    assert train(10, resume=tmp_path / "epoch4.chainrule") == (4, 4, 0)


def test_checkpoint_round_trip_restores_everything(tmp_path):
    model, opt, history = _train(3)
    sched = cr.optim.lr_scheduler.StepLR(opt, 2)
    cr.manual_seed(123)
    save_checkpoint(
        tmp_path / "c", model, opt, sched, epoch=3, history=history, extra={"note": "x"}
    )
    after = cr.randn(3).numpy()
    _data, fresh = _setup(dropout=0.3, seed=5)
    fresh_opt = cr.optim.Adam(fresh.parameters(), lr=0.5)
    fresh_sched = cr.optim.lr_scheduler.StepLR(fresh_opt, 5)
    state = load_checkpoint(tmp_path / "c", fresh, fresh_opt, fresh_sched)
    assert state["epoch"] == 3 and state["extra"] == {"note": "x"} and len(state["history"]) == 3
    np.testing.assert_array_equal(
        cr.randn(3).numpy(), after
    )  # the generator continues where it was
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert np.array_equal(a, b)
    assert (
        fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"] and fresh_sched.step_size == 2
    )


def test_a_plain_save_is_not_a_training_checkpoint(tmp_path):
    cr.save({"a": 1}, tmp_path / "x")
    with pytest.raises(cr.io.FormatError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "x", nn.Linear(2, 2))


# ------------------------------------------------------------------ the commands
def test_demo_reaches_95_percent_and_writes_its_files(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    validation = float(out.split("validation accuracy ")[1].split(" ")[0])
    test = float(out.split("test accuracy ")[1].split(" ")[0])
    assert validation >= 0.95 and test >= 0.95, out
    for name in ("checkpoint.chainrule", "curves.png", "history.csv", "history.json"):
        assert (tmp_path / "demo" / name).exists()
    results = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert round(results["validation"]["accuracy"], 4) == validation
    assert round(results["test"]["accuracy"], 4) == test
    assert results["samples"] == {"train": 1295, "validation": 143, "test": 359}


def test_training_selects_on_validation_and_looks_at_the_test_split_once(tmp_path, monkeypatch):
    """chainrule train: fit validates (and early stopping chooses) on a stratified split of
    the training data; the test split is evaluated once, after training."""
    import chainrule.train.loop as loop
    import chainrule.train.run as run

    events = []
    evaluate_, fit_ = loop.evaluate, run.fit

    def spy_evaluate(model, loss_fn, data, **kwargs):
        events.append(("evaluate", data))
        return evaluate_(model, loss_fn, data, **kwargs)

    def spy_fit(*args, **kwargs):
        events.append(("fit", kwargs["val_data"]))
        history = fit_(*args, **kwargs)
        events.append(("fit done", None))
        return history

    monkeypatch.setattr(loop, "evaluate", spy_evaluate)
    monkeypatch.setattr(run, "evaluate", spy_evaluate)
    monkeypatch.setattr(run, "fit", spy_fit)
    config = run.Config(data="blobs", hidden=(8,), epochs=3, patience=2, seed=5)
    result = run.run(config, tmp_path, verbose=0)
    test, train = result["splits"].test, result["splits"].train
    (val,) = {id(data): data for kind, data in events if kind == "fit"}.values()
    assert [kind for kind, data in events if data is test] == ["evaluate"]  # once...
    assert events.index(("fit done", None)) < [data is test for _, data in events].index(True)
    rows = {tuple(r) for r in val.tensors[0].numpy().tolist()}
    assert not rows & {tuple(r) for r in test.tensors[0].numpy().tolist()}
    assert rows <= {tuple(r) for r in train.tensors[0].numpy().tolist()}
    per_class = np.bincount(train.tensors[1].numpy())
    expected = np.floor(per_class * 0.1 + 0.5).astype(int).tolist()  # 10% of each class
    assert np.bincount(val.tensors[1].numpy()).tolist() == expected and sum(expected) == 22
    assert result["validation"] == evaluate_(result["model"], nn.functional.cross_entropy, val)
    assert result["history"]["val_loss"][-1] == result["validation"]["loss"]


def test_the_plot_and_the_files_name_validation_and_test_apart(tmp_path, monkeypatch, capsys):
    import matplotlib.axes

    labels = []
    plot = matplotlib.axes.Axes.plot

    def spy(self, *args, **kwargs):
        labels.append(kwargs.get("label"))
        return plot(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    argv = ["train", "--data", "xor", "--hidden", "8", "--epochs", "2", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3].startswith("  validation loss ") and "validation accuracy" in out[-3]
    assert out[-2].startswith("  test loss ") and "evaluated once, after training" in out[-2]
    assert labels[:6] == [
        "training loss",
        "validation loss",
        "test loss (once, after training)",
        "training accuracy",
        "validation accuracy",
        "test accuracy (once, after training)",
    ]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) == {"epochs", "samples", "validation", "test"}
    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert "val_loss" in header and not any(k.startswith("test") for k in header)
    argv = [*argv[:-2], "--val-split", "0", "--patience", "2", "--out", str(tmp_path / "x")]
    assert cli.main(argv) == 2
    assert "--patience stops on the validation loss; it needs a --val-split above 0" in (
        capsys.readouterr().err
    )


def test_train_resume_continues_exactly(tmp_path):
    common = [
        "train",
        "--data",
        "xor",
        "--hidden",
        "8",
        "--dropout",
        "0.2",
        "--schedule",
        "cosine",
        "--t-max",
        "4",
        "--optimizer",
        "momentum",
        "--lr",
        "0.05",
        "--batch-size",
        "16",
    ]
    assert cli.main([*common, "--epochs", "4", "--out", str(tmp_path / "a")]) == 0
    assert cli.main([*common, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    assert (
        cli.main(
            [
                *common,
                "--epochs",
                "4",
                "--out",
                str(tmp_path / "b"),
                "--resume",
                str(tmp_path / "b" / "checkpoint.chainrule"),
            ]
        )
        == 0
    )
    a = cr.load(tmp_path / "a" / "checkpoint.chainrule")
    b = cr.load(tmp_path / "b" / "checkpoint.chainrule")
    assert a["epoch"] == b["epoch"] == 4
    for key in a["model"]:
        assert a["model"][key].numpy().tobytes() == b["model"][key].numpy().tobytes()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "cifar10"], "invalid choice: 'cifar10' (choose from 'blobs'"),
        (["train", "--hidden", "12,x"], "expected comma-separated integers"),
        (["train", "--epochs", "0"], "expected a positive integer"),
        (["train", "--dropout", "1.5"], "expected a probability"),
        (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
        (["train", "--loss", "mse"], "the mse loss is for regression"),
        (["train", "--data", "spirals", "--loss", "hinge"], "the hinge loss is for two classes"),
        (["train", "--data", "moons", "--model", "cnn"], "a cnn needs image input"),
        (["train", "--resume", "missing.chainrule"], "there is no file"),
        (["demo", "--epochs", "-3"], "expected a positive integer"),
    ],
)
def test_user_mistakes_give_one_line_and_status_2(tmp_path, capsys, argv, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        code = cli.main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: ") and message in err and err.count("\n") == 1


def test_corrupted_and_mismatched_checkpoints_are_one_line_errors(tmp_path, capsys):
    run = ["train", "--data", "xor", "--hidden", "8", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert cli.main(run) == 0
    ckpt = tmp_path / "r" / "checkpoint.chainrule"
    assert cli.main([*run[:-4], "--hidden", "16", "--epochs", "2", "--resume", str(ckpt)]) == 2
    assert "trained with --hidden [8]" in capsys.readouterr().err
    raw = bytearray(ckpt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(raw))
    assert cli.main([*run, "--resume", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "corrupted or truncated" in err and err.count("\n") == 1
    (tmp_path / "file").write_text("x")
    assert cli.main([*run[:-1], str(tmp_path / "file")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_forged_checkpoints_are_one_line_errors_that_name_the_entry(tmp_path, capsys):
    """A checkpoint that is a valid chainrule file but not one save_checkpoint wrote: each
    entry missing or of the wrong form, and wrong values inside the entries."""
    run = ["train", "--data", "xor", "--hidden", "4", "--schedule", "step", "--epochs", "1"]
    assert cli.main([*run, "--out", str(tmp_path / "r")]) == 0
    good = cr.load(tmp_path / "r" / "checkpoint.chainrule")

    def edit(path, value):
        def apply(state):
            *parents, last = path
            for key in parents:
                state = state[key]
            if value is KeyError:
                del state[last]
            else:
                state[last] = value

        return apply

    entries = ["epoch", "model", "optimizer", "scheduler", "rng", "history", "extra"]
    cases = [(edit([k], KeyError), f"has no '{k}' entry") for k in entries]
    cases += [(edit([k], bad), f"malformed '{k}' entry") for k in entries for bad in (-1, "x", [1])]
    cases += [
        (edit(["rng", "state", "inc"], -1), "set_rng_state: expected the PCG64 state"),
        (edit(["model", "0.weight"], "x"), "error(s) in loading state_dict for Sequential"),
        (edit(["model", "0.weight"], [["a"] * 2] * 4), "dtype <U1, not numbers"),
        (
            edit(["optimizer", "param_groups", 0, "lr"], "fast"),
            "group 0: the learning rate must be a real number, got 'fast'",
        ),
        (edit(["optimizer", "state", 0, "exp_avg"], np.zeros(())), "has shape ()"),
        (edit(["scheduler", "optimizer"], {}), "StepLR.load_state_dict: expected the entries"),
        (edit(["scheduler", "last_epoch"], "x"), "'last_epoch' is 'x', not like 0"),
        (edit(["history", "records", 0, "loss"], "low"), "malformed 'history' entry"),
        (edit(["history", "seed"], 1.5), "malformed 'history' entry"),
        (edit(["extra", "config"], [1]), "malformed 'config' entry"),
    ]
    forged = tmp_path / "forged.chainrule"
    for change, message in cases:
        state = copy.deepcopy(good)
        change(state)
        cr.save(state, forged)
        capsys.readouterr()
        code = cli.main([*run[:-1], "2", "--out", str(tmp_path / "f"), "--resume", str(forged)])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("chainrule: error: "), err
        assert message in err and err.count("\n") == 1, (message, err)


def test_errors_never_show_a_traceback_from_the_console_script(tmp_path):
    bad = tmp_path / "bad.chainrule"
    bad.write_bytes(b"\x80\x04garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "train", "--resume", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "a Python pickle" in proc.stderr


@pytest.mark.parametrize("command", ["demo", "train", "verify"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0 and f"usage: chainrule {command}" in capsys.readouterr().out


def test_resuming_incomplete_optimizer_state_is_a_one_line_error(tmp_path, capsys):
    run = ["train", "--data", "xor", "--hidden", "8", "--epochs", "1", "--out", str(tmp_path)]
    assert cli.main(run) == 0
    ckpt = tmp_path / "checkpoint.chainrule"
    state = cr.load(ckpt)
    state["optimizer"]["state"][0] = {"step": 3.0}  # Adam's moments gone
    cr.save(state, ckpt)
    capsys.readouterr()
    assert cli.main([*run[:-3], "2", "--out", str(tmp_path), "--resume", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: Adam.load_state_dict: parameter 0 lacks 'exp_avg'")
    assert err.count("\n") == 1
