"""The lab: every experiment passes its check in smoke mode and gives the same metrics for
the same seed; breaking a claim's premise makes its check fail; ``chainrule lab`` commands,
bad input, and the HTML report."""

from __future__ import annotations

import importlib
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chainrule import cli, lab
from chainrule.lab import registry, report, runner
from chainrule.lab.base import Result

ISSUE_NAMES = [
    "backprop-by-hand",
    "zero-init-symmetry",
    "vanishing-gradients",
    "exploding-gradients",
    "activations",
    "softmax-ce-gradient",
    "softmax-overflow",
    "naive-vs-fused-cross-entropy",
    "reduce-mean-pitfall",
    "minibatch-redundancy",
    "optimizer-paths",
    "optimizer-race",
    "momentum-and-nesterov-forms",
    "adam-bias-correction",
    "overfitting-remedies",
    "dropout-train-vs-eval",
    "batchnorm-activations",
    "loss-surrogates",
    "l1-vs-l2",
    "structural-risk",
]


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    """``chainrule lab all --smoke --jobs 2``, once: its exit status, report folder, time."""
    out = tmp_path_factory.mktemp("lab") / "report"
    start = time.perf_counter()
    status = cli.main(["lab", "all", "--smoke", "--jobs", "2", "--report", str(out)])
    seconds = time.perf_counter() - start
    data = json.loads((out / "results.json").read_text())
    return status, out, {e["name"]: e for e in data["experiments"]}, seconds


# ----------------------------------------------------------------------------- registry
def test_the_registry_holds_every_experiment_of_the_issue_in_the_sheets_order():
    assert lab.names() == ISSUE_NAMES


@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_each_module_states_its_claim_and_section(name):
    exp = registry.get(name)
    doc = exp.module.__doc__
    assert exp.claim and doc.strip().startswith(exp.claim.split()[0])
    assert f"docs/fundamentals.md §{exp.section}," in doc
    assert exp.section in registry.SECTIONS and len(exp.derivation) > 100
    assert "docs/fundamentals.md" in doc
    smoke = exp.config(smoke=True, seed=3)
    assert smoke.smoke and smoke.seed == 3
    assert set(exp.module.SMOKE) <= set(type(smoke).__dataclass_fields__)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown experiment 'softmax-overflw'") as err:
        lab.get("softmax-overflw")
    assert "did you mean 'softmax-overflow'" in str(err.value)
    assert all(name in str(err.value) for name in ISSUE_NAMES)


# --------------------------------------------------------------- every experiment, smoke
@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_smoke_run_passes_and_the_same_seed_gives_the_same_metrics(name, smoke_report):
    result = runner.run_experiment(name, seed=0, smoke=True, figures=False)
    assert result.error is None, result.traceback
    failed = [str(c) for c in result.checks if not c.passed]
    assert result.passed and not failed, failed
    # The report's run of the same experiment, same seed, happened in another process.
    other = smoke_report[2][name]
    assert other["passed"] and other["seed"] == 0 and other["smoke"]
    assert result.summary()["metrics"] == other["metrics"]


def test_lab_all_smoke_with_two_jobs_passes_everything(smoke_report):
    status, _, experiments, seconds = smoke_report
    assert status == 0
    assert list(experiments) == ISSUE_NAMES
    assert all(e["passed"] for e in experiments.values())
    assert seconds < 180  # the issue's bound for the whole smoke suite on 2 cores


