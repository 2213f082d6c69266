"""cr.diagnostics: gradient_flow's verdicts on networks built to show each one, the numbers
behind them, symmetry, the training callback, and the diagnose / explain commands."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, nn
from chainrule.diagnostics import (
    PRIORITY,
    REMEDIES,
    FlowMonitor,
    FlowWarning,
    Thresholds,
    gradient_flow,
    symmetry,
)
from chainrule.nn import functional as F

T = Thresholds()


@pytest.fixture(scope="module")
def batch():
    """256 samples of the bundled digits: the batch the thresholds were measured on."""
    x, y = cr.data.load("digits", flatten=True, seed=0).train.tensors
    return x[:256], y[:256]


def mlp(widths, act=None, init=None, bias=None, batchnorm=False):
    """64 -> widths -> 10, Linear [BatchNorm] [act] per hidden width."""
    layers, w = [], 64
    for h in widths:
        layers.append(nn.Linear(w, h))
        if batchnorm:
            layers.append(nn.BatchNorm1d(h))
        if act is not None:
            layers.append(act())
        w = h
    layers.append(nn.Linear(w, 10))
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Linear):
            if init is not None:
                init(m.weight)
                nn.init.zeros_(m.bias)
            if bias is not None and m is not layers[-1]:
                nn.init.constant_(m.bias, bias)
    return net


def he(w):
    return nn.init.kaiming_normal_(w, nonlinearity="relu")


def linears(net):
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


# ----------------------------------------------------------------------------- verdicts
def test_ten_sigmoid_layers_vanish(batch):
    net = mlp([32] * 10, nn.Sigmoid)
    report = gradient_flow(net, F.cross_entropy, *batch)
    assert report.verdict == "vanishing"
    first, last = report.layers[0], report.layers[-1]
    assert first.grad_rel < T.vanishing_ratio
    assert first.grad_rel == pytest.approx(first.grad_norm / last.grad_norm)
    assert first.grad_rel < 1e-6  # measured: about 1e-8 (0.25 or less per sigmoid)
    # The norms are those of an ordinary backward on the same batch.
    loss = F.cross_entropy(net(batch[0]), batch[1])
    loss.backward()
    for row, m in zip(report.layers, linears(net)):
        assert row.grad_norm == pytest.approx(np.linalg.norm(m.weight.grad.numpy()), rel=1e-5)
        assert row.weight_norm == pytest.approx(np.linalg.norm(m.weight.numpy()), rel=1e-6)
    assert any("ReLU" in r for r in report.remedies)
    assert any("layer '0'" in e and "of the output layer's" in e for e in report.evidence)


def test_activation_statistics_are_those_of_the_forward_pass(batch):
    net = mlp([16, 16], nn.Sigmoid)
    report = gradient_flow(net, F.cross_entropy, *batch)
    outs = {}
    for i in (1, 3):
        net[i].register_forward_hook(lambda m, a, o, i=i: outs.setdefault(i, o))
    loss = F.cross_entropy(net(batch[0]), batch[1])
    for o in outs.values():
        o.retain_grad()
    loss.backward()
    for row, i in zip(report.layers[:2], (1, 3)):
        a = outs[i].numpy().astype(np.float64)
        assert row.activation == "Sigmoid"
        assert row.act_mean == pytest.approx(a.mean(), rel=1e-6)
        assert row.act_std == pytest.approx(a.std(), rel=1e-6)
        assert row.act_grad_norm == pytest.approx(np.linalg.norm(outs[i].grad.numpy()), rel=1e-5)


@pytest.mark.parametrize("act", [None, nn.ReLU], ids=["linear", "relu"])
def test_large_weights_explode(batch, act):
    net = mlp([32] * 10, act, lambda w: nn.init.normal_(w, 0.0, 3.0))
    report = gradient_flow(net, F.cross_entropy, *batch)
    assert report.verdict == "exploding"
    # The weight gradients alone show nothing: about equal across layers...
    assert all(0.1 < r.grad_rel < 10 for r in report.layers)
    # ... while dL/da grows toward the input and the gradients dwarf the weights.
    assert report.layers[0].act_grad_rel > T.exploding_growth
    assert max(r.ratio for r in report.layers) > T.exploding_ratio
    if act is None:  # measured: every weight gradient about 1e12
        assert all(1e10 < r.grad_norm < 1e14 for r in report.layers)
    assert any("clip" in r for r in report.remedies)


def test_large_pre_activations_saturate_tanh(batch):
    net = mlp([64] * 3, nn.Tanh, lambda w: nn.init.normal_(w, 0.0, 1.0))
    report = gradient_flow(net, F.cross_entropy, *batch)
    assert report.verdict == "saturated"
    z = (batch[0] @ net[0].weight.T + net[0].bias).numpy()
    expected = float((np.abs(np.tanh(z)) > 1 - T.saturation_margin).mean())
    assert report.layers[0].saturated == pytest.approx(expected)
    assert expected > T.saturated_fraction
    assert report.layers[-1].saturated == 0.0  # the logits are no activation


def test_a_large_negative_bias_kills_relu_units(batch):
    net = mlp([32] * 3, nn.ReLU, bias=-5.0)
    report = gradient_flow(net, F.cross_entropy, *batch)
    assert report.verdict == "dead"
    assert [r.dead for r in report.layers[:-1]] == [1.0, 1.0, 1.0]
    assert "vanishing" in report.findings  # also there, but dead comes first (a cause)
    assert PRIORITY.index("dead") < PRIORITY.index("vanishing")


@pytest.mark.parametrize(
    "init", [nn.init.zeros_, lambda w: nn.init.constant_(w, 0.1)], ids=["zeros", "constant"]
)
def test_constant_initialisation_is_symmetric(batch, init):
    net = mlp([32] * 3, nn.ReLU, init)
    report = gradient_flow(net, F.cross_entropy, *batch)
    assert report.verdict == "symmetric"
    assert [r.distinct_units for r in report.layers[:-1]] == [1, 1, 1]
    assert [r.units for r in report.layers[:-1]] == [32, 32, 32]
    assert report.layers[-1].verdict != "symmetric"  # output units are not hidden units
    assert symmetry(net) == {"0": 1, "2": 1, "4": 1}
    assert any("randomly" in r for r in report.remedies)


@pytest.mark.parametrize("batchnorm", [False, True], ids=["he", "he+batchnorm"])
def test_relu_with_he_initialisation_is_healthy(batch, batchnorm):
    net = mlp([32] * 10, nn.ReLU, he, batchnorm=batchnorm)
    report = gradient_flow(net, F.cross_entropy, *batch)
    assert report.verdict == "healthy", report.evidence
    assert report.remedies == [] and report.findings == {}
    assert all(r.verdict == "healthy" for r in report.layers)
    assert all(r.distinct_units in (None, r.units) for r in report.layers)
    if batchnorm:
        assert [r.kind for r in report.layers[:2]] == ["Linear", "BatchNorm1d"]
        assert report.layers[1].activation == "ReLU"


def test_thresholds_can_be_passed(batch):
    net = mlp([32] * 3, nn.ReLU, he)
    assert gradient_flow(net, F.cross_entropy, *batch).verdict == "healthy"
    strict = gradient_flow(net, F.cross_entropy, *batch, thresholds={"vanishing_ratio": 100})
    assert strict.verdict == "vanishing" and strict.thresholds.vanishing_ratio == 100
    with pytest.raises(ValueError, match="unknown threshold"):
        gradient_flow(net, F.cross_entropy, *batch, thresholds={"vanish": 1})


def test_every_verdict_has_remedies():
    assert set(REMEDIES) == set(PRIORITY)
    assert all(REMEDIES[v] for v in PRIORITY if v != "healthy")


# ----------------------------------------------------------------------------- side effects
def test_gradients_buffers_mode_and_generator_are_restored(batch):
    net = mlp([16, 16], nn.ReLU, batchnorm=True)
    for p in net.parameters():
        p.grad = cr.ones_like(p) * 7
    grads = [p.grad for p in net.parameters()]
    stats = [b.numpy().copy() for b in net.buffers()]
    net.eval()
    state = cr.random.get_rng_state()
    gradient_flow(net, F.cross_entropy, *batch)
    assert [p.grad for p in net.parameters()] == grads  # the same objects
    assert all((g.numpy() == 7).all() for g in grads)
    assert all(np.array_equal(b.numpy(), s) for b, s in zip(net.buffers(), stats))
    assert not net.training
    assert cr.random.get_rng_state() == state


def test_non_finite_gradients_are_a_finding(batch):
    net = mlp([8, 8], nn.ReLU)

    def loss_fn(out, target):  # sqrt at 0: a finite loss with a nan gradient
        return (out - out.detach()).abs().sqrt().sum()

    report = gradient_flow(net, loss_fn, *batch)
    assert report.verdict == "exploding"
    assert report.first_nonfinite == "4"  # the backward pass meets them at the last layer
    assert "non-finite values first appear in layer '4'" in report.evidence[0]
    json.dumps(report.to_dict(), allow_nan=False)
    assert "nan" in str(report)


def test_non_finite_activations_name_the_first_layer(batch):
    net = mlp([8, 8], nn.ReLU)
    with cr.no_grad():
        net[2].weight[0, 0] = float("inf")
    report = gradient_flow(net, F.cross_entropy, *batch)
    assert report.verdict == "exploding" and report.first_nonfinite == "2"


# ----------------------------------------------------------------------------- bad input
def test_bad_input_gives_clear_errors(batch):
    x, y = batch
    with pytest.raises(ValueError, match="no parameters"):
        gradient_flow(nn.Sequential(nn.ReLU()), F.cross_entropy, x, y)
    net = mlp([8], nn.ReLU)
    with pytest.raises(ValueError, match=r"scalar.*shape \(256,\)"):
        gradient_flow(net, lambda o, t: F.cross_entropy(o, t, reduction="none"), x, y)

    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(x).detach()

    with pytest.raises(RuntimeError, match="output does not require grad"):
        gradient_flow(Detached(), F.cross_entropy, x, y)
    with pytest.raises(RuntimeError, match=r"forward raised ShapeError.*in_features"):
        gradient_flow(net, F.cross_entropy, x[:, :10], y)
    with pytest.raises(RuntimeError, match="loss function raised"):
        gradient_flow(net, F.mse_loss, x, y)
    assert all(p.grad is None for p in net.parameters())


# ----------------------------------------------------------------------------- output
def test_report_as_table_dict_and_html(batch, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rich", None)  # the plain table
    net = mlp([16, 16], nn.Tanh)
    report = gradient_flow(net, F.cross_entropy, *batch)
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("gradient flow: healthy")
    header = next(line for line in lines if line.startswith("layer"))
    assert "|grad W|" in header and "saturated" in header and "units" in header
    rows = [line.split()[0] for line in lines[lines.index(header) + 2 :] if line.strip()]
    assert rows == ["0", "2", "4"]
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["verdict"] == "healthy" and data["priority"] == list(PRIORITY)
    assert [r["name"] for r in data["layers"]] == ["0", "2", "4"]
    assert data["layers"][0]["activation"] == "Tanh" and data["thresholds"]["dead_fraction"] == 0.7
    html = report._repr_html_()
    assert "<table>" in html and "data:image/png;base64," in html


def test_report_table_drawn_by_rich(batch):
    pytest.importorskip("rich")
    report = gradient_flow(mlp([16, 16], nn.Tanh), F.cross_entropy, *batch)
    lines = str(report).splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("layer"))
    assert "|grad W|" in lines[header] and set(lines[header + 1].strip()) <= {"─", " "}
    rows = [line.split() for line in lines[header + 2 :] if line.strip()]
    assert [r[0] for r in rows] == ["0", "2", "4"] and rows[0][1] == "Linear+Tanh"


def test_plot_has_log_scaled_labelled_axes(batch, tmp_path):
    report = gradient_flow(mlp([16] * 4, nn.Sigmoid), F.cross_entropy, *batch)
    fig = report._figure()
    plt.close(fig)
    norms, acts = fig.axes[:2]
    assert norms.get_yscale() == "log"
    for ax in fig.axes:
        assert ax.get_ylabel()
    assert norms.get_xlabel() and acts.get_xlabel()
    path = report.plot(tmp_path / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_symmetry_counts_distinct_units():
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    assert symmetry(net) == {"0": 6, "2": 5}
    with cr.no_grad():
        net[0].weight[1] = net[0].weight[0]
        net[0].bias[1] = net[0].bias[0]
        net[0].weight[2] = net[0].weight[0] + 1e-3
        net[0].bias[2] = net[0].bias[0]
    assert symmetry(net) == {"0": 5, "2": 5}
    assert symmetry(net, atol=1e-2) == {"0": 4, "2": 5}
    with cr.no_grad():
        net[0].bias[1] = net[0].bias[0] + 1  # same weights, other bias: a different unit
    assert symmetry(net)["0"] == 6


# ----------------------------------------------------------------------------- training
def _fit(monitor=None, epochs=2):
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Dropout(0.3), nn.Linear(16, 3))
    x = cr.randn(40, 8)
    y = cr.tensor(np.arange(40) % 3)
    opt = cr.optim.SGD(net.parameters(), lr=0.1)
    history = cr.train.fit(
        net,
        F.cross_entropy,
        opt,
        (x, y),
        epochs,
        batch_size=8,
        seed=0,
        verbose=0,
        callbacks=[monitor] if monitor else [],
    )
    return net, history


def test_monitor_records_every_n_steps_and_changes_nothing():
    monitor = FlowMonitor(F.cross_entropy, every=3, warn=False)
    net, history = _fit(monitor)
    plain, _ = _fit()
    for a, b in zip(net.parameters(), plain.parameters()):
        assert np.array_equal(a.numpy(), b.numpy())  # bit for bit: dropout draws restored
    assert [s["step"] for s in history.steps] == [1, 4, 7, 10]  # 5 batches x 2 epochs
    assert [s["epoch"] for s in history.steps] == [1, 1, 2, 2]
    assert set(history.steps[0]["grad_norm"]) == {"0", "3"}
    assert len(monitor.reports) == 4
    assert history.as_dict()["steps"] == history.steps


def test_monitor_warns_once_when_training_is_unhealthy(tmp_path):
    monitor = FlowMonitor(F.cross_entropy, every=1, thresholds={"vanishing_ratio": 10.0})
    with pytest.warns(FlowWarning, match=r"turned vanishing at step 1.*Remedies: use ReLU") as w:
        _fit(monitor, epochs=1)
    assert len(w) == 1 and len(monitor.reports) == 5
    fig = monitor._figure()
    plt.close(fig)
    assert all(ax.get_yscale() == "log" and ax.get_ylabel() for ax in fig.axes)
    assert monitor.plot(tmp_path / "g.png").stat().st_size > 10_000


# ----------------------------------------------------------------------------- commands
TEN = "32,32,32,32,32,32,32,32,32,32"


@pytest.mark.parametrize(
    ("options", "verdict"),
    [
        (["--activation", "sigmoid"], "vanishing"),
        (["--activation", "relu", "--init", "kaiming_normal"], "healthy"),
        (["--init", "zeros"], "symmetric"),
        (["--init", "normal", "--init-std", "3"], "exploding"),
    ],
)
def test_diagnose_command(options, verdict, capsys, tmp_path):
    argv = ["diagnose", "--hidden", TEN, *options, "--out", str(tmp_path), "--json"]
    assert cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == verdict
    assert len(report["layers"]) == 11 and (tmp_path / "diagnose.png").exists()
    if verdict == "symmetric":
        assert [r["distinct_units"] for r in report["layers"][:-1]] == [1] * 10


def test_diagnose_prints_verdict_table_and_plot(capsys, tmp_path):
    assert cli.main(["diagnose", "--hidden", "16,16", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gradient flow: healthy")
    assert "|grad W|" in out and f"wrote {tmp_path / 'diagnose.png'}" in out


def test_train_diagnose_writes_the_gradient_flow_plot(capsys, tmp_path):
    argv = ["train", "--data", "xor", "--loss", "bce", "--hidden", "8", "--epochs", "2"]
    argv += ["--diagnose", "--diagnose-every", "5", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert (tmp_path / "gradient_flow.png").exists() and (tmp_path / "curves.png").exists()
    assert str(tmp_path / "gradient_flow.png") in capsys.readouterr().out
    history = json.loads((tmp_path / "history.json").read_text())
    assert history  # the epoch records are unchanged by the steps kept apart


@pytest.mark.parametrize("example", ["net-2-2-1", "softmax-classifier"])
def test_explain_command(example, capsys):
    assert cli.main(["explain", "--example", example]) == 0
    out = capsys.readouterr().out
    assert "in the order the engine runs them" in out and "δ1 = ∂L/∂z1" in out
    assert cli.main(["explain", "--example", example, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["steps"][0]["index"] == 1 and all(s["rule"] for s in data["steps"])
    if example == "softmax-classifier":
        assert "(a - y)/N" in out
