"""The lab's report: one self-contained HTML page to study from.

``write_report(results, out_dir)`` writes ``out_dir/index.html`` (every figure embedded as
a base64 PNG, the style inline, no script, nothing fetched from anywhere) and
``out_dir/results.json`` (the numbers). Per experiment the page shows the claim, the
derivation in brief, the figures, the checks with their bounds and verdicts, every measured
number, the seed, the time taken and the experiment's source code. A failed experiment is
shown as failed, with its traceback when it raised; nothing is hidden.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
from collections.abc import Sequence
from pathlib import Path

import chainrule
from chainrule.lab import registry
from chainrule.lab.base import Result, plain

__all__ = ["render", "write_report"]

_CSS = """
:root { --ink: #1d2329; --muted: #5b6670; --line: #d8dde2; --pass: #1a7f37; --fail: #c62828;
        --bg-code: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.8rem; margin: 0.2rem 0 0.3rem; }
h2 { font-size: 1.4rem; margin: 2.6rem 0 0.6rem; padding-bottom: 0.2rem;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 1.15rem; margin: 0 0 0.5rem; display: flex; gap: 0.6rem; align-items: center;
     flex-wrap: wrap; }
a { color: #0b5cad; }
.lead { color: var(--muted); margin: 0 0 1rem; }
.totals { font-size: 1.05rem; margin: 0.6rem 0 1.2rem; }
.badge { display: inline-block; font-size: 0.8rem; font-weight: 600; padding: 0.05rem 0.5rem;
         border-radius: 999px; color: #fff; letter-spacing: 0.02em; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; margin: 0.4rem 0 0.8rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
nav.toc table { max-width: 720px; }
nav.toc tr.sec td { font-weight: 600; background: #f7f9fb; padding-top: 0.5rem; }
nav.toc td { padding: 0.15rem 0.5rem; }
section.exp { border: 1px solid var(--line); border-left: 5px solid var(--pass);
              border-radius: 6px; padding: 1rem 1.1rem; margin: 1.2rem 0; }
section.exp.failed { border-left-color: var(--fail); }
.claim { font-size: 1.02rem; margin: 0.2rem 0 0.7rem; }
.derivation { background: #f7f9fb; border-left: 3px solid #9fb3c8; padding: 0.5rem 0.8rem;
              margin: 0 0 0.8rem; font-size: 0.95rem; }
figure { margin: 0.6rem 0 1rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 0.85rem; }
tr.failed td { background: #fdecea; }
.verdict-pass { color: var(--pass); font-weight: 600; }
.verdict-fail { color: var(--fail); font-weight: 600; }
details { margin: 0.4rem 0; }
summary { cursor: pointer; color: #0b5cad; }
pre { background: var(--bg-code); padding: 0.6rem 0.8rem; overflow-x: auto; font-size: 0.82rem;
      border-radius: 4px; line-height: 1.4; }
pre.traceback { background: #fdecea; }
.meta { color: var(--muted); font-size: 0.88rem; margin-top: 0.6rem; }
code { background: var(--bg-code); padding: 0 0.2rem; border-radius: 3px; font-size: 0.9em; }
@media (max-width: 700px) { body { font-size: 15px; } main { padding: 1rem 0.7rem; } }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 12:
        return _fmt(value[:12])[:-1] + f", … ({len(value)} values)]"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _flatten(metrics: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, _fmt(value)))
    return rows


def _badge(passed: bool) -> str:
    return (
        '<span class="badge pass">passed</span>'
        if passed
        else '<span class="badge fail">FAILED</span>'
    )


def _experiment(result: Result) -> str:
    exp = registry.get(result.name)
    parts = [
        f'<section class="exp {"passed" if result.passed else "failed"}" id="{_e(result.name)}">',
        f"<h3>{_e(result.name)} {_badge(result.passed)}</h3>",
        f'<p class="claim"><strong>Claim.</strong> {_e(exp.claim)}</p>',
        f'<div class="derivation"><strong>Why.</strong> {_e(exp.derivation)}</div>',
    ]
    for file_name, data in sorted(result.figures.items()):
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<figure><img src="data:image/png;base64,{encoded}" '
            f'alt="{_e(result.name)}: {_e(file_name)}"><figcaption>{_e(file_name)}</figcaption></figure>'
        )
    if result.checks:
        rows = "".join(
            f'<tr class="{"passed" if c.passed else "failed"}"><td>{_e(c.what)}</td>'
            f'<td class="num">{_e(c.measured)}</td><td class="num">{_e(c.bound)}</td>'
            f'<td class="{"verdict-pass" if c.passed else "verdict-fail"}">'
            f"{'pass' if c.passed else 'FAIL'}</td></tr>"
            for c in result.checks
        )
        parts.append(
            "<table><thead><tr><th>check</th><th>measured</th><th>needs</th><th>verdict</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    if result.error:
        parts.append(f"<p class='verdict-fail'>The experiment raised: {_e(result.error)}</p>")
        parts.append(f'<pre class="traceback">{_e(result.traceback or "")}</pre>')
    metrics = _flatten(plain(result.metrics))
    if metrics:
        rows = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{_e(v)}</td></tr>" for k, v in metrics)
        parts.append(
            f"<details><summary>Every measured number ({len(metrics)})</summary>"
            f"<table><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>{rows}"
            "</tbody></table></details>"
        )
    try:
        source = exp.source.read_text(encoding="utf-8")
    except OSError:
        source = "(the source file could not be read)"
    parts.append(
        f"<details><summary>The code: {_e(exp.source_path)}</summary><pre>{_e(source)}</pre></details>"
    )
    mode = "smoke" if result.smoke else "full"
    parts.append(
        f'<p class="meta">seed {result.seed} · {mode} run · {result.seconds:.1f} s · '
        f"derivation: <code>docs/fundamentals.md#{_e(result.name)}</code> · "
        f"code: <code>{_e(exp.source_path)}</code> · "
        f"rerun: <code>chainrule lab run {_e(result.name)} --seed {result.seed}"
        f"{' --smoke' if result.smoke else ''}</code></p>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def render(
    results: Sequence[Result], *, seconds: float | None = None, where: str = "one process"
) -> str:
    """The report's HTML for ``results`` (in the order given)."""
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    seeds = sorted({r.seed for r in results})
    smoke = any(r.smoke for r in results)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    total = f" in {seconds:.0f} s" if seconds is not None else ""
    by_section: dict[int, list[Result]] = {}
    for r in results:
        by_section.setdefault(r.section, []).append(r)

    rows = []
    for section, items in sorted(by_section.items()):
        rows.append(
            f'<tr class="sec"><td colspan="4"><a href="#section-{section}">{section}. '
            f"{_e(registry.SECTIONS.get(section, ''))}</a></td></tr>"
        )
        rows.extend(
            f'<tr class="{"passed" if r.passed else "failed"}">'
            f'<td><a href="#{_e(r.name)}">{_e(r.name)}</a></td><td>{_badge(r.passed)}</td>'
            f'<td class="num">{sum(c.passed for c in r.checks)} of {len(r.checks)}</td>'
            f'<td class="num">{r.seconds:.1f} s</td></tr>'
            for r in items
        )
    body = []
    for section, items in sorted(by_section.items()):
        body.append(
            f'<h2 id="section-{section}">{section}. {_e(registry.SECTIONS.get(section, ""))}</h2>'
        )
        body.extend(_experiment(r) for r in items)
    verdict = (
        f'<span class="verdict-pass">all {passed} passed</span>'
        if not failed
        else f'<span class="verdict-fail">{failed} failed</span>, {passed} passed'
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chainrule lab: the fundamentals, checked</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>chainrule lab: the fundamentals, checked</h1>
<p class="lead">Every claim of docs/fundamentals.md as an experiment that states it, runs it,
plots it and checks the measured numbers against a bound. chainrule {_e(chainrule.__version__)},
{"smoke" if smoke else "full"} runs, seed {", ".join(str(s) for s in seeds)}, run on
{_e(where)}{total}, {_e(when)}. Each section below states a claim, says why it holds,
shows the measurement and checks it; the derivations in full are in
<code>docs/fundamentals.md</code>.</p>
<p class="totals">{len(results)} experiments: {verdict}.</p>
<nav class="toc"><h2 id="contents">Contents</h2>
<table><thead><tr><th>experiment</th><th>verdict</th><th>checks passed</th><th>time</th></tr>
</thead><tbody>{"".join(rows)}</tbody></table></nav>
{"".join(body)}
</main>
</body>
</html>
"""


def write_report(
    results: Sequence[Result], out_dir, *, seconds: float | None = None, where: str = "one process"
) -> Path:
    """Write ``index.html`` and ``results.json`` into ``out_dir``; returns the page's path.

    Raises ``NotADirectoryError`` when ``out_dir`` exists and is a file.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--report {out}: this is a file; give a folder for the report")
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    page.write_text(render(results, seconds=seconds, where=where), encoding="utf-8")
    summary = {"seconds": seconds, "where": where, "experiments": [r.summary() for r in results]}
    (out / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return page
