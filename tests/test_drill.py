"""cr.drill: for every topic and 50 seeds, the key (computed by chainrule) against an
independent NumPy formula written here, the worked solution's numbers against the key,
and ``chainrule drill --check`` with the key and with one entry perturbed."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, drill
from chainrule.drill.core import fmt

SEEDS = range(50)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


# ----------------------------------------------------------------------------- formulas
# Each takes an exercise's inputs and returns every quantity, by the textbook formula in
# plain NumPy: no chainrule, no autograd, no optimizer class.
def f_backprop_221(i):
    x, t, w1, b1, w2, b2 = (i[k] for k in ("x", "t", "W1", "b1", "W2", "b2"))
    a1 = _sig(w1 @ x + b1)
    y = (w2 @ a1 + b2)[0]
    d2 = y - t
    d1 = w2[0] * d2 * a1 * (1 - a1)
    return {
        "a1": a1,
        "y_hat": y,
        "delta2": d2,
        "delta1": d1,
        "dL_dW2": d2 * a1[None, :],
        "dL_dW1": np.outer(d1, x),
    }


def f_sigmoid_chain(i):
    a, acts, slopes, grad = i["x"], [], [], 1.0
    for w in i["w"]:
        a = _sig(w * a)
        acts.append(a)
        slopes.append(a * (1 - a))
        grad *= w * a * (1 - a)
    return {"a": acts, "sigma_prime": slopes, "da_dx": grad}


def f_softmax_ce(i):
    a = _softmax(i["z"])
    y = np.eye(3)[i["label"]]
    return {"a": a, "C": -np.log(a[i["label"]]), "dC_dz": a - y}


def f_softmax_jacobian(i):
    a = _softmax(i["z"])
    jac = np.diag(a) - np.outer(a, a)
    return {"a": a, "diag": jac[i["i"], i["i"]], "off_diag": jac[i["i"], i["j"]]}


def f_reduce_mean(i):
    p, lab = i["p"], i["labels"]
    per = -np.log(p[np.arange(2), lab])
    return {"per_sample": per, "batch_mean": per.mean(), "reduce_mean": per.sum() / p.size}


def f_sgd_momentum(i):
    x, v, c, out = i["x0"], 0.0, i["c"], {}
    for t in (1, 2):
        out[f"dx{t}"] = c * x
        v = i["mu"] * v - i["lr"] * c * x
        x = x + v
        out[f"v{t}"], out[f"x{t}"] = v, x
    return out


def f_nesterov(i):
    x, v, c, mu, lr, out = i["x0"], np.zeros(2), i["c"], i["mu"], i["lr"], {}
    for t in (1, 2):
        ahead = x + mu * v
        g = c * ahead
        v = mu * v - lr * g
        x = x + v
        if t == 1:
            out["dx1"] = g
        else:
            out["x_ahead2"], out["dx_ahead2"] = ahead, g
        out[f"v{t}"], out[f"x{t}"] = v, x
    return out


def _adaptive(i, decay, eps):
    x, cache, c, out = i["x0"], np.zeros(2), i["c"], {}
    for t in (1, 2):
        g = c * x
        cache = cache + g * g if decay is None else decay * cache + (1 - decay) * g * g
        step = -i["lr"] * g / (np.sqrt(cache) + eps)
        x = x + step
        out[f"cache{t}"], out[f"update{t}"], out[f"x{t}"] = cache, step, x
    return out


def f_adagrad(i):
    return _adaptive(i, None, 1e-10)


def f_rmsprop(i):
    return _adaptive(i, i["rho"], 1e-8)


def f_adam(i):
    g = i["c"] * i["x0"]
    b1, b2, lr, eps = i["beta1"], i["beta2"], i["lr"], 1e-8
    m, v = (1 - b1) * g, (1 - b2) * g * g
    return {
        "dx": g,
        "m": m,
        "v": v,
        "update": -lr * m / (np.sqrt(v) + eps),
        "update_corrected": -lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps),
    }


def f_batchnorm_forward(i):
    x = i["x"]
    x_hat = (x - x.mean()) / np.sqrt(x.var() + 1e-5)
    return {"mean": x.mean(), "var": x.var(), "x_hat": x_hat, "y": i["gamma"] * x_hat + i["beta"]}


def f_dropout_scale(i):
    p = i["p"]
    return {
        "scale": 1 / (1 - p),
        "train_output": i["x"] * i["mask"] / (1 - p),
        "eval_output": i["x"],
    }


def f_l1_l2_gradient(i):
    w, lam = i["w"], i["lam"]
    return {
        "l1": lam * np.abs(w).sum(),
        "l1_grad": lam * np.sign(w),
        "l2": lam * 0.5 * (w * w).sum(),
        "l2_grad": lam * w,
    }


def f_hinge(i):
    m = i["t"] * i["y"]
    losses = np.maximum(0, 1 - m)
    return {"losses": losses, "mean": losses.mean(), "grad": np.where(m < 1, -i["t"], 0) / 4}


def f_exponential_loss(i):
    losses = np.exp(-i["t"] * i["y"])
    return {"losses": losses, "mean": losses.mean(), "grad": -i["t"] * losses / 4}


def f_zero_one(i):
    losses = (np.sign(i["y"]) != i["t"]).astype(float)
    return {
        "losses": losses,
        "error_rate": losses.mean(),
        "relaxed": (np.abs(i["target"] - i["f"]) >= i["T"]).astype(float),
    }


FORMULAS = {
    name[2:].replace("_", "-"): f for name, f in dict(globals()).items() if name[:2] == "f_"
}
REQUIRED = [
    "backprop-221",
    "softmax-ce",
    "softmax-jacobian",
    "sigmoid-chain",
    "sgd-momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "batchnorm-forward",
    "dropout-scale",
    "l1-l2-gradient",
    "hinge",
    "exponential-loss",
    "zero-one",
    "reduce-mean",
]


def test_every_required_topic_exists_and_has_a_formula_here():
    assert set(REQUIRED) <= set(drill.topics())
    assert set(FORMULAS) == set(drill.topics())  # a new topic needs its formula in this file


# ----------------------------------------------------------------------------- acceptance
@pytest.mark.parametrize("topic", REQUIRED)
def test_key_matches_an_independent_formula(topic):
    for seed in SEEDS:
        ex = drill.exercise(topic, seed)
        want = FORMULAS[topic](ex.inputs)
        key = ex.key()
        assert set(key) == set(want) == set(ex.answer_shape)
        for name, value in want.items():
            got = np.asarray(key[name], np.float64)
            assert got.shape == tuple(ex.answer_shape[name]), (topic, seed, name)
            np.testing.assert_allclose(
                got,
                np.reshape(value, got.shape),
                rtol=1e-9,
                atol=1e-12,
                err_msg=f"{topic} {seed} {name}",
            )


def _numbers(text: str) -> np.ndarray:
    return np.array([float(w) for w in re.split(r"[\s,\[\]]+", text) if w])


@pytest.mark.parametrize("topic", REQUIRED)
def test_worked_solution_arrives_at_the_key(topic):
    for seed in SEEDS:
        ex = drill.exercise(topic, seed)
        sol = ex.solution()
        values = sol.values()
        for q in ex.quantities:
            key = np.asarray(ex.key()[q.name], np.float64)
            mine = np.asarray(values[q.name], np.float64).reshape(key.shape)
            np.testing.assert_allclose(
                mine, key, rtol=1e-9, atol=1e-12, err_msg=f"{topic} {seed} {q.name}"
            )
            # and the step prints it: to 4 significant digits, the key's number
            printed = fmt(mine)
            text = sol.step_text(sol.step_of(q.name))
            assert printed in text.replace("\n    ", " "), (topic, seed, q.name, printed, text)
            np.testing.assert_allclose(_numbers(printed), key.reshape(-1), rtol=6e-4, atol=1e-12)


def _perturbed(key: dict, rng) -> tuple[dict, str, int]:
    """The key with one entry of one quantity moved well outside the tolerance: the
    answers, the quantity's name and the entry's flat index."""
    answers = json.loads(json.dumps(key))
    name = list(answers)[rng.integers(len(answers))]
    flat = np.asarray(answers[name], np.float64).reshape(-1)
    k = int(rng.integers(flat.size))
    flat[k] += 0.05 * abs(flat[k]) + 0.01
    answers[name] = flat.reshape(np.shape(answers[name])).tolist()
    return answers, name, k


PARSER = cli.build_parser()  # once: building it costs more than a check


def _drill(argv: list[str]) -> int:
    """``chainrule drill ...`` as ``cli.main`` runs it, without rebuilding the parser."""
    args = PARSER.parse_args(argv)
    return args.func(args)


@pytest.mark.parametrize("topic", REQUIRED)
def test_check_passes_the_key_and_names_a_perturbed_entry(topic, tmp_path, capsys):
    rng = np.random.default_rng(len(topic))
    path = tmp_path / "answers.json"
    for seed in SEEDS:
        ex = drill.exercise(topic, seed)
        argv = ["drill", topic, "--seed", str(seed), "--check", str(path)]
        path.write_text(json.dumps(ex.key()))
        assert _drill(argv) == 0, capsys.readouterr().out
        out = capsys.readouterr().out
        assert f"{len(ex.quantities)} of {len(ex.quantities)} right" in out

        answers, name, k = _perturbed(ex.key(), rng)
        path.write_text(json.dumps(answers))
        assert _drill(argv) == 1
        out = capsys.readouterr().out
        entry = ex.quantity(name).entry(k)
        report = out.split("\n\n")[0]  # the table; the solution's step follows it
        (line,) = [ln for ln in report.splitlines() if ln.strip().startswith(name + " ")]
        assert f"wrong: {entry} (you gave" in line and line.count("(you gave") == 1, out
        step = ex.solution().step_of(name)
        assert f"first part from the worked solution at step {step}:" in out
        assert ex.solution().step_text(step) in out


# ----------------------------------------------------------------------------- the key is chainrule's
def test_the_key_comes_from_the_optimizer_class(monkeypatch):
    """Break SGD's update function: the momentum drill's key changes with it, and no
    longer agrees with the worked solution (which follows the textbook equations)."""
    from chainrule.optim import sgd

    ex = drill.exercise("sgd-momentum", 1)
    assert ex.check(ex.solution().values())
    real = sgd.sgd_update
    monkeypatch.setattr(sgd, "sgd_update", lambda p, g, *a, **k: real(p, 2 * g, *a, **k))
    broken = drill.exercise("sgd-momentum", 1)
    result = broken.check(broken.solution().values())
    assert not result and result["v1"].status == "wrong" and result["dx1"].right


def test_the_gradients_come_from_autograd(monkeypatch):
    """Break the sigmoid's backward rule: the 2-2-1 key follows it (so it is autograd's)
    and parts from the NumPy formula at the hidden residuals, not before."""
    from chainrule.ops.elementwise import Sigmoid

    real = Sigmoid.backward
    monkeypatch.setattr(Sigmoid, "backward", lambda self, lib, g, y: 2 * real(self, lib, g, y))
    ex = drill.exercise("backprop-221", 4)
    want = f_backprop_221(ex.inputs)
    key = ex.key()
    for name in ("a1", "y_hat", "delta2", "dL_dW2"):
        np.testing.assert_allclose(key[name], want[name])
    np.testing.assert_allclose(key["delta1"], 2 * want["delta1"])


# ----------------------------------------------------------------------------- reproducible
def test_same_topic_and_seed_give_the_same_exercise_and_leave_no_global_state():
    state = cr.random.get_rng_state()
    first = [drill.exercise(t, 7).to_dict() for t in drill.topics()]
    assert cr.random.get_rng_state() == state  # dropout-scale restores the library's stream
    cr.manual_seed(123)
    assert [drill.exercise(t, 7).to_dict() for t in drill.topics()] == first
    assert drill.exercise("softmax-ce", 7).to_dict() != drill.exercise("softmax-ce", 8).to_dict()


def test_the_numbers_of_a_seed_are_pinned():
    """A stream check: the numbers of an exercise are a contract (a seed written in a
    course or an exam must keep meaning the same exercise), so a change of the drawing
    code or of NumPy's generator shows up here first."""
    i = drill.exercise("backprop-221", 0).inputs
    got = [*i["x"], i["t"], *i["W1"].ravel(), *i["b1"], *i["W2"].ravel(), *i["b2"]]
    assert got == [-0.49, -0.23, 0.91, -0.85, -0.76, -0.83, -0.69, 0.25, 0.13, 0.48, 0.53, 0.49]


