"""chainrule drill: the interactive mode (driven through read/write and through standard
input), --json, --check's messages for bad answers, the topic list, the notebook display."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule import cli, drill
from chainrule.drill.interactive import interact


def _script(lines):
    """A ``read`` that answers with ``lines`` and then reaches the end of input."""
    it = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return read


def _run(ex, lines, **kw) -> tuple[int, str]:
    out: list[str] = []
    status = interact(ex, read=_script(lines), write=out.append, **kw)
    return status, "\n".join(out)


def _answer(value) -> str:
    """An answer as a person types it: numbers separated by spaces."""
    return " ".join(f"{v:.6g}" for v in np.ravel(value))


# ----------------------------------------------------------------------------- interactive
def test_interactive_all_right_scores_full_marks():
    ex = drill.exercise("backprop-221", 2)
    status, out = _run(ex, [_answer(v) for v in ex.key().values()])
    assert status == 0
    assert out.count("  right") == 6 and "score: 6 of 6 right (0 wrong, 0 shown)" in out
    assert "--solution" not in out  # nothing to review


def test_interactive_commas_brackets_and_a_retry_after_a_typo():
    ex = drill.exercise("softmax-ce", 1)
    key = ex.key()
    a = ", ".join(f"{v:.5f}" for v in key["a"])
    status, out = _run(ex, [f"[{a}]", "0.4 x", f"{key['C']:.4f}", _answer(key["dC_dz"])])
    assert status == 0
    assert "C: 'x' is not a number; expected 1 number (C = -Σ_i y_i ln a_i). Try again" in out
    assert "score: 3 of 3 right" in out


def test_interactive_wrong_answer_names_the_entries_and_shows_the_step():
    ex = drill.exercise("softmax-ce", 1)
    key = ex.key()
    wrong = list(key["dC_dz"])
    wrong[1] += 0.5
    status, out = _run(ex, [_answer(key["a"]), _answer(key["C"]), _answer(wrong)])
    assert status == 0
    step = ex.solution().step_of("dC_dz")
    assert f"wrong: dC_dz[1] (you gave {wrong[1]:.6g})" in out
    assert f"Your numbers part from the worked solution here (step {step}):" in out
    assert "dC/dz = a - y = " in out.split("wrong: dC_dz[1]")[1]
    assert "score: 2 of 3 right (1 wrong, 0 shown)" in out
    assert "The whole worked solution: chainrule drill softmax-ce --seed 1 --solution" in out


def test_interactive_hint_and_show_solution():
    ex = drill.exercise("backprop-221", 3)
    key = ex.key()
    answers = [_answer(key[k]) for k in ("a1", "y_hat", "delta2", "dL_dW2")]
    status, out = _run(ex, ["?", *answers, "s"])
    assert status == 0
    assert f"  hint: {ex.quantity('a1').hint}" in out
    # 's' on delta1 shows the steps after dL_dW2's up to delta1's (the way back through W2
    # leads to it), and nothing of the next quantity's step
    sol = ex.solution()
    shown = out.split("[5/6] delta1")[1].split("stopped.")[0]
    first, last = sol.step_of("dL_dW2") + 1, sol.step_of("delta1")
    assert last - first == 1
    for k, step in enumerate(sol.steps, 1):
        assert (f"Step {k}. {step.title}" in shown) == (first <= k <= last)
    assert "score so far: 4 of 6 right (0 wrong, 1 shown, 1 hint, 1 not answered)" in out


def test_interactive_wrong_count_asks_again_without_penalty():
    ex = drill.exercise("hinge", 0)
    key = ex.key()
    status, out = _run(ex, ["1 2", *(_answer(v) for v in key.values())])
    assert status == 0
    assert "losses: expected 4 numbers (the per-sample losses max(0, 1 - t y)), got 2" in out
    assert "score: 3 of 3 right" in out


def test_interactive_end_of_input_and_ctrl_c_stop_with_the_score_so_far():
    ex = drill.exercise("adam", 0)
    status, out = _run(ex, [_answer(ex.key()["dx"])])
    assert status == 0 and "stopped." in out and "score so far: 1 of 5 right" in out

    def interrupted(prompt):
        raise KeyboardInterrupt

    out = []
    assert interact(ex, read=interrupted, write=out.append) == 130
    assert "interrupted." in out and any("score so far: 0 of 5 right" in o for o in out)


def test_interactive_through_standard_input():
    """The real command, fed through a pipe as a person would type: one right, one wrong,
    a hint, the solution, then the end of input."""
    ex = drill.exercise("sgd-momentum", 11)
    key = ex.key()
    wrong = np.asarray(key["v1"]) * 2
    stdin = "\n".join([_answer(key["dx1"]), _answer(wrong), "?", "s"]) + "\n"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "drill", "sgd-momentum", "--seed", "11"],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert out.startswith("chainrule drill sgd-momentum --seed 11\n")
    assert f"dx1 > {_answer(key['dx1'])}\n  right" in out  # piped answers are echoed
    assert "wrong: v1[0] (you gave" in out and "v1[1] (you gave" in out
    assert f"hint: {ex.quantity('x1').hint}" in out
    assert "Step 3. Position, step 1" in out
    assert "score so far: 1 of 6 right (1 wrong, 1 shown, 1 hint, 3 not answered)" in out


def test_no_topic_draws_one_from_the_seed(capsys):
    topic, seed = drill.random_topic(5)
    assert (topic, seed) == drill.random_topic(5) and topic in drill.topics()
    assert cli.main(["drill", "--seed", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["topic"] == topic
    drawn = {drill.random_topic(s)[0] for s in range(200)}
    assert drawn == set(drill.topics())  # every topic can come up


# ----------------------------------------------------------------------------- --json, list
def test_json_prints_the_exercise_for_programs(capsys):
    assert cli.main(["drill", "backprop-221", "--seed", "9", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    ex = drill.exercise("backprop-221", 9)
    assert list(got) == ["topic", "seed", "question", "inputs", "answer_shape"]
    assert got["topic"] == "backprop-221" and got["seed"] == 9 and got["question"] == ex.question
    assert got["answer_shape"] == {
        "a1": [2],
        "y_hat": [],
        "delta2": [],
        "delta1": [2],
        "dL_dW2": [1, 2],
        "dL_dW1": [2, 2],
    }
    np.testing.assert_array_equal(got["inputs"]["W1"], ex.inputs["W1"])
    assert got["inputs"]["t"] == ex.inputs["t"]


def test_list_names_every_topic_and_its_quantities(capsys):
    assert cli.main(["drill", "list"]) == 0
    out = capsys.readouterr().out
    for t in drill.topics():
        assert f"\n{t} " in out
    assert "asks: dx, m, v, update, update_corrected" in out
    assert cli.main(["drill", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["topic"] for r in rows] == drill.topics()


def test_solution_flag_prints_the_worked_solution(capsys):
    assert cli.main(["drill", "nesterov", "--seed", "2", "--solution"]) == 0
    assert capsys.readouterr().out == str(drill.exercise("nesterov", 2).solution())


# ----------------------------------------------------------------------------- bad input
def test_unknown_topic_lists_the_known_ones(capsys):
    with pytest.raises(
        ValueError, match="unknown drill topic 'backprop'; the topics are: backprop-221, "
    ):
        drill.exercise("backprop", 0)
    assert cli.main(["drill", "softmax", "--seed", "1", "--json"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("chainrule: error: unknown drill topic 'softmax'") and err.count("\n") == 1
    )
    assert all(t in err for t in drill.topics())


@pytest.mark.parametrize(
    ("answers", "line"),
    [
        ({"a": [0.1, 0.2]}, "a      expected 3 numbers (a = softmax(z)), got 2"),
        ({"a": [0.1, "x", 0.3]}, "a      'x' is not a number (a string inside a list); expected 3"),
        (
            {"a": "0.1 0.2 zero"},
            "a      'zero' is not a number; expected 3 numbers (a = softmax(z))",
        ),
        ({"a": True}, "a      True is not a number; expected 3 numbers"),
        ({"a": {"x": 1}}, "a      a dict is not a number; expected 3 numbers"),
        ({"a": [0.1, None, 0.2]}, "a      None is not a number; expected 3 numbers"),
        ({"C": None}, "C      None is not a number; expected 1 number (C = -Σ_i y_i ln a_i)"),
        ({"C": "missing"}, "C      missing: expected 1 number (C = -Σ_i y_i ln a_i)"),
        (
            {"dc_dz": [0, 0, 0]},
            "'dc_dz' is not a quantity of this exercise (it asks for: a, C, dC_dz)",
        ),
    ],
)
def test_check_says_which_quantity_is_wrong_and_what_it_expects(answers, line, tmp_path, capsys):
    ex = drill.exercise("softmax-ce", 4)
    full = {**ex.key(), **answers}
    if answers.get("C") == "missing":
        del full["C"]
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(full))
    assert cli.main(["drill", "softmax-ce", "--seed", "4", "--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert any(row.strip().startswith(line) for row in out.splitlines()), out
    score = "3 of 3 right, but 1 name is not asked for" if "dc_dz" in answers else "2 of 3 right"
    assert score in out and "Traceback" not in out


def test_check_with_an_unreadable_file_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path, text in [
        (bad, "is not JSON"),
        (tmp_path / "none.json", "cannot read the answers file"),
    ]:
        assert cli.main(["drill", "adam", "--seed", "1", "--check", str(path)]) == 2
        err = capsys.readouterr().err
        assert text in err and err.count("\n") == 1
    bad.write_text("[1, 2]")
    assert cli.main(["drill", "adam", "--seed", "1", "--check", str(bad)]) == 2
    assert "must hold a JSON object from quantity name to numbers" in capsys.readouterr().err
    assert cli.main(["drill", "adam", "--check", str(bad)]) == 2
    assert "--check grades the answers of one exercise" in capsys.readouterr().err


def test_tolerance_is_relative_one_percent_and_configurable(tmp_path, capsys):
    ex = drill.exercise("exponential-loss", 3)
    close = {k: (np.asarray(v) * 1.005).tolist() for k, v in ex.key().items()}
    off = {k: (np.asarray(v) * 1.02).tolist() for k, v in ex.key().items()}
    assert ex.check(close) and not ex.check(off) and ex.check(off, rtol=0.05)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(off))
    argv = ["drill", "exponential-loss", "--seed", "3", "--check", str(path)]
    assert cli.main(argv) == 1 and cli.main([*argv, "--rtol", "0.05"]) == 0
    capsys.readouterr()


def test_an_exact_zero_may_be_answered_as_zero():
    ex = drill.exercise("hinge", 0)
    key = ex.key()
    zeros = [k for k, v in enumerate(key["grad"]) if v == 0]
    assert zeros  # every hinge exercise has a sample beyond the margin
    grad = [0 if k in zeros else v for k, v in enumerate(key["grad"])]
    assert ex.check({**key, "grad": grad})
    grad[zeros[0]] = 1e-3
    result = ex.check({**key, "grad": grad})
    assert result["grad"].wrong == [f"grad[{zeros[0]}]"]


def test_a_negative_seed_is_refused():
    with pytest.raises(ValueError, match="non-negative"):
        drill.exercise("adam", -1)
    with pytest.raises(TypeError, match="integer"):
        drill.exercise("adam", 1.5)


# ----------------------------------------------------------------------------- notebook
def test_notebook_display_has_the_question_inputs_and_solution():
    ex = drill.exercise("l1-l2-gradient", 6)
    page = ex._repr_html_()
    assert "<h4>l1-l2-gradient (seed 6)" in page and "<details><summary>Worked solution" in page
    assert "<code>lam</code>" in page and "&lt;" not in ex.question  # nothing to escape here
    assert ex.solution()._repr_html_().startswith("<pre>Worked solution")
    assert repr(ex) == "<drill exercise 'l1-l2-gradient', seed 6: l1, l1_grad, l2, l2_grad>"
