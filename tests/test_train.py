"""Training: fit, evaluate, callbacks, penalties, checkpoints, exact resume, and the
demo and train commands with their error paths."""

from __future__ import annotations

import json
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
    accuracy_value = float(out.split("test accuracy ")[1].split(",")[0])
    assert accuracy_value >= 0.95, out
    for name in ("checkpoint.chainrule", "curves.png", "history.csv", "history.json"):
        assert (tmp_path / "demo" / name).exists()


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