HYPER = {"lr", "mu", "rho", "beta1", "beta2", "lam", "p", "T"}  # picked from short lists


def test_inputs_have_2_to_4_values_of_2_decimals():
    for t in drill.topics():
        for seed in range(10):
            for name, v in drill.exercise(t, seed).inputs.items():
                if name in HYPER:
                    continue
                a = np.asarray(v, np.float64)
                assert a.size <= 4, (t, name)
                np.testing.assert_allclose(a, np.round(a, 2), atol=1e-12, err_msg=f"{t} {name}")


def test_quantities_are_asked_in_the_order_the_solution_derives_them():
    """Showing the steps that lead to one quantity must not give away a later one."""
    for t in drill.topics():
        for seed in range(5):
            ex = drill.exercise(t, seed)
            steps = [ex.solution().step_of(q.name) for q in ex.quantities]
            assert steps == sorted(steps), (t, seed, steps)


def test_a_wrong_answer_that_is_another_number_of_the_solution_says_so():
    """The usual slips: δ1 without the sigmoid's derivative is ∂L/∂a1; the two Adam steps
    swapped."""
    ex = drill.exercise("backprop-221", 7)
    i = ex.inputs
    a1 = _sig(i["W1"] @ i["x"] + i["b1"])
    delta2 = (i["W2"] @ a1 + i["b2"])[0] - i["t"]
    no_slope = i["W2"][0] * delta2  # ∂L/∂a1: the residual before the sigmoid's derivative
    result = ex.check({**ex.key(), "delta1": no_slope.tolist()})
    assert result["delta1"].lookalike == f"∂L/∂a1 (step {ex.solution().step_of('delta1') - 1})"
    assert "these are the numbers of ∂L/∂a1" in str(result)
    assert result["dL_dW1"].right and result.divergence == ex.solution().step_of("delta1")

    ex = drill.exercise("adam", 3)
    key = ex.key()
    result = ex.check({**key, "update": key["update_corrected"]})
    assert result["update"].lookalike == "update_corrected (step 5)"
    assert ex.check({**key, "update": [9.0, 9.0]})["update"].lookalike is None


def test_numbers_stay_clear_of_the_values_to_avoid():
    from chainrule.drill.core import Numbers

    n = Numbers(1, "any")
    # most draws in [-0.1, 0.1] fall within 0.05 of 0 and are drawn again
    got = [n.value(-0.1, 0.1) for _ in range(50)] + list(n.values(50, -0.1, 0.1))
    assert all(abs(v) >= 0.05 for v in got) and len(set(got)) > 2
    hinge = n.values((4, 4), -2, 2, avoid=(1.0, -1.0), gap=0.1)
    assert np.abs(np.abs(hinge) - 1).min() >= 0.1 and hinge.shape == (4, 4)
    a, b = Numbers(3, "adam"), Numbers(3, "adam")
    assert a.values(4, 0, 1).tolist() == b.values(4, 0, 1).tolist()
    assert (
        Numbers(3, "adam").values(4, 0, 1).tolist() != Numbers(3, "hinge").values(4, 0, 1).tolist()
    )