# -------------------------------------------------------------- breaking each premise
# name -> config overrides (on top of the smoke sizes) that remove the claim's premise.
PREMISE_BREAKS = {
    "backprop-by-hand": {"derivative": "tanh"},  # a wrong activation derivative
    "zero-init-symmetry": {"symmetric_arms": ()},  # every arm random
    "vanishing-gradients": {"vanishing": "relu"},  # no sigmoid in the deep net
    "exploding-gradients": {"gain": 1.0},  # He's scale, not large weights
    "softmax-ce-gradient": {"target_sum": 2.0},  # a target that does not sum to 1
    "softmax-overflow": {"dtype": "float64"},  # float64 overflows only past 709
    "naive-vs-fused-cross-entropy": {"clip_form": "fused"},  # the clip form fed log-softmax
    "reduce-mean-pitfall": {"reduction": "samples"},  # no mean over the classes
    "minibatch-redundancy": {"redundant": False},  # two different halves
    "optimizer-paths": {"kappa": 1.0},  # a well-conditioned quadratic
    "optimizer-race": {"momentum": 0.0},  # "momentum" without momentum
    "momentum-and-nesterov-forms": {"gamma": 1.0},  # a schedule that never changes lr
    "adam-bias-correction": {"beta1": 0.0, "beta2": 0.0},  # nothing to correct
    "overfitting-remedies": {"epochs": 8},  # stopped before the baseline can overfit
    "dropout-train-vs-eval": {"p": 0.0},  # no dropout
    "batchnorm-activations": {"init_std": None},  # Xavier's scale: nothing shrinks
    "loss-surrogates": {"outliers": 0.0},  # no outliers
    "l1-vs-l2": {"l1": 0.0},  # no L1 penalty
    "structural-risk": {"steps": 3},  # no model anywhere near its minimiser
}


@pytest.mark.parametrize("name", sorted(PREMISE_BREAKS))
def test_breaking_the_premise_makes_the_check_fail(name):
    result = runner.run_experiment(name, smoke=True, figures=False, overrides=PREMISE_BREAKS[name])
    assert result.error is None, result.traceback
    assert result.checks and not result.passed


def test_a_wrong_derivative_in_the_activation_table_fails_its_check(monkeypatch):
    module = importlib.import_module("chainrule.lab.experiments.activations")
    row = module.TABLE["sigmoid"]
    from scipy.special import expit

    monkeypatch.setitem(module.TABLE, "sigmoid", (row[0], row[1], expit, row[3], row[4]))
    result = runner.run_experiment("activations", smoke=True, figures=False)
    failed = [c.what for c in result.checks if not c.passed]
    assert failed == ["sigmoid: max |autograd f' - closed form|"]


def test_fundamentals_md_has_an_anchor_per_experiment_and_its_code_links_resolve():
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "fundamentals.md").read_text(encoding="utf-8")
    for name in ISSUE_NAMES:
        assert f'<a id="{name}"></a>' in text, name
        assert f"**Experiment `{name}`**" in text, name
    links = re.findall(r"\]\((\.\./[^)#]+)\)", text)
    assert len(links) > 20
    missing = [link for link in links if not (root / "docs" / link).resolve().exists()]
    assert missing == []


# ----------------------------------------------------------------------- failures
def test_a_failing_experiment_is_reported_with_its_traceback_and_the_others_run(
    monkeypatch, tmp_path
):
    module = registry.get("softmax-overflow").module

    def broken(config):
        raise RuntimeError("the experiment broke")

    monkeypatch.setattr(module, "run", broken)
    results = runner.run_all(
        ["softmax-overflow", "softmax-ce-gradient"], smoke=True, progress=False
    )
    assert [r.name for r in results] == ["softmax-overflow", "softmax-ce-gradient"]
    bad, good = results
    assert not bad.passed and bad.error == "RuntimeError: the experiment broke"
    assert "the experiment broke" in bad.traceback and "Traceback" in bad.traceback
    assert good.passed
    page = report.write_report(results, tmp_path).read_text()
    assert "FAILED" in page and "RuntimeError: the experiment broke" in page
    assert "1 failed" in page


def test_no_checks_is_not_a_pass():
    assert not Result().passed


# ------------------------------------------------------------------------ commands
def test_lab_list_names_every_experiment(capsys):
    assert cli.main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    assert all(re.search(rf"^{re.escape(n)}\s+\d\s", out, re.M) for n in ISSUE_NAMES)


def test_lab_run_json_prints_the_contract_fields_and_writes_the_figures(capsys, tmp_path):
    status = cli.main(
        [
            "lab",
            "run",
            "softmax-overflow",
            "--smoke",
            "--seed",
            "2",
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert {"name", "claim", "section", "passed", "metrics", "figures"} <= set(data)
    assert data["name"] == "softmax-overflow" and data["passed"] is True and data["section"] == 3
    assert data["seed"] == 2 and data["metrics"]["first_overflow_shift"] == 88.0
    assert data["figures"] and all((tmp_path / p.split("/")[-1]).is_file() for p in data["figures"])
    assert (tmp_path / "softmax-overflow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lab_run_prints_the_checks_and_exits_1_when_one_fails(capsys, tmp_path, monkeypatch):
    module = registry.get("softmax-overflow").module
    monkeypatch.setattr(module, "check", lambda result: [lab.base.at_most("always", 1, 0)])
    assert cli.main(["lab", "run", "softmax-overflow", "--smoke", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] always: 1 (needs <= 0)" in out and "softmax-overflow: FAILED" in out


def test_lab_run_unknown_name_is_a_one_line_error(capsys):
    assert cli.main(["lab", "run", "no-such-thing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: unknown experiment 'no-such-thing'")
    assert "softmax-overflow" in err and err.count("\n") == 1


def test_lab_all_report_pointing_at_a_file_is_refused_before_running(capsys, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("not a folder")
    start = time.perf_counter()
    assert cli.main(["lab", "all", "--smoke", "--report", str(target)]) == 2
    assert time.perf_counter() - start < 5
    assert "this is a file; give a folder" in capsys.readouterr().err


def test_lab_all_with_an_unreachable_scheduler_fails_within_seconds(capsys, tmp_path):
    start = time.perf_counter()
    status = cli.main(
        ["lab", "all", "--smoke", "--report", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert status == 2 and time.perf_counter() - start < 15
    assert "could not reach the Dask scheduler" in capsys.readouterr().err


# ------------------------------------------------------------------------- the report
class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current = None
        self.references: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        for key in ("src", "href", "action", "poster", "data"):
            if key in attrs:
                self.references.append(attrs[key])
        if tag == "section" and "exp" in attrs.get("class", ""):
            self.current = attrs["id"]
            self.sections[self.current] = {"images": 0, "verdicts": [], "class": attrs["class"]}
        if (
            self.current
            and tag == "img"
            and attrs.get("src", "").startswith("data:image/png;base64,")
        ):
            self.sections[self.current]["images"] += 1
        if self.current and tag == "span" and "badge" in attrs.get("class", ""):
            self.sections[self.current]["verdicts"].append(attrs["class"])

    def handle_endtag(self, tag):
        if tag == "section":
            self.current = None


def test_the_report_has_a_section_verdict_and_figure_per_experiment_and_no_external_reference(
    smoke_report,
):
    out = smoke_report[1]
    text = (out / "index.html").read_text()
    page = _Page()
    page.feed(text)
    assert list(page.sections) == ISSUE_NAMES
    for name, sec in page.sections.items():
        assert sec["verdicts"] == ["badge pass"], name
        assert sec["images"] >= 1, name
        assert "passed" in sec["class"]
    # Self-contained: only in-page anchors and embedded images; no script, no stylesheet link.
    external = [r for r in page.references if not (r.startswith("#") or r.startswith("data:"))]
    assert external == []
    assert not page.tags & {"script", "link", "iframe", "object", "embed"}
    assert "http://" not in text and "https://" not in text and "url(" not in text
    # The table of contents links every experiment; the seed and time are printed.
    assert all(f'href="#{n}"' in text for n in ISSUE_NAMES)
    assert text.count("seed 0 · smoke run") == len(ISSUE_NAMES)
